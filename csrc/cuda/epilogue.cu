// Backward of the activation epilogue from the output y on the GPU: one thread
// per element (grid-stride), out[i] = act::backward(kind, grad[i], -, y[i]).
#include <cuda_runtime.h>

#include "core/activation_math.h"
#include "cuda/epilogue.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int THREADS = 256;

template <typename T>
__global__ void epilogue_grad_kernel(int64_t n, const T* __restrict__ grad, const T* __restrict__ y,
                                     T* __restrict__ out, nnc::cpu::Activation<T> a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = act::backward<T>(a.kind, grad[i], y[i], y[i], a.alpha, a.beta);
}

}  // namespace

template <typename T>
void epilogue_grad(int64_t n, const T* grad, const T* y, T* out, const nnc::cpu::Activation<T>& act, void* stream) {
  if (n == 0) return;
  const int64_t blocks = (n + THREADS - 1) / THREADS;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
  NNC_LAUNCH(epilogue_grad_kernel<T>, grid, THREADS, 0, static_cast<cudaStream_t>(stream), n, grad, y, out, act);
}

template void epilogue_grad<float>(int64_t, const float*, const float*, float*, const nnc::cpu::Activation<float>&,
                                   void*);
template void epilogue_grad<double>(int64_t, const double*, const double*, double*,
                                    const nnc::cpu::Activation<double>&, void*);

}  // namespace nnc::cuda
