// The CUDA emulator's stand-in for CUB's DeviceScan: the same calls, done on the host.
#pragma once
#include <cuda_runtime.h>

namespace cub {

struct DeviceScan {
  template <typename In, typename Out, typename Op, typename Count>
  static cudaError_t InclusiveScan(void* temp, size_t& temp_bytes, In in, Out out, Op op, Count n,
                                   cudaStream_t = nullptr) {
    if (!temp) {
      temp_bytes = 1;
      return cudaSuccess;
    }
    if (n <= 0) return cudaSuccess;
    auto acc = in[0];
    out[0] = acc;
    for (Count i = 1; i < n; ++i) {
      acc = op(acc, in[i]);
      out[i] = acc;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
