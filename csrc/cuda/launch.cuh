// How every CUDA twin starts a kernel: NNC_LAUNCH(kernel, grid, block,
// shared_bytes, stream, args...) runs kernel<<<grid, block, shared_bytes,
// stream>>>(args...) and turns a failed launch into RuntimeError naming the line
// that launched it. Under the CUDA emulator (NNCORE_CUDA_SIM, csrc/sim) the same
// kernel runs on the CPU instead.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "core/cuda_check.h"

#define NNC_LAUNCH(...) ::nnc::cuda::launch_at(__FILE__, __LINE__, __VA_ARGS__)

namespace nnc::cuda {

template <typename... Params, typename... Args>
void launch_at(const char* file, int line, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
               cudaStream_t stream, Args&&... args) {
#ifdef NNCORE_CUDA_SIM
  (void)stream;
  sim::run(grid, block, shared_bytes, [&] { kernel(args...); });
#else
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#endif
  check_cuda(cudaGetLastError(), file, line, "kernel launch");
}

// The block's dynamic shared memory (the launch's shared_bytes), as T.
template <typename T>
__device__ T* dynamic_shared() {
#ifdef NNCORE_CUDA_SIM
  return static_cast<T*>(sim::dynamic_shared());
#else
  extern __shared__ __align__(16) unsigned char nnc_dynamic_shared[];
  return reinterpret_cast<T*>(nnc_dynamic_shared);
#endif
}

}  // namespace nnc::cuda
