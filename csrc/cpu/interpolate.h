// Bilinear and bicubic resizing on the CPU, NCHW: every plane of x (planes, H, W)
// resamples to a plane of y (planes, OH, OW) with PyTorch's interpolate rules
// (core/interp_math.h). Portable twin, float and double.
#pragma once
#include <cstdint>

namespace nnc::cpu {

struct Interp2dShape {
  int64_t planes, H, W, OH, OW;
  bool cubic, align_corners;
  double scale_h, scale_w;  // the caller's scale factors; <= 0: none
};

template <typename T>
void interpolate2d_forward(const Interp2dShape& s, const T* x, T* y);
// gx (planes, H, W) = the adjoint of the forward applied to gy (planes, OH, OW):
// each input gathers the outputs whose taps read it, in increasing (oh, ow).
template <typename T>
void interpolate2d_backward(const Interp2dShape& s, const T* gy, T* gx);

}  // namespace nnc::cpu
