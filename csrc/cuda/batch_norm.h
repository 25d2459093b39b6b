// CUDA batch normalisation, float32 (N, C, L): same arguments and results as
// cpu/batch_norm.h (device pointers), queued on `stream` (a cudaStream_t).
#pragma once
#include "cpu/batch_norm.h"

namespace nnc::cuda {

void batch_norm_forward(const float* x, float* y, cpu::BnShape s, const float* weight, const float* bias,
                        float* running_mean, float* running_var, bool training, double momentum, double eps,
                        float* save_mean, float* save_invstd, void* stream);

void batch_norm_backward(const float* g, const float* x, cpu::BnShape s, const float* weight, const float* save_mean,
                         const float* save_invstd, bool training, float* grad_input, float* grad_weight,
                         float* grad_bias, void* stream);

}  // namespace nnc::cuda
