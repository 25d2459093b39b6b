// Recurrent cells and sequences on the CPU (portable twin, float and double):
// the time loops (input projection of every step hoisted into one product, one
// recurrent product plus one fused gate pass per step, weight gradients as one
// GEMM over all steps; float weights packed once per call for the SIMD twins'
// tile kernel) and the scalar gate kernels the SIMD twins replace.
#include "cpu/rnn.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/host_cache.h"
#include "core/isa.h"
#include "core/rnn_math.h"
#include "core/threading.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#include "cpu/gemm.h"

namespace nnc::cpu {
namespace {

bool in_parallel() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// ---- scalar step kernels (the oracle the SIMD twins are tested against) ----

template <typename T>
void lstm_step_scalar(const LstmStep<T>& s) {
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    T* g = s.gates + n * s.ldg;
    const T* c = s.c_prev + n * s.ldc;
    for (int64_t j = 0; j < H; ++j) {
      T a[4];
      for (int q = 0; q < 4; ++q)
        a[q] = g[q * H + j] + (s.b_ih ? s.b_ih[q * H + j] : T(0)) + (s.b_hh ? s.b_hh[q * H + j] : T(0));
      T pi = s.peep ? s.peep[j] : T(0), pf = s.peep ? s.peep[H + j] : T(0), po = s.peep ? s.peep[2 * H + j] : T(0);
      auto r = rnn::lstm_forward(a[0], a[1], a[2], a[3], c[j], pi, pf, po);
      g[j] = r.i;
      g[H + j] = r.f;
      g[2 * H + j] = r.g;
      g[3 * H + j] = r.o;
      g[4 * H + j] = r.c_new;
      s.h_new[n * H + j] = r.h_new;
      if (s.c_out) s.c_out[n * H + j] = r.c_new;
    }
  }
}

template <typename T>
void lstm_step_back_scalar(const LstmStepBack<T>& s) {
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    const T* st = s.state + n * 5 * H;
    const T* c = s.c_prev + n * s.ldc;
    T* dg = s.dgates + n * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      int64_t k = n * H + j;
      T dh = (s.dh_a ? s.dh_a[k] : T(0)) + (s.dh_b ? s.dh_b[k] : T(0));
      T dc = s.dc ? s.dc[k] : T(0);
      T pi = s.peep ? s.peep[j] : T(0), pf = s.peep ? s.peep[H + j] : T(0), po = s.peep ? s.peep[2 * H + j] : T(0);
      auto d = rnn::lstm_backward(dh, dc, st[j], st[H + j], st[2 * H + j], st[3 * H + j], c[j], st[4 * H + j], pi, pf,
                                  po);
      dg[j] = d.da_i;
      dg[H + j] = d.da_f;
      dg[2 * H + j] = d.da_g;
      dg[3 * H + j] = d.da_o;
      s.dc_prev[k] = d.dc_prev;
    }
  }
}

template <typename T>
void gru_step_scalar(const GruStep<T>& s) {
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    T* g = s.gates + n * 4 * H;
    const T* gh = s.gh + n * 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      T x[3], h[3];
      for (int q = 0; q < 3; ++q) {
        x[q] = g[q * H + j] + (s.b_ih ? s.b_ih[q * H + j] : T(0));
        h[q] = gh[q * H + j] + (s.b_hh ? s.b_hh[q * H + j] : T(0));
      }
      auto r = rnn::gru_forward(x[0], x[1], x[2], h[0], h[1], h[2], s.h_prev[n * H + j]);
      g[j] = r.r;
      g[H + j] = r.z;
      g[2 * H + j] = r.n;
      g[3 * H + j] = h[2];
      s.h_new[n * H + j] = r.h_new;
    }
  }
}

template <typename T>
void gru_step_back_scalar(const GruStepBack<T>& s) {
  const int64_t H = s.H;
  for (int64_t n = 0; n < s.N; ++n) {
    const T* st = s.state + n * 4 * H;
    T* dgx = s.dgx + n * 3 * H;
    T* dgh = s.dgh + n * 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      int64_t k = n * H + j;
      T dh = (s.dh_a ? s.dh_a[k] : T(0)) + (s.dh_b ? s.dh_b[k] : T(0));
      auto d = rnn::gru_backward(dh, st[j], st[H + j], st[2 * H + j], st[3 * H + j], s.h_prev[k]);
      dgx[j] = dgh[j] = d.dx_r;
      dgx[H + j] = dgh[H + j] = d.dx_z;
      dgx[2 * H + j] = d.dx_n;
      dgh[2 * H + j] = d.dh_n;
      s.dh_prev[k] = d.dh_prev;
    }
  }
}

template <typename T>
void rnn_step_scalar(const RnnStep<T>& s) {
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t j = 0; j < s.H; ++j) {
      T& h = s.h[n * s.H + j];
      h = rnn::rnn_forward(h + (s.b_ih ? s.b_ih[j] : T(0)) + (s.b_hh ? s.b_hh[j] : T(0)), s.relu);
    }
}

template <typename T>
void rnn_step_back_scalar(const RnnStepBack<T>& s) {
  for (int64_t k = 0; k < s.N * s.H; ++k) {
    T dh = (s.dh_a ? s.dh_a[k] : T(0)) + (s.dh_b ? s.dh_b[k] : T(0));
    s.da[k] = rnn::rnn_backward(dh, s.h_new[k], s.relu);
  }
}

// ---- dispatch: float goes to the best SIMD twin active_isa() allows ----

#if defined(NNCORE_HAVE_AVX512) || defined(NNCORE_HAVE_AVX2)
#define NNC_RNN_DISPATCH(name, s)                                   \
  if constexpr (std::is_same_v<T, float>) {                         \
    Isa isa = active_isa();                                         \
    if (isa == Isa::avx512) return name##_avx512(s);                \
    if (isa == Isa::avx2) return name##_avx2(s);                    \
  }                                                                 \
  return name##_scalar(s)
#else
#define NNC_RNN_DISPATCH(name, s) return name##_scalar(s)
#endif

template <typename T> void lstm_step(const LstmStep<T>& s) { NNC_RNN_DISPATCH(lstm_step, s); }
template <typename T> void lstm_step_back(const LstmStepBack<T>& s) { NNC_RNN_DISPATCH(lstm_step_back, s); }
template <typename T> void gru_step(const GruStep<T>& s) { NNC_RNN_DISPATCH(gru_step, s); }
template <typename T> void gru_step_back(const GruStepBack<T>& s) { NNC_RNN_DISPATCH(gru_step_back, s); }
template <typename T> void rnn_step(const RnnStep<T>& s) { NNC_RNN_DISPATCH(rnn_step, s); }
template <typename T> void rnn_step_back(const RnnStepBack<T>& s) { NNC_RNN_DISPATCH(rnn_step_back, s); }

// ---- matrix products ----

// The float SIMD twin that runs the recurrent products (none: double, or scalar ISA).
enum class Twin { none, avx2, avx512 };

template <typename T>
Twin simd_twin() {
#if defined(NNCORE_HAVE_AVX512) || defined(NNCORE_HAVE_AVX2)
  if constexpr (std::is_same_v<T, float>) {
    Isa isa = active_isa();
    if (isa == Isa::avx512) return Twin::avx512;
    if (isa == Isa::avx2) return Twin::avx2;
  }
#endif
  return Twin::none;
}

// Up to this many rows (batch 1..4 cells) the products skip GEMM packing.
constexpr int64_t kSmallRows = 4;

#if defined(NNCORE_HAVE_AVX512) || defined(NNCORE_HAVE_AVX2)
#define NNC_RNN_TWIN_CALL(twin, name, ...) \
  ((twin) == Twin::avx512 ? name##_avx512(__VA_ARGS__) : name##_avx2(__VA_ARGS__))
#else
#define NNC_RNN_TWIN_CALL(twin, name, ...) ((void)(twin))
#endif

// C (M, N) = A (M, K) @ W(N, K)^T + beta C (beta 0 or 1): input and recurrent projections.
template <typename T>
void matmul_wt(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* W, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    Twin twin = simd_twin<T>();
    if (twin != Twin::none && M <= kSmallRows)
      return NNC_RNN_TWIN_CALL(twin, small_m_wt, M, N, K, A, lda, W, beta != 0.f, C, ldc);
  }
  gemm<T>(false, true, M, N, K, T(1), A, lda, W, K, beta, C, ldc);
}

// C (M, N) = A (M, K) @ W (K, N) + beta C: gradients flowing back through W.
template <typename T>
void matmul_w(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* W, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    Twin twin = simd_twin<T>();
    if (twin != Twin::none && M <= kSmallRows)
      return NNC_RNN_TWIN_CALL(twin, small_m_w, M, N, K, A, lda, W, beta != 0.f, C, ldc);
  }
  gemm<T>(false, false, M, N, K, T(1), A, lda, W, N, beta, C, ldc);
}

// dW (G, F) = dG (rows, G)^T @ X (rows, F) + beta dW: weight gradient summed over every row.
template <typename T>
void matmul_grad_w(int64_t rows, int64_t G, int64_t F, const T* dG, int64_t ldg, const T* X, T beta, T* dW) {
  if constexpr (std::is_same_v<T, float>) {
    Twin twin = simd_twin<T>();
    if (twin != Twin::none && rows <= kSmallRows)
      return NNC_RNN_TWIN_CALL(twin, small_k_grad_w, rows, G, F, dG, ldg, X, beta != 0.f, dW);
  }
  gemm<T>(true, false, G, F, rows, T(1), dG, ldg, X, F, beta, dW, F);
}

// op(W) (K, N) (W^T of a weight (N, K) when trans, else W (K, N)) applied at
// every step, or to many rows at once: when `reused` and a SIMD twin runs, it
// is packed once per call, and the register-tiled kernel reads the other
// operand in place (no step, and no large operand, pays GEMM packing).
// Otherwise: the small-row kernels or nnc::cpu::gemm. A single step (a cell)
// is not `reused`: gemm packs each panel of W while it is in cache, and uses it
// at once, instead of writing all of W packed to memory and reading it back.
template <typename T>
class WeightOperand {
 public:
  WeightOperand(const T* W, bool trans, int64_t K, int64_t N, bool reused)
      : W_(W), trans_(trans), K_(K), N_(N), twin_(reused ? simd_twin<T>() : Twin::none) {
    if constexpr (std::is_same_v<T, float>) {
      if (twin_ == Twin::none) return;
      int64_t floats = NNC_RNN_TWIN_CALL(twin_, packed_b_floats, K, N);
      packed_ = static_cast<float*>(host_alloc(sizeof(float) * std::max<int64_t>(floats, 1)));
      NNC_RNN_TWIN_CALL(twin_, pack_b, trans, K, N, W, trans ? K : N, packed_);
    }
  }
  ~WeightOperand() { host_free(packed_); }
  WeightOperand(const WeightOperand&) = delete;
  WeightOperand& operator=(const WeightOperand&) = delete;

  // C (M, N) (+)= A (M, K) @ op(W)
  void mul(int64_t M, const T* A, int64_t lda, bool accumulate, T* C, int64_t ldc) const {
    if constexpr (std::is_same_v<T, float>) {
      if (packed_) return NNC_RNN_TWIN_CALL(twin_, matmul_packed, M, N_, K_, A, lda, packed_, accumulate, C, ldc);
    }
    if (trans_) matmul_wt<T>(M, N_, K_, A, lda, W_, T(accumulate), C, ldc);
    else matmul_w<T>(M, N_, K_, A, lda, W_, T(accumulate), C, ldc);
  }

 private:
  const T* W_;
  bool trans_;
  int64_t K_, N_;
  Twin twin_;
  float* packed_ = nullptr;
};

// db (G,) = column sums of dG (rows, G), rows summed in order; blocks of
// columns split statically between threads.
template <typename T>
void column_sums(int64_t rows, int64_t G, const T* dG, int64_t ldg, T* db) {
  constexpr int64_t B = 64;
  int64_t blocks = (G + B - 1) / B;
  int nt = in_parallel() ? 1 : static_cast<int>(std::min<int64_t>({num_threads(), blocks, rows * G / 32768 + 1}));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t j0 = b * B, j1 = std::min(G, j0 + B);
    T acc[B] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = dG + r * ldg;
      for (int64_t j = j0; j < j1; ++j) acc[j - j0] += row[j];
    }
    std::copy(acc, acc + (j1 - j0), db + j0);
  }
}

template <typename T>
void copy_or_zero(T* dst, const T* src, int64_t n) {
  if (!dst) return;
  if (src) std::memcpy(dst, src, n * sizeof(T));
  else std::fill(dst, dst + n, T(0));
}

// The weight and bias gradients when there are no steps: all zero.
template <typename T>
void zero_grads(int64_t gh, int64_t I, int64_t H, T* dw_ih, T* dw_hh, T* db_ih, T* db_hh) {
  std::fill(dw_ih, dw_ih + gh * I, T(0));
  std::fill(dw_hh, dw_hh + gh * H, T(0));
  if (db_ih) std::fill(db_ih, db_ih + gh, T(0));
  if (db_hh) std::fill(db_hh, db_hh + gh, T(0));
}

}  // namespace

// Runs body(n0, n1) over batch rows [n0, n1) split statically between
// threads. Batch rows are independent sequences, so each thread runs every
// step of its own rows with no synchronisation between steps; the kernels
// inside then run single-threaded (they see omp_in_parallel()).
template <class Body>
void over_batch_rows(int64_t N, int64_t work_per_step, Body&& body) {
  int nt = static_cast<int>(std::min<int64_t>(num_threads(), N / 4));
  if (nt <= 1 || work_per_step < (int64_t(1) << 18) || in_parallel()) return body(int64_t(0), N);
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    int t = omp_get_thread_num();
#else
    int t = 0;
#endif
    body(N * t / nt, N * (t + 1) / nt);
  }
}

template <typename T>
T* offset(T* p, int64_t k) {
  return p ? p + k : nullptr;
}

// ---- LSTM ----

// dpeep (3, H): sums over steps and rows of da_i c_{t-1}, da_f c_{t-1} and
// da_o c_t, in a fixed order (whatever the thread count).
template <typename T>
void peephole_grads(int64_t steps, int64_t N, int64_t H, const T* dgates, const T* saved, const T* c0, T* dpeep) {
  std::fill(dpeep, dpeep + 3 * H, T(0));
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t n = 0; n < N; ++n) {
      const T* dg = dgates + (t * N + n) * 4 * H;
      const T* c_prev = t ? saved + ((t - 1) * N + n) * 5 * H + 4 * H : c0 + n * H;
      const T* c_new = saved + (t * N + n) * 5 * H + 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        dpeep[j] += dg[j] * c_prev[j];
        dpeep[H + j] += dg[H + j] * c_prev[j];
        dpeep[2 * H + j] += dg[3 * H + j] * c_new[j];
      }
    }
}

template <typename T>
void lstm_forward(const LstmForward<T>& a) {
  const int64_t N = a.N, H = a.H, G = 4 * H, S = 5 * H;
  if (a.steps == 0) {
    copy_or_zero(a.h_n, a.h0, N * H);
    copy_or_zero(a.c_n, a.c0, N * H);
    return;
  }
  // saved[t][:, 0:4H] = x_t @ W_ih^T for every step at once
  WeightOperand<T>(a.w_ih, true, a.I, G, a.steps > 1 && a.steps * N > kSmallRows)
      .mul(a.steps * N, a.x, a.I, false, a.saved, S);
  WeightOperand<T> w_hh_t(a.w_hh, true, H, G, a.steps > 1);
  over_batch_rows(N, N * G * H, [&](int64_t n0, int64_t n1) {
    for (int64_t t = 0; t < a.steps; ++t) {
      T* gates = a.saved + (t * N + n0) * S;
      const T* h_prev = t ? a.y + ((t - 1) * N + n0) * H : a.h0 + n0 * H;
      const T* c_prev = t ? a.saved + ((t - 1) * N + n0) * S + 4 * H : a.c0 + n0 * H;
      w_hh_t.mul(n1 - n0, h_prev, H, true, gates, S);
      lstm_step<T>({n1 - n0, H, S, t ? S : H, gates, a.b_ih, a.b_hh, c_prev, a.peep, a.y + (t * N + n0) * H,
                    t == a.steps - 1 ? offset(a.c_n, n0 * H) : nullptr});
    }
  });
  if (a.h_n) std::memcpy(a.h_n, a.y + (a.steps - 1) * N * H, N * H * sizeof(T));
}

template <typename T>
void lstm_backward(const LstmBackward<T>& a) {
  const int64_t N = a.N, H = a.H, G = 4 * H, S = 5 * H, steps = a.steps;
  if (steps == 0) {
    copy_or_zero(a.dh0, a.grad_h_n, N * H);
    copy_or_zero(a.dc0, a.grad_c_n, N * H);
    zero_grads(G, a.I, H, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh);
    if (a.dpeep) std::fill(a.dpeep, a.dpeep + 3 * H, T(0));
    return;
  }
  Workspace dgates_ws(sizeof(T) * steps * N * G), carry_ws(sizeof(T) * 2 * N * H);
  T* dgates = dgates_ws.as<T>();
  T* dh_next = carry_ws.as<T>();  // dL/dh_{t-1} and dL/dc_{t-1}, carried to the step before
  T* dc_next = dh_next + N * H;
  WeightOperand<T> w_hh(a.w_hh, false, G, H, steps > 1);
  over_batch_rows(N, N * G * H, [&](int64_t n0, int64_t n1) {
    for (int64_t t = steps - 1; t >= 0; --t) {
      bool last = t == steps - 1;
      int64_t row = (t * N + n0) * H;  // offset of this thread's rows in a (T, N, H) array
      const T* c_prev = t ? a.saved + ((t - 1) * N + n0) * S + 4 * H : a.c0 + n0 * H;
      T* dg = dgates + (t * N + n0) * G;
      T* dh_dst = (t ? dh_next : a.dh0) + n0 * H;
      lstm_step_back<T>({n1 - n0, H, t ? S : H, offset(a.grad_y, row),
                         last ? offset(a.grad_h_n, n0 * H) : dh_next + n0 * H,
                         last ? offset(a.grad_c_n, n0 * H) : dc_next + n0 * H, a.saved + (t * N + n0) * S, c_prev,
                         a.peep, dg, (t ? dc_next : a.dc0) + n0 * H});
      w_hh.mul(n1 - n0, dg, G, false, dh_dst, H);
    }
  });
  WeightOperand<T>(a.w_ih, false, G, a.I, steps > 1).mul(steps * N, dgates, G, false, a.dx, a.I);
  matmul_grad_w<T>(steps * N, G, a.I, dgates, G, a.x, T(0), a.dw_ih);
  matmul_grad_w<T>(N, G, H, dgates, G, a.h0, T(0), a.dw_hh);
  if (steps > 1) matmul_grad_w<T>((steps - 1) * N, G, H, dgates + N * G, G, a.y, T(1), a.dw_hh);
  T* db = a.db_ih ? a.db_ih : a.db_hh;
  if (db) {
    column_sums(steps * N, G, dgates, G, db);
    if (a.db_ih && a.db_hh) std::memcpy(a.db_hh, a.db_ih, G * sizeof(T));
  }
  if (a.dpeep) peephole_grads(steps, N, H, dgates, a.saved, a.c0, a.dpeep);
}

// ---- GRU ----

template <typename T>
void gru_forward(const GruForward<T>& a) {
  const int64_t N = a.N, H = a.H, G = 3 * H, S = 4 * H;
  if (a.steps == 0) {
    copy_or_zero(a.h_n, a.h0, N * H);
    return;
  }
  WeightOperand<T>(a.w_ih, true, a.I, G, a.steps > 1 && a.steps * N > kSmallRows)
      .mul(a.steps * N, a.x, a.I, false, a.saved, S);
  Workspace gh_ws(sizeof(T) * N * G);
  WeightOperand<T> w_hh_t(a.w_hh, true, H, G, a.steps > 1);
  over_batch_rows(N, N * G * H, [&](int64_t n0, int64_t n1) {
    T* gh = gh_ws.as<T>() + n0 * G;
    for (int64_t t = 0; t < a.steps; ++t) {
      const T* h_prev = t ? a.y + ((t - 1) * N + n0) * H : a.h0 + n0 * H;
      w_hh_t.mul(n1 - n0, h_prev, H, false, gh, G);
      gru_step<T>({n1 - n0, H, a.saved + (t * N + n0) * S, gh, a.b_ih, a.b_hh, h_prev, a.y + (t * N + n0) * H});
    }
  });
  if (a.h_n) std::memcpy(a.h_n, a.y + (a.steps - 1) * N * H, N * H * sizeof(T));
}

template <typename T>
void gru_backward(const GruBackward<T>& a) {
  const int64_t N = a.N, H = a.H, G = 3 * H, S = 4 * H, steps = a.steps;
  if (steps == 0) {
    copy_or_zero(a.dh0, a.grad_h_n, N * H);
    zero_grads(G, a.I, H, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh);
    return;
  }
  Workspace dg_ws(sizeof(T) * 2 * steps * N * G), carry_ws(sizeof(T) * N * H);
  T* dgx = dg_ws.as<T>();
  T* dgh = dgx + steps * N * G;
  T* dh_next = carry_ws.as<T>();
  WeightOperand<T> w_hh(a.w_hh, false, G, H, steps > 1);
  over_batch_rows(N, N * G * H, [&](int64_t n0, int64_t n1) {
    for (int64_t t = steps - 1; t >= 0; --t) {
      int64_t row = (t * N + n0) * H;
      const T* h_prev = t ? a.y + row - N * H : a.h0 + n0 * H;
      T* dh_dst = (t ? dh_next : a.dh0) + n0 * H;
      T* dgh_t = dgh + (t * N + n0) * G;
      gru_step_back<T>({n1 - n0, H, offset(a.grad_y, row),
                        t == steps - 1 ? offset(a.grad_h_n, n0 * H) : dh_next + n0 * H, a.saved + (t * N + n0) * S,
                        h_prev, dgx + (t * N + n0) * G, dgh_t, dh_dst});
      w_hh.mul(n1 - n0, dgh_t, G, true, dh_dst, H);
    }
  });
  WeightOperand<T>(a.w_ih, false, G, a.I, steps > 1).mul(steps * N, dgx, G, false, a.dx, a.I);
  matmul_grad_w<T>(steps * N, G, a.I, dgx, G, a.x, T(0), a.dw_ih);
  matmul_grad_w<T>(N, G, H, dgh, G, a.h0, T(0), a.dw_hh);
  if (steps > 1) matmul_grad_w<T>((steps - 1) * N, G, H, dgh + N * G, G, a.y, T(1), a.dw_hh);
  if (a.db_ih) column_sums(steps * N, G, dgx, G, a.db_ih);
  if (a.db_hh) column_sums(steps * N, G, dgh, G, a.db_hh);
}

// ---- Elman ----

template <typename T>
void rnn_forward(const RnnForward<T>& a) {
  const int64_t N = a.N, H = a.H;
  if (a.steps == 0) {
    copy_or_zero(a.h_n, a.h0, N * H);
    return;
  }
  WeightOperand<T>(a.w_ih, true, a.I, H, a.steps > 1 && a.steps * N > kSmallRows)
      .mul(a.steps * N, a.x, a.I, false, a.y, H);
  WeightOperand<T> w_hh_t(a.w_hh, true, H, H, a.steps > 1);
  over_batch_rows(N, N * H * H, [&](int64_t n0, int64_t n1) {
    for (int64_t t = 0; t < a.steps; ++t) {
      T* h = a.y + (t * N + n0) * H;
      w_hh_t.mul(n1 - n0, t ? h - N * H : a.h0 + n0 * H, H, true, h, H);
      rnn_step<T>({n1 - n0, H, a.relu, h, a.b_ih, a.b_hh});
    }
  });
  if (a.h_n) std::memcpy(a.h_n, a.y + (a.steps - 1) * N * H, N * H * sizeof(T));
}

template <typename T>
void rnn_backward(const RnnBackward<T>& a) {
  const int64_t N = a.N, H = a.H, steps = a.steps;
  if (steps == 0) {
    copy_or_zero(a.dh0, a.grad_h_n, N * H);
    zero_grads(H, a.I, H, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh);
    return;
  }
  Workspace da_ws(sizeof(T) * steps * N * H), carry_ws(sizeof(T) * N * H);
  T* da = da_ws.as<T>();
  T* dh_next = carry_ws.as<T>();
  WeightOperand<T> w_hh(a.w_hh, false, H, H, steps > 1);
  over_batch_rows(N, N * H * H, [&](int64_t n0, int64_t n1) {
    for (int64_t t = steps - 1; t >= 0; --t) {
      int64_t row = (t * N + n0) * H;
      rnn_step_back<T>({n1 - n0, H, a.relu, offset(a.grad_y, row),
                        t == steps - 1 ? offset(a.grad_h_n, n0 * H) : dh_next + n0 * H, a.y + row, da + row});
      w_hh.mul(n1 - n0, da + row, H, false, (t ? dh_next : a.dh0) + n0 * H, H);
    }
  });
  WeightOperand<T>(a.w_ih, false, H, a.I, steps > 1).mul(steps * N, da, H, false, a.dx, a.I);
  matmul_grad_w<T>(steps * N, H, a.I, da, H, a.x, T(0), a.dw_ih);
  matmul_grad_w<T>(N, H, H, da, H, a.h0, T(0), a.dw_hh);
  if (steps > 1) matmul_grad_w<T>((steps - 1) * N, H, H, da + N * H, H, a.y, T(1), a.dw_hh);
  if (a.db_ih) column_sums(steps * N, H, da, H, a.db_ih);
  if (a.db_hh) column_sums(steps * N, H, da, H, a.db_hh);
}

#define NNC_RNN_INSTANTIATE(T)                                  \
  template void lstm_forward<T>(const LstmForward<T>&);         \
  template void lstm_backward<T>(const LstmBackward<T>&);       \
  template void gru_forward<T>(const GruForward<T>&);           \
  template void gru_backward<T>(const GruBackward<T>&);         \
  template void rnn_forward<T>(const RnnForward<T>&);           \
  template void rnn_backward<T>(const RnnBackward<T>&);
NNC_RNN_INSTANTIATE(float)
NNC_RNN_INSTANTIATE(double)
#undef NNC_RNN_INSTANTIATE

}  // namespace nnc::cpu
