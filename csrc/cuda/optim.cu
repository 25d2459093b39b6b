// Fused SGD, Adam / AdamW, RMSprop and Adagrad updates on the GPU: one
// grid-stride pass over the n elements of a parameter, its gradient and its
// state (all (n,)), each element by optim_math::*_at.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/optim_math.h"
#include "cuda/launch.cuh"
#include "cuda/optim.h"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

int blocks_for(int64_t n) {
  return int(std::max<int64_t>(1, std::min<int64_t>(kMaxBlocks, (n + kThreads - 1) / kThreads)));
}

__global__ void sgd_kernel(optim_math::SgdArgs a) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x)
    optim_math::sgd_at(a, i);
}

__global__ void adam_kernel(optim_math::AdamArgs a) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x)
    optim_math::adam_at(a, i);
}

__global__ void rmsprop_kernel(optim_math::RmspropArgs a) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x)
    optim_math::rmsprop_at(a, i);
}

__global__ void adagrad_kernel(optim_math::AdagradArgs a) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x)
    optim_math::adagrad_at(a, i);
}

}  // namespace

void sgd_step(const optim_math::SgdArgs& a, void* stream) {
  NNC_LAUNCH(sgd_kernel, dim3(blocks_for(a.n)), dim3(kThreads), 0, static_cast<cudaStream_t>(stream), a);
}

void adam_step(const optim_math::AdamArgs& a, void* stream) {
  NNC_LAUNCH(adam_kernel, dim3(blocks_for(a.n)), dim3(kThreads), 0, static_cast<cudaStream_t>(stream), a);
}

void rmsprop_step(const optim_math::RmspropArgs& a, void* stream) {
  NNC_LAUNCH(rmsprop_kernel, dim3(blocks_for(a.n)), dim3(kThreads), 0, static_cast<cudaStream_t>(stream), a);
}

void adagrad_step(const optim_math::AdagradArgs& a, void* stream) {
  NNC_LAUNCH(adagrad_kernel, dim3(blocks_for(a.n)), dim3(kThreads), 0, static_cast<cudaStream_t>(stream), a);
}

}  // namespace nnc::cuda
