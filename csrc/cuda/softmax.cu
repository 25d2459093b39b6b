// Softmax family on the GPU. A group of G threads owns one position: a warp
// (G = 32) per row when the class axis is contiguous, one thread (G = 1) per
// position otherwise, so neighbouring threads read neighbouring addresses.
// Pass 1 keeps the online (max, sum of exp) of core/softmax_math.h, merged
// across the group; pass 2 rereads the row (L1/L2) to write the output. Rows
// of whole aligned 4-element vectors move 128 bits per access. Loss
// sums are per-block partials in double combined in block order (deterministic).
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>

#include "core/cuda_buffer.h"
#include "core/cuda_check.h"
#include "core/softmax_math.h"
#include "cuda/softmax.h"
#include "cuda/launch.cuh"
#include "cuda/vector_access.cuh"

namespace nnc::cuda {
namespace {

namespace sm = nnc::softmax_math;
using cpu::CeArgs;
using cpu::Reduction;

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;

template <int G, typename A>
__device__ A group_sum(A v) {
#pragma unroll
  for (int off = G / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off, G);
  return G > 1 ? __shfl_sync(0xffffffffu, v, 0, G) : v;  // every lane gets the first lane's value
}

template <int G, typename A>
__device__ sm::Online<A> group_merge(sm::Online<A> st) {
#pragma unroll
  for (int off = G / 2; off > 0; off >>= 1) {
    sm::Online<A> other{__shfl_xor_sync(0xffffffffu, st.m, off, G), __shfl_xor_sync(0xffffffffu, st.s, off, G)};
    st = sm::online_merge(st, other);
  }
  if (G > 1) {
    st.m = __shfl_sync(0xffffffffu, st.m, 0, G);
    st.s = __shfl_sync(0xffffffffu, st.s, 0, G);
  }
  return st;
}

// Position p of (outer, C, inner): element c at base(p) + c * inner.
__device__ __forceinline__ int64_t position_base(int64_t p, int64_t C, int64_t inner) {
  return (p / inner) * C * inner + p % inner;
}

int blocks_for(int64_t positions, int G) {
  int64_t groups_per_block = kThreads / G;
  return int(std::max<int64_t>(1, std::min<int64_t>(kMaxBlocks, (positions + groups_per_block - 1) / groups_per_block)));
}

// V4: rows of whole, aligned 4-element vectors (inner == 1, C % 4 == 0), read and written 128 bits at a time.
template <typename T, int G, bool V4>
__global__ void softmax_kernel(const T* x, T* y, int64_t positions, int64_t C, int64_t inner, bool log) {
  const int lane = threadIdx.x % G;
  const int64_t first = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / G;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x / G;
  for (int64_t p = first; p < positions; p += stride) {  // uniform across the group
    const int64_t base = position_base(p, C, inner);
    sm::Online<T> st = sm::online_empty<T>();
    if constexpr (V4) {
      for (int64_t c = 4 * lane; c < C; c += 4 * G) {
        T v[4];
        load4(x + base + c, v);
        for (int e = 0; e < 4; ++e) sm::online_add(st, v[e]);
      }
    } else {
      for (int64_t c = lane; c < C; c += G) sm::online_add(st, x[base + c * inner]);
    }
    st = group_merge<G>(st);
    const T lse = sm::log_of(st.s), inv_s = T(1) / st.s;
    auto out = [&](T v) { return log ? (v - st.m) - lse : sm::exp_of(v - st.m) * inv_s; };
    if constexpr (V4) {
      for (int64_t c = 4 * lane; c < C; c += 4 * G) {
        T v[4];
        load4(x + base + c, v);
        for (int e = 0; e < 4; ++e) v[e] = out(v[e]);
        store4(y + base + c, v);
      }
    } else {
      for (int64_t c = lane; c < C; c += G) y[base + c * inner] = out(x[base + c * inner]);
    }
  }
}

template <typename T, int G, bool V4>
__global__ void softmax_backward_kernel(const T* gy, const T* y, T* gx, int64_t positions, int64_t C, int64_t inner,
                                        bool log) {
  const int lane = threadIdx.x % G;
  const int64_t first = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / G;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x / G;
  for (int64_t p = first; p < positions; p += stride) {
    const int64_t base = position_base(p, C, inner);
    T acc = 0;  // log: sum g; softmax: sum g y
    if constexpr (V4) {
      for (int64_t c = 4 * lane; c < C; c += 4 * G) {
        T g[4], v[4];
        load4(gy + base + c, g);
        load4(y + base + c, v);
        for (int e = 0; e < 4; ++e) acc += log ? g[e] : g[e] * v[e];
      }
    } else {
      for (int64_t c = lane; c < C; c += G) {
        int64_t k = base + c * inner;
        acc += log ? gy[k] : gy[k] * y[k];
      }
    }
    acc = group_sum<G>(acc);
    auto grad = [&](T g, T v) { return log ? g - sm::exp_of(v) * acc : v * (g - acc); };
    if constexpr (V4) {
      for (int64_t c = 4 * lane; c < C; c += 4 * G) {
        T g[4], v[4];
        load4(gy + base + c, g);
        load4(y + base + c, v);
        for (int e = 0; e < 4; ++e) g[e] = grad(g[e], v[e]);
        store4(gx + base + c, g);
      }
    } else {
      for (int64_t c = lane; c < C; c += G) {
        int64_t k = base + c * inner;
        gx[k] = grad(gy[k], y[k]);
      }
    }
  }
}

struct Status {
  unsigned long long bad_position;  // ULLONG_MAX: none
  int nonfinite;
};

// Block sums of (a, b) in a fixed tree order into partial[block].
__device__ void block_partials(double a, double b, double2* partial) {
  __shared__ double sa[kThreads], sb[kThreads];
  sa[threadIdx.x] = a;
  sb[threadIdx.x] = b;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (int(threadIdx.x) < half) {
      sa[threadIdx.x] += sa[threadIdx.x + half];
      sb[threadIdx.x] += sb[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = make_double2(sa[0], sb[0]);
}

// Sum of the weights of the non-ignored class-index targets (mean needs it first).
template <typename T>
__global__ void total_weight_kernel(CeArgs<T> a, double2* partial, Status* status) {
  double wsum = 0;
  const int64_t positions = a.N * a.S;
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < positions; p += int64_t(gridDim.x) * blockDim.x) {
    int64_t y = a.target[p];
    if (y == a.ignore_index) continue;
    if (y < 0 || y >= a.C) {
      atomicMin(&status->bad_position, (unsigned long long)p);
      continue;
    }
    wsum += a.weight ? double(a.weight[y]) : 1.0;
  }
  block_partials(wsum, 0.0, partial);
}

// total[0] = sum of partial[i].x, total[1] = sum of partial[i].y, in order.
__global__ void sum_partials_kernel(const double2* partial, int count, double* total) {
  double a = 0, b = 0;
  for (int i = 0; i < count; ++i) {
    a += partial[i].x;
    b += partial[i].y;
  }
  total[0] = a;
  total[1] = b;
}

// Fused cross-entropy of positions [0, N S): pass 1 the online (m, s) (and, for
// probability targets, wt = sum w t'); pass 2 writes the gradient and sums
// w (x - m) or w t' (x - m) for the loss. total_w: device sum of target weights
// (reduction mean with a gradient), else null. V4: rows of whole aligned
// 4-element vectors (S == 1, C % 4 == 0), moved 128 bits per access.
template <typename T, int G, bool V4>
__global__ void cross_entropy_kernel(CeArgs<T> a, const double* total_w, double2* partial, Status* status) {
  const int lane = threadIdx.x % G;
  const int64_t positions = a.N * a.S, C = a.C, S = a.S;
  const int64_t first = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / G;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x / G;
  const T eps = T(a.label_smoothing), inv_c = C > 0 ? T(1) / T(C) : T(0);
  double g_scale = a.grad_scale;
  if (a.grad && a.reduction == Reduction::mean) g_scale /= a.target_prob ? double(positions) : total_w[0];
  T w_all = 0;
  for (int64_t c = lane; c < C; c += G) w_all += a.weight ? a.weight[c] : T(1);
  w_all = group_sum<G>(w_all);
  double loss_sum = 0, wsum = 0;

  // body(c, x[c S], t[c S] or 0) for this lane's classes; V4: 4 consecutive classes per 128-bit access.
  auto each_class = [&](const T* xs, const T* ts, auto&& body) {
    if constexpr (V4) {
      for (int64_t c0 = 4 * lane; c0 < C; c0 += 4 * G) {
        T xv[4], tv[4] = {};
        load4(xs + c0, xv);
        if (ts) load4(ts + c0, tv);
        for (int e = 0; e < 4; ++e) body(c0 + e, xv[e], tv[e]);
      }
    } else {
      for (int64_t c = lane; c < C; c += G) body(c, xs[c * S], ts ? ts[c * S] : T(0));
    }
  };
  // Likewise, writing body's value to out[c S] when out is given.
  auto map_class = [&](const T* xs, const T* ts, T* out, auto&& body) {
    if constexpr (V4) {
      for (int64_t c0 = 4 * lane; c0 < C; c0 += 4 * G) {
        T xv[4], tv[4] = {}, ov[4];
        load4(xs + c0, xv);
        if (ts) load4(ts + c0, tv);
        for (int e = 0; e < 4; ++e) ov[e] = body(c0 + e, xv[e], tv[e]);
        if (out) store4(out + c0, ov);
      }
    } else {
      for (int64_t c = lane; c < C; c += G) {
        T v = body(c, xs[c * S], ts ? ts[c * S] : T(0));
        if (out) out[c * S] = v;
      }
    }
  };

  for (int64_t p = first; p < positions; p += stride) {
    const int64_t base = position_base(p, C, S);
    const T* x = a.logits + base;  // x[c * S]
    const T* t = a.target_prob ? a.target_prob + base : nullptr;
    T* gx = a.grad ? a.grad + base : nullptr;
    int64_t y = -1;
    if (!t) {
      y = a.target[p];
      bool skip = y == a.ignore_index;
      if (!skip && (y < 0 || y >= C)) {
        if (lane == 0) atomicMin(&status->bad_position, (unsigned long long)p);
        skip = true;
      }
      if (skip) {
        if (a.loss && a.reduction == Reduction::none && lane == 0) a.loss[p] = T(0);
        if (gx)
          for (int64_t c = lane; c < C; c += G) gx[c * S] = T(0);
        continue;
      }
    }
    sm::Online<T> st = sm::online_empty<T>();
    T wt = 0;
    bool finite = true;
    each_class(x, t, [&](int64_t c, T xc, T tc) {
      sm::online_add(st, xc);
      if (t) {
        finite = finite && isfinite(tc);
        wt += (a.weight ? a.weight[c] : T(1)) * sm::smoothed(tc, eps, inv_c);
      }
    });
    st = group_merge<G>(st);
    if (t) {
      wt = group_sum<G>(wt);
      if (!finite) atomicOr(&status->nonfinite, 1);
    }
    const T w_y = t ? T(0) : (a.weight ? a.weight[y] : T(1));
    const T g = T(g_scale * (a.grad_output ? double(a.grad_output[p * a.grad_output_stride]) : 1.0));
    sm::CeGrad<T> k = t ? sm::CeGrad<T>{sm::ce_prob_p_scale(g, st.s, wt), g, T(0)}
                        : sm::ce_index_grad(g, st.s, w_y, eps, inv_c, w_all);
    const T xy = t ? T(0) : x[y * S] - st.m;  // before gx, which may be x, is written
    if constexpr (G > 1) __syncwarp();          // ... by any lane of the group
    T wdx = 0;  // sum w (x - m), or sum w t' (x - m)
    map_class(x, t, gx, [&](int64_t c, T xc, T t_raw) {
      T d = xc - st.m, wc = a.weight ? a.weight[c] : T(1);
      T tc = t ? sm::smoothed(t_raw, eps, inv_c) : T(0);
      wdx += t ? wc * tc * d : wc * d;
      T e = gx ? sm::exp_of(d) : T(0);
      return t ? k.p_scale * e - g * wc * tc : k.p_scale * e - k.w_scale * wc - (c == y ? k.target_sub : T(0));
    });
    wdx = group_sum<G>(wdx);
    T lse = sm::log_of(st.s);
    T loss = t ? sm::ce_prob_loss(lse, wt, wdx)
               : sm::ce_index_loss(lse, xy, w_y, eps, inv_c, w_all, wdx);
    if (lane == 0) {
      loss_sum += double(loss);
      wsum += double(w_y);
      if (a.loss && a.reduction == Reduction::none) a.loss[p] = loss;
    }
  }
  block_partials(loss_sum, wsum, partial);
}

// Writes the reduced loss from the sums (total[0] = loss, total[1] = weights).
template <typename T>
__global__ void finish_loss_kernel(CeArgs<T> a, const double* total, const double* total_w) {
  double positions = double(a.N * a.S);
  if (a.reduction == Reduction::sum) a.loss[0] = T(total[0]);
  else if (a.target_prob) a.loss[0] = positions * a.C == 0 ? T(NAN) : T(total[0] / positions);
  else a.loss[0] = T(total[0] / (total_w ? total_w[0] : total[1]));
}

template <typename T, int G>
void launch_cross_entropy(const CeArgs<T>& a, const double* total_w, double2* partial, Status* status,
                          cudaStream_t s, int blocks) {
  const bool vectors = G == 32 && a.C % 4 == 0 && aligned16(a.logits) && aligned16(a.target_prob) &&
                       aligned16(a.grad);
  if (vectors) NNC_LAUNCH(cross_entropy_kernel<T, G, true>, blocks, kThreads, 0, s, a, total_w, partial, status);
  else NNC_LAUNCH(cross_entropy_kernel<T, G, false>, blocks, kThreads, 0, s, a, total_w, partial, status);
}

}  // namespace

template <typename T>
void softmax(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  int64_t positions = outer * inner;
  if (inner == 1 && C % 4 == 0 && aligned16(x) && aligned16(y))
    NNC_LAUNCH(softmax_kernel<T, 32, true>, blocks_for(positions, 32), kThreads, 0, s, x, y, positions, C, inner, log);
  else if (inner == 1)
    NNC_LAUNCH(softmax_kernel<T, 32, false>, blocks_for(positions, 32), kThreads, 0, s, x, y, positions, C, inner, log);
  else
    NNC_LAUNCH(softmax_kernel<T, 1, false>, blocks_for(positions, 1), kThreads, 0, s, x, y, positions, C, inner, log);
}

template <typename T>
void softmax_backward(const T* grad_y, const T* y, T* grad_x, int64_t outer, int64_t C, int64_t inner, bool log,
                      void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  int64_t positions = outer * inner;
  const int blocks32 = blocks_for(positions, 32);
  if (inner == 1 && C % 4 == 0 && aligned16(grad_y) && aligned16(y) && aligned16(grad_x))
    NNC_LAUNCH(softmax_backward_kernel<T, 32, true>, blocks32, kThreads, 0, s, grad_y, y, grad_x, positions, C, inner,
               log);
  else if (inner == 1)
    NNC_LAUNCH(softmax_backward_kernel<T, 32, false>, blocks32, kThreads, 0, s, grad_y, y, grad_x, positions, C, inner,
               log);
  else
    NNC_LAUNCH(softmax_backward_kernel<T, 1, false>, blocks_for(positions, 1), kThreads, 0, s, grad_y, y, grad_x,
               positions, C, inner, log);
}

template <typename T>
cpu::CeStatus cross_entropy(const CeArgs<T>& a, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t positions = a.N * a.S;
  const int G = a.S == 1 ? 32 : 1;
  const int blocks = blocks_for(positions, G);
  // workspace: partial sums (one double2 per block), two totals, the weight total, the status
  DeviceBuffer ws(sizeof(double2) * kMaxBlocks + 4 * sizeof(double) + sizeof(Status));
  double2* partial = ws.as<double2>();
  double* totals = reinterpret_cast<double*>(partial + kMaxBlocks);  // [0..1] loss sums, [2..3] weight sums
  Status* status = reinterpret_cast<Status*>(totals + 4);
  NNC_CUDA_CHECK(cudaMemsetAsync(status, 0xff, sizeof(unsigned long long), s));
  NNC_CUDA_CHECK(cudaMemsetAsync(&status->nonfinite, 0, sizeof(int), s));
  const double* total_w = nullptr;
  if (a.grad && a.reduction == Reduction::mean && !a.target_prob) {
    int wb = blocks_for(positions, 1);
    NNC_LAUNCH(total_weight_kernel<T>, wb, kThreads, 0, s, a, partial, status);
    NNC_LAUNCH(sum_partials_kernel, 1, 1, 0, s, partial, wb, totals + 2);
    total_w = totals + 2;
  }
  if (G == 32) launch_cross_entropy<T, 32>(a, total_w, partial, status, s, blocks);
  else launch_cross_entropy<T, 1>(a, total_w, partial, status, s, blocks);
  if (a.loss && a.reduction != Reduction::none) {
    NNC_LAUNCH(sum_partials_kernel, 1, 1, 0, s, partial, blocks, totals);
    NNC_LAUNCH(finish_loss_kernel<T>, 1, 1, 0, s, a, totals, total_w);
  }
  Status host{};
  NNC_CUDA_CHECK(cudaMemcpyAsync(&host, status, sizeof(Status), cudaMemcpyDeviceToHost, s));
  NNC_CUDA_CHECK(cudaStreamSynchronize(s));
  cpu::CeStatus out;
  if (host.bad_position != ULLONG_MAX) {
    out.bad_position = int64_t(host.bad_position);
    NNC_CUDA_CHECK(cudaMemcpy(&out.bad_target, a.target + out.bad_position, sizeof(int64_t), cudaMemcpyDeviceToHost));
  }
  out.nonfinite_target = host.nonfinite != 0;
  return out;
}

template void softmax<float>(const float*, float*, int64_t, int64_t, int64_t, bool, void*);
template void softmax<double>(const double*, double*, int64_t, int64_t, int64_t, bool, void*);
template void softmax_backward<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, bool, void*);
template void softmax_backward<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, bool, void*);
template cpu::CeStatus cross_entropy<float>(const CeArgs<float>&, void*);
template cpu::CeStatus cross_entropy<double>(const CeArgs<double>&, void*);

}  // namespace nnc::cuda
