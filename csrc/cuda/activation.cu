// Element-wise activations on the GPU: y = f(x) and dx = g * f'(.) with the
// per-element math of core/activation_math.h, a grid-stride loop over n
// elements (x, y, g, dx all (n,)); y may be x and dx may be g.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/activation_math.h"
#include "cuda/activation.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

int blocks_for(int64_t n) {
  return int(std::max<int64_t>(1, std::min<int64_t>(kMaxBlocks, (n + kThreads - 1) / kThreads)));
}

__global__ void activation_kernel(const float* x, float* y, int64_t n, int kind, float alpha, float beta) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = act::forward<float>(kind, x[i], alpha, beta);
}

__global__ void activation_backward_kernel(const float* g, const float* x, const float* y, float* dx, int64_t n,
                                           int kind, float alpha, float beta) {
  const bool needs_x = act::backward_needs_input(kind);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = act::backward<float>(kind, g[i], needs_x ? x[i] : 0.0f, needs_x ? 0.0f : y[i], alpha, beta);
}

}  // namespace

void activation(const float* x, float* y, int64_t n, int kind, float alpha, float beta, void* stream) {
  NNC_LAUNCH(activation_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, static_cast<cudaStream_t>(stream), x, y, n,
             kind, alpha, beta);
}

void activation_backward(const float* g, const float* x, const float* y, float* dx, int64_t n, int kind, float alpha,
                         float beta, void* stream) {
  NNC_LAUNCH(activation_backward_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, static_cast<cudaStream_t>(stream),
             g, x, y, dx, n, kind, alpha, beta);
}

}  // namespace nnc::cuda
