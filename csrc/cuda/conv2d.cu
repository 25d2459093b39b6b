// 2-D convolution on the GPU. Forward and weight gradient are tiled implicit
// GEMMs (64x64 output tiles, 16-deep reduction slabs gathered from NCHW
// straight into shared memory, 4x4 per thread); the input gradient gathers,
// one thread per input element. Every output is summed by one thread in a
// fixed order, so results are deterministic.
#include <cuda_runtime.h>

#include "core/conv_math.h"
#include "core/cuda_check.h"
#include "cuda/conv2d.h"
#include "cuda/tiled_gemm.cuh"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int THREADS = 256;

// x[n][g Cg + c][h][w] at reduction row kk = (c, r, t) and pixel j = (n, p, q) of group g; 0 in the padding.
template <typename T>
struct ColumnAt {
  ConvShape s;
  const T* x;
  __device__ T operator()(int64_t g, int64_t kk, int64_t j) const {
    const int64_t RS = s.R * s.S, PQ = s.P * s.Q;
    int64_t c = kk / RS, r = kk / s.S % s.R, t = kk % s.S;
    int64_t n = j / PQ, pq = j % PQ, p = pq / s.Q, q = pq % s.Q;
    int64_t h = conv_in_index(p, r, s.stride_h, s.pad_h, s.dil_h);
    int64_t w = conv_in_index(q, t, s.stride_w, s.pad_w, s.dil_w);
    if (h < 0 || h >= s.H || w < 0 || w >= s.W) return T(0);
    return x[((n * s.C + g * (s.C / s.groups) + c) * s.H + h) * s.W + w];
  }
};

// Forward: A = weights (Kg, CRS), B = columns (CRS, N P Q), C = y = act(acc + bias).
template <typename T>
struct ForwardProblem {
  static constexpr bool kVectorA = true, kVectorB = false;
  ConvShape s;
  const T* w;
  const T* bias;
  T* y;
  ColumnAt<T> col;
  bool vec_w;  // weight rows are whole 16-byte vectors from an aligned base
  Activation<T> act;
  __device__ bool a_k_contiguous() const { return true; }
  __device__ bool b_j_contiguous() const { return true; }
  __device__ bool a_vec4() const { return vec_w; }
  __device__ const T* a_ptr(int64_t g, int64_t m, int64_t kk) const {
    const int64_t Kg = s.K / s.groups, CRS = s.C / s.groups * s.R * s.S;
    return w + (g * Kg + m) * CRS + kk;
  }
  __device__ T a(int64_t g, int64_t m, int64_t kk) const { return *a_ptr(g, m, kk); }
  __device__ T b(int64_t g, int64_t kk, int64_t j) const { return col(g, kk, j); }
  __device__ void store(int64_t g, int64_t m, int64_t j, T acc) const {
    const int64_t Kg = s.K / s.groups, PQ = s.P * s.Q, n = j / PQ;
    y[(n * s.K + g * Kg + m) * PQ + j % PQ] = act(bias ? acc + bias[g * Kg + m] : acc);
  }
};

// Weight gradient: A = gy (Kg, N P Q), B = columns transposed (N P Q, CRS), C = gw (Kg, CRS).
template <typename T>
struct WeightGradProblem {
  static constexpr bool kVectorA = true, kVectorB = false;
  ConvShape s;
  const T* gy;
  T* gw;
  ColumnAt<T> col;
  bool vec_gy;  // P Q a multiple of 4 from an aligned base: 4 pixels from j = 0 mod 4 share an image
  __device__ bool a_k_contiguous() const { return true; }
  __device__ bool b_j_contiguous() const { return true; }
  __device__ bool a_vec4() const { return vec_gy; }
  __device__ const T* a_ptr(int64_t g, int64_t m, int64_t j) const {
    const int64_t Kg = s.K / s.groups, PQ = s.P * s.Q, n = j / PQ;
    return gy + (n * s.K + g * Kg + m) * PQ + j % PQ;
  }
  __device__ T a(int64_t g, int64_t m, int64_t j) const { return *a_ptr(g, m, j); }
  __device__ T b(int64_t g, int64_t j, int64_t kk) const { return col(g, kk, j); }
  __device__ void store(int64_t g, int64_t m, int64_t kk, T acc) const {
    const int64_t Kg = s.K / s.groups, CRS = s.C / s.groups * s.R * s.S;
    gw[(g * Kg + m) * CRS + kk] = acc;
  }
};

// gx[n][c][h][w] = sum over k of its group and taps (r, t) whose output position
// p = (h + pad - r dil) / stride is whole and inside [0, P) (likewise q).
template <typename T>
__global__ void backward_input_kernel(ConvShape s, const T* __restrict__ gy, const T* __restrict__ w,
                                      T* __restrict__ gx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  const int64_t Cg = s.C / s.groups, Kg = s.K / s.groups;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    int64_t wi = idx % s.W, h = idx / s.W % s.H, c = idx / (s.W * s.H) % s.C, n = idx / (s.W * s.H * s.C);
    int64_t g = c / Cg, cl = c % Cg;
    T acc = 0;
    for (int64_t r = 0; r < s.R; ++r) {
      int64_t ph = h + s.pad_h - r * s.dil_h;
      if (ph < 0 || ph % s.stride_h != 0 || ph / s.stride_h >= s.P) continue;
      int64_t p = ph / s.stride_h;
      for (int64_t t = 0; t < s.S; ++t) {
        int64_t qw = wi + s.pad_w - t * s.dil_w;
        if (qw < 0 || qw % s.stride_w != 0 || qw / s.stride_w >= s.Q) continue;
        int64_t q = qw / s.stride_w;
        for (int64_t k = 0; k < Kg; ++k)
          acc += gy[((n * s.K + g * Kg + k) * s.P + p) * s.Q + q] * w[(((g * Kg + k) * Cg + cl) * s.R + r) * s.S + t];
      }
    }
    gx[idx] = acc;
  }
}

// dst[c] = sum of src (N, C, HW) over N and HW: one block per channel, a fixed-shape tree.
template <typename T>
__global__ void channel_sum_kernel(int64_t N, int64_t C, int64_t HW, const T* __restrict__ src, T* __restrict__ dst) {
  __shared__ T part[THREADS];
  const int64_t c = blockIdx.x;
  T acc = 0;
  for (int64_t i = threadIdx.x; i < N * HW; i += THREADS) acc += src[(i / HW * C + c) * HW + i % HW];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = THREADS / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) part[threadIdx.x] += part[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) dst[c] = part[0];
}

template <typename T>
__global__ void add_channel_bias_kernel(int64_t N, int64_t C, int64_t HW, const T* __restrict__ bias,
                                        T* __restrict__ y) {
  const int64_t total = N * C * HW;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i / HW % C];
}

unsigned grid_for(int64_t total) {
  int64_t blocks = (total + THREADS - 1) / THREADS;
  return static_cast<unsigned>(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, const Activation<T>& act,
                    void* stream) {
  const int64_t G = s.groups, CRS = s.C / G * s.R * s.S;
  const bool vec_w = reinterpret_cast<uintptr_t>(w) % 16 == 0 && CRS % int64_t(16 / sizeof(T)) == 0;
  ForwardProblem<T> prob{s, w, bias, y, ColumnAt<T>{s, x}, vec_w, act};
  tiled::launch<T>("conv2d", G, s.K / G, s.N * s.P * s.Q, CRS, prob, stream);
}

template <typename T>
void conv2d_backward_input(const ConvShape& s, const T* gy, const T* w, T* gx, void* stream) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  NNC_LAUNCH(backward_input_kernel<T>, grid_for(total), THREADS, 0, static_cast<cudaStream_t>(stream), s, gy, w, gx);
}

template <typename T>
void conv2d_backward_weight(const ConvShape& s, const T* gy, const T* x, T* gw, void* stream) {
  const int64_t G = s.groups, CRS = s.C / G * s.R * s.S;
  const bool vec_gy = reinterpret_cast<uintptr_t>(gy) % 16 == 0 && s.P * s.Q % 4 == 0;
  WeightGradProblem<T> prob{s, gy, gw, ColumnAt<T>{s, x}, vec_gy};
  tiled::launch<T>("conv2d", G, s.K / G, CRS, s.N * s.P * s.Q, prob, stream);
}

template <typename T>
void channel_sum(int64_t N, int64_t C, int64_t HW, const T* src, T* dst, void* stream) {
  if (C == 0) return;
  NNC_CHECK(C <= 2147483647, "conv2d: too many channels for one CUDA launch");
  NNC_LAUNCH(channel_sum_kernel<T>, static_cast<unsigned>(C), THREADS, 0, static_cast<cudaStream_t>(stream), N, C, HW,
             src, dst);
}

template <typename T>
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const T* bias, T* y, void* stream) {
  const int64_t total = N * C * HW;
  if (total == 0) return;
  NNC_LAUNCH(add_channel_bias_kernel<T>, grid_for(total), THREADS, 0, static_cast<cudaStream_t>(stream), N, C, HW, bias,
             y);
}

#define NNC_INSTANTIATE(T)                                                                               \
  template void conv2d_forward<T>(const ConvShape&, const T*, const T*, const T*, T*, const Activation<T>&, void*); \
  template void conv2d_backward_input<T>(const ConvShape&, const T*, const T*, T*, void*);               \
  template void conv2d_backward_weight<T>(const ConvShape&, const T*, const T*, T*, void*);              \
  template void channel_sum<T>(int64_t, int64_t, int64_t, const T*, T*, void*);                          \
  template void add_channel_bias<T>(int64_t, int64_t, int64_t, const T*, T*, void*);
NNC_INSTANTIATE(float)
NNC_INSTANTIATE(double)
#undef NNC_INSTANTIATE

}  // namespace nnc::cuda
