// Area and IoU of axis-aligned boxes (x1, y1, x2, y2), no +1: the per-pair math
// shared by the portable CPU twin and the CUDA kernels. Products are rounded on
// their own (never fused into an FMA), so every twin, and a float64 NumPy
// reference, computes the same bits.
#pragma once
#include "core/hd.h"

namespace nnc {

// a * b rounded to T, kept out of any fused multiply-add the compiler could form.
template <typename T>
NNC_HD T rounded_product(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 8) return __dmul_rn(a, b);
  else return __fmul_rn(a, b);
#else
  T p = a * b;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(p));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(p));
#endif
  return p;
#endif
}

template <typename T>
NNC_HD T box_area(T x1, T y1, T x2, T y2) {
  return rounded_product<T>(x2 - x1, y2 - y1);
}

// Intersection area of boxes a and b: 0 when they do not overlap.
template <typename T>
NNC_HD T box_intersection(T ax1, T ay1, T ax2, T ay2, T bx1, T by1, T bx2, T by2) {
  T w = (ax2 < bx2 ? ax2 : bx2) - (ax1 > bx1 ? ax1 : bx1);
  T h = (ay2 < by2 ? ay2 : by2) - (ay1 > by1 ? ay1 : by1);
  w = w > T(0) ? w : T(0);
  h = h > T(0) ? h : T(0);
  return rounded_product<T>(w, h);
}

// IoU = inter / ((area_a + area_b) - inter), with the areas precomputed by
// box_area. Two boxes of zero area have IoU 0 (torchvision's 0 / 0 gives NaN).
template <typename T>
NNC_HD T box_iou(T ax1, T ay1, T ax2, T ay2, T area_a, T bx1, T by1, T bx2, T by2, T area_b) {
  T inter = box_intersection<T>(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2);
  T uni = (area_a + area_b) - inter;
  return uni > T(0) ? inter / uni : T(0);
}

// A row is a valid box when its coordinates are finite and x1 <= x2, y1 <= y2;
// with area_fits (box_iou, which computes in T), twice its area must be finite
// in T too, so a union area1 + area2 - inter cannot overflow. (NMS computes
// its IoU in float64 with its own guards and takes any finite box.)
template <typename T>
NNC_HD bool box_is_valid(T x1, T y1, T x2, T y2, bool area_fits = false) {
  // x - x is 0 for finite x and NaN for inf or NaN; NaN fails every comparison
  T finite = (x1 - x1) + (y1 - y1) + (x2 - x2) + (y2 - y2);
  if (area_fits) {
    T twice_area = box_area<T>(x1, y1, x2, y2) * T(2);
    finite += twice_area - twice_area;
  }
  return finite == T(0) && x1 <= x2 && y1 <= y2;
}

}  // namespace nnc
