// Turns a failed CUDA runtime call or kernel launch into nnc::RuntimeError
// (Python RuntimeError) naming the file and line; nothing calls exit.
#pragma once
#include <cuda_runtime.h>

#include "core/check.h"

#define NNC_CUDA_CHECK(expr)                                                                   \
  do {                                                                                         \
    cudaError_t nnc_err_ = (expr);                                                             \
    if (nnc_err_ != cudaSuccess) {                                                             \
      cudaGetLastError();                                                                      \
      throw ::nnc::RuntimeError(::nnc::str("CUDA error at ", __FILE__, ":", __LINE__, ": ",   \
                                           cudaGetErrorString(nnc_err_), " (", #expr, ")"));  \
    }                                                                                          \
  } while (0)

#define NNC_CUDA_CHECK_LAUNCH() NNC_CUDA_CHECK(cudaGetLastError())
