// Batch normalisation on the GPU, float32 (N, C, L): one block per channel sums
// its N*L values in double (shifted by the channel's first value; a fixed tree
// order, so results are deterministic) and its first thread writes the
// statistics; then one thread per element applies (x - mean) k + b. The
// backward sums g and g (x - mean) the same way, then writes grad_input.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda/batch_norm.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < (int64_t(1) << 20) ? (b > 0 ? b : 1) : (int64_t(1) << 20));
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Sums (a, b) over the block in a fixed tree order; the totals land in thread 0.
__device__ void block_sum(double& a, double& b) {
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
  a = sa[0];
  b = sb[0];
}

// Element i of channel c's N*L values.
__device__ __forceinline__ int64_t channel_offset(int64_t i, int64_t c, cpu::BnShape s) {
  return ((i / s.L) * s.C + c) * s.L + i % s.L;
}

// Calls fn(k) for the offsets k of channel c's N*L values that this thread
// owns: runs of L >= kThreads are swept by the whole block run after run
// (coalesced, no division); shorter ones through one flat index.
template <class Fn>
__device__ void for_channel(int64_t c, cpu::BnShape s, Fn fn) {
  if (s.L >= kThreads) {
    for (int64_t n = 0; n < s.N; ++n) {
      const int64_t base = (n * s.C + c) * s.L;
      for (int64_t l = threadIdx.x; l < s.L; l += blockDim.x) fn(base + l);
    }
    return;
  }
  for (int64_t i = threadIdx.x; i < s.N * s.L; i += blockDim.x) fn(channel_offset(i, c, s));
}

// Block c: mean and biased variance of channel c, the running update (unbiased
// variance), save_mean and save_invstd.
__global__ void batch_stats_kernel(const float* x, cpu::BnShape s, float* running_mean, float* running_var,
                                   double momentum, double eps, float* save_mean, float* save_invstd) {
  const int64_t c = blockIdx.x, count = s.N * s.L;
  const double shift = double(x[c * s.L]);
  double sum = 0, sum_sq = 0;
  for_channel(c, s, [&](int64_t k) {
    double d = double(x[k]) - shift;
    sum += d;
    sum_sq += d * d;
  });
  block_sum(sum, sum_sq);
  if (threadIdx.x != 0) return;
  const double d = sum / double(count), mean = shift + d;
  const double var = fmax(0.0, sum_sq / double(count) - d * d);
  save_mean[c] = float(mean);
  save_invstd[c] = float(1.0 / sqrt(var + eps));
  if (running_mean) {
    running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
    const double unbiased = var * double(count) / double(count - 1);
    running_var[c] = float((1.0 - momentum) * double(running_var[c]) + momentum * unbiased);
  }
}

__global__ void running_stats_kernel(const float* running_mean, const float* running_var, int64_t C, double eps,
                                     float* save_mean, float* save_invstd) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    save_mean[c] = running_mean[c];
    save_invstd[c] = float(1.0 / sqrt(double(running_var[c]) + eps));
  }
}

__global__ void normalize_kernel(const float* x, float* y, cpu::BnShape s, const float* weight, const float* bias,
                                 const float* mean, const float* invstd) {
  const int64_t total = s.N * s.C * s.L;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / s.L) % s.C;
    const float k = weight ? invstd[c] * weight[c] : invstd[c];
    y[i] = (x[i] - mean[c]) * k + (bias ? bias[c] : 0.0f);
  }
}

// Block c: grad_bias = sum g, grad_weight = sum g (x - mean) invstd over channel c.
__global__ void backward_sums_kernel(const float* g, const float* x, cpu::BnShape s, const float* save_mean,
                                     const float* save_invstd, float* grad_weight, float* grad_bias) {
  const int64_t c = blockIdx.x;
  const double mean = double(save_mean[c]);
  double sum_g = 0, sum_gx = 0;
  for_channel(c, s, [&](int64_t k) {
    sum_g += double(g[k]);
    sum_gx += double(g[k]) * (double(x[k]) - mean);
  });
  block_sum(sum_g, sum_gx);
  if (threadIdx.x != 0) return;
  grad_bias[c] = float(sum_g);
  grad_weight[c] = float(sum_gx * double(save_invstd[c]));
}

// training: dx = scale (g - sum g / count - (x - mean) invstd grad_weight / count); else dx = scale g.
__global__ void grad_input_kernel(const float* g, const float* x, cpu::BnShape s, const float* weight,
                                  const float* save_mean, const float* save_invstd, bool training,
                                  const float* grad_weight, const float* grad_bias, float* grad_input) {
  const int64_t total = s.N * s.C * s.L;
  const float inv_count = 1.0f / float(s.N * s.L);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / s.L) % s.C;
    const float invstd = save_invstd[c], scale = weight ? invstd * weight[c] : invstd;
    if (training) {
      const float k = -scale * invstd * grad_weight[c] * inv_count;
      grad_input[i] = g[i] * scale + (x[i] - save_mean[c]) * k - scale * grad_bias[c] * inv_count;
    } else {
      grad_input[i] = g[i] * scale;
    }
  }
}

}  // namespace

void batch_norm_forward(const float* x, float* y, cpu::BnShape s, const float* weight, const float* bias,
                        float* running_mean, float* running_var, bool training, double momentum, double eps,
                        float* save_mean, float* save_invstd, void* stream) {
  cudaStream_t st = as_stream(stream);
  if (s.C == 0) return;
  if (training)
    NNC_LAUNCH(batch_stats_kernel, unsigned(s.C), kThreads, 0, st, x, s, running_mean, running_var, momentum, eps,
               save_mean, save_invstd);
  else
    NNC_LAUNCH(running_stats_kernel, blocks_for(s.C), kThreads, 0, st, running_mean, running_var, s.C, eps, save_mean,
               save_invstd);
  const int64_t total = s.N * s.C * s.L;
  if (total > 0)
    NNC_LAUNCH(normalize_kernel, blocks_for(total), kThreads, 0, st, x, y, s, weight, bias, save_mean, save_invstd);
}

void batch_norm_backward(const float* g, const float* x, cpu::BnShape s, const float* weight, const float* save_mean,
                         const float* save_invstd, bool training, float* grad_input, float* grad_weight,
                         float* grad_bias, void* stream) {
  cudaStream_t st = as_stream(stream);
  if (s.C == 0) return;
  NNC_LAUNCH(backward_sums_kernel, unsigned(s.C), kThreads, 0, st, g, x, s, save_mean, save_invstd, grad_weight,
             grad_bias);
  const int64_t total = s.N * s.C * s.L;
  if (grad_input && total > 0)
    NNC_LAUNCH(grad_input_kernel, blocks_for(total), kThreads, 0, st, g, x, s, weight, save_mean, save_invstd, training,
               grad_weight, grad_bias, grad_input);
}

}  // namespace nnc::cuda
