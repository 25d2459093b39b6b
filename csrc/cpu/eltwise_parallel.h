// How the element-wise kernels (activations, optimiser updates) split n
// elements over the threads: one static range per thread, cut at multiples of
// 64 elements (whole cache lines and vectors), only when the array is large
// enough that a parallel region pays for itself.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/threading.h"

namespace nnc::cpu {

constexpr int64_t kEltwiseParallelMin = int64_t(1) << 16;  // elements

template <typename Fn>
void eltwise_ranges(int64_t n, Fn fn) {
  int nt = n >= kEltwiseParallelMin && !in_parallel_region() ? std::max(1, num_threads()) : 1;
  if (nt == 1) return fn(int64_t(0), n);
  const int64_t lines = (n + 63) / 64;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int k = 0; k < nt; ++k) {
    int64_t i0 = std::min(n, lines * k / nt * 64), i1 = std::min(n, lines * (k + 1) / nt * 64);
    if (i0 < i1) fn(i0, i1);
  }
}

}  // namespace nnc::cpu
