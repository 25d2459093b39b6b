// Fused per-step gate kernels and the recurrent matrix products, written once
// against a SIMD vector type V (rnn_avx2.cpp and rnn_avx512.cpp each define V
// and include this file). The gate kernels run the equations of
// core/rnn_math.h W lanes at a time over the hidden units j of each row (the
// last partial vector masked); the products are a register-tiled kernel over a
// weight packed once per call, and unpacked dot-product / axpy forms for
// a few rows (batch-1 cells). Internal linkage: each twin gets its own copy.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "core/threading.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/rnn.h"

namespace {

inline bool in_parallel() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// V provides: reg, W, Mask, full(), tail(n), load<Tail>(p, m), store<Tail>(p, v, m),
// set1, add, sub, mul, fmadd (a*b+c), rcp (1/x to ~1 ulp), exp, tanh, relu,
// relu_grad(dh, h), hsum, transpose (W registers of W floats, in place), and
// MR (rows of the recurrent GEMM tile).

template <class V>
inline typename V::reg sigmoid(typename V::reg x) {
  auto one = V::set1(1.f);
  return V::rcp(V::add(one, V::exp(V::sub(V::set1(0.f), x))));
}

// Runs body(j, mask, is_tail) over j = 0, W, 2W, ... < n; is_tail is a
// std::bool_constant, true only for the last partial vector.
template <class V, class Body>
inline void over_units(int64_t n, Body&& body) {
  int64_t j = 0;
  for (; j + V::W <= n; j += V::W) body(j, V::full(), std::false_type{});
  if (j < n) body(j, V::tail(static_cast<int>(n - j)), std::true_type{});
}

// Runs kernel(n0, n1) over rows [n0, n1), split statically between threads
// when the step is big enough; each element is computed identically whatever
// the split.
template <class Kernel>
void split_step(int64_t N, int64_t H, Kernel&& kernel) {
  int nt = static_cast<int>(std::min<int64_t>({nnc::num_threads(), N, N * H / 4096}));
  if (nt <= 1 || in_parallel()) return kernel(int64_t(0), N);
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    int t = omp_get_thread_num();
#else
    int t = 0;
#endif
    kernel(N * t / nt, N * (t + 1) / nt);
  }
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
void lstm_step_rows(const nnc::cpu::LstmStep<float>& s, int64_t n0, int64_t n1) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = n0; n < n1; ++n) {
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
void lstm_step_back_rows(const nnc::cpu::LstmStepBack<float>& s, int64_t n0, int64_t n1) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = n0; n < n1; ++n) {
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
void gru_step_rows(const nnc::cpu::GruStep<float>& s, int64_t n0, int64_t n1) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = n0; n < n1; ++n) {
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
void gru_step_back_rows(const nnc::cpu::GruStepBack<float>& s, int64_t n0, int64_t n1) {
  using R = typename V::reg;
  const int64_t H = s.H;
  for (int64_t n = n0; n < n1; ++n) {
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
void rnn_step_rows(const nnc::cpu::RnnStep<float>& s, int64_t n0, int64_t n1) {
  const int64_t H = s.H;
  for (int64_t n = n0; n < n1; ++n) {
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
void rnn_step_back_rows(const nnc::cpu::RnnStepBack<float>& s, int64_t n0, int64_t n1) {
  const int64_t H = s.H;
  for (int64_t n = n0; n < n1; ++n) {
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


template <class V>
void lstm_step_simd(const nnc::cpu::LstmStep<float>& s) {
  split_step(s.N, s.H, [&](int64_t n0, int64_t n1) { lstm_step_rows<V>(s, n0, n1); });
}

template <class V>
void lstm_step_back_simd(const nnc::cpu::LstmStepBack<float>& s) {
  split_step(s.N, s.H, [&](int64_t n0, int64_t n1) { lstm_step_back_rows<V>(s, n0, n1); });
}

template <class V>
void gru_step_simd(const nnc::cpu::GruStep<float>& s) {
  split_step(s.N, s.H, [&](int64_t n0, int64_t n1) { gru_step_rows<V>(s, n0, n1); });
}

template <class V>
void gru_step_back_simd(const nnc::cpu::GruStepBack<float>& s) {
  split_step(s.N, s.H, [&](int64_t n0, int64_t n1) { gru_step_back_rows<V>(s, n0, n1); });
}

template <class V>
void rnn_step_simd(const nnc::cpu::RnnStep<float>& s) {
  split_step(s.N, s.H, [&](int64_t n0, int64_t n1) { rnn_step_rows<V>(s, n0, n1); });
}

template <class V>
void rnn_step_back_simd(const nnc::cpu::RnnStepBack<float>& s) {
  split_step(s.N, s.H, [&](int64_t n0, int64_t n1) { rnn_step_back_rows<V>(s, n0, n1); });
}

// ---- recurrent matrix products ----

// Packs op(B) (K, N) into panels of NR = 2W columns, panel[k][NR], zero-padded:
// op(B)(k, j) = B[j * ldb + k] when trans (B is a weight (N, K)), else
// B[k * ldb + j]. Panels are split statically between threads.
template <class V>
void pack_b_simd(bool trans, int64_t K, int64_t N, const float* B, int64_t ldb, float* out) {
  constexpr int W = V::W, NR = 2 * W;
  int64_t panels = (N + NR - 1) / NR;
  int nt = in_parallel() ? 1 : static_cast<int>(std::min<int64_t>({nnc::num_threads(), panels, K * N >> 16}));
#pragma omp parallel for num_threads(std::max(nt, 1)) schedule(static)
  for (int64_t p = 0; p < panels; ++p) {
    int64_t j0 = p * NR, n = std::min<int64_t>(NR, N - j0);
    float* dst = out + p * K * NR;
    int64_t k0 = 0;
    if (trans && n == NR) {  // W x W blocks transposed in registers
      for (; k0 + W <= K; k0 += W)
        for (int half = 0; half < 2; ++half) {
          typename V::reg r[W];
          for (int i = 0; i < W; ++i) r[i] = V::template load<false>(B + (j0 + half * W + i) * ldb + k0, V::full());
          V::transpose(r);
          for (int c = 0; c < W; ++c) V::template store<false>(dst + (k0 + c) * NR + half * W, r[c], V::full());
        }
    }
    for (int64_t k = k0; k < K; ++k)
      for (int64_t jj = 0; jj < NR; ++jj)
        dst[k * NR + jj] = jj >= n ? 0.f : trans ? B[(j0 + jj) * ldb + k] : B[k * ldb + j0 + jj];
  }
}

// C (mr x n corner of an MR x NR tile) (+)= A (mr, K) @ panel (K, NR); A read in place.
template <class V, int MR>
void packed_tile(int64_t K, const float* A, int64_t lda, const float* P, float* C, int64_t ldc, bool accumulate,
                 int n) {
  using R = typename V::reg;
  constexpr int W = V::W, NR = 2 * W;
  R acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = V::set1(0.f);
  for (int64_t k = 0; k < K; ++k, P += NR) {
    R b0 = V::template load<false>(P, V::full()), b1 = V::template load<false>(P + W, V::full());
    for (int r = 0; r < MR; ++r) {
      R a = V::set1(A[r * lda + k]);
      acc[r][0] = V::fmadd(a, b0, acc[r][0]);
      acc[r][1] = V::fmadd(a, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
    for (int half = 0; half < 2; ++half) {
      int cols = std::min(W, n - half * W);
      if (cols <= 0) break;
      R v = acc[r][half];
      if (cols == W) {
        if (accumulate) v = V::add(v, V::template load<false>(c + half * W, V::full()));
        V::template store<false>(c + half * W, v, V::full());
      } else {
        auto m = V::tail(cols);
        if (accumulate) v = V::add(v, V::template load<true>(c + half * W, m));
        V::template store<true>(c + half * W, v, m);
      }
    }
  }
}

template <class V, int... MRs>
constexpr auto packed_tile_table(std::integer_sequence<int, MRs...>) {
  using Fn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, bool, int);
  return std::array<Fn, sizeof...(MRs)>{packed_tile<V, MRs + 1>...};
}

// C (M, N) (+)= A (M, K) @ op(B) with op(B) packed by pack_b_simd: column
// panels split statically between threads, or, for tall products (all steps
// at once), row blocks.
template <class V, int MR>
void matmul_packed_simd(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* P,
                        bool accumulate, float* C, int64_t ldc) {
  constexpr int NR = 2 * V::W;
  static constexpr auto tiles = packed_tile_table<V>(std::make_integer_sequence<int, MR>());
  int64_t panels = (N + NR - 1) / NR;
  int nt = in_parallel() ? 1
                         : static_cast<int>(std::min<int64_t>({nnc::num_threads(), panels,
                                                               std::max<int64_t>(1, M * N * K >> 20)}));
  // rows in tiles of (nearly) equal height <= MR: M = 32 runs as 11 + 11 + 10, not 12 + 12 + 8
  int64_t row_tiles = (M + MR - 1) / MR, height = row_tiles ? (M + row_tiles - 1) / row_tiles : 0;
  auto tile = [&](int64_t m0, int64_t p) {
    int n = static_cast<int>(std::min<int64_t>(NR, N - p * NR));
    int mr = static_cast<int>(std::min<int64_t>(height, M - m0));
    tiles[mr - 1](K, A + m0 * lda, lda, P + p * K * NR, C + m0 * ldc + p * NR, ldc, accumulate, n);
  };
  if (row_tiles >= 2 * panels) {
    // many rows (a product over all steps): each row block of A is loaded once
    // and swept over every panel, the panels staying in L2
    int nt_rows = in_parallel() ? 1
                                : static_cast<int>(std::min<int64_t>({nnc::num_threads(), row_tiles,
                                                                      std::max<int64_t>(1, M * N * K >> 20)}));
#pragma omp parallel for num_threads(nt_rows) schedule(static)
    for (int64_t t = 0; t < row_tiles; ++t)
      for (int64_t p = 0; p < panels; ++p) tile(t * height, p);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t m0 = 0; m0 < M; m0 += height) tile(m0, p);
}

// Small M (a few rows, e.g. batch 1), no packing:
// C (M, N) (+)= A (M, K) @ W^T, W (N, K) row-major: dot products along W's rows.
template <class V>
void small_m_wt_simd(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Wt, bool accumulate,
                     float* C, int64_t ldc) {
  using R = typename V::reg;
  for (int64_t m = 0; m < M; ++m) {
    const float* a = A + m * lda;
    int64_t j = 0;
    for (; j + 4 <= N; j += 4) {
      R acc[4] = {V::set1(0.f), V::set1(0.f), V::set1(0.f), V::set1(0.f)};
      over_units<V>(K, [&](int64_t k, typename V::Mask mk, [[maybe_unused]] auto tail) {
        constexpr bool Tail = decltype(tail)::value;
        R av = V::template load<Tail>(a + k, mk);
        for (int q = 0; q < 4; ++q) acc[q] = V::fmadd(av, V::template load<Tail>(Wt + (j + q) * K + k, mk), acc[q]);
      });
      for (int q = 0; q < 4; ++q) C[m * ldc + j + q] = V::hsum(acc[q]) + (accumulate ? C[m * ldc + j + q] : 0.f);
    }
    for (; j < N; ++j) {
      R acc = V::set1(0.f);
      over_units<V>(K, [&](int64_t k, typename V::Mask mk, [[maybe_unused]] auto tail) {
        constexpr bool Tail = decltype(tail)::value;
        acc = V::fmadd(V::template load<Tail>(a + k, mk), V::template load<Tail>(Wt + j * K + k, mk), acc);
      });
      C[m * ldc + j] = V::hsum(acc) + (accumulate ? C[m * ldc + j] : 0.f);
    }
  }
}

// C (M, N) (+)= A (M, K) @ W, W (K, N) row-major: rows of W scaled and summed.
template <class V>
void small_m_w_simd(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, bool accumulate,
                    float* C, int64_t ldc) {
  using R = typename V::reg;
  constexpr int B = 8;  // vectors of C kept in registers
  for (int64_t m = 0; m < M; ++m) {
    const float* a = A + m * lda;
    float* c = C + m * ldc;
    for (int64_t j0 = 0; j0 < N; j0 += B * V::W) {
      int64_t nb = std::min<int64_t>(B * V::W, N - j0);
      if (nb == B * V::W) {
        R acc[B];
        for (int v = 0; v < B; ++v)
          acc[v] = accumulate ? V::template load<false>(c + j0 + v * V::W, V::full()) : V::set1(0.f);
        for (int64_t k = 0; k < K; ++k) {
          R ak = V::set1(a[k]);
          const float* w = W + k * N + j0;
          for (int v = 0; v < B; ++v) acc[v] = V::fmadd(ak, V::template load<false>(w + v * V::W, V::full()), acc[v]);
        }
        for (int v = 0; v < B; ++v) V::template store<false>(c + j0 + v * V::W, acc[v], V::full());
      } else {
        over_units<V>(nb, [&](int64_t j, typename V::Mask mj, [[maybe_unused]] auto tail) {
          constexpr bool Tail = decltype(tail)::value;
          R acc = accumulate ? V::template load<Tail>(c + j0 + j, mj) : V::set1(0.f);
          for (int64_t k = 0; k < K; ++k)
            acc = V::fmadd(V::set1(a[k]), V::template load<Tail>(W + k * N + j0 + j, mj), acc);
          V::template store<Tail>(c + j0 + j, acc, mj);
        });
      }
    }
  }
}

// dW (G, F) (+)= dG (rows, G)^T @ X (rows, F) for a few rows: scaled rows of X summed.
template <class V>
void small_k_grad_w_simd(int64_t rows, int64_t G, int64_t F, const float* dG, int64_t ldg, const float* X,
                         bool accumulate, float* dW) {
  using R = typename V::reg;
  for (int64_t j = 0; j < G; ++j) {
    float* d = dW + j * F;
    over_units<V>(F, [&](int64_t f, typename V::Mask mf, [[maybe_unused]] auto tail) {
      constexpr bool Tail = decltype(tail)::value;
      R acc = accumulate ? V::template load<Tail>(d + f, mf) : V::set1(0.f);
      for (int64_t r = 0; r < rows; ++r)
        acc = V::fmadd(V::set1(dG[r * ldg + j]), V::template load<Tail>(X + r * F + f, mf), acc);
      V::template store<Tail>(d + f, acc, mf);
    });
  }
}

}  // namespace

// Defines the nnc::cpu entry points of one twin (declared in cpu/rnn.h).
#define NNC_RNN_DEFINE_TWIN(suffix, V)                                                              \
  namespace nnc::cpu {                                                                              \
  void lstm_step_##suffix(const LstmStep<float>& s) { lstm_step_simd<V>(s); }                       \
  void lstm_step_back_##suffix(const LstmStepBack<float>& s) { lstm_step_back_simd<V>(s); }         \
  void gru_step_##suffix(const GruStep<float>& s) { gru_step_simd<V>(s); }                          \
  void gru_step_back_##suffix(const GruStepBack<float>& s) { gru_step_back_simd<V>(s); }            \
  void rnn_step_##suffix(const RnnStep<float>& s) { rnn_step_simd<V>(s); }                          \
  void rnn_step_back_##suffix(const RnnStepBack<float>& s) { rnn_step_back_simd<V>(s); }            \
  int64_t packed_b_floats_##suffix(int64_t K, int64_t N) {                                         \
    return K * ((N + 2 * V::W - 1) / (2 * V::W)) * 2 * V::W;                                         \
  }                                                                                                 \
  void pack_b_##suffix(bool trans, int64_t K, int64_t N, const float* B, int64_t ldb, float* dst) { \
    pack_b_simd<V>(trans, K, N, B, ldb, dst);                                                       \
  }                                                                                                 \
  void matmul_packed_##suffix(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,        \
                              const float* P, bool accumulate, float* C, int64_t ldc) {             \
    matmul_packed_simd<V, V::MR>(M, N, K, A, lda, P, accumulate, C, ldc);                           \
  }                                                                                                 \
  void small_m_wt_##suffix(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,           \
                           const float* W, bool accumulate, float* C, int64_t ldc) {                \
    small_m_wt_simd<V>(M, N, K, A, lda, W, accumulate, C, ldc);                                     \
  }                                                                                                 \
  void small_m_w_##suffix(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,            \
                          const float* W, bool accumulate, float* C, int64_t ldc) {                 \
    small_m_w_simd<V>(M, N, K, A, lda, W, accumulate, C, ldc);                                      \
  }                                                                                                 \
  void small_k_grad_w_##suffix(int64_t rows, int64_t G, int64_t F, const float* dG, int64_t ldg,   \
                               const float* X, bool accumulate, float* dW) {                        \
    small_k_grad_w_simd<V>(rows, G, F, dG, ldg, X, accumulate, dW);                                 \
  }                                                                                                 \
  }
