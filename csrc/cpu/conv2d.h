// CPU 2-D convolution (NCHW, weight (K, C / groups, R, S)): forward, the
// gradients with respect to input, weight and bias, and the per-channel
// helpers the transposed convolution is built from.
#pragma once
#include <cstdint>

#include "cpu/epilogue.h"

namespace nnc::cpu {

// All sizes explicit: x is (N, C, H, W), weight (K, C / groups, R, S), y (N, K, P, Q).
// P and Q are normally conv_out_size(...) but may be smaller (the transposed
// convolution's backward crops); every input read is bounds-checked.
struct ConvShape {
  int64_t N, C, H, W;
  int64_t K, R, S;
  int64_t P, Q;
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
};

// y = act(conv(x, w) + bias) (bias may be null), the activation applied to each
// output tile while it is in cache.
template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                    const Activation<T>& act = Activation<T>{});

// gx = d(sum y * gy)/dx: the transposed convolution of gy (overwrites gx).
template <typename T>
void conv2d_backward_input(const ConvShape& s, const T* gy, const T* w, T* gx);

// gw = d(sum y * gy)/dw (overwrites gw).
template <typename T>
void conv2d_backward_weight(const ConvShape& s, const T* gy, const T* x, T* gw);

// The SIMD twins of conv2d_forward<float> (implicit GEMM, cpu/conv2d_igemm.h);
// conv2d_forward<float> calls them when active_isa() allows and the shape suits.
void conv2d_forward_avx512(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                           const Activation<float>& act);
void conv2d_forward_avx2(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Activation<float>& act);
// Weight gradient twins; each returns false (doing nothing) for shapes it does not handle.
bool conv2d_backward_weight_avx2(const ConvShape& s, const float* gy, const float* x, float* gw);
bool conv2d_backward_weight_avx512(const ConvShape& s, const float* gy, const float* x, float* gw);

// dst (C) = sum of src (N, C, HW) over N and HW.
template <typename T>
void channel_sum(int64_t N, int64_t C, int64_t HW, const T* src, T* dst);

// y (N, C, HW) += bias (C) broadcast.
template <typename T>
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const T* bias, T* y);

}  // namespace nnc::cpu
