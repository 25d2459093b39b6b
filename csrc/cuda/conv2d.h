// CUDA 2-D convolution (NCHW) on `stream` (a cudaStream_t passed as void*):
// the same operations, shapes and meaning as the CPU twin in cpu/conv2d.h.
#pragma once
#include <cstdint>

#include "cpu/conv2d.h"

namespace nnc::cuda {

using nnc::cpu::ConvShape;

using nnc::cpu::Activation;

// y = act(conv(x, w) + bias), the activation applied as each output is stored.
template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, const Activation<T>& act,
                    void* stream);
template <typename T>
void conv2d_backward_input(const ConvShape& s, const T* gy, const T* w, T* gx, void* stream);
template <typename T>
void conv2d_backward_weight(const ConvShape& s, const T* gy, const T* x, T* gw, void* stream);
template <typename T>
void channel_sum(int64_t N, int64_t C, int64_t HW, const T* src, T* dst, void* stream);
template <typename T>
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const T* bias, T* y, void* stream);

}  // namespace nnc::cuda
