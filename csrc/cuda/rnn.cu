// Recurrent sequences on the GPU: the input projection of all steps as one GEMM,
// then per step one recurrent GEMM and one fused elementwise kernel over the
// gates (core/rnn_math.h); backward accumulates weight gradients with one GEMM
// over all steps, and bias / peephole gradients with ordered column sums (no
// float atomics, so results are the same run to run).
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda_buffer.h"
#include "core/cuda_check.h"
#include "core/rnn_math.h"
#include "cuda/gemm.h"
#include "cuda/rnn.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }


template <typename T>
void copy_or_zero(T* dst, const T* src, int64_t n, cudaStream_t s) {
  if (!dst || n == 0) return;
  if (src) NNC_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, s));
  else NNC_CUDA_CHECK(cudaMemsetAsync(dst, 0, n * sizeof(T), s));
}

// C (M, N) = alpha A (M, K) @ op(B) + beta C, row-major, on stream s.
template <typename T>
void mm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T beta,
        T* C, int64_t ldc, cudaStream_t s) {
  gemm<T>(ta, tb, 1, M, N, K, T(1), A, lda, 0, B, ldb, 0, beta, C, ldc, 0, {}, s);
}

template <typename T>
__device__ T opt(const T* p, int64_t i) {
  return p ? p[i] : T(0);
}

// ---- per-step kernels: one thread per (row n, hidden unit j) ----

template <typename T>
__global__ void lstm_step_kernel(cpu::LstmStep<T> s) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.N * s.H) return;
  const int64_t H = s.H, n = idx / H, j = idx % H;
  T* g = s.gates + n * s.ldg;
  T a[4];
  for (int q = 0; q < 4; ++q) a[q] = g[q * H + j] + opt(s.b_ih, q * H + j) + opt(s.b_hh, q * H + j);
  auto r = rnn::lstm_forward(a[0], a[1], a[2], a[3], s.c_prev[n * s.ldc + j], opt(s.peep, j), opt(s.peep, H + j),
                             opt(s.peep, 2 * H + j));
  g[j] = r.i;
  g[H + j] = r.f;
  g[2 * H + j] = r.g;
  g[3 * H + j] = r.o;
  g[4 * H + j] = r.c_new;
  s.h_new[idx] = r.h_new;
  if (s.c_out) s.c_out[idx] = r.c_new;
}

template <typename T>
__global__ void lstm_step_back_kernel(cpu::LstmStepBack<T> s) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.N * s.H) return;
  const int64_t H = s.H, n = idx / H, j = idx % H;
  const T* st = s.state + n * 5 * H;
  auto d = rnn::lstm_backward(opt(s.dh_a, idx) + opt(s.dh_b, idx), opt(s.dc, idx), st[j], st[H + j], st[2 * H + j],
                              st[3 * H + j], s.c_prev[n * s.ldc + j], st[4 * H + j], opt(s.peep, j),
                              opt(s.peep, H + j), opt(s.peep, 2 * H + j));
  T* dg = s.dgates + n * 4 * H;
  dg[j] = d.da_i;
  dg[H + j] = d.da_f;
  dg[2 * H + j] = d.da_g;
  dg[3 * H + j] = d.da_o;
  s.dc_prev[idx] = d.dc_prev;
}

template <typename T>
__global__ void gru_step_kernel(cpu::GruStep<T> s) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.N * s.H) return;
  const int64_t H = s.H, n = idx / H, j = idx % H;
  T* g = s.gates + n * 4 * H;
  const T* gh = s.gh + n * 3 * H;
  T x[3], h[3];
  for (int q = 0; q < 3; ++q) {
    x[q] = g[q * H + j] + opt(s.b_ih, q * H + j);
    h[q] = gh[q * H + j] + opt(s.b_hh, q * H + j);
  }
  auto r = rnn::gru_forward(x[0], x[1], x[2], h[0], h[1], h[2], s.h_prev[idx]);
  g[j] = r.r;
  g[H + j] = r.z;
  g[2 * H + j] = r.n;
  g[3 * H + j] = h[2];
  s.h_new[idx] = r.h_new;
}

template <typename T>
__global__ void gru_step_back_kernel(cpu::GruStepBack<T> s) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.N * s.H) return;
  const int64_t H = s.H, n = idx / H, j = idx % H;
  const T* st = s.state + n * 4 * H;
  auto d = rnn::gru_backward(opt(s.dh_a, idx) + opt(s.dh_b, idx), st[j], st[H + j], st[2 * H + j], st[3 * H + j],
                             s.h_prev[idx]);
  T* dgx = s.dgx + n * 3 * H;
  T* dgh = s.dgh + n * 3 * H;
  dgx[j] = dgh[j] = d.dx_r;
  dgx[H + j] = dgh[H + j] = d.dx_z;
  dgx[2 * H + j] = d.dx_n;
  dgh[2 * H + j] = d.dh_n;
  s.dh_prev[idx] = d.dh_prev;
}

template <typename T>
__global__ void rnn_step_kernel(cpu::RnnStep<T> s) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.N * s.H) return;
  int64_t j = idx % s.H;
  s.h[idx] = rnn::rnn_forward(s.h[idx] + opt(s.b_ih, j) + opt(s.b_hh, j), s.relu);
}

template <typename T>
__global__ void rnn_step_back_kernel(cpu::RnnStepBack<T> s) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.N * s.H) return;
  s.da[idx] = rnn::rnn_backward(opt(s.dh_a, idx) + opt(s.dh_b, idx), s.h_new[idx], s.relu);
}

// db (G,) = column sums of dG (rows, G): one thread per column, rows in order.
template <typename T>
__global__ void column_sums_kernel(int64_t rows, int64_t G, const T* dG, int64_t ldg, T* db) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= G) return;
  T acc = T(0);
  for (int64_t r = 0; r < rows; ++r) acc += dG[r * ldg + j];
  db[j] = acc;
}

// dpeep (3, H): sums over steps and rows of da_i c_{t-1}, da_f c_{t-1}, da_o c_t.
template <typename T>
__global__ void peephole_grad_kernel(int64_t steps, int64_t N, int64_t H, const T* dgates, const T* saved,
                                     const T* c0, T* dpeep) {
  int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= 3 * H) return;
  int q = static_cast<int>(idx / H);
  int64_t j = idx % H, gate = q == 2 ? 3 : q;
  T acc = T(0);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t n = 0; n < N; ++n) {
      int64_t row = t * N + n;
      T c = q == 2 ? saved[row * 5 * H + 4 * H + j]
                   : (t ? saved[(row - N) * 5 * H + 4 * H + j] : c0[n * H + j]);
      acc += dgates[row * 4 * H + gate * H + j] * c;
    }
  dpeep[idx] = acc;
}

template <typename T>
void column_sums(int64_t rows, int64_t G, const T* dG, int64_t ldg, T* db, cudaStream_t s) {
  if (!db || G == 0) return;
  NNC_LAUNCH(column_sums_kernel<T>, blocks_for(G), kThreads, 0, s, rows, G, dG, ldg, db);
}

template <typename T, typename Step>
void launch_step(void (*kernel)(Step), const Step& step, int64_t elements, cudaStream_t s) {
  if (elements == 0) return;
  NNC_LAUNCH(kernel, blocks_for(elements), kThreads, 0, s, step);
}

template <typename T>
void zero_grads(int64_t gh, int64_t I, int64_t H, T* dw_ih, T* dw_hh, T* db_ih, T* db_hh, cudaStream_t s) {
  copy_or_zero<T>(dw_ih, nullptr, gh * I, s);
  copy_or_zero<T>(dw_hh, nullptr, gh * H, s);
  copy_or_zero<T>(db_ih, nullptr, gh, s);
  copy_or_zero<T>(db_hh, nullptr, gh, s);
}

}  // namespace

// ---- LSTM ----

template <typename T>
void lstm_forward(const cpu::LstmForward<T>& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t N = a.N, H = a.H, G = 4 * H, S = 5 * H;
  if (a.steps == 0) {
    copy_or_zero(a.h_n, a.h0, N * H, s);
    copy_or_zero(a.c_n, a.c0, N * H, s);
    return;
  }
  mm<T>(false, true, a.steps * N, G, a.I, a.x, a.I, a.w_ih, a.I, T(0), a.saved, S, s);
  for (int64_t t = 0; t < a.steps; ++t) {
    T* gates = a.saved + t * N * S;
    const T* h_prev = t ? a.y + (t - 1) * N * H : a.h0;
    const T* c_prev = t ? a.saved + (t - 1) * N * S + 4 * H : a.c0;
    mm<T>(false, true, N, G, H, h_prev, H, a.w_hh, H, T(1), gates, S, s);
    cpu::LstmStep<T> step{N, H, S, t ? S : H, gates, a.b_ih, a.b_hh, c_prev, a.peep, a.y + t * N * H,
                          t == a.steps - 1 ? a.c_n : nullptr};
    launch_step<T>(lstm_step_kernel<T>, step, N * H, s);
  }
  if (a.h_n) copy_or_zero<T>(a.h_n, a.y + (a.steps - 1) * N * H, N * H, s);
}

template <typename T>
void lstm_backward(const cpu::LstmBackward<T>& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t N = a.N, H = a.H, G = 4 * H, S = 5 * H, steps = a.steps;
  if (steps == 0) {
    copy_or_zero(a.dh0, a.grad_h_n, N * H, s);
    copy_or_zero(a.dc0, a.grad_c_n, N * H, s);
    zero_grads<T>(G, a.I, H, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh, s);
    copy_or_zero<T>(a.dpeep, nullptr, 3 * H, s);
    return;
  }
  DeviceBuffer dgates_buf(sizeof(T) * steps * N * G), carry_buf(sizeof(T) * 2 * N * H);
  T* dgates = dgates_buf.as<T>();
  T* dh_next = carry_buf.as<T>();
  T* dc_next = dh_next + N * H;
  for (int64_t t = steps - 1; t >= 0; --t) {
    bool last = t == steps - 1;
    T* dg = dgates + t * N * G;
    cpu::LstmStepBack<T> step{N, H, t ? S : H, a.grad_y ? a.grad_y + t * N * H : nullptr, last ? a.grad_h_n : dh_next,
                              last ? a.grad_c_n : dc_next, a.saved + t * N * S,
                              t ? a.saved + (t - 1) * N * S + 4 * H : a.c0, a.peep, dg, t ? dc_next : a.dc0};
    launch_step<T>(lstm_step_back_kernel<T>, step, N * H, s);
    mm<T>(false, false, N, H, G, dg, G, a.w_hh, H, T(0), t ? dh_next : a.dh0, H, s);
  }
  mm<T>(false, false, steps * N, a.I, G, dgates, G, a.w_ih, a.I, T(0), a.dx, a.I, s);
  mm<T>(true, false, G, a.I, steps * N, dgates, G, a.x, a.I, T(0), a.dw_ih, a.I, s);
  mm<T>(true, false, G, H, N, dgates, G, a.h0, H, T(0), a.dw_hh, H, s);
  if (steps > 1) mm<T>(true, false, G, H, (steps - 1) * N, dgates + N * G, G, a.y, H, T(1), a.dw_hh, H, s);
  column_sums<T>(steps * N, G, dgates, G, a.db_ih ? a.db_ih : a.db_hh, s);
  if (a.db_ih && a.db_hh) copy_or_zero<T>(a.db_hh, a.db_ih, G, s);
  if (a.dpeep && H > 0) {
    NNC_LAUNCH(peephole_grad_kernel<T>, blocks_for(3 * H), kThreads, 0, s, steps, N, H, dgates, a.saved, a.c0, a.dpeep);
  }
}

// ---- GRU ----

template <typename T>
void gru_forward(const cpu::GruForward<T>& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t N = a.N, H = a.H, G = 3 * H, S = 4 * H;
  if (a.steps == 0) {
    copy_or_zero(a.h_n, a.h0, N * H, s);
    return;
  }
  mm<T>(false, true, a.steps * N, G, a.I, a.x, a.I, a.w_ih, a.I, T(0), a.saved, S, s);
  DeviceBuffer gh_buf(sizeof(T) * N * G);
  T* gh = gh_buf.as<T>();
  for (int64_t t = 0; t < a.steps; ++t) {
    const T* h_prev = t ? a.y + (t - 1) * N * H : a.h0;
    mm<T>(false, true, N, G, H, h_prev, H, a.w_hh, H, T(0), gh, G, s);
    cpu::GruStep<T> step{N, H, a.saved + t * N * S, gh, a.b_ih, a.b_hh, h_prev, a.y + t * N * H};
    launch_step<T>(gru_step_kernel<T>, step, N * H, s);
  }
  if (a.h_n) copy_or_zero<T>(a.h_n, a.y + (a.steps - 1) * N * H, N * H, s);
}

template <typename T>
void gru_backward(const cpu::GruBackward<T>& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t N = a.N, H = a.H, G = 3 * H, S = 4 * H, steps = a.steps;
  if (steps == 0) {
    copy_or_zero(a.dh0, a.grad_h_n, N * H, s);
    zero_grads<T>(G, a.I, H, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh, s);
    return;
  }
  DeviceBuffer dg_buf(sizeof(T) * 2 * steps * N * G), carry_buf(sizeof(T) * N * H);
  T* dgx = dg_buf.as<T>();
  T* dgh = dgx + steps * N * G;
  T* dh_next = carry_buf.as<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    T* dh_dst = t ? dh_next : a.dh0;
    cpu::GruStepBack<T> step{N, H, a.grad_y ? a.grad_y + t * N * H : nullptr, t == steps - 1 ? a.grad_h_n : dh_next,
                             a.saved + t * N * S, t ? a.y + (t - 1) * N * H : a.h0, dgx + t * N * G, dgh + t * N * G,
                             dh_dst};
    launch_step<T>(gru_step_back_kernel<T>, step, N * H, s);
    mm<T>(false, false, N, H, G, dgh + t * N * G, G, a.w_hh, H, T(1), dh_dst, H, s);
  }
  mm<T>(false, false, steps * N, a.I, G, dgx, G, a.w_ih, a.I, T(0), a.dx, a.I, s);
  mm<T>(true, false, G, a.I, steps * N, dgx, G, a.x, a.I, T(0), a.dw_ih, a.I, s);
  mm<T>(true, false, G, H, N, dgh, G, a.h0, H, T(0), a.dw_hh, H, s);
  if (steps > 1) mm<T>(true, false, G, H, (steps - 1) * N, dgh + N * G, G, a.y, H, T(1), a.dw_hh, H, s);
  column_sums<T>(steps * N, G, dgx, G, a.db_ih, s);
  column_sums<T>(steps * N, G, dgh, G, a.db_hh, s);
}

// ---- Elman ----

template <typename T>
void rnn_forward(const cpu::RnnForward<T>& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t N = a.N, H = a.H;
  if (a.steps == 0) {
    copy_or_zero(a.h_n, a.h0, N * H, s);
    return;
  }
  mm<T>(false, true, a.steps * N, H, a.I, a.x, a.I, a.w_ih, a.I, T(0), a.y, H, s);
  for (int64_t t = 0; t < a.steps; ++t) {
    T* h = a.y + t * N * H;
    mm<T>(false, true, N, H, H, t ? h - N * H : a.h0, H, a.w_hh, H, T(1), h, H, s);
    cpu::RnnStep<T> step{N, H, a.relu, h, a.b_ih, a.b_hh};
    launch_step<T>(rnn_step_kernel<T>, step, N * H, s);
  }
  if (a.h_n) copy_or_zero<T>(a.h_n, a.y + (a.steps - 1) * N * H, N * H, s);
}

template <typename T>
void rnn_backward(const cpu::RnnBackward<T>& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t N = a.N, H = a.H, steps = a.steps;
  if (steps == 0) {
    copy_or_zero(a.dh0, a.grad_h_n, N * H, s);
    zero_grads<T>(H, a.I, H, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh, s);
    return;
  }
  DeviceBuffer da_buf(sizeof(T) * steps * N * H), carry_buf(sizeof(T) * N * H);
  T* da = da_buf.as<T>();
  T* dh_next = carry_buf.as<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    cpu::RnnStepBack<T> step{N, H, a.relu, a.grad_y ? a.grad_y + t * N * H : nullptr,
                             t == steps - 1 ? a.grad_h_n : dh_next, a.y + t * N * H, da + t * N * H};
    launch_step<T>(rnn_step_back_kernel<T>, step, N * H, s);
    mm<T>(false, false, N, H, H, da + t * N * H, H, a.w_hh, H, T(0), t ? dh_next : a.dh0, H, s);
  }
  mm<T>(false, false, steps * N, a.I, H, da, H, a.w_ih, a.I, T(0), a.dx, a.I, s);
  mm<T>(true, false, H, a.I, steps * N, da, H, a.x, a.I, T(0), a.dw_ih, a.I, s);
  mm<T>(true, false, H, H, N, da, H, a.h0, H, T(0), a.dw_hh, H, s);
  if (steps > 1) mm<T>(true, false, H, H, (steps - 1) * N, da + N * H, H, a.y, H, T(1), a.dw_hh, H, s);
  column_sums<T>(steps * N, H, da, H, a.db_ih, s);
  column_sums<T>(steps * N, H, da, H, a.db_hh, s);
}

#define NNC_RNN_CUDA_INSTANTIATE(T)                                               \
  template void lstm_forward<T>(const cpu::LstmForward<T>&, void*);               \
  template void lstm_backward<T>(const cpu::LstmBackward<T>&, void*);             \
  template void gru_forward<T>(const cpu::GruForward<T>&, void*);                 \
  template void gru_backward<T>(const cpu::GruBackward<T>&, void*);               \
  template void rnn_forward<T>(const cpu::RnnForward<T>&, void*);                 \
  template void rnn_backward<T>(const cpu::RnnBackward<T>&, void*);
NNC_RNN_CUDA_INSTANTIATE(float)
NNC_RNN_CUDA_INSTANTIATE(double)
#undef NNC_RNN_CUDA_INSTANTIATE

}  // namespace nnc::cuda
