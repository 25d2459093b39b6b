// Portable 2-D pooling (the oracle twin, float and double): max, average, Lp,
// adaptive average, forward and backward, one window at a time; and the
// dispatchers that send float32 to the AVX2 or AVX-512 twin.
#include "cpu/pool2d.h"

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "core/isa.h"
#include "cpu/pool2d_ref.h"

namespace nnc::cpu {

// x is (planes, H, W), y and indices are (planes, OH, OW)
template <typename T>
void max_pool2d_forward_scalar(const Pool2dShape& sh, const T* x, T* y, int64_t* indices) {
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW, [&](int64_t c) {
    const T* xp = x + c * sh.H * sh.W;
    for (int64_t oh = 0; oh < sh.OH; ++oh)
      for (int64_t ow = 0; ow < sh.OW; ++ow) {
        int64_t o = (c * sh.OH + oh) * sh.OW + ow, arg;
        y[o] = max_one(sh, xp, oh, ow, &arg);
        if (indices) indices[o] = arg;
      }
  });
}

// Backward of max: a scatter per plane, in output order, so overlapping
// windows add up deterministically. The plane stays in cache between the
// zeroing and the scatter.
template <typename T>
bool max_pool2d_backward_scalar(const Pool2dShape& sh, const T* gy, const int64_t* indices, T* gx) {
  const int64_t plane = sh.H * sh.W, out_plane = sh.OH * sh.OW;
  std::atomic<bool> in_range{true};
  for_each_plane(sh.planes, plane + out_plane, [&](int64_t c) {
    T* g = gx + c * plane;
    std::fill(g, g + plane, T(0));
    const T* gyp = gy + c * out_plane;
    const int64_t* ip = indices + c * out_plane;
    bool ok = true;
    for (int64_t o = 0; o < out_plane; ++o) {
      int64_t at = ip[o];
      if (at < 0 || at >= plane) {
        ok = false;
        continue;
      }
      g[at] += gyp[o];
    }
    if (!ok) in_range.store(false, std::memory_order_relaxed);
  });
  return in_range.load();
}

template <typename T>
void avg_pool2d_forward_scalar(const Pool2dShape& sh, AvgDivisor div, const T* x, T* y) {
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW, [&](int64_t c) {
    const T* xp = x + c * sh.H * sh.W;
    T* yp = y + c * sh.OH * sh.OW;
    for (int64_t oh = 0; oh < sh.OH; ++oh)
      for (int64_t ow = 0; ow < sh.OW; ++ow) yp[oh * sh.OW + ow] = avg_one(sh, div, xp, oh, ow);
  });
}

template <typename T>
void avg_pool2d_backward_scalar(const Pool2dShape& sh, AvgDivisor div, const T* gy, T* gx) {
  for_each_plane(sh.planes, sh.H * sh.W + sh.OH * sh.OW * sh.kH * sh.kW, [&](int64_t c) {
    T* g = gx + c * sh.H * sh.W;
    std::fill(g, g + sh.H * sh.W, T(0));
    const T* gyp = gy + c * sh.OH * sh.OW;
    for (int64_t oh = 0; oh < sh.OH; ++oh)
      for (int64_t ow = 0; ow < sh.OW; ++ow) avg_one_backward(sh, div, gyp[oh * sh.OW + ow], g, oh, ow);
  });
}

template <typename T>
void lp_pool2d_forward_scalar(const Pool2dShape& sh, double p, const T* x, T* y) {
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW, [&](int64_t c) {
    const T* xp = x + c * sh.H * sh.W;
    T* yp = y + c * sh.OH * sh.OW;
    for (int64_t oh = 0; oh < sh.OH; ++oh)
      for (int64_t ow = 0; ow < sh.OW; ++ow) yp[oh * sh.OW + ow] = lp_one(sh, p, xp, oh, ow);
  });
}

// y is unused here: the oracle recomputes each window the way PyTorch's chain does.
template <typename T>
void lp_pool2d_backward_scalar(const Pool2dShape& sh, double p, const T* gy, const T* x, const T*, T* gx) {
  for_each_plane(sh.planes, sh.H * sh.W + sh.OH * sh.OW * sh.kH * sh.kW, [&](int64_t c) {
    const T* xp = x + c * sh.H * sh.W;
    T* g = gx + c * sh.H * sh.W;
    std::fill(g, g + sh.H * sh.W, T(0));
    const T* gyp = gy + c * sh.OH * sh.OW;
    for (int64_t oh = 0; oh < sh.OH; ++oh)
      for (int64_t ow = 0; ow < sh.OW; ++ow) lp_one_backward(sh, p, gyp[oh * sh.OW + ow], xp, g, oh, ow);
  });
}

template <typename T>
void adaptive_avg_pool2d_forward(const Pool2dShape& sh, const T* x, T* y) {
  for_each_plane(sh.planes, sh.H * sh.W + sh.OH * sh.OW, [&](int64_t c) {
    const T* xp = x + c * sh.H * sh.W;
    T* yp = y + c * sh.OH * sh.OW;
    for (int64_t oh = 0; oh < sh.OH; ++oh) {
      int64_t h0 = adaptive_start(oh, sh.H, sh.OH), h1 = adaptive_end(oh, sh.H, sh.OH);
      for (int64_t ow = 0; ow < sh.OW; ++ow) {
        int64_t w0 = adaptive_start(ow, sh.W, sh.OW), w1 = adaptive_end(ow, sh.W, sh.OW);
        T sum = 0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * sh.W + iw];
        yp[oh * sh.OW + ow] = sum / T((h1 - h0) * (w1 - w0));
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_backward(const Pool2dShape& sh, const T* gy, T* gx) {
  for_each_plane(sh.planes, sh.H * sh.W + sh.OH * sh.OW, [&](int64_t c) {
    T* g = gx + c * sh.H * sh.W;
    std::fill(g, g + sh.H * sh.W, T(0));
    const T* gyp = gy + c * sh.OH * sh.OW;
    for (int64_t oh = 0; oh < sh.OH; ++oh) {
      int64_t h0 = adaptive_start(oh, sh.H, sh.OH), h1 = adaptive_end(oh, sh.H, sh.OH);
      for (int64_t ow = 0; ow < sh.OW; ++ow) {
        int64_t w0 = adaptive_start(ow, sh.W, sh.OW), w1 = adaptive_end(ow, sh.W, sh.OW);
        T share = gyp[oh * sh.OW + ow] / T((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) g[ih * sh.W + iw] += share;
      }
    }
  });
}

// ---- dispatch: float to the best SIMD twin allowed, double to the portable one

#define NNC_POOL_DISPATCH(name, ...)                                        \
  if constexpr (std::is_same_v<T, float>) {                                 \
    switch (active_isa()) {                                                 \
      NNC_POOL_CASE_AVX512(name, __VA_ARGS__)                               \
      NNC_POOL_CASE_AVX2(name, __VA_ARGS__)                                 \
      default:                                                              \
        break;                                                              \
    }                                                                       \
  }                                                                         \
  return name##_scalar<T>(__VA_ARGS__);

#ifdef NNCORE_HAVE_AVX512
#define NNC_POOL_CASE_AVX512(name, ...) \
  case Isa::avx512:                     \
    return name##_avx512(__VA_ARGS__);
#else
#define NNC_POOL_CASE_AVX512(name, ...)
#endif
#ifdef NNCORE_HAVE_AVX2
#define NNC_POOL_CASE_AVX2(name, ...) \
  case Isa::avx2:                     \
    return name##_avx2(__VA_ARGS__);
#else
#define NNC_POOL_CASE_AVX2(name, ...)
#endif

template <typename T>
void max_pool2d_forward(const Pool2dShape& sh, const T* x, T* y, int64_t* indices) {
  NNC_POOL_DISPATCH(max_pool2d_forward, sh, x, y, indices)
}

template <typename T>
bool max_pool2d_backward(const Pool2dShape& sh, const T* gy, const int64_t* indices, T* gx) {
  NNC_POOL_DISPATCH(max_pool2d_backward, sh, gy, indices, gx)
}

template <typename T>
void avg_pool2d_forward(const Pool2dShape& sh, AvgDivisor div, const T* x, T* y) {
  NNC_POOL_DISPATCH(avg_pool2d_forward, sh, div, x, y)
}

template <typename T>
void avg_pool2d_backward(const Pool2dShape& sh, AvgDivisor div, const T* gy, T* gx) {
  NNC_POOL_DISPATCH(avg_pool2d_backward, sh, div, gy, gx)
}

// The SIMD twins cover p = 1 and p = 2, the common norms; others stay portable.
template <typename T>
void lp_pool2d_forward(const Pool2dShape& sh, double p, const T* x, T* y) {
  if (p != 1 && p != 2) return lp_pool2d_forward_scalar<T>(sh, p, x, y);
  NNC_POOL_DISPATCH(lp_pool2d_forward, sh, p, x, y)
}

template <typename T>
void lp_pool2d_backward(const Pool2dShape& sh, double p, const T* gy, const T* x, const T* y, T* gx) {
  if (p != 1 && p != 2) return lp_pool2d_backward_scalar<T>(sh, p, gy, x, y, gx);
  NNC_POOL_DISPATCH(lp_pool2d_backward, sh, p, gy, x, y, gx)
}

#undef NNC_POOL_DISPATCH
#undef NNC_POOL_CASE_AVX512
#undef NNC_POOL_CASE_AVX2

#define NNC_POOL_INSTANTIATE(T)                                                                                   \
  template void max_pool2d_forward_scalar<T>(const Pool2dShape&, const T*, T*, int64_t*);                       \
  template bool max_pool2d_backward_scalar<T>(const Pool2dShape&, const T*, const int64_t*, T*);                \
  template void avg_pool2d_forward_scalar<T>(const Pool2dShape&, AvgDivisor, const T*, T*);                     \
  template void avg_pool2d_backward_scalar<T>(const Pool2dShape&, AvgDivisor, const T*, T*);                    \
  template void lp_pool2d_forward_scalar<T>(const Pool2dShape&, double, const T*, T*);                          \
  template void lp_pool2d_backward_scalar<T>(const Pool2dShape&, double, const T*, const T*, const T*, T*);     \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*);                              \
  template bool max_pool2d_backward<T>(const Pool2dShape&, const T*, const int64_t*, T*);                       \
  template void avg_pool2d_forward<T>(const Pool2dShape&, AvgDivisor, const T*, T*);                            \
  template void avg_pool2d_backward<T>(const Pool2dShape&, AvgDivisor, const T*, T*);                           \
  template void lp_pool2d_forward<T>(const Pool2dShape&, double, const T*, T*);                                 \
  template void lp_pool2d_backward<T>(const Pool2dShape&, double, const T*, const T*, const T*, T*);            \
  template void adaptive_avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);                               \
  template void adaptive_avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);

NNC_POOL_INSTANTIATE(float)
NNC_POOL_INSTANTIATE(double)
#undef NNC_POOL_INSTANTIATE

}  // namespace nnc::cpu
