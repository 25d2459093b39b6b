// Pooling arithmetic shared by the CPU twins and the CUDA kernels: output
// sizes, window bounds along one axis (PyTorch's rules), NaN-aware max.
// Internal linkage: the SIMD twins include this under other ISA flags.
#pragma once
#include <cstdint>

#include "core/hd.h"

namespace nnc {
namespace {

// floor(a / b) for b > 0 (PyTorch's div_rtn)
NNC_HD int64_t pool_floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Output length along one axis. With ceil_mode the last window must start
// inside the input or the left padding, never in the right padding.
NNC_HD int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t span = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = pool_floor_div(span, s) + 1;
  if (ceil_mode && out > 0 && (out - 1) * s >= in + p) --out;
  return out;
}

// Max-pool window of output o: positions start, start + d, ... < end, all
// inside [0, in). Empty (start >= end) only for a dilated window that falls
// wholly into the padding.
struct MaxWindow {
  int64_t start, end;
};
NNC_HD MaxWindow max_window(int64_t o, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t start = o * s - p;
  int64_t end = start + (k - 1) * d + 1;
  if (end > in) end = in;
  if (start < 0) start += (-start + d - 1) / d * d;  // first tap inside the input, in O(1) whatever the padding
  return {start, end};
}

// Average-pool window of output o: inputs [start, end), and `padded`, the
// window length counted with the padding but not beyond it (count_include_pad).
struct AvgWindow {
  int64_t start, end, padded;
};
NNC_HD AvgWindow avg_window(int64_t o, int64_t in, int64_t k, int64_t s, int64_t p) {
  int64_t start = o * s - p;
  int64_t end = start + k < in + p ? start + k : in + p;
  int64_t padded = end - start;
  return {start < 0 ? 0 : start, end < in ? end : in, padded};
}

// Adaptive-pool window of output o of out: [floor(o*in/out), ceil((o+1)*in/out)).
NNC_HD int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
NNC_HD int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// Max-pool scan step: v replaces the running max when greater or NaN, so the
// first maximum wins ties and the last NaN wins over everything (PyTorch).
template <typename T>
NNC_HD bool max_takes(T v, T running) {
  return v > running || v != v;
}

}  // namespace
}  // namespace nnc
