// CUDA bilinear / bicubic resizing (forward and backward) on `stream` (a
// cudaStream_t passed as void*). Geometry as in cpu/interpolate.h.
#pragma once
#include <cstdint>

#include "cpu/interpolate.h"

namespace nnc::cuda {

using cpu::Interp2dShape;

template <typename T>
void interpolate2d_forward(const Interp2dShape& s, const T* x, T* y, void* stream);
template <typename T>
void interpolate2d_backward(const Interp2dShape& s, const T* gy, T* gx, void* stream);

}  // namespace nnc::cuda
