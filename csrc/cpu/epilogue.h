// Output epilogues of the GEMM and convolution kernels: y = act(acc + bias),
// applied to an output tile while it is still in cache. The activation codes and
// math are core/activation_math.h's (python/nncore/ops/activation_kinds.py).
// Also the epilogue's backward from its output, g' = g act'(y).
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/activation_math.h"
#include "core/hd.h"
#include "core/threading.h"

namespace nnc::cpu {

// y = act::forward(kind, x, alpha, beta); kind kNone is the identity.
template <typename T>
struct Activation {
  int kind = act::kNone;
  T alpha = 0, beta = 0;
  NNC_HD T operator()(T x) const { return act::forward<T>(kind, x, alpha, beta); }
  NNC_HD bool none() const { return kind == act::kNone; }
};

// C (M, N) = act(C + bias): bias is one value per row (bias_per_row) or per column, or null.
template <typename T>
struct Epilogue {
  Activation<T> act;
  const T* bias = nullptr;
  bool bias_per_row = false;
  NNC_HD bool active() const { return bias != nullptr || !act.none(); }
};

// Backward of the activation epilogue from its output: out[i] = grad[i] * act'(y)
// for the kinds whose derivative needs only y (all but softplus, softsign);
// out may be grad itself. n elements.
template <typename T>
void epilogue_grad(int64_t n, const T* grad, const T* y, T* out, const Activation<T>& act);

// The SIMD twins of epilogue_grad<float>, picked by it from active_isa().
void epilogue_grad_avx2(int64_t n, const float* grad, const float* y, float* out, const Activation<float>& act);
void epilogue_grad_avx512(int64_t n, const float* grad, const float* y, float* out, const Activation<float>& act);

}  // namespace nnc::cpu

// Internal linkage: each ISA's translation unit gets its own copy, vectorised for it.
namespace {

// a(x) with everything it calls inlined (flatten): a SIMD twin's translation unit then
// emits no out-of-line copy of act::forward compiled for its ISA, which the linker
// could otherwise pick for the portable callers.
template <typename T>
__attribute__((flatten)) T activation_value(const nnc::cpu::Activation<T>& a, T x) {
  return nnc::act::forward<T>(a.kind, x, a.alpha, a.beta);
}

// fn(c[j] + b) into c[j] for an m x n block, b the block's row or column bias (0 without one).
template <typename T, class Fn>
void epilogue_rows(const nnc::cpu::Epilogue<T>& e, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t m, int64_t n,
                   Fn fn) {
  for (int64_t r = 0; r < m; ++r) {
    T* c = C + r * ldc;
    if (e.bias && !e.bias_per_row) {
      const T* b = e.bias + j0;
      for (int64_t j = 0; j < n; ++j) c[j] = fn(c[j] + b[j]);
    } else if (e.bias) {
      const T b = e.bias[i0 + r];
      for (int64_t j = 0; j < n; ++j) c[j] = fn(c[j] + b);
    } else {
      for (int64_t j = 0; j < n; ++j) c[j] = fn(c[j]);
    }
  }
}

// Applies e to the m x n block at C (row stride ldc) whose first element is (i0, j0) of the whole output.
// Reference: C[r][j] = e.act(C[r][j] + bias) element by element; the common kinds get branch-free loops.
template <typename T>
void apply_epilogue(const nnc::cpu::Epilogue<T>& e, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t m, int64_t n) {
  namespace act = nnc::act;
  const T alpha = e.act.alpha;
  switch (e.act.kind) {
    case act::kNone: return epilogue_rows(e, C, ldc, i0, j0, m, n, [](T v) { return v; });
    case act::kRelu: return epilogue_rows(e, C, ldc, i0, j0, m, n, [](T v) { return v > T(0) ? v : T(0); });
    case act::kRelu6:
      return epilogue_rows(e, C, ldc, i0, j0, m, n, [](T v) { return v > T(0) ? (v < T(6) ? v : T(6)) : T(0); });
    case act::kLeakyRelu:
      return epilogue_rows(e, C, ldc, i0, j0, m, n, [alpha](T v) { return v > T(0) ? v : alpha * v; });
    default: {
      const nnc::cpu::Activation<T> f = e.act;
      return epilogue_rows(e, C, ldc, i0, j0, m, n, [f](T v) { return activation_value(f, v); });
    }
  }
}

// out[i] = fn(grad[i], y[i]) for i in [0, n).
template <typename T, class Fn>
void epilogue_grad_loop(int64_t n, const T* grad, const T* y, T* out, Fn fn) {
  for (int64_t i = 0; i < n; ++i) out[i] = fn(grad[i], y[i]);
}

// Reference: out[i] = act::backward(kind, grad[i], -, y[i], alpha, beta); one branch-free loop per kind.
template <typename T>
void epilogue_grad_range(int64_t n, const T* grad, const T* y, T* out, const nnc::cpu::Activation<T>& a) {
  namespace act = nnc::act;
  const T alpha = a.alpha;
  switch (a.kind) {
    case act::kRelu: return epilogue_grad_loop(n, grad, y, out, [](T g, T v) { return v > T(0) ? g : T(0); });
    case act::kRelu6:
      return epilogue_grad_loop(n, grad, y, out, [](T g, T v) { return v > T(0) && v < T(6) ? g : T(0); });
    case act::kLeakyRelu:
      return epilogue_grad_loop(n, grad, y, out, [alpha](T g, T v) { return v > T(0) ? g : g * alpha; });
    case act::kElu:
      return epilogue_grad_loop(n, grad, y, out, [alpha](T g, T v) { return v > T(0) ? g : g * (v + alpha); });
    case act::kSigmoid: return epilogue_grad_loop(n, grad, y, out, [](T g, T v) { return g * v * (T(1) - v); });
    case act::kTanh: return epilogue_grad_loop(n, grad, y, out, [](T g, T v) { return g * (T(1) - v * v); });
    default: return epilogue_grad_loop(n, grad, y, out, [](T g, T) { return g; });
  }
}

// Splits [0, n) into cache-sized chunks over the threads (serial below 64 Ki elements).
template <typename T>
void epilogue_grad_parallel(int64_t n, const T* grad, const T* y, T* out, const nnc::cpu::Activation<T>& a) {
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = n >= (int64_t(1) << 16) ? nnc::num_threads() : 1;
#ifdef _OPENMP  // also included by the CUDA twins' headers, whose host pass has no OpenMP
#pragma omp parallel for num_threads(nt) schedule(static)
#else
  (void)nt;
#endif
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t i0 = c * kChunk, len = std::min(kChunk, n - i0);
    epilogue_grad_range(len, grad + i0, y + i0, out + i0, a);
  }
}

}  // namespace
