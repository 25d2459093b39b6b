// Turns a failed CUDA runtime call or kernel launch into nnc::RuntimeError
// (Python RuntimeError) naming the file and line; nothing calls exit.
#pragma once
#include <cuda_runtime.h>

#include "core/check.h"

namespace nnc {

// Throws unless err is cudaSuccess, naming where and what failed; clears the sticky error first.
inline void check_cuda(cudaError_t err, const char* file, int line, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw RuntimeError(str("CUDA error at ", file, ":", line, ": ", cudaGetErrorString(err), " (", what, ")"));
}

}  // namespace nnc

#define NNC_CUDA_CHECK(expr) ::nnc::check_cuda((expr), __FILE__, __LINE__, #expr)
