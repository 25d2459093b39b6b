// Fused per-step gate kernels written once against a SIMD vector type V
// (rnn_avx2.cpp and rnn_avx512.cpp each define V and include this file), so
// every twin runs the same equations as core/rnn_math.h, W lanes at a time,
// over the hidden units j of each row; the last partial vector is masked.
// Everything here has internal linkage: each twin gets its own ISA copy.
#pragma once
#include <cstdint>
#include <type_traits>

#include "cpu/rnn.h"

namespace {

// V provides: reg, W, Mask, full(), tail(n), load<Tail>(p, m), store<Tail>(p, v, m),
// set1, add, sub, mul, fmadd (a*b+c), div, exp, tanh, relu, relu_grad(dh, h).

template <class V>
inline typename V::reg sigmoid(typename V::reg x) {
  auto one = V::set1(1.f);
  return V::div(one, V::add(one, V::exp(V::sub(V::set1(0.f), x))));
}

// Runs body(j, mask, is_tail) over j = 0, W, 2W, ... < H; is_tail is a
// std::bool_constant, true only for the last partial vector.
template <class V, class Body>
inline void over_units(int64_t H, Body&& body) {
  int64_t j = 0;
  for (; j + V::W <= H; j += V::W) body(j, V::full(), std::false_type{});
  if (j < H) body(j, V::tail(static_cast<int>(H - j)), std::true_type{});
}

// a + p[j..] when p is not null
template <class V, bool Tail>
inline typename V::reg add_opt(typename V::reg a, const float* p, typename V::Mask m) {
  return p ? V::add(a, V::template load<Tail>(p, m)) : a;
}

template <class V, bool Tail>
inline typename V::reg load_opt(const float* p, typename V::Mask m) {
  return p ? V::template load<Tail>(p, m) : V::set1(0.f);
}

template <class V>
void lstm_step_simd(const nnc::cpu::LstmStep<float>& s) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    float* g = s.gates + n * s.ldg;
    const float* c_row = s.c_prev + n * s.ldc;
    float* h_row = s.h_new + n * H;
    float* c_out = s.c_out ? s.c_out + n * H : nullptr;
    over_units<V>(H, [&](int64_t j, typename V::Mask m, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      R a[4];
      for (int q = 0; q < 4; ++q) {
        a[q] = V::template load<Tail>(g + q * H + j, m);
        a[q] = add_opt<V, Tail>(a[q], s.b_ih ? s.b_ih + q * H + j : nullptr, m);
        a[q] = add_opt<V, Tail>(a[q], s.b_hh ? s.b_hh + q * H + j : nullptr, m);
      }
      R c = V::template load<Tail>(c_row + j, m);
      if (s.peep) {
        a[0] = V::fmadd(V::template load<Tail>(s.peep + j, m), c, a[0]);
        a[1] = V::fmadd(V::template load<Tail>(s.peep + H + j, m), c, a[1]);
      }
      R i = sigmoid<V>(a[0]), f = sigmoid<V>(a[1]), gg = V::tanh(a[2]);
      R c_new = V::fmadd(f, c, V::mul(i, gg));
      if (s.peep) a[3] = V::fmadd(V::template load<Tail>(s.peep + 2 * H + j, m), c_new, a[3]);
      R o = sigmoid<V>(a[3]);
      V::template store<Tail>(g + j, i, m);
      V::template store<Tail>(g + H + j, f, m);
      V::template store<Tail>(g + 2 * H + j, gg, m);
      V::template store<Tail>(g + 3 * H + j, o, m);
      V::template store<Tail>(g + 4 * H + j, c_new, m);
      V::template store<Tail>(h_row + j, V::mul(o, V::tanh(c_new)), m);
      if (c_out) V::template store<Tail>(c_out + j, c_new, m);
    });
  }
}

template <class V>
void lstm_step_back_simd(const nnc::cpu::LstmStepBack<float>& s) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    const float* st = s.state + n * 5 * H;
    const float* c_row = s.c_prev + n * s.ldc;
    float* dg = s.dgates + n * 4 * H;
    int64_t k = n * H;
    over_units<V>(H, [&](int64_t j, typename V::Mask m, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      auto one = V::set1(1.f);
      R dh = load_opt<V, Tail>(s.dh_a ? s.dh_a + k + j : nullptr, m);
      dh = add_opt<V, Tail>(dh, s.dh_b ? s.dh_b + k + j : nullptr, m);
      R dc = load_opt<V, Tail>(s.dc ? s.dc + k + j : nullptr, m);
      R i = V::template load<Tail>(st + j, m), f = V::template load<Tail>(st + H + j, m);
      R g = V::template load<Tail>(st + 2 * H + j, m), o = V::template load<Tail>(st + 3 * H + j, m);
      R c_new = V::template load<Tail>(st + 4 * H + j, m), c = V::template load<Tail>(c_row + j, m);
      R tc = V::tanh(c_new);
      R da_o = V::mul(V::mul(dh, tc), V::mul(o, V::sub(one, o)));
      R dcn = V::fmadd(V::mul(dh, o), V::sub(one, V::mul(tc, tc)), dc);
      R pi, pf, po;
      if (s.peep) {
        pi = V::template load<Tail>(s.peep + j, m);
        pf = V::template load<Tail>(s.peep + H + j, m);
        po = V::template load<Tail>(s.peep + 2 * H + j, m);
        dcn = V::fmadd(da_o, po, dcn);
      }
      R da_i = V::mul(V::mul(dcn, g), V::mul(i, V::sub(one, i)));
      R da_f = V::mul(V::mul(dcn, c), V::mul(f, V::sub(one, f)));
      R da_g = V::mul(V::mul(dcn, i), V::sub(one, V::mul(g, g)));
      R dc_prev = V::mul(dcn, f);
      if (s.peep) {
        dc_prev = V::fmadd(da_i, pi, dc_prev);
        dc_prev = V::fmadd(da_f, pf, dc_prev);
        float* dp = s.dpeep;
        if (dp) {
          V::template store<Tail>(dp + j, V::fmadd(da_i, c, V::template load<Tail>(dp + j, m)), m);
          V::template store<Tail>(dp + H + j, V::fmadd(da_f, c, V::template load<Tail>(dp + H + j, m)), m);
          V::template store<Tail>(dp + 2 * H + j, V::fmadd(da_o, c_new, V::template load<Tail>(dp + 2 * H + j, m)),
                                  m);
        }
      }
      V::template store<Tail>(dg + j, da_i, m);
      V::template store<Tail>(dg + H + j, da_f, m);
      V::template store<Tail>(dg + 2 * H + j, da_g, m);
      V::template store<Tail>(dg + 3 * H + j, da_o, m);
      V::template store<Tail>(s.dc_prev + k + j, dc_prev, m);
    });
  }
}

template <class V>
void gru_step_simd(const nnc::cpu::GruStep<float>& s) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    float* g = s.gates + n * 4 * H;
    const float* gh = s.gh + n * 3 * H;
    const float* h_prev = s.h_prev + n * H;
    float* h_new = s.h_new + n * H;
    over_units<V>(H, [&](int64_t j, typename V::Mask m, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      R x[3], h[3];
      for (int q = 0; q < 3; ++q) {
        x[q] = add_opt<V, Tail>(V::template load<Tail>(g + q * H + j, m), s.b_ih ? s.b_ih + q * H + j : nullptr, m);
        h[q] = add_opt<V, Tail>(V::template load<Tail>(gh + q * H + j, m), s.b_hh ? s.b_hh + q * H + j : nullptr, m);
      }
      R r = sigmoid<V>(V::add(x[0], h[0]));
      R z = sigmoid<V>(V::add(x[1], h[1]));
      R nn = V::tanh(V::fmadd(r, h[2], x[2]));
      R hp = V::template load<Tail>(h_prev + j, m);
      // (1 - z) n + z h = n + z (h - n)
      R hn = V::fmadd(z, V::sub(hp, nn), nn);
      V::template store<Tail>(g + j, r, m);
      V::template store<Tail>(g + H + j, z, m);
      V::template store<Tail>(g + 2 * H + j, nn, m);
      V::template store<Tail>(g + 3 * H + j, h[2], m);
      V::template store<Tail>(h_new + j, hn, m);
    });
  }
}

template <class V>
void gru_step_back_simd(const nnc::cpu::GruStepBack<float>& s) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    const float* st = s.state + n * 4 * H;
    float* dgx = s.dgx + n * 3 * H;
    float* dgh = s.dgh + n * 3 * H;
    int64_t k = n * H;
    over_units<V>(H, [&](int64_t j, typename V::Mask m, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      auto one = V::set1(1.f);
      R dh = load_opt<V, Tail>(s.dh_a ? s.dh_a + k + j : nullptr, m);
      dh = add_opt<V, Tail>(dh, s.dh_b ? s.dh_b + k + j : nullptr, m);
      R r = V::template load<Tail>(st + j, m), z = V::template load<Tail>(st + H + j, m);
      R nn = V::template load<Tail>(st + 2 * H + j, m), hn = V::template load<Tail>(st + 3 * H + j, m);
      R hp = V::template load<Tail>(s.h_prev + k + j, m);
      R dx_n = V::mul(V::mul(dh, V::sub(one, z)), V::sub(one, V::mul(nn, nn)));
      R dx_z = V::mul(V::mul(dh, V::sub(hp, nn)), V::mul(z, V::sub(one, z)));
      R dx_r = V::mul(V::mul(dx_n, hn), V::mul(r, V::sub(one, r)));
      V::template store<Tail>(dgx + j, dx_r, m);
      V::template store<Tail>(dgh + j, dx_r, m);
      V::template store<Tail>(dgx + H + j, dx_z, m);
      V::template store<Tail>(dgh + H + j, dx_z, m);
      V::template store<Tail>(dgx + 2 * H + j, dx_n, m);
      V::template store<Tail>(dgh + 2 * H + j, V::mul(dx_n, r), m);
      V::template store<Tail>(s.dh_prev + k + j, V::mul(dh, z), m);
    });
  }
}

template <class V>
void rnn_step_simd(const nnc::cpu::RnnStep<float>& s) {
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    float* h = s.h + n * H;
    over_units<V>(H, [&](int64_t j, typename V::Mask m, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      auto a = add_opt<V, Tail>(V::template load<Tail>(h + j, m), s.b_ih ? s.b_ih + j : nullptr, m);
      a = add_opt<V, Tail>(a, s.b_hh ? s.b_hh + j : nullptr, m);
      V::template store<Tail>(h + j, s.relu ? V::relu(a) : V::tanh(a), m);
    });
  }
}

template <class V>
void rnn_step_back_simd(const nnc::cpu::RnnStepBack<float>& s) {
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    int64_t k = n * H;
    over_units<V>(H, [&](int64_t j, typename V::Mask m, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      auto dh = load_opt<V, Tail>(s.dh_a ? s.dh_a + k + j : nullptr, m);
      dh = add_opt<V, Tail>(dh, s.dh_b ? s.dh_b + k + j : nullptr, m);
      auto h = V::template load<Tail>(s.h_new + k + j, m);
      auto da = s.relu ? V::relu_grad(dh, h) : V::mul(dh, V::sub(V::set1(1.f), V::mul(h, h)));
      V::template store<Tail>(s.da + k + j, da, m);
    });
  }
}

}  // namespace

// Defines the six nnc::cpu step entry points of one twin.
#define NNC_RNN_DEFINE_TWIN(suffix, V)                                                              \
  namespace nnc::cpu {                                                                              \
  void lstm_step_##suffix(const LstmStep<float>& s) { lstm_step_simd<V>(s); }                       \
  void lstm_step_back_##suffix(const LstmStepBack<float>& s) { lstm_step_back_simd<V>(s); }         \
  void gru_step_##suffix(const GruStep<float>& s) { gru_step_simd<V>(s); }                          \
  void gru_step_back_##suffix(const GruStepBack<float>& s) { gru_step_back_simd<V>(s); }            \
  void rnn_step_##suffix(const RnnStep<float>& s) { rnn_step_simd<V>(s); }                          \
  void rnn_step_back_##suffix(const RnnStepBack<float>& s) { rnn_step_back_simd<V>(s); }            \
  }
