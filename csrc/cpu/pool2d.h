// 2-D pooling on the CPU, NCHW: every plane of x (planes, H, W) pools to a
// plane of y (planes, OH, OW). Portable twins (float, double) and float SIMD
// twins; the dispatchers (no suffix) pick one by nnc::active_isa().
#pragma once
#include <cstdint>

namespace nnc::cpu {

// Geometry of one pooling call. Kernel k, stride s, padding p, dilation d per axis.
struct Pool2dShape {
  int64_t planes, H, W, OH, OW;
  int64_t kH, kW, sH, sW, pH, pW, dH, dW;
};

// How avg_pool2d divides a window sum: divisor_override when nonzero, else the
// window size with (count_include_pad) or without the padding.
struct AvgDivisor {
  bool count_include_pad;
  int64_t divisor_override;
};

// indices (may be null) gets h * W + w of each maximum, as PyTorch.
template <typename T>
void max_pool2d_forward(const Pool2dShape& sh, const T* x, T* y, int64_t* indices);
// gx = 0, then gx[plane][indices] += gy in output order. Returns false (and
// skips the element) when an index lies outside [0, H*W).
template <typename T>
bool max_pool2d_backward(const Pool2dShape& sh, const T* gy, const int64_t* indices, T* gx);

template <typename T>
void avg_pool2d_forward(const Pool2dShape& sh, AvgDivisor div, const T* x, T* y);
template <typename T>
void avg_pool2d_backward(const Pool2dShape& sh, AvgDivisor div, const T* gy, T* gx);

// PyTorch's lp_pool2d: y = (avg_pool(x^p) * kH*kW)^(1/p) (padding 0); p = +inf:
// max |x|, p = -inf: min |x|. The backward reads x and y.
template <typename T>
void lp_pool2d_forward(const Pool2dShape& sh, double p, const T* x, T* y);
template <typename T>
void lp_pool2d_backward(const Pool2dShape& sh, double p, const T* gy, const T* x, const T* y, T* gx);

// Only planes, H, W, OH, OW of sh are read.
template <typename T>
void adaptive_avg_pool2d_forward(const Pool2dShape& sh, const T* x, T* y);
template <typename T>
void adaptive_avg_pool2d_backward(const Pool2dShape& sh, const T* gy, T* gx);

// The portable twins.
template <typename T>
void max_pool2d_forward_scalar(const Pool2dShape& sh, const T* x, T* y, int64_t* indices);
template <typename T>
bool max_pool2d_backward_scalar(const Pool2dShape& sh, const T* gy, const int64_t* indices, T* gx);
template <typename T>
void avg_pool2d_forward_scalar(const Pool2dShape& sh, AvgDivisor div, const T* x, T* y);
template <typename T>
void avg_pool2d_backward_scalar(const Pool2dShape& sh, AvgDivisor div, const T* gy, T* gx);
template <typename T>
void lp_pool2d_forward_scalar(const Pool2dShape& sh, double p, const T* x, T* y);
template <typename T>
void lp_pool2d_backward_scalar(const Pool2dShape& sh, double p, const T* gy, const T* x, const T* y, T* gx);

// SIMD twins, float only. Lp twins take p = 1 and p = 2 only.
void max_pool2d_forward_avx2(const Pool2dShape& sh, const float* x, float* y, int64_t* indices);
bool max_pool2d_backward_avx2(const Pool2dShape& sh, const float* gy, const int64_t* indices, float* gx);
void avg_pool2d_forward_avx2(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y);
void avg_pool2d_backward_avx2(const Pool2dShape& sh, AvgDivisor div, const float* gy, float* gx);
void lp_pool2d_forward_avx2(const Pool2dShape& sh, double p, const float* x, float* y);
void lp_pool2d_backward_avx2(const Pool2dShape& sh, double p, const float* gy, const float* x, const float* y,
                             float* gx);
void max_pool2d_forward_avx512(const Pool2dShape& sh, const float* x, float* y, int64_t* indices);
bool max_pool2d_backward_avx512(const Pool2dShape& sh, const float* gy, const int64_t* indices, float* gx);
void avg_pool2d_forward_avx512(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y);
void avg_pool2d_backward_avx512(const Pool2dShape& sh, AvgDivisor div, const float* gy, float* gx);
void lp_pool2d_forward_avx512(const Pool2dShape& sh, double p, const float* x, float* y);
void lp_pool2d_backward_avx512(const Pool2dShape& sh, double p, const float* gy, const float* x, const float* y,
                               float* gx);

}  // namespace nnc::cpu
