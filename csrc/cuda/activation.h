// CUDA element-wise activations (float32, n elements) on `stream` (a
// cudaStream_t passed as void*): the same results as cpu/activation.h.
#pragma once
#include <cstdint>

namespace nnc::cuda {

void activation(const float* x, float* y, int64_t n, int kind, float alpha, float beta, void* stream);
void activation_backward(const float* g, const float* x, const float* y, float* dx, int64_t n, int kind, float alpha,
                         float beta, void* stream);

}  // namespace nnc::cuda
