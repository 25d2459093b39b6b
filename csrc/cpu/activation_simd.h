// SIMD bodies of the element-wise activations and their backwards, written once
// over a vector type V (AVX2: 8 float lanes, AVX-512: 16) and instantiated by
// activation_avx2.cpp and activation_avx512.cpp. Each lane follows the selects
// of core/activation_math.h (a NaN input takes the same branch as there); the
// transcendental parts use the polynomials of cpu/vec_math.h: sigmoid from
// e = exp(-|x|) (never overflows), tanh and elu from expm1, softplus as
// max(z, 0) + log1p(exp(-|z|)). A few ulp from float64 everywhere.
//
// V provides: R, M (lane mask), W, zero, set1, load, store, load_n(p, n) (zero
// fill), store_n(p, v, n), add, sub, mul, div, max(a, b) / min(a, b) (b when
// either is NaN), abs, fmadd(a, b, c) = a b + c, fnmadd(a, b, c) = c - a b,
// round, bit_and, bit_or, rcp(a) = 1 / a (~1 ulp, 1 <= |a| <= 2 here), pow2n(n) = 2^n and
// ldexp(p, n) = p 2^n for integral n in [-126, 127], gt, lt, ge (ordered
// compares), both(m1, m2), select(m, a, b) = m ? a : b.
#pragma once
#include <cstdint>

#include "core/activation_math.h"
#include "cpu/activation.h"
#include "cpu/vec_math.h"

namespace nnc::cpu {
namespace {  // each ISA's translation unit gets its own copy

template <class V>
struct ActMath {
  using R = typename V::R;

  // e^x for x <= 0 (or NaN), 0 below -87 (no denormal results).
  static R exp_nonpositive(R x) {
    const R lo = V::set1(-87.0f);
    R n, p = simd::exp_reduced<V>(V::max(lo, x), &n);
    return V::select(V::lt(x, lo), V::zero(), V::ldexp(p, n));
  }

  // e^x - 1 = 2^n (e^r - 1) + (2^n - 1) for x in [-87, 88], exact in its last step where n = 0.
  static R expm1_in_range(R x) {
    R n, q = simd::expm1_reduced<V>(x, &n);
    R t = V::pow2n(n);
    return V::fmadd(q, t, V::sub(t, V::set1(1.0f)));
  }

  // e^x - 1, -1 below -87. Lanes above 88 give garbage, for the caller to discard.
  static R expm1(R x) { return expm1_in_range(V::max(V::set1(-87.0f), x)); }

  // log(1 + u) for u in [0, 1]: log w of w = 1 + u, corrected by (u - (w - 1)) / w
  // for the bits of u that the sum dropped.
  static R log1p_unit(R u) {
    const R one = V::set1(1.0f);
    R w = V::add(one, u);
    auto big = V::gt(w, V::set1(1.41421356237f));
    R m = V::select(big, V::mul(w, V::set1(0.5f)), w);
    R e = V::select(big, one, V::zero());
    R lw = simd::log_reduced<V>(V::sub(m, one), e);
    return V::add(lw, V::div(V::sub(u, V::sub(w, one)), w));
  }

  static R sigmoid(R x) {
    R e = exp_nonpositive(V::sub(V::zero(), V::abs(x)));
    R s = V::rcp(V::add(V::set1(1.0f), e));  // 1 + e in [1, 2]
    return V::select(V::ge(x, V::zero()), s, V::mul(e, s));
  }

  // tanh |x| = q / (-2 - q), q = expm1(-2 |x|) in [-1, 0]: no cancellation near 0,
  // and |x| clamped at 9, where tanh rounds to 1; then x's sign bit.
  static R tanh(R x) {
    const R sign = V::set1(-0.0f);
    R a = V::min(V::set1(9.0f), V::abs(x));  // keeps a NaN x
    R q = expm1_in_range(V::mul(V::set1(-2.0f), a));
    R t = V::mul(q, V::rcp(V::sub(V::set1(-2.0f), q)));  // -2 - q in [-2, -1]
    return V::bit_or(t, V::bit_and(x, sign));
  }

  static R softplus(R x, R alpha, R beta) {
    R z = V::mul(x, alpha);
    R soft = V::div(V::add(V::max(z, V::zero()), log1p_unit(exp_nonpositive(V::sub(V::zero(), V::abs(z))))), alpha);
    return V::select(V::gt(z, beta), x, soft);
  }
};

// y[i] = f(x[i]) for i in [i0, i1), whole vectors (two at a time: two independent
// chains of the long transcendental ones) then one masked tail.
template <class V, class F>
inline void map1(const float* x, float* y, int64_t i0, int64_t i1, F f) {
  int64_t i = i0;
  for (; i + 2 * V::W <= i1; i += 2 * V::W) {
    auto a = f(V::load(x + i)), b = f(V::load(x + i + V::W));
    V::store(y + i, a);
    V::store(y + i + V::W, b);
  }
  for (; i + V::W <= i1; i += V::W) V::store(y + i, f(V::load(x + i)));
  if (i < i1) {
    int n = int(i1 - i);
    V::store_n(y + i, f(V::load_n(x + i, n)), n);
  }
}

// dx[i] = f(g[i], a[i]) for i in [i0, i1).
template <class V, class F>
inline void map2(const float* g, const float* a, float* dx, int64_t i0, int64_t i1, F f) {
  int64_t i = i0;
  for (; i + V::W <= i1; i += V::W) V::store(dx + i, f(V::load(g + i), V::load(a + i)));
  if (i < i1) {
    int n = int(i1 - i);
    V::store_n(dx + i, f(V::load_n(g + i, n), V::load_n(a + i, n)), n);
  }
}

template <class V>
void activation_range(const float* x, float* y, int kind, float alpha_s, float beta_s, int64_t i0, int64_t i1) {
  using R = typename V::R;
  using M = ActMath<V>;
  const R zero = V::zero(), alpha = V::set1(alpha_s), beta = V::set1(beta_s), six = V::set1(6.0f),
          one = V::set1(1.0f);
  switch (kind) {
    case act::kRelu:
      return map1<V>(x, y, i0, i1, [&](R v) { return V::select(V::gt(v, zero), v, zero); });
    case act::kRelu6:
      return map1<V>(x, y, i0, i1,
                     [&](R v) { return V::select(V::gt(v, zero), V::select(V::lt(v, six), v, six), zero); });
    case act::kLeakyRelu:
      return map1<V>(x, y, i0, i1, [&](R v) { return V::select(V::gt(v, zero), v, V::mul(alpha, v)); });
    case act::kElu:
      return map1<V>(x, y, i0, i1, [&](R v) { return V::select(V::gt(v, zero), v, V::mul(alpha, M::expm1(v))); });
    case act::kSoftplus: return map1<V>(x, y, i0, i1, [&](R v) { return M::softplus(v, alpha, beta); });
    case act::kSoftsign: return map1<V>(x, y, i0, i1, [&](R v) { return V::div(v, V::add(one, V::abs(v))); });
    case act::kSigmoid: return map1<V>(x, y, i0, i1, [&](R v) { return M::sigmoid(v); });
    case act::kTanh: return map1<V>(x, y, i0, i1, [&](R v) { return M::tanh(v); });
    default: return map1<V>(x, y, i0, i1, [&](R v) { return v; });
  }
}

template <class V>
void activation_backward_range(const float* g, const float* x, const float* y, float* dx, int kind, float alpha_s,
                               float beta_s, int64_t i0, int64_t i1) {
  using R = typename V::R;
  using M = ActMath<V>;
  const R zero = V::zero(), alpha = V::set1(alpha_s), beta = V::set1(beta_s), six = V::set1(6.0f),
          one = V::set1(1.0f);
  switch (kind) {
    case act::kRelu:
      return map2<V>(g, y, dx, i0, i1, [&](R gv, R yv) { return V::select(V::gt(yv, zero), gv, zero); });
    case act::kRelu6:
      return map2<V>(g, y, dx, i0, i1, [&](R gv, R yv) {
        return V::select(V::both(V::gt(yv, zero), V::lt(yv, six)), gv, zero);
      });
    case act::kLeakyRelu:
      return map2<V>(g, y, dx, i0, i1,
                     [&](R gv, R yv) { return V::select(V::gt(yv, zero), gv, V::mul(gv, alpha)); });
    case act::kElu:
      return map2<V>(g, y, dx, i0, i1,
                     [&](R gv, R yv) { return V::select(V::gt(yv, zero), gv, V::mul(gv, V::add(yv, alpha))); });
    case act::kSoftplus:
      return map2<V>(g, x, dx, i0, i1, [&](R gv, R xv) {
        R z = V::mul(xv, alpha);
        return V::select(V::gt(z, beta), gv, V::mul(gv, M::sigmoid(z)));
      });
    case act::kSoftsign:
      return map2<V>(g, x, dx, i0, i1, [&](R gv, R xv) {
        R d = V::add(one, V::abs(xv));
        return V::div(gv, V::mul(d, d));
      });
    case act::kSigmoid:
      return map2<V>(g, y, dx, i0, i1, [&](R gv, R yv) { return V::mul(V::mul(gv, yv), V::sub(one, yv)); });
    case act::kTanh:
      return map2<V>(g, y, dx, i0, i1, [&](R gv, R yv) { return V::mul(gv, V::fnmadd(yv, yv, one)); });
    default: return map1<V>(g, dx, i0, i1, [&](R gv) { return gv; });
  }
}

}  // namespace
}  // namespace nnc::cpu

#define NNC_DEFINE_ACTIVATION_TWIN(isa, V)                                                                      \
  namespace nnc::cpu {                                                                                          \
  void activation_range_##isa(const float* x, float* y, int kind, float alpha, float beta, int64_t i0,         \
                              int64_t i1) {                                                                     \
    activation_range<V>(x, y, kind, alpha, beta, i0, i1);                                                       \
  }                                                                                                             \
  void activation_backward_range_##isa(const float* g, const float* x, const float* y, float* dx, int kind,    \
                                       float alpha, float beta, int64_t i0, int64_t i1) {                       \
    activation_backward_range<V>(g, x, y, dx, kind, alpha, beta, i0, i1);                                       \
  }                                                                                                             \
  }
