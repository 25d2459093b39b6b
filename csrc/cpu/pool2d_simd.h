// Pooling loops written once over a SIMD vector type V (AVX2: 8 lanes,
// AVX-512: 16): each vector holds V::L neighbouring outputs of one row;
// stride-2 windows load 2L floats and keep the even ones. Where windows cross
// a row end, masked loads stand -inf (max) or 0 (sums) in for the padding.
// Included by pool2d_avx2.cpp and pool2d_avx512.cpp after they define V.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/pool2d_ref.h"

namespace nnc::cpu {
namespace {

enum class Stride { one, two, any };

inline int64_t ceil_div_nonneg(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Output columns [begin, end) whose windows lie wholly inside [0, W).
struct Interior {
  int64_t begin, end;
};
inline Interior interior_columns(const Pool2dShape& sh) {
  int64_t begin = std::min(ceil_div_nonneg(sh.pW, sh.sW), sh.OW);
  int64_t last_start = sh.W - 1 + sh.pW - (sh.kW - 1) * sh.dW;
  int64_t end = last_start >= 0 ? std::min(last_start / sh.sW + 1, sh.OW) : 0;
  return {begin, std::max(begin, end)};
}

// p[j * s] for the first n lanes (j < n); other lanes 0. offsets = j * s.
template <class V, Stride S>
typename V::F load_lanes(const float* p, int n, typename V::I offsets) {
  if constexpr (S == Stride::one) return V::loadu(p, V::mask(n));
  else if constexpr (S == Stride::two) return V::evens(p, n);
  else return V::gather(p, offsets, V::mask(n));
}

template <Stride S>
bool stride_matches(int64_t s) {
  return S == Stride::one ? s == 1 : S == Stride::two ? s == 2 : true;
}

// Scratch per thread, kept between calls (no page faults once warm).
inline float* thread_scratch(size_t count) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// As load_lanes, but reads only the positions p[i] with lo <= i < hi (the
// rest of the row lies beyond the left or right end); lanes outside get fill.
template <class V, Stride S>
typename V::F load_lanes_clipped(const float* p, int n, typename V::I offsets, int64_t lo, int64_t hi,
                                 typename V::F fill) {
  auto bits = [](int64_t from, int64_t to) {  // bits from..to-1 of a lane mask
    from = std::max<int64_t>(from, 0);
    to = std::min<int64_t>(to, V::L);
    return to <= from ? 0u : uint32_t(((uint64_t(1) << to) - 1) & ~((uint64_t(1) << from) - 1));
  };
  if constexpr (S == Stride::one) {
    return V::loadu_fill(p, V::mask_from_bits(bits(lo, std::min<int64_t>(n, hi))), fill);
  } else if constexpr (S == Stride::two) {
    int64_t end = std::min<int64_t>(2 * n - 1, hi);
    return V::evens_of(V::loadu_fill(p, V::mask_from_bits(bits(lo, end)), fill),
                       V::loadu_fill(p + V::L, V::mask_from_bits(bits(lo - V::L, end - V::L)), fill));
  } else {
    int64_t s = V::lane_stride(offsets);
    uint32_t m = 0;
    for (int j = 0; j < n; ++j)
      if (j * s >= lo && j * s < hi) m |= 1u << j;
    return V::gather_fill(p, offsets, V::mask_from_bits(m), fill);
  }
}

// ---- max ----------------------------------------------------------------

// x is one (H, W) plane; y and idx (may be null) one (OH, OW) plane.
template <class V, Stride S, bool WithIndices>
void max_plane(const Pool2dShape& sh, const float* x, float* y, int64_t* idx) {
  using F = typename V::F;
  using I = typename V::I;
  const Interior in = interior_columns(sh);
  const I lane_offsets = V::iota_times(int32_t(sh.sW));
  const F neg_inf = V::set1(-std::numeric_limits<float>::infinity());
  for (int64_t oh = 0; oh < sh.OH; ++oh) {
    MaxWindow wh = max_window(oh, sh.H, sh.kH, sh.sH, sh.pH, sh.dH);
    for (int64_t ow0 = 0; ow0 < sh.OW; ow0 += V::L) {
      int n = int(std::min<int64_t>(V::L, sh.OW - ow0));
      int64_t col0 = ow0 * sh.sW - sh.pW;  // first input column of lane 0's window
      F best = neg_inf;
      I best_at;
      const bool edge = ow0 < in.begin || ow0 + n > in.end;
      if (!edge) {
        best_at = V::iadd(V::iset1(int32_t(wh.start * sh.W + col0)), lane_offsets);
      } else {
        // PyTorch's first position: the window's first column at or past 0
        alignas(64) int32_t first[V::L] = {};
        for (int j = 0; j < n; ++j)
          first[j] = int32_t(wh.start * sh.W + max_window(ow0 + j, sh.W, sh.kW, sh.sW, sh.pW, sh.dW).start);
        best_at = V::iload(first);
      }
      for (int64_t ih = wh.start; ih < wh.end; ih += sh.dH) {
        const float* row = x + ih * sh.W + col0;
        for (int64_t kw = 0; kw < sh.kW; ++kw) {
          int64_t at0 = col0 + kw * sh.dW;  // input column of lane 0's tap
          F v = edge ? load_lanes_clipped<V, S>(row + kw * sh.dW, n, lane_offsets, -at0, sh.W - at0, neg_inf)
                     : load_lanes<V, S>(row + kw * sh.dW, n, lane_offsets);
          if constexpr (WithIndices) {
            I at = V::iadd(V::iset1(int32_t(ih * sh.W + col0 + kw * sh.dW)), lane_offsets);
            V::take(best, best_at, v, at);
          } else {
            best = V::max_nan(best, v);
          }
        }
      }
      V::storeu(y + oh * sh.OW + ow0, best, V::mask(n));
      if constexpr (WithIndices) V::store_indices(idx + oh * sh.OW + ow0, best_at, n);
    }
  }
}

template <class V, Stride S>
bool max_forward_as(const Pool2dShape& sh, const float* x, float* y, int64_t* indices) {
  if (!stride_matches<S>(sh.sW)) return false;
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW / 4, [&](int64_t c) {
    const float* xp = x + c * sh.H * sh.W;
    float* yp = y + c * sh.OH * sh.OW;
    if (indices) max_plane<V, S, true>(sh, xp, yp, indices + c * sh.OH * sh.OW);
    else max_plane<V, S, false>(sh, xp, yp, nullptr);
  });
  return true;
}

template <class V>
void max_forward(const Pool2dShape& sh, const float* x, float* y, int64_t* indices) {
  // lanes carry h * W + w as int32
  if (sh.H * sh.W >= (int64_t(1) << 31)) return max_pool2d_forward_scalar<float>(sh, x, y, indices);
  if (max_forward_as<V, Stride::one>(sh, x, y, indices)) return;
  if (max_forward_as<V, Stride::two>(sh, x, y, indices)) return;
  max_forward_as<V, Stride::any>(sh, x, y, indices);
}

// ---- window sums: avg (Power 0), lp with p = 1 (Power 1), p = 2 (Power 2) ----

template <class V, int Power>
typename V::F lp_term(typename V::F v) {
  if constexpr (Power == 2) return V::mul(v, v);
  else return v;
}

// x is one (H, W) plane, y one (OH, OW) plane. lp: no padding, divisor = the
// (ceil_mode-cut) window size, y = (sum / divisor * kH*kW)^(1/p).
template <class V, Stride S, int Power>
void sum_plane(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  using F = typename V::F;
  const Interior in = interior_columns(sh);
  const typename V::I lane_offsets = V::iota_times(int32_t(sh.sW));
  const F vkk = V::set1(float(sh.kH * sh.kW));
  for (int64_t oh = 0; oh < sh.OH; ++oh) {
    AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
    auto divisor_of = [&](int64_t ow) {
      AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
      return float(Power == 0 ? avg_divisor(div, wh, ww) : wh.padded * ww.padded);
    };
    const F interior_divisor = V::set1(Power == 0 ? avg_divisor(div, wh, AvgWindow{0, sh.kW, sh.kW})
                                                  : float(wh.padded * sh.kW));
    for (int64_t ow0 = 0; ow0 < sh.OW; ow0 += V::L) {
      int n = int(std::min<int64_t>(V::L, sh.OW - ow0));
      int64_t col0 = ow0 * sh.sW - sh.pW;
      F divisor = interior_divisor;
      const bool edge = ow0 < in.begin || ow0 + n > in.end;
      if (edge) {
        alignas(64) float each[V::L];
        for (int j = 0; j < V::L; ++j) each[j] = j < n ? divisor_of(ow0 + j) : 1.f;
        divisor = V::loadu(each, V::mask(V::L));
      }
      F sum = V::zero();
      for (int64_t ih = wh.start; ih < wh.end; ++ih) {
        const float* row = x + ih * sh.W + col0;
        for (int64_t kw = 0; kw < sh.kW; ++kw) {
          F v = edge ? load_lanes_clipped<V, S>(row + kw, n, lane_offsets, -(col0 + kw), sh.W - (col0 + kw), V::zero())
                     : load_lanes<V, S>(row + kw, n, lane_offsets);
          sum = V::add(sum, lp_term<V, Power>(v));
        }
      }
      F out;
      if (wh.start >= wh.end) out = V::zero();
      else if constexpr (Power == 0) out = V::div(sum, divisor);
      else if constexpr (Power == 1) out = V::mul(V::div(sum, divisor), vkk);
      else out = V::sqrt(V::mul(V::div(sum, divisor), vkk));
      V::storeu(y + oh * sh.OW + ow0, out, V::mask(n));
    }
  }
}

// Backward of the window sums, gathered: each input element sums the shares
// of the windows that hold it, so gx is written once, row by row.
// coef is (OH, row) scratch: coef[oh][lead + ow] = d loss / d (window sum of
// output (oh, ow)), zero outside [lead, lead + OW). For lp, gx = x * that sum (p = 2).
template <class V, int Power>
void fill_coefficients(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* y, float* coef,
                       int64_t lead, int64_t row) {
  using F = typename V::F;
  const Interior in = interior_columns(sh);
  std::fill(coef, coef + sh.OH * row, 0.f);
  for (int64_t oh = 0; oh < sh.OH; ++oh) {
    const float* gyr = gy + oh * sh.OW;
    const float* yr = Power ? y + oh * sh.OW : nullptr;
    float* cr = coef + oh * row + lead;
    AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
    if (wh.start >= wh.end) continue;
    auto one = [&](int64_t ow) {
      AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
      if (ww.start >= ww.end) return;
      if constexpr (Power == 0) {
        cr[ow] = gyr[ow] / float(avg_divisor(div, wh, ww));
      } else {
        // PyTorch's chain: d y / d t is masked where t == 0, then * kH*kW / divisor
        float scale = float(sh.kH * sh.kW) / float(wh.padded * ww.padded);
        float c = Power == 1 ? gyr[ow] * scale : gyr[ow] * scale / yr[ow];
        cr[ow] = yr[ow] == 0.f ? 0.f : c;
      }
    };
    for (int64_t ow = 0; ow < in.begin; ++ow) one(ow);
    AvgWindow ww{0, sh.kW, sh.kW};
    const float divisor = float(Power == 0 ? avg_divisor(div, wh, ww) : wh.padded * sh.kW);
    const F vdiv = V::set1(divisor), vscale = V::set1(float(sh.kH * sh.kW) / divisor);
    for (int64_t ow0 = in.begin; ow0 < in.end; ow0 += V::L) {
      typename V::M m = V::mask(int(std::min<int64_t>(V::L, in.end - ow0)));
      F g = V::loadu(gyr + ow0, m), c;
      if constexpr (Power == 0) {
        c = V::div(g, vdiv);
      } else {
        F yv = V::loadu(yr + ow0, m);
        c = V::zero_where_zero(yv, Power == 1 ? V::mul(g, vscale) : V::div(V::mul(g, vscale), yv));
      }
      V::storeu(cr + ow0, c, m);
    }
    for (int64_t ow = in.end; ow < sh.OW; ++ow) one(ow);
  }
}

// Scratch for the coefficients, one per thread, kept between calls.
inline float* coefficient_scratch(size_t count) { return thread_scratch(count); }

// gy is one (OH, OW) plane; x, y (lp only) and gx one (H, W) plane. Stride
// along W is 1 or 2 (S), dilation 1.
template <class V, Stride S, int Power>
void sum_plane_backward(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* x, const float* y,
                        float* gx) {
  using F = typename V::F;
  constexpr int64_t s = S == Stride::two ? 2 : 1;
  constexpr int64_t span = s * V::L;  // input columns per step
  const int64_t lead = sh.kW + 1;
  const int64_t row = lead + std::max(sh.OW, (sh.W + sh.pW + 1) / s + 1) + V::L + 1;
  float* coef = coefficient_scratch(size_t(sh.OH * row));
  fill_coefficients<V, Power>(sh, div, gy, y, coef, lead, row);
  for (int64_t ih = 0; ih < sh.H; ++ih) {
    // output rows whose windows hold input row ih
    int64_t oh_lo = std::max<int64_t>(0, -pool_floor_div(-(ih + sh.pH - sh.kH + 1), sh.sH));
    int64_t oh_hi = std::min<int64_t>(sh.OH - 1, pool_floor_div(ih + sh.pH, sh.sH));
    float* gr = gx + ih * sh.W;
    const float* xr = Power == 2 ? x + ih * sh.W : nullptr;
    for (int64_t q0 = 0; q0 < sh.W; q0 += span) {
      int n = int(std::min<int64_t>(span, sh.W - q0));
      if constexpr (S == Stride::one) {
        // column q takes coef[oh][q + p - kw] for every kw
        F acc = V::zero();
        for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
          const float* cr = coef + oh * row + lead + q0 + sh.pW;
          for (int64_t kw = 0; kw < sh.kW; ++kw) acc = V::add(acc, V::loadu(cr - kw, V::mask(V::L)));
        }
        typename V::M m = V::mask(n);
        if constexpr (Power == 2) acc = V::mul(acc, V::loadu(xr + q0, m));
        V::storeu(gr + q0, acc, m);
      } else {
        // column q0 + 2j (+1) takes coef[oh][(q0 + p - kw) / 2 + j] from the kw of matching parity
        F even = V::zero(), odd = V::zero();
        for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
          const float* cr = coef + oh * row + lead;
          for (int64_t kw = 0; kw < sh.kW; ++kw) {
            int64_t num = q0 + sh.pW - kw;
            if ((num & 1) == 0) even = V::add(even, V::loadu(cr + num / 2, V::mask(V::L)));
            else odd = V::add(odd, V::loadu(cr + (num + 1) / 2, V::mask(V::L)));
          }
        }
        F lo, hi;
        V::interleave(even, odd, lo, hi);
        typename V::M mlo = V::mask(n), mhi = V::mask(n - V::L);
        if constexpr (Power == 2) {
          lo = V::mul(lo, V::loadu(xr + q0, mlo));
          hi = V::mul(hi, V::loadu(xr + q0 + V::L, mhi));
        }
        V::storeu(gr + q0, lo, mlo);
        if (n > V::L) V::storeu(gr + q0 + V::L, hi, mhi);
      }
    }
  }
}

template <class V, Stride S, int Power>
bool sum_forward_as(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  if (!stride_matches<S>(sh.sW)) return false;
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW / 4, [&](int64_t c) {
    sum_plane<V, S, Power>(sh, div, x + c * sh.H * sh.W, y + c * sh.OH * sh.OW);
  });
  return true;
}

template <class V, Stride S, int Power>
bool sum_backward_as(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* x, const float* y,
                     float* gx) {
  if (!stride_matches<S>(sh.sW)) return false;
  for_each_plane(sh.planes, sh.H * sh.W * sh.kH * sh.kW / 4, [&](int64_t c) {
    int64_t in_at = c * sh.H * sh.W, out_at = c * sh.OH * sh.OW;
    sum_plane_backward<V, S, Power>(sh, div, gy + out_at, x ? x + in_at : nullptr, y ? y + out_at : nullptr,
                                    gx + in_at);
  });
  return true;
}

template <class V, int Power>
void sum_forward(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  if (sum_forward_as<V, Stride::one, Power>(sh, div, x, y)) return;
  if (sum_forward_as<V, Stride::two, Power>(sh, div, x, y)) return;
  sum_forward_as<V, Stride::any, Power>(sh, div, x, y);
}

template <class V, int Power>
void sum_backward(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* x, const float* y,
                  float* gx) {
  if (sum_backward_as<V, Stride::one, Power>(sh, div, gy, x, y, gx)) return;
  if (sum_backward_as<V, Stride::two, Power>(sh, div, gy, x, y, gx)) return;
  if constexpr (Power == 0) avg_pool2d_backward_scalar<float>(sh, div, gy, gx);
  else lp_pool2d_backward_scalar<float>(sh, double(Power), gy, x, y, gx);
}

// Lp: padding 0, the divisor never overridden.
constexpr AvgDivisor kLpDivisor{true, 0};

}  // namespace
}  // namespace nnc::cpu
