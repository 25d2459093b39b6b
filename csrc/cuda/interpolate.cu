// Bilinear / bicubic resizing on the GPU, NCHW. The forward gives one thread
// per output (neighbouring threads, neighbouring columns: coalesced stores);
// the backward gives one thread per input element, which finds the outputs
// whose taps read it (two binary searches per axis, core/interp_math.h) and
// gathers them in output order: deterministic, no atomics, the CPU twin's sums.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "core/interp_math.h"
#include "cuda/interpolate.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < (int64_t(1) << 20) ? (b > 0 ? b : 1) : (int64_t(1) << 20));
}

#define NNC_GRID_LOOP(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__host__ __device__ InterpAxis axis_h(const Interp2dShape& s) {
  return InterpAxis{s.H, s.OH, s.cubic, s.align_corners, s.scale_h};
}
__host__ __device__ InterpAxis axis_w(const Interp2dShape& s) {
  return InterpAxis{s.W, s.OW, s.cubic, s.align_corners, s.scale_w};
}

template <typename T>
__global__ void forward_kernel(Interp2dShape s, const T* __restrict__ x, T* __restrict__ y) {
  const InterpAxis ah = axis_h(s), aw = axis_w(s);
  const T scale_h = interp_scale<T>(ah), scale_w = interp_scale<T>(aw);
  const int taps = interp_taps(ah);
  NNC_GRID_LOOP(o, s.planes * s.OH * s.OW) {
    int64_t ow = o % s.OW, oh = (o / s.OW) % s.OH, c = o / (s.OW * s.OH);
    const T* xp = x + c * s.H * s.W;
    T wh[4], ww[4];
    int64_t bh = interp_source<T>(ah, scale_h, oh, wh), bw = interp_source<T>(aw, scale_w, ow, ww);
    T sum = T(0);
    for (int j = 0; j < taps; ++j) {
      const T* row = xp + interp_clamp(bh + j, s.H) * s.W;
      T part = T(0);
      for (int k = 0; k < taps; ++k) part += ww[k] * row[interp_clamp(bw + k, s.W)];
      sum += wh[j] * part;
    }
    y[o] = sum;
  }
}

template <typename T>
__global__ void backward_kernel(Interp2dShape s, const T* __restrict__ gy, T* __restrict__ gx) {
  const InterpAxis ah = axis_h(s), aw = axis_w(s);
  const T scale_h = interp_scale<T>(ah), scale_w = interp_scale<T>(aw);
  NNC_GRID_LOOP(i, s.planes * s.H * s.W) {
    int64_t iw = i % s.W, ih = (i / s.W) % s.H, c = i / (s.W * s.H);
    const T* gp = gy + c * s.OH * s.OW;
    int64_t lo_h, hi_h, lo_w, hi_w;
    interp_outputs_of<T>(ah, scale_h, ih, &lo_h, &hi_h);
    interp_outputs_of<T>(aw, scale_w, iw, &lo_w, &hi_w);
    T sum = T(0);
    for (int64_t oh = lo_h; oh < hi_h; ++oh) {
      T wh = interp_weight_of<T>(ah, scale_h, oh, ih);
      T part = T(0);
      for (int64_t ow = lo_w; ow < hi_w; ++ow) part += interp_weight_of<T>(aw, scale_w, ow, iw) * gp[oh * s.OW + ow];
      sum += wh * part;
    }
    gx[i] = sum;
  }
}

}  // namespace

template <typename T>
void interpolate2d_forward(const Interp2dShape& s, const T* x, T* y, void* stream) {
  int64_t n = s.planes * s.OH * s.OW;
  if (n == 0) return;
  NNC_LAUNCH(forward_kernel<T>, blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream), s, x, y);
}

template <typename T>
void interpolate2d_backward(const Interp2dShape& s, const T* gy, T* gx, void* stream) {
  int64_t n = s.planes * s.H * s.W;
  if (n == 0) return;
  NNC_LAUNCH(backward_kernel<T>, blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream), s, gy, gx);
}

template void interpolate2d_forward<float>(const Interp2dShape&, const float*, float*, void*);
template void interpolate2d_forward<double>(const Interp2dShape&, const double*, double*, void*);
template void interpolate2d_backward<float>(const Interp2dShape&, const float*, float*, void*);
template void interpolate2d_backward<double>(const Interp2dShape&, const double*, double*, void*);

}  // namespace nnc::cuda
