// Element-wise activations on the CPU (float32, any contiguous shape seen as n
// elements): y = f(x) and dx = g * f'(.) for the kinds of core/activation_math.h.
#pragma once
#include <cstdint>

namespace nnc::cpu {

// y[i] = f(x[i]), i < n; y may be x.
void activation(const float* x, float* y, int64_t n, int kind, float alpha, float beta);

// dx[i] = g[i] * f'(x[i]) from y (kinds that need only the output) or x
// (softplus, softsign; act::backward_needs_input); dx may be g.
void activation_backward(const float* g, const float* x, const float* y, float* dx, int64_t n, int kind, float alpha,
                         float beta);

// ---- what the twins implement: elements [i0, i1) ----
void activation_range_portable(const float* x, float* y, int kind, float alpha, float beta, int64_t i0, int64_t i1);
void activation_backward_range_portable(const float* g, const float* x, const float* y, float* dx, int kind,
                                        float alpha, float beta, int64_t i0, int64_t i1);

#define NNC_ACTIVATION_TWIN(isa)                                                                                   \
  void activation_range_##isa(const float* x, float* y, int kind, float alpha, float beta, int64_t i0, int64_t i1); \
  void activation_backward_range_##isa(const float* g, const float* x, const float* y, float* dx, int kind,       \
                                       float alpha, float beta, int64_t i0, int64_t i1);
NNC_ACTIVATION_TWIN(avx2)
NNC_ACTIVATION_TWIN(avx512)
#undef NNC_ACTIVATION_TWIN

}  // namespace nnc::cpu
