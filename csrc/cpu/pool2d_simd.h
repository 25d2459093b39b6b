// Pooling loops written once over a SIMD vector type V (AVX2: 8 lanes,
// AVX-512: 16): each vector holds V::L neighbouring outputs of one row;
// stride-2 windows load 2L floats and keep the even ones. Where windows cross
// a row end, masked loads stand -inf (max) or 0 (sums) in for the padding.
// Included by pool2d_avx2.cpp and pool2d_avx512.cpp after they define V.
#pragma once
#include <algorithm>
#include <atomic>
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

// Lanes carry flat positions h * W + w (and columns a window reaches past the
// row, at most kW * dW < W + 2 * pW) as int32.
inline bool fits_int32_lanes(const Pool2dShape& sh) { return (sh.H + 1) * (sh.W + 64) < (int64_t(1) << 31); }

// Most taps along W a chunk keeps masks for; wider kernels use the portable twin.
constexpr int64_t kMaxTaps = 16;

// One chunk of V::L neighbouring outputs of a row, starting at output
// column ow0, and how to read its windows: for tap kw along W, lane j reads
// input column col0 + j*s + kw*d. The masks keep the reads inside the row and
// the chunk; lanes whose column lies outside [0, W) read `fill` (-inf for
// max, 0 for sums). Built once per call: nothing here depends on the row.
template <class V, Stride S, bool ZeroFill>
struct Chunk {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  M lo[kMaxTaps], hi[kMaxTaps];
  I tap_at[kMaxTaps];         // input column of each lane's tap kw
  int64_t tap_col[kMaxTaps];  // input column of lane 0's tap kw
  I offsets;                  // j * s
  I first_col;                // PyTorch's first max candidate: the window's first column at or past 0
  F fill;
  F col_padded, col_valid;  // avg window width with and without padding
  int64_t ow0, col0;
  int n;
  bool full;  // every lane in use and every tap's loads wholly inside the row: no masks needed

  Chunk(const Pool2dShape& sh, int64_t ow0_, F fill_) : fill(fill_), ow0(ow0_), col0(ow0_ * sh.sW - sh.pW) {
    n = int(std::min<int64_t>(V::L, sh.OW - ow0));
    offsets = V::iota_times(int32_t(sh.sW));
    const int64_t span = S == Stride::two ? 2 * V::L : V::L;  // floats one unmasked load reads
    full = S != Stride::any && n == V::L && col0 >= 0 && col0 + (sh.kW - 1) * sh.dW + span <= sh.W;
    auto bits = [](int64_t from, int64_t to) {  // lanes from .. to-1
      from = std::max<int64_t>(from, 0);
      to = std::min<int64_t>(to, V::L);
      return to <= from ? 0u : uint32_t(((uint64_t(1) << to) - 1) & ~((uint64_t(1) << from) - 1));
    };
    for (int64_t kw = 0; kw < sh.kW; ++kw) {
      int64_t at0 = col0 + kw * sh.dW, first = -at0, last = sh.W - at0;  // valid positions [first, last)
      tap_at[kw] = V::iadd(V::iset1(int32_t(at0)), offsets);
      tap_col[kw] = at0;
      if constexpr (S == Stride::one) {
        lo[kw] = V::mask_from_bits(bits(first, std::min<int64_t>(n, last)));
      } else if constexpr (S == Stride::two) {
        int64_t end = std::min<int64_t>(2 * n - 1, last);
        lo[kw] = V::mask_from_bits(bits(first, end));
        hi[kw] = V::mask_from_bits(bits(first - V::L, end - V::L));
      } else {
        uint32_t m = 0;
        for (int j = 0; j < n; ++j)
          if (j * sh.sW >= first && j * sh.sW < last) m |= 1u << j;
        lo[kw] = V::mask_from_bits(m);
      }
    }
    alignas(64) int32_t first[V::L] = {};
    alignas(64) float padded[V::L], valid[V::L];
    for (int j = 0; j < V::L; ++j) {
      int64_t ow = ow0 + std::min(j, n - 1);
      first[j] = int32_t(max_window(ow, sh.W, sh.kW, sh.sW, sh.pW, sh.dW).start);
      AvgWindow ww = avg_window(ow, sh.W, sh.kW, sh.sW, sh.pW);
      padded[j] = float(ww.padded);
      valid[j] = float(ww.end - ww.start);
    }
    first_col = V::iload(first);
    col_padded = V::loadu(padded, V::mask(V::L));
    col_valid = V::loadu(valid, V::mask(V::L));
  }

  // p points at lane 0's column for tap kw; Full: the chunk is `full`
  template <bool Full>
  F load(const float* p, int64_t kw) const {
    if constexpr (Full && S == Stride::one) return V::loadu_all(p);
    else if constexpr (Full && S == Stride::two) return V::evens_of(V::loadu_all(p), V::loadu_all(p + V::L));
    else if constexpr (S == Stride::one) return fill_load(p, lo[kw]);
    else if constexpr (S == Stride::two) return V::evens_of(fill_load(p, lo[kw]), fill_load(p + V::L, hi[kw]));
    else return V::gather_fill(p, offsets, lo[kw], fill);
  }

  F fill_load(const float* p, M m) const { return ZeroFill ? V::loadu(p, m) : V::loadu_fill(p, m, fill); }
};

template <class V, Stride S, bool ZeroFill>
std::vector<Chunk<V, S, ZeroFill>> row_chunks(const Pool2dShape& sh, typename V::F fill) {
  std::vector<Chunk<V, S, ZeroFill>> chunks;
  for (int64_t ow0 = 0; ow0 < sh.OW; ow0 += V::L) chunks.emplace_back(sh, ow0, fill);
  return chunks;
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

// ---- max ----------------------------------------------------------------

// One or two chunks (c1 == c0 for one) of output row oh, whose windows span
// input rows wh: two running maxima are independent chains, interleaved to
// hide latency.
template <class V, Stride S, bool WithIndices, bool Two, bool Full>
void max_chunks(const Pool2dShape& sh, const Chunk<V, S, false>& c0, const Chunk<V, S, false>& c1, MaxWindow wh,
                const float* x, float* yr, int64_t* ir) {
  using F = typename V::F;
  using I = typename V::I;
  const int64_t W = sh.W, kW = sh.kW, dH = sh.dH;
  const I start_at = V::iset1(int32_t(wh.start * W));
  F best0 = c0.fill, best1 = c1.fill;
  I at0 = V::iadd(c0.first_col, start_at), at1 = V::iadd(c1.first_col, start_at);
  for (int64_t ih = wh.start; ih < wh.end; ih += dH) {
    const float* row = x + ih * W;
    const I row_at = V::iset1(int32_t(ih * W));
    for (int64_t kw = 0; kw < kW; ++kw) {
      F v0 = c0.template load<Full>(row + c0.tap_col[kw], kw);
      if constexpr (WithIndices) V::take(best0, at0, v0, V::iadd(row_at, c0.tap_at[kw]));
      else best0 = V::max_nan(best0, v0);
      if constexpr (Two) {
        F v1 = c1.template load<Full>(row + c1.tap_col[kw], kw);
        if constexpr (WithIndices) V::take(best1, at1, v1, V::iadd(row_at, c1.tap_at[kw]));
        else best1 = V::max_nan(best1, v1);
      }
    }
  }
  V::storeu(yr + c0.ow0, best0, V::mask(c0.n));
  if constexpr (WithIndices) V::store_indices(ir + c0.ow0, at0, c0.n);
  if constexpr (Two) {
    V::storeu(yr + c1.ow0, best1, V::mask(c1.n));
    if constexpr (WithIndices) V::store_indices(ir + c1.ow0, at1, c1.n);
  }
}

// x is one (H, W) plane; y and idx (may be null) one (OH, OW) plane.
template <class V, Stride S, bool WithIndices>
void max_plane(const Pool2dShape& sh, const std::vector<Chunk<V, S, false>>& chunks, const float* x, float* y,
               int64_t* idx) {
  const size_t count = chunks.size();
  for (int64_t oh = 0; oh < sh.OH; ++oh) {
    MaxWindow wh = max_window(oh, sh.H, sh.kH, sh.sH, sh.pH, sh.dH);
    float* yr = y + oh * sh.OW;
    int64_t* ir = WithIndices ? idx + oh * sh.OW : nullptr;
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
      if (chunks[i].full && chunks[i + 1].full)
        max_chunks<V, S, WithIndices, true, true>(sh, chunks[i], chunks[i + 1], wh, x, yr, ir);
      else
        max_chunks<V, S, WithIndices, true, false>(sh, chunks[i], chunks[i + 1], wh, x, yr, ir);
    }
    if (i < count) max_chunks<V, S, WithIndices, false, false>(sh, chunks[i], chunks[i], wh, x, yr, ir);
  }
}

template <class V, Stride S>
bool max_forward_as(const Pool2dShape& sh, const float* x, float* y, int64_t* indices) {
  if (!stride_matches<S>(sh.sW)) return false;
  const auto chunks = row_chunks<V, S, false>(sh, V::set1(-std::numeric_limits<float>::infinity()));
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW / 4, [&](int64_t c) {
    const float* xp = x + c * sh.H * sh.W;
    float* yp = y + c * sh.OH * sh.OW;
    if (indices) max_plane<V, S, true>(sh, chunks, xp, yp, indices + c * sh.OH * sh.OW);
    else max_plane<V, S, false>(sh, chunks, xp, yp, nullptr);
  });
  return true;
}

template <class V>
void max_forward(const Pool2dShape& sh, const float* x, float* y, int64_t* indices) {
  if (!fits_int32_lanes(sh) || sh.kW > kMaxTaps)
    return max_pool2d_forward_scalar<float>(sh, x, y, indices);
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

// One or two chunks (c1 == c0 for one) of output row oh (window rows wh),
// summed side by side.
template <class V, Stride S, int Power, bool Two, bool Full>
void sum_chunks(const Pool2dShape& sh, AvgDivisor div, const Chunk<V, S, true>& c0, const Chunk<V, S, true>& c1,
                AvgWindow wh, const float* x, float* yr) {
  using F = typename V::F;
  const int64_t W = sh.W, kW = sh.kW;
  F sum0 = V::zero(), sum1 = V::zero();
  for (int64_t ih = wh.start; ih < wh.end; ++ih) {
    const float* row = x + ih * W;
    for (int64_t kw = 0; kw < kW; ++kw) {
      sum0 = V::add(sum0, lp_term<V, Power>(c0.template load<Full>(row + c0.tap_col[kw], kw)));
      if constexpr (Two) sum1 = V::add(sum1, lp_term<V, Power>(c1.template load<Full>(row + c1.tap_col[kw], kw)));
    }
  }
  const F rows_padded = V::set1(float(wh.padded)), rows_valid = V::set1(float(wh.end - wh.start));
  const F vkk = V::set1(float(sh.kH * sh.kW));
  auto finish = [&](const Chunk<V, S, true>& c, F sum) {
    // PyTorch's divisor per window: override, or window size with or without padding
    F divisor = Power == 0 && div.divisor_override != 0 ? V::set1(float(div.divisor_override))
                : Power != 0 || div.count_include_pad  ? V::mul(rows_padded, c.col_padded)
                                                       : V::mul(rows_valid, c.col_valid);
    F out;
    if (wh.start >= wh.end) out = V::zero();
    else if constexpr (Power == 0) out = V::div(sum, divisor);
    else if constexpr (Power == 1) out = V::mul(V::div(sum, divisor), vkk);
    else out = V::sqrt(V::mul(V::div(sum, divisor), vkk));
    V::storeu(yr + c.ow0, out, V::mask(c.n));
  };
  finish(c0, sum0);
  if constexpr (Two) finish(c1, sum1);
}

// x is one (H, W) plane, y one (OH, OW) plane. lp: no padding, divisor = the
// (ceil_mode-cut) window size, y = (sum / divisor * kH*kW)^(1/p).
template <class V, Stride S, int Power>
void sum_plane(const Pool2dShape& sh, AvgDivisor div, const std::vector<Chunk<V, S, true>>& chunks, const float* x,
               float* y) {
  const size_t count = chunks.size();
  for (int64_t oh = 0; oh < sh.OH; ++oh) {
    AvgWindow wh = avg_window(oh, sh.H, sh.kH, sh.sH, sh.pH);
    float* yr = y + oh * sh.OW;
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
      if (chunks[i].full && chunks[i + 1].full)
        sum_chunks<V, S, Power, true, true>(sh, div, chunks[i], chunks[i + 1], wh, x, yr);
      else
        sum_chunks<V, S, Power, true, false>(sh, div, chunks[i], chunks[i + 1], wh, x, yr);
    }
    if (i < count) sum_chunks<V, S, Power, false, false>(sh, div, chunks[i], chunks[i], wh, x, yr);
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

// Outputs bigger than this go out with streaming stores: they would not stay
// in cache, and streaming saves reading their lines before writing them.
constexpr int64_t kStreamBytes = int64_t(8) << 20;

// Copies n floats from an L1-resident buffer to dst, with streaming stores
// (no read-for-ownership of dst's lines) wherever dst is 64-byte aligned.
template <class V>
void stream_out(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 63) != 0; ++i) dst[i] = src[i];
  for (; i + 16 <= n; i += 16) V::stream64(dst + i, src + i);
  for (; i < n; ++i) dst[i] = src[i];
}

// Windows 2 wide, stride 2 along W, kH tall with stride kH, no padding,
// tiling the plane exactly: every input element lies in exactly one window.
inline bool tiles_by_two(const Pool2dShape& sh) {
  return sh.kW == 2 && sh.sW == 2 && sh.pW == 0 && sh.dW == 1 && sh.kH == sh.sH && sh.pH == 0 && sh.dH == 1 &&
         sh.W == 2 * sh.OW && sh.H == sh.kH * sh.OH;
}

// tiles_by_two planes: each gradient row is its window's share, duplicated
// into both columns (times x for lp with p = 2); nothing to accumulate.
template <class V, int Power>
void sum_plane_backward_tiled(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* x, const float* y,
                              float* gx) {
  using F = typename V::F;
  const float divisor = float(Power == 0 && div.divisor_override != 0 ? div.divisor_override : sh.kH * sh.kW);
  const F vdiv = V::set1(divisor), vscale = V::set1(float(sh.kH * sh.kW) / divisor);
  for (int64_t oh = 0; oh < sh.OH; ++oh)
    for (int64_t ow0 = 0; ow0 < sh.OW; ow0 += V::L) {
      int n = int(std::min<int64_t>(V::L, sh.OW - ow0));
      typename V::M m = V::mask(n), mlo = V::mask(2 * n), mhi = V::mask(2 * n - V::L);
      F g = V::loadu(gy + oh * sh.OW + ow0, m), share;
      if constexpr (Power == 0) {
        share = V::div(g, vdiv);
      } else {
        F yv = V::loadu(y + oh * sh.OW + ow0, m);
        share = V::zero_where_zero(yv, Power == 1 ? V::mul(g, vscale) : V::div(V::mul(g, vscale), yv));
      }
      F lo, hi;
      V::interleave(share, share, lo, hi);
      for (int64_t ih = oh * sh.kH; ih < (oh + 1) * sh.kH; ++ih) {
        int64_t at = ih * sh.W + 2 * ow0;
        F a = lo, b = hi;
        if constexpr (Power == 2) {
          a = V::mul(a, V::loadu(x + at, mlo));
          b = V::mul(b, V::loadu(x + at + V::L, mhi));
        }
        V::storeu(gx + at, a, mlo);
        if (n * 2 > V::L) V::storeu(gx + at + V::L, b, mhi);
      }
    }
}

// gy is one (OH, OW) plane; x, y (lp only) and gx one (H, W) plane. Stride
// along W is 1 or 2 (S), dilation 1. With `stream`, the plane is built in
// scratch and streamed out (for outputs too big to stay in cache).
template <class V, Stride S, int Power>
void sum_plane_backward(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* x, const float* y,
                        float* gx, bool stream) {
  using F = typename V::F;
  constexpr int64_t s = S == Stride::two ? 2 : 1;
  constexpr int64_t span = s * V::L;  // input columns per step
  const int64_t lead = sh.kW + 1;
  const int64_t row = lead + std::max(sh.OW, (sh.W + sh.pW + 1) / s + 1) + V::L + 1;
  const int64_t plane = sh.H * sh.W;
  float* coef = thread_scratch(size_t(sh.OH * row + plane + 16));
  float* const gx_plane = gx;
  if (stream) gx = coef + sh.OH * row;
  if (S == Stride::two && tiles_by_two(sh)) {
    sum_plane_backward_tiled<V, Power>(sh, div, gy, x, y, gx);
    if (stream) stream_out<V>(gx_plane, gx, plane);
    return;
  }
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
  if (stream) stream_out<V>(gx_plane, gx, plane);
}

// tiles_by_two planes: every window writes its own 2 x kH block, gy where
// the index points and 0 elsewhere. False (plane left for the scatter) when
// an index lies outside its window.
template <class V>
bool max_plane_backward_tiled(const Pool2dShape& sh, const float* gy, const int64_t* indices, float* g) {
  using F = typename V::F;
  using I = typename V::I;
  const I lane_cols = V::iota_times(2);
  for (int64_t oh = 0; oh < sh.OH; ++oh)
    for (int64_t ow0 = 0; ow0 < sh.OW; ow0 += V::L) {
      int n = int(std::min<int64_t>(V::L, sh.OW - ow0));
      I at;
      if (!V::load_indices(indices + oh * sh.OW + ow0, n, sh.H * sh.W, at)) return false;
      F v = V::loadu(gy + oh * sh.OW + ow0, V::mask(n));
      typename V::M hit = V::mask(0), mlo = V::mask(2 * n), mhi = V::mask(2 * n - V::L);
      for (int64_t ih = oh * sh.kH; ih < (oh + 1) * sh.kH; ++ih) {
        I left = V::iadd(V::iset1(int32_t(ih * sh.W + 2 * ow0)), lane_cols);
        typename V::M on_left = V::ieq(at, left), on_right = V::ieq(at, V::iadd(left, V::iset1(1)));
        hit = V::mask_or(hit, V::mask_or(on_left, on_right));
        F lo, hi;
        V::interleave(V::select(on_left, v), V::select(on_right, v), lo, hi);
        V::storeu(g + ih * sh.W + 2 * ow0, lo, mlo);
        if (n * 2 > V::L) V::storeu(g + ih * sh.W + 2 * ow0 + V::L, hi, mhi);
      }
      if (!V::all_lanes(hit, n)) return false;
    }
  return true;
}

// Backward of max: per plane, zero then scatter gy to its indices in output
// order, in scratch when the output is streamed. False: an index outside the plane.
template <class V>
bool max_backward(const Pool2dShape& sh, const float* gy, const int64_t* indices, float* gx) {
  const int64_t plane = sh.H * sh.W, out_plane = sh.OH * sh.OW;
  const bool stream = sh.planes * plane * int64_t(sizeof(float)) > kStreamBytes;
  const bool tiled = tiles_by_two(sh) && fits_int32_lanes(sh);
  std::atomic<bool> in_range{true};
  for_each_plane_range(sh.planes, plane + out_plane, [&](int64_t begin, int64_t end) {
    bool ok = true;
    for (int64_t c = begin; c < end; ++c) {
      float* g = stream ? thread_scratch(size_t(plane)) : gx + c * plane;
      const float* gyp = gy + c * out_plane;
      const int64_t* ip = indices + c * out_plane;
      if (tiled && max_plane_backward_tiled<V>(sh, gyp, ip, g)) {
        if (stream) stream_out<V>(gx + c * plane, g, plane);
        continue;
      }
      std::fill(g, g + plane, 0.f);
      for (int64_t o = 0; o < out_plane; ++o) {
        int64_t at = ip[o];
        if (at < 0 || at >= plane) {
          ok = false;
          continue;
        }
        g[at] += gyp[o];
      }
      if (stream) stream_out<V>(gx + c * plane, g, plane);
    }
    if (stream) V::fence();
    if (!ok) in_range.store(false, std::memory_order_relaxed);
  });
  return in_range.load();
}

template <class V, Stride S, int Power>
bool sum_forward_as(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  if (!stride_matches<S>(sh.sW)) return false;
  const auto chunks = row_chunks<V, S, true>(sh, V::zero());
  for_each_plane(sh.planes, sh.OH * sh.OW * sh.kH * sh.kW / 4, [&](int64_t c) {
    sum_plane<V, S, Power>(sh, div, chunks, x + c * sh.H * sh.W, y + c * sh.OH * sh.OW);
  });
  return true;
}

template <class V, Stride S, int Power>
bool sum_backward_as(const Pool2dShape& sh, AvgDivisor div, const float* gy, const float* x, const float* y,
                     float* gx) {
  if (!stride_matches<S>(sh.sW)) return false;
  // lp's backward reads three more streams; streaming its output measured no faster
  const bool stream = Power == 0 && sh.planes * sh.H * sh.W * int64_t(sizeof(float)) > kStreamBytes;
  for_each_plane_range(sh.planes, sh.H * sh.W * sh.kH * sh.kW / 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int64_t in_at = c * sh.H * sh.W, out_at = c * sh.OH * sh.OW;
      sum_plane_backward<V, S, Power>(sh, div, gy + out_at, x ? x + in_at : nullptr, y ? y + out_at : nullptr,
                                      gx + in_at, stream);
    }
    if (stream) V::fence();
  });
  return true;
}

template <class V, int Power>
void sum_forward(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  if (sh.kW > kMaxTaps) {
    if constexpr (Power == 0) return avg_pool2d_forward_scalar<float>(sh, div, x, y);
    else return lp_pool2d_forward_scalar<float>(sh, double(Power), x, y);
  }
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
