// Per-output pooling in plain C++ (one window at a time, PyTorch's scan order),
// and the plane-parallel loop. The portable twin is built from these; the SIMD
// twins use them for the columns whose windows cross the padding.
// Internal linkage: this header is compiled under several ISA flags.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/pool_math.h"
#include "core/threading.h"
#include "cpu/pool2d.h"

namespace nnc::cpu {
namespace {

// Runs fn(plane) for every plane, statically split over the threads when the
// call is big enough to pay for them.
template <class Fn>
void for_each_plane(int64_t planes, int64_t work_per_plane, Fn&& fn) {
  int64_t nt = planes * work_per_plane >= (int64_t(1) << 15) ? num_threads() : 1;
  if (nt > planes) nt = planes;
  if (nt <= 1) {
    for (int64_t c = 0; c < planes; ++c) fn(c);
    return;
  }
#pragma omp parallel for num_threads(int(nt)) schedule(static)
  for (int64_t c = 0; c < planes; ++c) fn(c);
}

// Runs fn(begin, end) on each thread's static share of the planes (one
// call per thread), for kernels that finish each share with a fence.
template <class Fn>
void for_each_plane_range(int64_t planes, int64_t work_per_plane, Fn&& fn) {
  int64_t nt = planes * work_per_plane >= (int64_t(1) << 15) ? num_threads() : 1;
  if (nt > planes) nt = planes;
#ifdef _OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(int(nt))
    {
      int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
      fn(planes * t / n, planes * (t + 1) / n);
    }
    return;
  }
#endif
  fn(int64_t(0), planes);
}

// x is one (H, W) plane. Max over the window of output (oh, ow); *arg gets h * W + w.
template <typename T>
T max_one(const Pool2dShape& sh, const T* x, int64_t oh, int64_t ow, int64_t* arg) {
  MaxWindow wh = max_window(oh, sh.H, sh.kH, sh.sH, sh.pH, sh.dH);
  MaxWindow ww = max_window(ow, sh.W, sh.kW, sh.sW, sh.pW, sh.dW);
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_at = wh.start * sh.W + ww.start;
  for (int64_t ih = wh.start; ih < wh.end; ih += sh.dH)
    for (int64_t iw = ww.start; iw < ww.end; iw += sh.dW) {
      T v = x[ih * sh.W + iw];
      if (max_takes(v, best)) {
        best = v;
        best_at = ih * sh.W + iw;
      }
    }
  *arg = best_at;
  return best;
}

inline int64_t avg_divisor(AvgDivisor div, AvgWindow wh, AvgWindow ww) {
  if (div.divisor_override != 0) return div.divisor_override;
  if (div.count_include_pad) return wh.padded * ww.padded;
  return (wh.end - wh.start) * (ww.end - ww.start);
}

template <typename T>
T avg_one(const Pool2dShape& sh, AvgDivisor div, const T* x, int64_t oh, int64_t ow) {
  AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
  AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
  if (wh.start >= wh.end || ww.start >= ww.end) return T(0);
  T sum = 0;
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) sum += x[ih * sh.W + iw];
  return sum / T(avg_divisor(div, wh, ww));
}

// gx is one (H, W) plane: adds gy / divisor over the window of (oh, ow).
template <typename T>
void avg_one_backward(const Pool2dShape& sh, AvgDivisor div, T gy, T* gx, int64_t oh, int64_t ow) {
  AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
  AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
  if (wh.start >= wh.end || ww.start >= ww.end) return;
  T g = gy / T(avg_divisor(div, wh, ww));
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) gx[ih * sh.W + iw] += g;
}

template <typename T>
T lp_power(T v, double p) {
  if (p == 1) return v;
  if (p == 2) return v * v;
  return std::pow(v, T(p));
}

// PyTorch's lp_pool2d for a finite p: t = avg_pool(x^p) * kH*kW, then t^(1/p).
// The window has no padding but may be cut by ceil_mode, which PyTorch's
// avg_pool divisor (the cut window) then scales up.
template <typename T>
T lp_window_t(const Pool2dShape& sh, double p, const T* x, int64_t oh, int64_t ow, T* scale) {
  AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, 0);
  AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, 0);
  T sum = 0;
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) sum += lp_power(x[ih * sh.W + iw], p);
  T divisor = T(wh.padded * ww.padded);
  *scale = T(sh.kH * sh.kW) / divisor;
  return sum / divisor * T(sh.kH * sh.kW);
}

template <typename T>
T lp_root(T t, double p) {
  if (p == 1) return t;
  if (p == 2) return std::sqrt(t);
  return std::pow(t, T(1.0 / p));
}

// Window max of |x| (sign = +1) or of -|x| (sign = -1), PyTorch's scan rules.
template <typename T>
T abs_max_one(const Pool2dShape& sh, const T* x, int64_t oh, int64_t ow, T sign, int64_t* arg) {
  MaxWindow wh = max_window(oh, sh.H, sh.kH, sh.sH, 0, 1);
  MaxWindow ww = max_window(ow, sh.W, sh.kW, sh.sW, 0, 1);
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_at = wh.start * sh.W + ww.start;
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) {
      T v = sign * std::abs(x[ih * sh.W + iw]);
      if (max_takes(v, best)) {
        best = v;
        best_at = ih * sh.W + iw;
      }
    }
  *arg = best_at;
  return best;
}

template <typename T>
T lp_one(const Pool2dShape& sh, double p, const T* x, int64_t oh, int64_t ow) {
  int64_t arg;
  if (std::isinf(p)) return p > 0 ? abs_max_one(sh, x, oh, ow, T(1), &arg) : -abs_max_one(sh, x, oh, ow, T(-1), &arg);
  T scale;
  return lp_root(lp_window_t(sh, p, x, oh, ow, &scale), p);
}

template <typename T>
T sign_of(T v) {
  return v > 0 ? T(1) : (v < 0 ? T(-1) : T(0));
}

// Backward of lp_one through PyTorch's chain of pow, mask of t == 0, mul,
// avg_pool and pow; for p = +-inf the gradient goes to the chosen element.
template <typename T>
void lp_one_backward(const Pool2dShape& sh, double p, T gy, const T* x, T* gx, int64_t oh, int64_t ow) {
  if (std::isinf(p)) {
    int64_t arg;
    abs_max_one(sh, x, oh, ow, T(p > 0 ? 1 : -1), &arg);
    gx[arg] += gy * sign_of(x[arg]);
    return;
  }
  T scale;
  T t = lp_window_t(sh, p, x, oh, ow, &scale);
  if (t == T(0)) return;
  T c = gy * T(1.0 / p) * std::pow(t, T(1.0 / p - 1.0)) * scale * T(p);
  AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, 0);
  AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, 0);
  for (int64_t ih = wh.start; ih < wh.end; ++ih)
    for (int64_t iw = ww.start; iw < ww.end; ++iw) {
      T v = x[ih * sh.W + iw];
      gx[ih * sh.W + iw] += c * (p == 1 ? T(1) : p == 2 ? v : std::pow(v, T(p - 1)));
    }
}

}  // namespace
}  // namespace nnc::cpu
