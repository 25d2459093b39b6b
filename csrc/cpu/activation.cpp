// Element-wise activations, portable twin (the oracle): act::forward /
// act::backward of core/activation_math.h per element, in float; and the
// dispatch to the AVX2 / AVX-512 twins over threads. x, y, g, dx: n elements.
#include "cpu/activation.h"

#include "core/activation_math.h"
#include "core/isa.h"
#include "cpu/eltwise_parallel.h"

namespace nnc::cpu {

void activation_range_portable(const float* x, float* y, int kind, float alpha, float beta, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) y[i] = act::forward<float>(kind, x[i], alpha, beta);
}

void activation_backward_range_portable(const float* g, const float* x, const float* y, float* dx, int kind,
                                        float alpha, float beta, int64_t i0, int64_t i1) {
  const bool needs_x = act::backward_needs_input(kind);
  for (int64_t i = i0; i < i1; ++i)
    dx[i] = act::backward<float>(kind, g[i], needs_x ? x[i] : 0.0f, needs_x ? 0.0f : y[i], alpha, beta);
}

void activation(const float* x, float* y, int64_t n, int kind, float alpha, float beta) {
  auto twin = activation_range_portable;
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: twin = activation_range_avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: twin = activation_range_avx2; break;
#endif
    default: break;
  }
  eltwise_ranges(n, [&](int64_t i0, int64_t i1) { twin(x, y, kind, alpha, beta, i0, i1); });
}

void activation_backward(const float* g, const float* x, const float* y, float* dx, int64_t n, int kind, float alpha,
                         float beta) {
  auto twin = activation_backward_range_portable;
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: twin = activation_backward_range_avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: twin = activation_backward_range_avx2; break;
#endif
    default: break;
  }
  eltwise_ranges(n, [&](int64_t i0, int64_t i1) { twin(g, x, y, dx, kind, alpha, beta, i0, i1); });
}

}  // namespace nnc::cpu
