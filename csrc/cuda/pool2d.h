// CUDA 2-D pooling (max, average, Lp, adaptive average; forward and backward)
// on `stream` (a cudaStream_t passed as void*). Geometry as in cpu/pool2d.h.
#pragma once
#include <cstdint>

#include "cpu/pool2d.h"

namespace nnc::cuda {

using cpu::AvgDivisor;
using cpu::Pool2dShape;

template <typename T>
void max_pool2d_forward(const Pool2dShape& sh, const T* x, T* y, int64_t* indices, void* stream);
// false when an index lies outside [0, H*W) (gx is then left unspecified)
template <typename T>
bool max_pool2d_backward(const Pool2dShape& sh, const T* gy, const int64_t* indices, T* gx, void* stream);
template <typename T>
void avg_pool2d_forward(const Pool2dShape& sh, AvgDivisor div, const T* x, T* y, void* stream);
template <typename T>
void avg_pool2d_backward(const Pool2dShape& sh, AvgDivisor div, const T* gy, T* gx, void* stream);
template <typename T>
void lp_pool2d_forward(const Pool2dShape& sh, double p, const T* x, T* y, void* stream);
template <typename T>
void lp_pool2d_backward(const Pool2dShape& sh, double p, const T* gy, const T* x, const T* y, T* gx, void* stream);
template <typename T>
void adaptive_avg_pool2d_forward(const Pool2dShape& sh, const T* x, T* y, void* stream);
template <typename T>
void adaptive_avg_pool2d_backward(const Pool2dShape& sh, const T* gy, T* gx, void* stream);

}  // namespace nnc::cuda
