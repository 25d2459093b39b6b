// SIMD bodies of the fused SGD, Adam / AdamW, RMSprop and Adagrad updates over
// a vector type V (cpu/vec_avx2.h, cpu/vec_avx512.h), instantiated by
// optim_avx2.cpp and optim_avx512.cpp: the operations of optim_math::*_at in
// the same order, W elements a step, the tail masked. The options are uniform
// per call, so their branches inside the loop always go the same way.
#pragma once
#include <cstdint>

#include "cpu/optim.h"

namespace nnc::cpu {
namespace {  // each ISA's translation unit gets its own copy

// f(i, n) for the vectors of [i0, i1): n == V::W except for the last.
template <class V, class F>
inline void for_vectors(int64_t i0, int64_t i1, F&& f) {
  int64_t i = i0;
  for (; i + V::W <= i1; i += V::W) f(i, V::W);
  if (i < i1) f(i, int(i1 - i));
}

template <class V>
inline typename V::R load_part(const float* p, int n) {
  return n == V::W ? V::load(p) : V::load_n(p, n);
}

template <class V>
inline void store_part(float* p, typename V::R v, int n) {
  if (n == V::W) V::store(p, v);
  else V::store_n(p, v, n);
}

template <class V>
void sgd_range(const optim_math::SgdArgs& a, int64_t i0, int64_t i1) {
  using R = typename V::R;
  const R neg_lr = V::set1(-a.lr), mu = V::set1(a.momentum), keep = V::set1(1.0f - a.dampening),
          wd = V::set1(a.weight_decay);
  const bool decay = a.weight_decay != 0.0f;
  for_vectors<V>(i0, i1, [&](int64_t i, int n) {
    R w = load_part<V>(a.w + i, n);
    R d = load_part<V>(a.g + i, n);
    if (a.maximize) d = V::sub(V::zero(), d);
    if (decay) d = V::fmadd(wd, w, d);
    if (a.buf) {
      R b = a.first_step ? d : V::fmadd(mu, load_part<V>(a.buf + i, n), V::mul(keep, d));
      store_part<V>(a.buf + i, b, n);
      d = a.nesterov ? V::fmadd(mu, b, d) : b;
    }
    store_part<V>(a.w + i, V::fmadd(neg_lr, d, w), n);
  });
}

template <class V>
void adam_range(const optim_math::AdamArgs& a, int64_t i0, int64_t i1) {
  using R = typename V::R;
  const R one_b1 = V::set1(1.0f - a.beta1), b2 = V::set1(a.beta2), one_b2 = V::set1(1.0f - a.beta2),
          eps = V::set1(a.eps), grad_decay = V::set1(a.grad_decay), param_scale = V::set1(a.param_scale),
          step_size = V::set1(a.step_size), bias2_sqrt = V::set1(a.bias2_sqrt);
  const bool decay = a.grad_decay != 0.0f, scale = a.param_scale != 1.0f;
  for_vectors<V>(i0, i1, [&](int64_t i, int n) {
    R w = load_part<V>(a.w + i, n);
    if (scale) w = V::mul(w, param_scale);
    R d = load_part<V>(a.g + i, n);
    if (a.maximize) d = V::sub(V::zero(), d);
    if (decay) d = V::fmadd(grad_decay, w, d);
    R m = load_part<V>(a.m + i, n);
    m = V::fmadd(one_b1, V::sub(d, m), m);
    R v = V::fmadd(one_b2, V::mul(d, d), V::mul(b2, load_part<V>(a.v + i, n)));
    store_part<V>(a.m + i, m, n);
    store_part<V>(a.v + i, v, n);
    if (a.vmax) {
      v = V::max(load_part<V>(a.vmax + i, n), v);
      store_part<V>(a.vmax + i, v, n);
    }
    R denom = V::add(V::div(V::sqrt(v), bias2_sqrt), eps);
    store_part<V>(a.w + i, V::fnmadd(step_size, V::div(m, denom), w), n);
  });
}

template <class V>
void rmsprop_range(const optim_math::RmspropArgs& a, int64_t i0, int64_t i1) {
  using R = typename V::R;
  const R neg_lr = V::set1(-a.lr), alpha = V::set1(a.alpha), one_alpha = V::set1(1.0f - a.alpha),
          eps = V::set1(a.eps), wd = V::set1(a.weight_decay), mu = V::set1(a.momentum);
  const bool decay = a.weight_decay != 0.0f;
  for_vectors<V>(i0, i1, [&](int64_t i, int n) {
    R w = load_part<V>(a.w + i, n);
    R d = load_part<V>(a.g + i, n);
    if (a.maximize) d = V::sub(V::zero(), d);
    if (decay) d = V::fmadd(wd, w, d);
    R sq = V::fmadd(one_alpha, V::mul(d, d), V::mul(alpha, load_part<V>(a.sq + i, n)));
    store_part<V>(a.sq + i, sq, n);
    if (a.ga) {
      R ga = load_part<V>(a.ga + i, n);
      ga = V::fmadd(one_alpha, V::sub(d, ga), ga);
      store_part<V>(a.ga + i, ga, n);
      sq = V::fnmadd(ga, ga, sq);
    }
    R step = V::div(d, V::add(V::sqrt(sq), eps));
    if (a.buf) {
      step = V::fmadd(mu, load_part<V>(a.buf + i, n), step);
      store_part<V>(a.buf + i, step, n);
    }
    store_part<V>(a.w + i, V::fmadd(neg_lr, step, w), n);
  });
}

template <class V>
void adagrad_range(const optim_math::AdagradArgs& a, int64_t i0, int64_t i1) {
  using R = typename V::R;
  const R neg_clr = V::set1(-a.clr), eps = V::set1(a.eps), wd = V::set1(a.weight_decay);
  const bool decay = a.weight_decay != 0.0f;
  for_vectors<V>(i0, i1, [&](int64_t i, int n) {
    R w = load_part<V>(a.w + i, n);
    R d = load_part<V>(a.g + i, n);
    if (a.maximize) d = V::sub(V::zero(), d);
    if (decay) d = V::fmadd(wd, w, d);
    R s = V::fmadd(d, d, load_part<V>(a.sum + i, n));
    store_part<V>(a.sum + i, s, n);
    store_part<V>(a.w + i, V::fmadd(neg_clr, V::div(d, V::add(V::sqrt(s), eps)), w), n);
  });
}

}  // namespace
}  // namespace nnc::cpu

#define NNC_DEFINE_OPTIM_TWIN(isa, V)                                                                            \
  namespace nnc::cpu {                                                                                           \
  void sgd_range_##isa(const optim_math::SgdArgs& a, int64_t i0, int64_t i1) { sgd_range<V>(a, i0, i1); }      \
  void adam_range_##isa(const optim_math::AdamArgs& a, int64_t i0, int64_t i1) { adam_range<V>(a, i0, i1); }   \
  void rmsprop_range_##isa(const optim_math::RmspropArgs& a, int64_t i0, int64_t i1) {                        \
    rmsprop_range<V>(a, i0, i1);                                                                                 \
  }                                                                                                              \
  void adagrad_range_##isa(const optim_math::AdagradArgs& a, int64_t i0, int64_t i1) {                        \
    adagrad_range<V>(a, i0, i1);                                                                                 \
  }                                                                                                              \
  }
