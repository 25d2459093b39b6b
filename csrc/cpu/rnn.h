// Recurrent cells and single-layer, single-direction sequences on the CPU:
// LSTM (i,f,g,o, optional peepholes), GRU (r,z,n, PyTorch's form) and Elman
// (tanh / relu), forward and backward (BPTT). A cell is a sequence of length 1.
// Layouts (row-major, contiguous): x (T, N, I), h (N, H), y (T, N, H),
// w_ih (G*H, I), w_hh (G*H, H), biases (G*H,), with G = 4 / 3 / 1 gates.
#pragma once
#include <cstdint>

namespace nnc::cpu {

// ---- whole-sequence drivers (portable code; GEMMs and step kernels dispatch) ----

// Per step t: saved[t] (N, 5H) = [i, f, g, o (activated), c_t]; y[t] = h_t.
template <typename T>
struct LstmForward {
  int64_t steps, N, I, H;
  const T *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh, *peep;  // b_*, peep (3, H) may be null
  T *y, *h_n, *c_n, *saved;                                // h_n may be null
};

template <typename T>
struct LstmBackward {
  int64_t steps, N, I, H;
  const T *grad_y, *grad_h_n, *grad_c_n;  // each may be null (zero)
  const T *x, *h0, *c0, *w_ih, *w_hh, *peep, *y, *saved;
  T *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh, *dpeep;  // db_*, dpeep may be null (not wanted)
};

// Per step t: saved[t] (N, 4H) = [r, z, n, W_hn h_{t-1} + b_hn].
template <typename T>
struct GruForward {
  int64_t steps, N, I, H;
  const T *x, *h0, *w_ih, *w_hh, *b_ih, *b_hh;
  T *y, *h_n, *saved;
};

template <typename T>
struct GruBackward {
  int64_t steps, N, I, H;
  const T *grad_y, *grad_h_n;
  const T *x, *h0, *w_ih, *w_hh, *y, *saved;
  T *dx, *dh0, *dw_ih, *dw_hh, *db_ih, *db_hh;
};

// Elman: y needs no saved state (the derivative is read from h_t).
template <typename T>
struct RnnForward {
  int64_t steps, N, I, H;
  bool relu;
  const T *x, *h0, *w_ih, *w_hh, *b_ih, *b_hh;
  T *y, *h_n;
};

template <typename T>
struct RnnBackward {
  int64_t steps, N, I, H;
  bool relu;
  const T *grad_y, *grad_h_n;
  const T *x, *h0, *w_ih, *w_hh, *y;
  T *dx, *dh0, *dw_ih, *dw_hh, *db_ih, *db_hh;
};

template <typename T> void lstm_forward(const LstmForward<T>& a);
template <typename T> void lstm_backward(const LstmBackward<T>& a);
template <typename T> void gru_forward(const GruForward<T>& a);
template <typename T> void gru_backward(const GruBackward<T>& a);
template <typename T> void rnn_forward(const RnnForward<T>& a);
template <typename T> void rnn_backward(const RnnBackward<T>& a);

// ---- SIMD twins: per-step gate math, and the recurrent matrix products ----
// pack_b: op(B) (K, N) (B^T of a weight (N, K) when trans) into column panels
// of the twin's width (packed_b_floats of them); matmul_packed: C (M, N) (+)=
// A (M, K) @ packed op(B). small_m_*: a few rows, no packing: C (+)= A @ W^T
// (W (N, K)), C (+)= A @ W (W (K, N)), and dW (G, F) (+)= dG (rows, G)^T @ X.

// ---- one time step of fused gate math over N rows (the SIMD twins' part) ----

// gates (N, 4H) row stride ldg: pre-activations without biases in, [i, f, g, o]
// out (in place); c_prev (N, H) row stride ldc; c_new written at gates + 4H
// (so ldg >= 5H) and to c_out (N, H) when not null; h_new (N, H).
template <typename T>
struct LstmStep {
  int64_t N, H, ldg, ldc;
  T* gates;
  const T *b_ih, *b_hh, *c_prev, *peep;
  T *h_new, *c_out;
};

// dh = dh_a + dh_b (either may be null), dc (may be null, may alias dc_prev);
// state (N, 5H), c_prev row stride ldc; dgates (N, 4H) and dc_prev (N, H) out.
// (Peephole weight gradients are summed from dgates after the time loop.)
template <typename T>
struct LstmStepBack {
  int64_t N, H, ldc;
  const T *dh_a, *dh_b, *dc, *state, *c_prev, *peep;
  T *dgates, *dc_prev;
};

// gates (N, 4H): [x_r, x_z, x_n] (W_ih x, no bias) in, [r, z, n, h_n] out (in
// place); gh (N, 3H) = W_hh h (no bias); h_prev, h_new (N, H).
template <typename T>
struct GruStep {
  int64_t N, H;
  T* gates;
  const T *gh, *b_ih, *b_hh, *h_prev;
  T* h_new;
};

// dh = dh_a + dh_b; dgx, dgh (N, 3H) out; dh_prev (N, H) = z dh (may alias dh_b).
template <typename T>
struct GruStepBack {
  int64_t N, H;
  const T *dh_a, *dh_b, *state, *h_prev;
  T *dgx, *dgh, *dh_prev;
};

// h (N, H): pre-activation without biases in, act(h + b_ih + b_hh) out (in place).
template <typename T>
struct RnnStep {
  int64_t N, H;
  bool relu;
  T* h;
  const T *b_ih, *b_hh;
};

// da (N, H) = (dh_a + dh_b) * act'(h_new)
template <typename T>
struct RnnStepBack {
  int64_t N, H;
  bool relu;
  const T *dh_a, *dh_b, *h_new;
  T* da;
};

#define NNC_RNN_STEP_TWIN(suffix)                          \
  void lstm_step_##suffix(const LstmStep<float>& s);       \
  void lstm_step_back_##suffix(const LstmStepBack<float>& s); \
  void gru_step_##suffix(const GruStep<float>& s);         \
  void gru_step_back_##suffix(const GruStepBack<float>& s); \
  void rnn_step_##suffix(const RnnStep<float>& s);         \
  void rnn_step_back_##suffix(const RnnStepBack<float>& s); \
  int64_t packed_b_floats_##suffix(int64_t K, int64_t N); \
  void pack_b_##suffix(bool trans, int64_t K, int64_t N, const float* B, int64_t ldb, float* dst); \
  void matmul_packed_##suffix(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* P, \
                              bool accumulate, float* C, int64_t ldc); \
  void small_m_wt_##suffix(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, \
                           bool accumulate, float* C, int64_t ldc); \
  void small_m_w_##suffix(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, \
                          bool accumulate, float* C, int64_t ldc); \
  void small_k_grad_w_##suffix(int64_t rows, int64_t G, int64_t F, const float* dG, int64_t ldg, const float* X, \
                               bool accumulate, float* dW);
NNC_RNN_STEP_TWIN(avx2)
NNC_RNN_STEP_TWIN(avx512)
#undef NNC_RNN_STEP_TWIN

}  // namespace nnc::cpu
