// Portable bilinear / bicubic resizing (the oracle twin, float and double).
// Per axis, the taps of every output (forward) and the outputs of every input
// with their merged weights (backward) are tabulated once per call; planes run
// in parallel. The sums run in the order the CUDA kernels use, so both twins
// give the same bits.
#include "cpu/interpolate.h"

#include <vector>

#include "core/interp_math.h"
#include "cpu/pool2d_ref.h"  // for_each_plane

namespace nnc::cpu {
namespace {

InterpAxis axis_h(const Interp2dShape& s) { return InterpAxis{s.H, s.OH, s.cubic, s.align_corners, s.scale_h}; }
InterpAxis axis_w(const Interp2dShape& s) { return InterpAxis{s.W, s.OW, s.cubic, s.align_corners, s.scale_w}; }

// Forward taps of every output along one axis: base index and weights.
template <typename T>
struct Taps {
  std::vector<int64_t> base;
  std::vector<T> w;  // 4 per output
  explicit Taps(const InterpAxis& a) : base(a.out), w(4 * a.out) {
    T scale = interp_scale<T>(a);
    for (int64_t o = 0; o < a.out; ++o) base[o] = interp_source<T>(a, scale, o, &w[4 * o]);
  }
};

// Backward: for every input along one axis, the outputs [lo, hi) that may read
// it and the weight each gives (0 for the ones that do not).
template <typename T>
struct Gather {
  std::vector<int64_t> lo, hi, start;
  std::vector<T> w;
  explicit Gather(const InterpAxis& a) : lo(a.in), hi(a.in), start(a.in + 1) {
    T scale = interp_scale<T>(a);
    start[0] = 0;
    for (int64_t i = 0; i < a.in; ++i) {
      interp_outputs_of<T>(a, scale, i, &lo[i], &hi[i]);
      start[i + 1] = start[i] + (hi[i] - lo[i]);
    }
    w.resize(start[a.in]);
    for (int64_t i = 0; i < a.in; ++i)
      for (int64_t o = lo[i]; o < hi[i]; ++o) w[start[i] + o - lo[i]] = interp_weight_of<T>(a, scale, o, i);
  }
};

}  // namespace

template <typename T>
void interpolate2d_forward(const Interp2dShape& s, const T* x, T* y) {
  const InterpAxis ah = axis_h(s), aw = axis_w(s);
  const Taps<T> th(ah), tw(aw);
  const int taps = interp_taps(ah);
  for_each_plane(s.planes, s.OH * s.OW * taps * taps, [&](int64_t c) {
    const T* xp = x + c * s.H * s.W;
    T* yp = y + c * s.OH * s.OW;
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        T sum = T(0);
        for (int j = 0; j < taps; ++j) {
          const T* row = xp + interp_clamp(th.base[oh] + j, s.H) * s.W;
          T part = T(0);
          for (int k = 0; k < taps; ++k) part += tw.w[4 * ow + k] * row[interp_clamp(tw.base[ow] + k, s.W)];
          sum += th.w[4 * oh + j] * part;
        }
        yp[oh * s.OW + ow] = sum;
      }
  });
}

template <typename T>
void interpolate2d_backward(const Interp2dShape& s, const T* gy, T* gx) {
  const InterpAxis ah = axis_h(s), aw = axis_w(s);
  const Gather<T> gh(ah), gw(aw);
  for_each_plane(s.planes, s.OH * s.OW * 4, [&](int64_t c) {
    const T* gp = gy + c * s.OH * s.OW;
    T* xp = gx + c * s.H * s.W;
    for (int64_t ih = 0; ih < s.H; ++ih)
      for (int64_t iw = 0; iw < s.W; ++iw) {
        T sum = T(0);
        for (int64_t oh = gh.lo[ih]; oh < gh.hi[ih]; ++oh) {
          T wh = gh.w[gh.start[ih] + oh - gh.lo[ih]];
          T part = T(0);
          for (int64_t ow = gw.lo[iw]; ow < gw.hi[iw]; ++ow)
            part += gw.w[gw.start[iw] + ow - gw.lo[iw]] * gp[oh * s.OW + ow];
          sum += wh * part;
        }
        xp[ih * s.W + iw] = sum;
      }
  });
}

template void interpolate2d_forward<float>(const Interp2dShape&, const float*, float*);
template void interpolate2d_forward<double>(const Interp2dShape&, const double*, double*);
template void interpolate2d_backward<float>(const Interp2dShape&, const float*, float*);
template void interpolate2d_backward<double>(const Interp2dShape&, const double*, double*);

}  // namespace nnc::cpu
