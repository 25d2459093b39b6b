// 2-D pooling on the GPU, NCHW, one pass each: forward kernels give one
// thread per output (neighbouring threads, neighbouring columns: coalesced);
// backward kernels give one thread per input element and gather the windows
// that hold it in output order, so results are deterministic without atomics.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda_buffer.h"
#include "core/cuda_check.h"
#include "core/pool_math.h"
#include "cuda/pool2d.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < (int64_t(1) << 20) ? (b > 0 ? b : 1) : (int64_t(1) << 20));
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

#define NNC_GRID_LOOP(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__device__ T neg_inf() {
  return -static_cast<T>(INFINITY);
}

template <typename T>
__device__ T sign_of(T v) {
  return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));
}

__device__ int64_t avg_divisor_of(AvgDivisor div, AvgWindow wh, AvgWindow ww) {
  if (div.divisor_override != 0) return div.divisor_override;
  if (div.count_include_pad) return wh.padded * ww.padded;
  return (wh.end - wh.start) * (ww.end - ww.start);
}

// Max of sign * |x| (sign = 1: max |x|, -1: max -|x|) over window (oh, ow), PyTorch's scan rules.
template <typename T>
__device__ T abs_max_window(const Pool2dShape& sh, const T* xp, int64_t oh, int64_t ow, T sign, int64_t* arg) {
  MaxWindow wh = max_window(oh, sh.H, sh.kH, sh.sH, 0, 1);
  MaxWindow ww = max_window(ow, sh.W, sh.kW, sh.sW, 0, 1);
  T best = neg_inf<T>();
  int64_t at = wh.start * sh.W + ww.start;
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) {
      T v = sign * abs(xp[ih * sh.W + iw]);
      if (max_takes(v, best)) {
        best = v;
        at = ih * sh.W + iw;
      }
    }
  *arg = at;
  return best;
}

template <typename T>
__device__ T lp_power(T v, double p) {
  return p == 1 ? v : p == 2 ? v * v : pow(v, T(p));
}

// PyTorch's lp_pool2d window: t = avg_pool(x^p) * kH*kW; *scale = kH*kW / (cut window size).
template <typename T>
__device__ T lp_window_t(const Pool2dShape& sh, double p, const T* xp, int64_t oh, int64_t ow, T* scale) {
  AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, 0);
  AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, 0);
  T sum = 0;
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) sum += lp_power(xp[ih * sh.W + iw], p);
  T divisor = T(wh.padded * ww.padded);
  *scale = T(sh.kH * sh.kW) / divisor;
  return sum / divisor * T(sh.kH * sh.kW);
}

// ---- kernels -----------------------------------------------------------

template <typename T>
__global__ void max_forward_kernel(Pool2dShape sh, const T* __restrict__ x, T* __restrict__ y,
                                   int64_t* __restrict__ indices) {
  NNC_GRID_LOOP(o, sh.planes * sh.OH * sh.OW) {
    int64_t ow = o % sh.OW, oh = (o / sh.OW) % sh.OH, c = o / (sh.OW * sh.OH);
    const T* xp = x + c * sh.H * sh.W;
    MaxWindow wh = max_window(oh, sh.H, sh.kH, sh.sH, sh.pH, sh.dH);
    MaxWindow ww = max_window(ow, sh.W, sh.kW, sh.sW, sh.pW, sh.dW);
    T best = neg_inf<T>();
    int64_t at = wh.start * sh.W + ww.start;
    for (int64_t ih = wh.start; ih < wh.end; ih += sh.dH)
      for (int64_t iw = ww.start; iw < ww.end; iw += sh.dW) {
        T v = xp[ih * sh.W + iw];
        if (max_takes(v, best)) {
          best = v;
          at = ih * sh.W + iw;
        }
      }
    y[o] = best;
    if (indices) indices[o] = at;
  }
}

// flag |= 1: an index outside the plane; |= 2: an index outside its own window.
__global__ void max_check_kernel(Pool2dShape sh, const int64_t* __restrict__ indices, int* flag) {
  NNC_GRID_LOOP(o, sh.planes * sh.OH * sh.OW) {
    int64_t ow = o % sh.OW, oh = (o / sh.OW) % sh.OH;
    int64_t at = indices[o];
    if (at < 0 || at >= sh.H * sh.W) {
      atomicOr(flag, 1);
      continue;
    }
    int64_t dh = at / sh.W - (oh * sh.sH - sh.pH), dw = at % sh.W - (ow * sh.sW - sh.pW);
    bool inside = dh >= 0 && dw >= 0 && dh % sh.dH == 0 && dw % sh.dW == 0 && dh / sh.dH < sh.kH &&
                  dw / sh.dW < sh.kW;
    if (!inside) atomicOr(flag, 2);
  }
}

// Every index lies in its own window: each input sums the outputs whose
// window holds it and whose index names it.
template <typename T>
__global__ void max_backward_gather_kernel(Pool2dShape sh, const T* __restrict__ gy,
                                           const int64_t* __restrict__ indices, T* __restrict__ gx) {
  NNC_GRID_LOOP(e, sh.planes * sh.H * sh.W) {
    int64_t iw = e % sh.W, ih = (e / sh.W) % sh.H, c = e / (sh.W * sh.H);
    int64_t here = ih * sh.W + iw;
    int64_t reach_h = (sh.kH - 1) * sh.dH, reach_w = (sh.kW - 1) * sh.dW;
    int64_t oh0 = -pool_floor_div(-(ih + sh.pH - reach_h), sh.sH), oh1 = pool_floor_div(ih + sh.pH, sh.sH);
    int64_t ow0 = -pool_floor_div(-(iw + sh.pW - reach_w), sh.sW), ow1 = pool_floor_div(iw + sh.pW, sh.sW);
    oh0 = oh0 > 0 ? oh0 : 0, ow0 = ow0 > 0 ? ow0 : 0;
    oh1 = oh1 < sh.OH - 1 ? oh1 : sh.OH - 1, ow1 = ow1 < sh.OW - 1 ? ow1 : sh.OW - 1;
    const int64_t base = c * sh.OH * sh.OW;
    T sum = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        int64_t o = base + oh * sh.OW + ow;
        if (indices[o] == here) sum += gy[o];
      }
    gx[e] = sum;
  }
}

// Indices outside their windows (hand-made): PyTorch's plain scatter, one
// thread per plane in output order.
template <typename T>
__global__ void max_backward_scatter_kernel(Pool2dShape sh, const T* __restrict__ gy,
                                            const int64_t* __restrict__ indices, T* __restrict__ gx) {
  NNC_GRID_LOOP(c, sh.planes) {
    T* g = gx + c * sh.H * sh.W;
    for (int64_t i = 0; i < sh.H * sh.W; ++i) g[i] = T(0);
    for (int64_t o = c * sh.OH * sh.OW; o < (c + 1) * sh.OH * sh.OW; ++o) g[indices[o]] += gy[o];
  }
}

template <typename T>
__global__ void avg_forward_kernel(Pool2dShape sh, AvgDivisor div, const T* __restrict__ x, T* __restrict__ y) {
  NNC_GRID_LOOP(o, sh.planes * sh.OH * sh.OW) {
    int64_t ow = o % sh.OW, oh = (o / sh.OW) % sh.OH, c = o / (sh.OW * sh.OH);
    const T* xp = x + c * sh.H * sh.W;
    AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
    AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
    T sum = 0;
    for (int64_t ih = wh.start; ih < wh.end; ++ih)
      for (int64_t iw = ww.start; iw < ww.end; ++iw) sum += xp[ih * sh.W + iw];
    bool empty = wh.start >= wh.end || ww.start >= ww.end;
    y[o] = empty ? T(0) : sum / T(avg_divisor_of(div, wh, ww));
  }
}

// Output rows (columns) whose window holds input row ih: [lo, hi], no dilation.
struct OutRange {
  int64_t lo, hi;
};
__device__ OutRange covering(int64_t i, int64_t k, int64_t s, int64_t p, int64_t out) {
  int64_t lo = -pool_floor_div(-(i + p - k + 1), s), hi = pool_floor_div(i + p, s);
  return {lo > 0 ? lo : 0, hi < out - 1 ? hi : out - 1};
}

template <typename T>
__global__ void avg_backward_kernel(Pool2dShape sh, AvgDivisor div, const T* __restrict__ gy, T* __restrict__ gx) {
  NNC_GRID_LOOP(e, sh.planes * sh.H * sh.W) {
    int64_t iw = e % sh.W, ih = (e / sh.W) % sh.H, c = e / (sh.W * sh.H);
    OutRange rh = covering(ih, sh.kH, sh.sH, sh.pH, sh.OH), rw = covering(iw, sh.kW, sh.sW, sh.pW, sh.OW);
    const T* gyp = gy + c * sh.OH * sh.OW;
    T sum = 0;
    for (int64_t oh = rh.lo; oh <= rh.hi; ++oh) {
      AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
      for (int64_t ow = rw.lo; ow <= rw.hi; ++ow) {
        AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
        sum += gyp[oh * sh.OW + ow] / T(avg_divisor_of(div, wh, ww));
      }
    }
    gx[e] = sum;
  }
}

template <typename T>
__global__ void lp_forward_kernel(Pool2dShape sh, double p, const T* __restrict__ x, T* __restrict__ y) {
  NNC_GRID_LOOP(o, sh.planes * sh.OH * sh.OW) {
    int64_t ow = o % sh.OW, oh = (o / sh.OW) % sh.OH, c = o / (sh.OW * sh.OH);
    const T* xp = x + c * sh.H * sh.W;
    int64_t arg;
    if (isinf(p)) {
      y[o] = p > 0 ? abs_max_window(sh, xp, oh, ow, T(1), &arg) : -abs_max_window(sh, xp, oh, ow, T(-1), &arg);
    } else {
      T scale, t = lp_window_t(sh, p, xp, oh, ow, &scale);
      y[o] = p == 1 ? t : p == 2 ? sqrt(t) : pow(t, T(1.0 / p));
    }
  }
}

// Each input sums, over the windows that hold it, PyTorch's chain of pow,
// the mask t == 0, mul and avg_pool backwards (p finite), or the gradient
// of the chosen |x| (p = +-inf).
template <typename T>
__global__ void lp_backward_kernel(Pool2dShape sh, double p, const T* __restrict__ gy, const T* __restrict__ x,
                                   T* __restrict__ gx) {
  NNC_GRID_LOOP(e, sh.planes * sh.H * sh.W) {
    int64_t iw = e % sh.W, ih = (e / sh.W) % sh.H, c = e / (sh.W * sh.H);
    OutRange rh = covering(ih, sh.kH, sh.sH, 0, sh.OH), rw = covering(iw, sh.kW, sh.sW, 0, sh.OW);
    const T* xp = x + c * sh.H * sh.W;
    const T* gyp = gy + c * sh.OH * sh.OW;
    const T v = x[e];
    T sum = 0;
    for (int64_t oh = rh.lo; oh <= rh.hi; ++oh)
      for (int64_t ow = rw.lo; ow <= rw.hi; ++ow) {
        T g = gyp[oh * sh.OW + ow];
        if (isinf(p)) {
          int64_t arg;
          abs_max_window(sh, xp, oh, ow, T(p > 0 ? 1 : -1), &arg);
          if (arg == ih * sh.W + iw) sum += g * sign_of(v);
          continue;
        }
        T scale, t = lp_window_t(sh, p, xp, oh, ow, &scale);
        if (t == T(0)) continue;
        T share = g * T(1.0 / p) * pow(t, T(1.0 / p - 1.0)) * scale * T(p);
        sum += share * (p == 1 ? T(1) : p == 2 ? v : pow(v, T(p - 1)));
      }
    gx[e] = sum;
  }
}

template <typename T>
__global__ void adaptive_forward_kernel(Pool2dShape sh, const T* __restrict__ x, T* __restrict__ y) {
  NNC_GRID_LOOP(o, sh.planes * sh.OH * sh.OW) {
    int64_t ow = o % sh.OW, oh = (o / sh.OW) % sh.OH, c = o / (sh.OW * sh.OH);
    const T* xp = x + c * sh.H * sh.W;
    int64_t h0 = adaptive_start(oh, sh.H, sh.OH), h1 = adaptive_end(oh, sh.H, sh.OH);
    int64_t w0 = adaptive_start(ow, sh.W, sh.OW), w1 = adaptive_end(ow, sh.W, sh.OW);
    T sum = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * sh.W + iw];
    y[o] = sum / T((h1 - h0) * (w1 - w0));
  }
}

template <typename T>
__global__ void adaptive_backward_kernel(Pool2dShape sh, const T* __restrict__ gy, T* __restrict__ gx) {
  NNC_GRID_LOOP(e, sh.planes * sh.H * sh.W) {
    int64_t iw = e % sh.W, ih = (e / sh.W) % sh.H, c = e / (sh.W * sh.H);
    const T* gyp = gy + c * sh.OH * sh.OW;
    // outputs o with start(o) <= i < end(o): [floor(i*O/I), ceil((i+1)*O/I) - 1]
    int64_t oh0 = (ih * sh.OH) / sh.H, oh1 = ((ih + 1) * sh.OH + sh.H - 1) / sh.H - 1;
    int64_t ow0 = (iw * sh.OW) / sh.W, ow1 = ((iw + 1) * sh.OW + sh.W - 1) / sh.W - 1;
    T sum = 0;
    for (int64_t oh = oh0; oh <= oh1 && oh < sh.OH; ++oh) {
      int64_t h0 = adaptive_start(oh, sh.H, sh.OH), h1 = adaptive_end(oh, sh.H, sh.OH);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1 && ow < sh.OW; ++ow) {
        int64_t w0 = adaptive_start(ow, sh.W, sh.OW), w1 = adaptive_end(ow, sh.W, sh.OW);
        if (iw < w0 || iw >= w1) continue;
        sum += gyp[oh * sh.OW + ow] / T((h1 - h0) * (w1 - w0));
      }
    }
    gx[e] = sum;
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------

template <typename T>
void max_pool2d_forward(const Pool2dShape& sh, const T* x, T* y, int64_t* indices, void* stream) {
  int64_t n = sh.planes * sh.OH * sh.OW;
  if (n == 0) return;
  NNC_LAUNCH(max_forward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, x, y, indices);
}

template <typename T>
bool max_pool2d_backward(const Pool2dShape& sh, const T* gy, const int64_t* indices, T* gx, void* stream) {
  int64_t n_out = sh.planes * sh.OH * sh.OW, n_in = sh.planes * sh.H * sh.W;
  if (n_in == 0) return true;
  cudaStream_t s = as_stream(stream);
  int flag = 0;
  if (n_out > 0) {
    DeviceBuffer dflag(sizeof(int));
    NNC_CUDA_CHECK(cudaMemsetAsync(dflag.as<int>(), 0, sizeof(int), s));
    NNC_LAUNCH(max_check_kernel, blocks_for(n_out), kThreads, 0, s, sh, indices, dflag.as<int>());
    NNC_CUDA_CHECK(cudaMemcpyAsync(&flag, dflag.as<int>(), sizeof(int), cudaMemcpyDeviceToHost, s));
    NNC_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  if (flag & 1) return false;
  if (flag & 2) NNC_LAUNCH(max_backward_scatter_kernel<T>, blocks_for(sh.planes), kThreads, 0, s, sh, gy, indices, gx);
  else NNC_LAUNCH(max_backward_gather_kernel<T>, blocks_for(n_in), kThreads, 0, s, sh, gy, indices, gx);
  return true;
}

template <typename T>
void avg_pool2d_forward(const Pool2dShape& sh, AvgDivisor div, const T* x, T* y, void* stream) {
  int64_t n = sh.planes * sh.OH * sh.OW;
  if (n == 0) return;
  NNC_LAUNCH(avg_forward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, div, x, y);
}

template <typename T>
void avg_pool2d_backward(const Pool2dShape& sh, AvgDivisor div, const T* gy, T* gx, void* stream) {
  int64_t n = sh.planes * sh.H * sh.W;
  if (n == 0) return;
  NNC_LAUNCH(avg_backward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, div, gy, gx);
}

template <typename T>
void lp_pool2d_forward(const Pool2dShape& sh, double p, const T* x, T* y, void* stream) {
  int64_t n = sh.planes * sh.OH * sh.OW;
  if (n == 0) return;
  NNC_LAUNCH(lp_forward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, p, x, y);
}

template <typename T>
void lp_pool2d_backward(const Pool2dShape& sh, double p, const T* gy, const T* x, const T*, T* gx, void* stream) {
  int64_t n = sh.planes * sh.H * sh.W;
  if (n == 0) return;
  NNC_LAUNCH(lp_backward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, p, gy, x, gx);
}

template <typename T>
void adaptive_avg_pool2d_forward(const Pool2dShape& sh, const T* x, T* y, void* stream) {
  int64_t n = sh.planes * sh.OH * sh.OW;
  if (n == 0) return;
  NNC_LAUNCH(adaptive_forward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, x, y);
}

template <typename T>
void adaptive_avg_pool2d_backward(const Pool2dShape& sh, const T* gy, T* gx, void* stream) {
  int64_t n = sh.planes * sh.H * sh.W;
  if (n == 0) return;
  NNC_LAUNCH(adaptive_backward_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), sh, gy, gx);
}

#define NNC_POOL_CUDA_INSTANTIATE(T)                                                                         \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*, void*);                  \
  template bool max_pool2d_backward<T>(const Pool2dShape&, const T*, const int64_t*, T*, void*);           \
  template void avg_pool2d_forward<T>(const Pool2dShape&, AvgDivisor, const T*, T*, void*);                \
  template void avg_pool2d_backward<T>(const Pool2dShape&, AvgDivisor, const T*, T*, void*);               \
  template void lp_pool2d_forward<T>(const Pool2dShape&, double, const T*, T*, void*);                     \
  template void lp_pool2d_backward<T>(const Pool2dShape&, double, const T*, const T*, const T*, T*, void*); \
  template void adaptive_avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*, void*);                   \
  template void adaptive_avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*, void*);

NNC_POOL_CUDA_INSTANTIATE(float)
NNC_POOL_CUDA_INSTANTIATE(double)
#undef NNC_POOL_CUDA_INSTANTIATE

}  // namespace nnc::cuda
