// Resampling arithmetic of interpolate (bilinear, bicubic) along one axis,
// PyTorch's rules, shared by the CPU twin and the CUDA kernels so both compute
// the same bits. Output position o reads inputs clamp(base + k, 0, in - 1),
// k < taps (2 or 4), with weights w[k]; the backward gathers, for input i, the
// outputs whose taps hold it, in increasing o.
// Internal linkage: included by translation units built with different flags.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace nnc {
namespace {

struct InterpAxis {
  int64_t in, out;
  bool cubic, align_corners;
  double scale_factor;  // the caller's scale factor along this axis; <= 0: none (use in / out)
};

NNC_HD int interp_taps(const InterpAxis& a) { return a.cubic ? 4 : 2; }

// PyTorch's area_pixel_compute_scale: input step per output step.
template <typename T>
NNC_HD T interp_scale(const InterpAxis& a) {
  if (a.align_corners) return a.out > 1 ? T(a.in - 1) / T(a.out - 1) : T(0);
  return a.scale_factor > 0 ? T(1.0 / a.scale_factor) : T(a.in) / T(a.out);
}

NNC_HD int64_t interp_clamp(int64_t i, int64_t in) { return i < 0 ? 0 : (i >= in ? in - 1 : i); }

// PyTorch's cubic convolution coefficients (A = -0.75) for fraction t.
template <typename T>
NNC_HD void cubic_coefficients(T t, T w[4]) {
  const T A = T(-0.75);
  T x1 = t + T(1), x2 = T(1) - t, x3 = x2 + T(1);
  w[0] = ((A * x1 - T(5) * A) * x1 + T(8) * A) * x1 - T(4) * A;
  w[1] = ((A + T(2)) * t - (A + T(3))) * t * t + T(1);
  w[2] = ((A + T(2)) * x2 - (A + T(3))) * x2 * x2 + T(1);
  w[3] = ((A * x3 - T(5) * A) * x3 + T(8) * A) * x3 - T(4) * A;
}

// Taps of output o: returns base (tap k reads clamp(base + k)); w gets the weights.
template <typename T>
NNC_HD int64_t interp_source(const InterpAxis& a, T scale, int64_t o, T w[4]) {
  if (!a.cubic && a.in == a.out) {  // PyTorch copies (whatever the scale factor)
    w[0] = T(1), w[1] = T(0);
    return o;
  }
  T src = a.align_corners ? scale * T(o) : scale * (T(o) + T(0.5)) - T(0.5);
  if (!a.cubic && src < T(0)) src = T(0);
  int64_t i = static_cast<int64_t>(floor(src));
  if (i > a.in - 1) i = a.in - 1;
  T t = src - T(i);
  t = t < T(0) ? T(0) : (t > T(1) ? T(1) : t);
  if (!a.cubic) {
    w[0] = T(1) - t, w[1] = t;
    return i;
  }
  cubic_coefficients<T>(t, w);
  return i - 1;
}

// The weight input i gets from output o: the sum of w[k] over the taps that
// read it, in increasing k.
template <typename T>
NNC_HD T interp_weight_of(const InterpAxis& a, T scale, int64_t o, int64_t i) {
  T w[4];
  int64_t base = interp_source<T>(a, scale, o, w);
  T sum = T(0);
  for (int k = 0; k < interp_taps(a); ++k)
    if (interp_clamp(base + k, a.in) == i) sum += w[k];
  return sum;
}

// The outputs [lo, hi) whose taps may read input i (taps move monotonically
// with o, so two binary searches find them).
template <typename T>
NNC_HD void interp_outputs_of(const InterpAxis& a, T scale, int64_t i, int64_t* lo, int64_t* hi) {
  T w[4];
  const int taps = interp_taps(a);
  int64_t l = 0, h = a.out;  // first o whose last tap >= i
  while (l < h) {
    int64_t m = l + (h - l) / 2;
    if (interp_clamp(interp_source<T>(a, scale, m, w) + taps - 1, a.in) >= i) h = m;
    else l = m + 1;
  }
  *lo = l;
  h = a.out;  // first o whose first tap > i
  while (l < h) {
    int64_t m = l + (h - l) / 2;
    if (interp_clamp(interp_source<T>(a, scale, m, w), a.in) > i) h = m;
    else l = m + 1;
  }
  *hi = l;
}

}  // namespace
}  // namespace nnc
