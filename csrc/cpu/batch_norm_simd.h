// The batch-norm twin kernels (cpu/batch_norm.h, BnKernels) over a SIMD
// register type V: sums widen each float to double lanes (V::WD of them),
// affine passes run on float lanes (V::W); tails are finished one value at a
// time. Included only by the ISA files, each with its own V.
#pragma once
#include <cstdint>

#include "cpu/batch_norm.h"

namespace nnc::cpu::bn_simd {

template <class V>
void row_moments(const float* x, int64_t n, double shift, double* sum, double* sum_sq) {
  constexpr int64_t WD = V::WD;
  typename V::D s0 = V::dzero(), s1 = V::dzero(), q0 = V::dzero(), q1 = V::dzero();
  const typename V::D sh = V::dset1(shift);
  int64_t i = 0;
  for (; i + 2 * WD <= n; i += 2 * WD) {
    typename V::D d0 = V::dsub(V::widen(x + i), sh), d1 = V::dsub(V::widen(x + i + WD), sh);
    s0 = V::dadd(s0, d0);
    s1 = V::dadd(s1, d1);
    q0 = V::dfmadd(d0, d0, q0);
    q1 = V::dfmadd(d1, d1, q1);
  }
  for (; i + WD <= n; i += WD) {
    typename V::D d0 = V::dsub(V::widen(x + i), sh);
    s0 = V::dadd(s0, d0);
    q0 = V::dfmadd(d0, d0, q0);
  }
  double s = V::dhsum(V::dadd(s0, s1)), q = V::dhsum(V::dadd(q0, q1));
  for (; i < n; ++i) {
    double d = double(x[i]) - shift;
    s += d;
    q += d * d;
  }
  *sum += s;
  *sum_sq += q;
}

template <class V>
void row_dot(const float* g, const float* x, int64_t n, double mean, double* sum_g, double* sum_gx) {
  constexpr int64_t WD = V::WD;
  typename V::D s0 = V::dzero(), s1 = V::dzero(), q0 = V::dzero(), q1 = V::dzero();
  const typename V::D m = V::dset1(mean);
  int64_t i = 0;
  for (; i + 2 * WD <= n; i += 2 * WD) {
    typename V::D g0 = V::widen(g + i), g1 = V::widen(g + i + WD);
    s0 = V::dadd(s0, g0);
    s1 = V::dadd(s1, g1);
    q0 = V::dfmadd(g0, V::dsub(V::widen(x + i), m), q0);
    q1 = V::dfmadd(g1, V::dsub(V::widen(x + i + WD), m), q1);
  }
  for (; i + WD <= n; i += WD) {
    typename V::D g0 = V::widen(g + i);
    s0 = V::dadd(s0, g0);
    q0 = V::dfmadd(g0, V::dsub(V::widen(x + i), m), q0);
  }
  double s = V::dhsum(V::dadd(s0, s1)), q = V::dhsum(V::dadd(q0, q1));
  for (; i < n; ++i) {
    s += double(g[i]);
    q += double(g[i]) * (double(x[i]) - mean);
  }
  *sum_g += s;
  *sum_gx += q;
}

template <class V>
void row_affine(const float* p, const float* q, float* out, int64_t n, float a, float m, float k, float b) {
  constexpr int64_t W = V::W;
  const typename V::F av = V::set1(a), mv = V::set1(m), kv = V::set1(k), bv = V::set1(b);
  int64_t i = 0;
  if (p) {
    for (; i + W <= n; i += W)
      V::store(out + i, V::fmadd(V::load(p + i), av, V::fmadd(V::sub(V::load(q + i), mv), kv, bv)));
    for (; i < n; ++i) out[i] = (q[i] - m) * k + b + p[i] * a;
  } else {
    for (; i + W <= n; i += W) V::store(out + i, V::fmadd(V::sub(V::load(q + i), mv), kv, bv));
    for (; i < n; ++i) out[i] = (q[i] - m) * k + b;
  }
}

template <class V>
void col_moments(const float* x, int64_t cols, const double* shift, double* sum, double* sum_sq) {
  constexpr int64_t WD = V::WD;
  int64_t j = 0;
  for (; j + WD <= cols; j += WD) {
    typename V::D d = V::dsub(V::widen(x + j), V::dload(shift + j));
    V::dstore(sum + j, V::dadd(V::dload(sum + j), d));
    V::dstore(sum_sq + j, V::dfmadd(d, d, V::dload(sum_sq + j)));
  }
  for (; j < cols; ++j) {
    double d = double(x[j]) - shift[j];
    sum[j] += d;
    sum_sq[j] += d * d;
  }
}

template <class V>
void col_dot(const float* g, const float* x, int64_t cols, const double* mean, double* sum_g, double* sum_gx) {
  constexpr int64_t WD = V::WD;
  int64_t j = 0;
  for (; j + WD <= cols; j += WD) {
    typename V::D gv = V::widen(g + j);
    V::dstore(sum_g + j, V::dadd(V::dload(sum_g + j), gv));
    V::dstore(sum_gx + j, V::dfmadd(gv, V::dsub(V::widen(x + j), V::dload(mean + j)), V::dload(sum_gx + j)));
  }
  for (; j < cols; ++j) {
    sum_g[j] += double(g[j]);
    sum_gx[j] += double(g[j]) * (double(x[j]) - mean[j]);
  }
}

template <class V>
void col_affine(const float* p, const float* q, float* out, int64_t cols, const float* a, const float* m,
                const float* k, const float* b) {
  constexpr int64_t W = V::W;
  int64_t j = 0;
  for (; j + W <= cols; j += W) {
    typename V::F r = V::fmadd(V::sub(V::load(q + j), V::load(m + j)), V::load(k + j), V::load(b + j));
    if (p) r = V::fmadd(V::load(p + j), V::load(a + j), r);
    V::store(out + j, r);
  }
  for (; j < cols; ++j) out[j] = (q[j] - m[j]) * k[j] + b[j] + (p ? p[j] * a[j] : 0.0f);
}

template <class V>
constexpr BnKernels kernels() {
  return {row_moments<V>, row_dot<V>, row_affine<V>, col_moments<V>, col_dot<V>, col_affine<V>};
}

}  // namespace nnc::cpu::bn_simd
