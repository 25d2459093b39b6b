// SIMD bodies of softmax, log_softmax, their backwards and the fused
// cross-entropy, written once over a vector type V (AVX2: 8 float lanes,
// AVX-512: 16) and instantiated by softmax_avx2.cpp and softmax_avx512.cpp.
// Rows (inner == 1) run along the vector, masked at the end of the row; a
// non-last axis (inner > 1) puts neighbouring positions in the lanes.
// Each row is read from memory once; the second and third passes over it hit L1/L2.
//
// V provides: R, W, zero, set1, load, load_n(p, n, fill), store, store_n(p, v, n),
// zero_tail(v, n), add, sub, mul, div, max, div_one(v) = 1 / v, fmadd(a, b, c) = a b + c,
// fnmadd(a, b, c) = c - a b, exp, log (of positive normals), hmax, hsum,
// permute(v, idx) = v[idx[l]] per lane, sub_at(v, lane, x) / sub_bits(v, bits, x):
// v - x in one lane / in the lanes of a bit mask, and
// rows_max(v) / rows_sum(v): lane r of the result reduces all lanes of v[r], r < W.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "core/softmax_math.h"
#include "cpu/softmax.h"

namespace nnc::cpu {
namespace {  // each ISA's translation unit gets its own copy

namespace sm = nnc::softmax_math;

// Flush-to-zero and denormals-are-zero for one kernel call on this thread: a
// probability under float's smallest normal (1.2e-38) becomes 0 instead of
// costing a microcode assist per element. Restored on scope exit.
class FlushDenormals {
 public:
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_;
};

// f(c, n) for each vector of a row of C: n == V::W except for the last, partial one.
template <class V, class F>
inline void for_vectors(int64_t C, F&& f) {
  int64_t c = 0;
  for (; c + V::W <= C; c += V::W) f(c, V::W);
  if (c < C) f(c, int(C - c));
}

template <class V>
inline typename V::R load_part(const float* p, int n, float fill) {
  return n == V::W ? V::load(p) : V::load_n(p, n, fill);
}

template <class V>
inline void store_part(float* p, typename V::R v, int n) {
  if (n == V::W) V::store(p, v);
  else V::store_n(p, v, n);
}

template <class V>
inline float row_max(const float* x, int64_t C) {
  auto m = V::set1(-INFINITY);
  for_vectors<V>(C, [&](int64_t c, int n) { m = V::max(m, load_part<V>(x + c, n, -INFINITY)); });
  return V::hmax(m);
}

// Weights of classes [c, c + n) (zero past n), or ones without weights.
template <class V>
inline typename V::R weights_at(const float* weight, int64_t c, int n) {
  if (weight) return load_part<V>(weight + c, n, 0.0f);
  return n == V::W ? V::set1(1.0f) : V::zero_tail(V::set1(1.0f), n);
}

// ------------------------------------------------------------ cross-entropy

struct CeConsts {
  float eps, inv_c;
  double w_all;
};

// One position's loss and gradient scales once its (m, s) and sums are known.
struct CeLane {
  double loss;
  float p_scale, w_scale, target_sub;
};

inline CeLane index_lane(double g, double m, double s, double wx, double xy, double w_y, const CeConsts& k) {
  double lse = std::log(s);
  double loss = sm::ce_index_loss<double>(lse, xy - m, w_y, k.eps, k.inv_c, k.w_all, wx);
  sm::CeGrad<double> gr = sm::ce_index_grad<double>(g, s, w_y, k.eps, k.inv_c, k.w_all);
  return {loss, float(gr.p_scale), float(gr.w_scale), float(gr.target_sub)};
}

inline CeLane prob_lane(double g, double s, double wt, double wtx) {
  double loss = sm::ce_prob_loss<double>(std::log(s), wt, wtx);
  return {loss, float(sm::ce_prob_p_scale<double>(g, s, wt)), float(g), 0.0f};
}

// Positions of class-index targets that are ignored or out of range: loss 0, gradient 0.
inline bool skip_target(const CeArgs<float>& a, int64_t pos, CePartial& part) {
  int64_t y = a.target[pos];
  if (y == a.ignore_index) return true;
  if (y < 0 || y >= a.C) {
    part.flag_bad(pos, y);
    return true;
  }
  return false;
}

// Rows of (N, C): r0 <= n < r1.
template <class V>
void ce_rows(const CeArgs<float>& a, const CeConsts& k, double g_scale, int64_t r0, int64_t r1, CePartial& part) {
  using R = typename V::R;
  const int64_t C = a.C;
  const float* weight = a.weight;
  const R one_minus_eps = V::set1(1.0f - k.eps), eps_c = V::set1(k.eps * k.inv_c);
  for (int64_t n = r0; n < r1; ++n) {
    const float* x = a.logits + n * C;  // (C,)
    float* gx = a.grad ? a.grad + n * C : nullptr;
    int64_t y = 0;
    if (!a.target_prob) {
      if (skip_target(a, n, part)) {
        if (a.loss && a.reduction == Reduction::none) a.loss[n] = 0.0f;
        if (gx) std::memset(gx, 0, size_t(C) * sizeof(float));
        continue;
      }
      y = a.target[n];
    }
    const float m = row_max<V>(x, C);
    const R mv = V::set1(m);
    const double xy = a.target_prob ? 0.0 : double(x[y]);  // before gx, which may be x, changes
    double g = a.grad_output ? g_scale * double(a.grad_output[n * a.grad_output_stride]) : g_scale;
    CeLane lane;
    if (a.target_prob) {
      const float* t = a.target_prob + n * C;  // (C,)
      R s = V::zero(), wt = V::zero(), wtx = V::zero(), finite = V::zero();
      for_vectors<V>(C, [&](int64_t c, int nv) {
        R d = V::sub(load_part<V>(x + c, nv, 0.0f), mv);
        R tv = load_part<V>(t + c, nv, 0.0f);
        R e = V::exp(d);
        s = V::add(s, nv == V::W ? e : V::zero_tail(e, nv));
        if (gx) store_part<V>(gx + c, e, nv);
        R wtc = V::mul(weights_at<V>(weight, c, nv), V::fmadd(tv, one_minus_eps, eps_c));
        wt = V::add(wt, wtc);
        wtx = V::fmadd(wtc, d, wtx);
        finite = V::add(finite, V::sub(tv, tv));  // NaN once any target is inf or NaN
      });
      if (std::isnan(V::hsum(finite))) part.nonfinite_target = true;
      lane = prob_lane(g, V::hsum(s), V::hsum(wt), V::hsum(wtx));
    } else {
      R s = V::zero(), wx = V::zero();
      if (k.eps > 0) {
        for_vectors<V>(C, [&](int64_t c, int nv) {
          R d = V::sub(load_part<V>(x + c, nv, 0.0f), mv);
          R e = V::exp(d);
          s = V::add(s, nv == V::W ? e : V::zero_tail(e, nv));
          if (gx) store_part<V>(gx + c, e, nv);
          wx = V::fmadd(weights_at<V>(weight, c, nv), d, wx);
        });
      } else {
        for_vectors<V>(C, [&](int64_t c, int nv) {
          R e = V::exp(V::sub(load_part<V>(x + c, nv, -INFINITY), mv));
          s = V::add(s, e);
          if (gx) store_part<V>(gx + c, e, nv);
        });
      }
      double w_y = weight ? double(weight[y]) : 1.0;
      lane = index_lane(g, m, V::hsum(s), V::hsum(wx), xy, w_y, k);
      part.wsum += w_y;
    }
    part.loss += lane.loss;
    if (a.loss && a.reduction == Reduction::none) a.loss[n] = float(lane.loss);
    if (!gx) continue;
    // gx holds exp(x - m) from the pass above (the row is in L1/L2)
    const R p_scale = V::set1(lane.p_scale), w_scale = V::set1(lane.w_scale);
    if (a.target_prob) {
      const float* t = a.target_prob + n * C;
      for_vectors<V>(C, [&](int64_t c, int nv) {
        R e = load_part<V>(gx + c, nv, 0.0f);
        R wtc = V::mul(weights_at<V>(weight, c, nv), V::fmadd(load_part<V>(t + c, nv, 0.0f), one_minus_eps, eps_c));
        store_part<V>(gx + c, V::fnmadd(w_scale, wtc, V::mul(p_scale, e)), nv);
      });
    } else if (k.eps > 0) {
      for_vectors<V>(C, [&](int64_t c, int nv) {
        R e = load_part<V>(gx + c, nv, 0.0f);
        store_part<V>(gx + c, V::fnmadd(w_scale, weights_at<V>(weight, c, nv), V::mul(p_scale, e)), nv);
      });
      gx[y] -= lane.target_sub;
    } else {
      for_vectors<V>(C, [&](int64_t c, int nv) {
        store_part<V>(gx + c, V::mul(p_scale, load_part<V>(gx + c, nv, 0.0f)), nv);
      });
      gx[y] -= lane.target_sub;
    }
  }
}

// W rows of (N, C) at once, for short rows (C <= kShortRow): each row along
// the vector as in ce_rows, but the per-row reductions of W rows are done
// together (rows_max / rows_sum: a transpose-and-reduce) and the per-row loss
// and gradient scales are vector math over W rows. exp(x - m) is computed once
// into an L1 scratch with full-width stores, and the gradient rows are written
// once, target term included (no read-back of masked stores, which would stall
// store-to-load forwarding).
constexpr int64_t kShortRow = 64;

// row_of[i] = i / C for the rows * C elements of a block of rows (no divisions).
inline void fill_row_of(int32_t* row_of, int64_t C, int rows) {
  for (int r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) row_of[r * C + c] = r;
}

template <class V>
void ce_row_group(const CeArgs<float>& a, const CeConsts& k, const int32_t* row_of, double g_scale, int64_t r0,
                  CePartial& part) {
  using R = typename V::R;
  constexpr int W = V::W;
  const int64_t C = a.C;
  const float* weight = a.weight;
  const float* xg = a.logits + r0 * C;  // (W, C)
  float* gg = a.grad ? a.grad + r0 * C : nullptr;
  alignas(64) float m_r[W], s_r[W], wx_r[W], xy_r[W], wy_r[W], g_r[W], out_r[W];
  int64_t y_r[W];
  R acc[W];
  const int64_t Cp = (C + W - 1) / W * W;  // scratch row stride
  alignas(64) float e_buf[W * kShortRow];  // exp(x - m): (W, Cp), or (W * C) when flat
  // Without label smoothing the block of W rows is also read as C full vectors
  // ("flat"): lane l of vector j is element j W + l of the block, in row
  // row_of[j W + l]; exp and the gradient then run on full vectors only.
  const bool flat = k.eps == 0;
  unsigned target_bits[kShortRow];  // flat: lanes of vector j that hold a row's target class

  for (int r = 0; r < W; ++r) {
    R m = V::set1(-INFINITY);
    for_vectors<V>(C, [&](int64_t c, int nv) { m = V::max(m, load_part<V>(xg + r * C + c, nv, -INFINITY)); });
    acc[r] = m;
  }
  V::store(m_r, V::rows_max(acc));

  // per-row targets (read before the gradient rows, which may be the logits, are
  // overwritten): ignored and out-of-range rows get weight 0 and gradient 0
  for (int r = 0; r < W; ++r) {
    int64_t pos = r0 + r;
    y_r[r] = -1;
    wy_r[r] = 0.0f;
    xy_r[r] = m_r[r];
    g_r[r] = 0.0f;
    if (skip_target(a, pos, part)) continue;
    int64_t y = a.target[pos];
    y_r[r] = y;
    wy_r[r] = weight ? weight[y] : 1.0f;
    xy_r[r] = xg[r * C + y];
    g_r[r] = float(a.grad_output ? g_scale * double(a.grad_output[pos * a.grad_output_stride]) : g_scale);
  }
  R acc_wx[W];
  if (flat) {
    const R M = V::load(m_r);
    for (int64_t j = 0; j < C; ++j) {
      R e = V::exp(V::sub(V::load(xg + j * W), V::permute(M, row_of + j * W)));
      V::store(e_buf + j * W, e);
    }
    for (int r = 0; r < W; ++r) {
      R s = V::zero();
      for_vectors<V>(C, [&](int64_t c, int nv) { s = V::add(s, load_part<V>(e_buf + r * C + c, nv, 0.0f)); });
      acc[r] = s;
    }
  } else {
    for (int r = 0; r < W; ++r) {
      const float* x = xg + r * C;
      const R mv = V::set1(m_r[r]);
      R s = V::zero(), wx = V::zero();
      for_vectors<V>(C, [&](int64_t c, int nv) {
        // the tail is read as -inf (exp 0) unless wx needs finite x - m there
        R d = V::sub(load_part<V>(x + c, nv, k.eps > 0 ? 0.0f : -INFINITY), mv);
        R e = V::exp(d);
        if (k.eps > 0 && nv != W) e = V::zero_tail(e, nv);
        s = V::add(s, e);
        if (k.eps > 0) wx = V::fmadd(weights_at<V>(weight, c, nv), d, wx);
        if (gg) V::store(e_buf + r * Cp + c, e);
      });
      acc[r] = s;
      acc_wx[r] = wx;
    }
  }
  const R S = V::rows_sum(acc);
  V::store(s_r, S);
  V::store(wx_r, k.eps > 0 ? V::rows_sum(acc_wx) : V::zero());

  const R M = V::load(m_r), WY = V::load(wy_r), LSE = V::log(S);
  // loss = (1 - eps) w_y (lse - (x_y - m)) + eps / C (w_all lse - wx)
  R loss = V::mul(WY, V::sub(LSE, V::sub(V::load(xy_r), M)));
  if (k.eps > 0) {
    R smooth = V::fnmadd(V::set1(1.0f), V::load(wx_r), V::mul(V::set1(float(k.w_all)), LSE));
    loss = V::fmadd(V::set1(k.eps * k.inv_c), smooth, V::mul(V::set1(1.0f - k.eps), loss));
  }
  V::store(out_r, loss);
  for (int r = 0; r < W; ++r) {
    double l = y_r[r] >= 0 ? double(out_r[r]) : 0.0;
    part.loss += l;
    part.wsum += double(wy_r[r]);
    if (a.loss && a.reduction == Reduction::none) a.loss[r0 + r] = float(l);
  }
  if (!gg) return;
  // grad = p_scale * e - w_scale * w_c - [c == y] target_sub, e from the scratch
  const R G = V::load(g_r), KEEP = V::mul(V::set1(1.0f - k.eps), WY);
  alignas(64) float p_r[W], sub_r[W];
  V::store(p_r, V::div(V::mul(G, V::fmadd(V::set1(k.eps * k.inv_c), V::set1(float(k.w_all)), KEEP)), S));
  V::store(sub_r, V::mul(G, KEEP));
  V::store(g_r, V::mul(G, V::set1(k.eps * k.inv_c)));
  if (flat) {
    for (int64_t j = 0; j < C; ++j) target_bits[j] = 0;
    for (int r = 0; r < W; ++r)
      if (y_r[r] >= 0) target_bits[(r * C + y_r[r]) / W] |= 1u << ((r * C + y_r[r]) % W);
    const R P = V::load(p_r), SUB = V::load(sub_r);
    for (int64_t j = 0; j < C; ++j) {
      const int32_t* rows = row_of + j * W;
      R out = V::mul(V::load(e_buf + j * W), V::permute(P, rows));
      V::store(gg + j * W, V::sub_bits(out, target_bits[j], V::permute(SUB, rows)));
    }
    return;
  }
  for (int r = 0; r < W; ++r) {
    float* gx = gg + r * C;
    const float* e = e_buf + r * Cp;
    const R p_scale = V::set1(p_r[r]), w_scale = V::set1(g_r[r]), sub = V::set1(sub_r[r]);
    const int64_t y = y_r[r];  // -1: no target term
    for_vectors<V>(C, [&](int64_t c, int nv) {
      R out = V::mul(p_scale, V::load(e + c));
      if (k.eps > 0) out = V::fnmadd(w_scale, weights_at<V>(weight, c, nv), out);
      store_part<V>(gx + c, V::sub_at(out, y - c, sub), nv);
    });
  }
}

// Positions [i0, i0 + nl) of sample n of (N, C, S), nl <= W, one per lane.
template <class V>
void ce_lanes(const CeArgs<float>& a, const CeConsts& k, double g_scale, int64_t n, int64_t i0, int nl,
              CePartial& part) {
  using R = typename V::R;
  constexpr int W = V::W;
  const int64_t C = a.C, S = a.S;
  const float* x = a.logits + n * C * S + i0;  // x[c * S + lane]
  const float* t = a.target_prob ? a.target_prob + n * C * S + i0 : nullptr;
  float* gx = a.grad ? a.grad + n * C * S + i0 : nullptr;
  const R one_minus_eps = V::set1(1.0f - k.eps), eps_c = V::set1(k.eps * k.inv_c);
  auto w = [&](int64_t c) { return a.weight ? a.weight[c] : 1.0f; };

  R mv = V::set1(-INFINITY);
  for (int64_t c = 0; c < C; ++c) mv = V::max(mv, load_part<V>(x + c * S, nl, 0.0f));
  R s = V::zero(), acc1 = V::zero(), acc2 = V::zero(), finite = V::zero();
  for (int64_t c = 0; c < C; ++c) {
    R d = V::sub(load_part<V>(x + c * S, nl, 0.0f), mv);
    s = V::add(s, V::exp(d));
    if (t) {
      R tv = load_part<V>(t + c * S, nl, 0.0f);
      R wtc = V::mul(V::set1(w(c)), V::fmadd(tv, one_minus_eps, eps_c));
      acc1 = V::add(acc1, wtc);
      acc2 = V::fmadd(wtc, d, acc2);
      finite = V::add(finite, V::sub(tv, tv));
    } else if (k.eps > 0) {
      acc2 = V::fmadd(V::set1(w(c)), d, acc2);
    }
  }
  alignas(64) float m_l[W], s_l[W], a1_l[W], a2_l[W], fin_l[W], p_l[W], w_l[W];
  V::store(m_l, mv);
  V::store(s_l, s);
  V::store(a1_l, acc1);
  V::store(a2_l, acc2);
  V::store(fin_l, finite);
  int64_t y_l[W];
  for (int l = 0; l < W; ++l) {
    p_l[l] = 0.0f;
    w_l[l] = 0.0f;
    y_l[l] = -1;
    if (l >= nl) continue;
    int64_t pos = n * S + i0 + l;
    double g = a.grad_output ? g_scale * double(a.grad_output[pos * a.grad_output_stride]) : g_scale;
    CeLane lane{0.0, 0.0f, 0.0f, 0.0f};
    if (t) {
      if (std::isnan(fin_l[l])) part.nonfinite_target = true;
      lane = prob_lane(g, s_l[l], a1_l[l], a2_l[l]);
    } else if (!skip_target(a, pos, part)) {
      int64_t y = a.target[pos];
      double w_y = w(y);
      lane = index_lane(g, m_l[l], s_l[l], a2_l[l], double(x[y * S + l]), w_y, k);
      part.wsum += w_y;
      y_l[l] = y;
    }
    part.loss += lane.loss;
    if (a.loss && a.reduction == Reduction::none) a.loss[pos] = float(lane.loss);
    p_l[l] = lane.p_scale;
    w_l[l] = lane.w_scale;
    a1_l[l] = lane.target_sub;
  }
  if (!gx) return;
  const R p_scale = V::load(p_l), w_scale = V::load(w_l);
  for (int64_t c = 0; c < C; ++c) {
    R e = V::exp(V::sub(load_part<V>(x + c * S, nl, 0.0f), mv));
    R out = V::mul(p_scale, e);
    if (t) {
      R wtc = V::mul(V::set1(w(c)), V::fmadd(load_part<V>(t + c * S, nl, 0.0f), one_minus_eps, eps_c));
      out = V::fnmadd(w_scale, wtc, out);
    } else if (k.eps > 0) {
      out = V::fnmadd(w_scale, V::set1(w(c)), out);
    }
    store_part<V>(gx + c * S, out, nl);
  }
  for (int l = 0; l < nl; ++l)
    if (y_l[l] >= 0) gx[y_l[l] * S + l] -= a1_l[l];
}

template <class V>
void ce_tasks(const CeArgs<float>& a, double g_scale, int64_t t0, int64_t t1, CePartial& part) {
  CeConsts k{float(a.label_smoothing), a.C > 0 ? 1.0f / float(a.C) : 0.0f, 0.0};
  for (int64_t c = 0; c < a.C; ++c) k.w_all += a.weight ? double(a.weight[c]) : 1.0;
  if (a.S == 1) {
    int64_t n = t0;
    if (!a.target_prob && a.C <= kShortRow) {
      alignas(64) int32_t row_of[kShortRow * V::W];
      fill_row_of(row_of, a.C, V::W);
      for (; n + V::W <= t1; n += V::W) ce_row_group<V>(a, k, row_of, g_scale, n, part);
    }
    ce_rows<V>(a, k, g_scale, n, t1, part);
    return;
  }
  const int64_t blocks = (a.S + kSpatialBlock - 1) / kSpatialBlock;
  for (int64_t task = t0; task < t1; ++task) {
    int64_t n = task / blocks, b0 = (task % blocks) * kSpatialBlock, b1 = std::min(a.S, b0 + kSpatialBlock);
    for (int64_t i = b0; i < b1; i += V::W) ce_lanes<V>(a, k, g_scale, n, i, int(std::min<int64_t>(V::W, b1 - i)), part);
  }
}

// ------------------------------------------------------------ softmax

template <class V>
void softmax_row(const float* x, float* y, int64_t C, bool log) {
  using R = typename V::R;
  const R mv = V::set1(row_max<V>(x, C));
  R s = V::zero();
  if (log) {
    for_vectors<V>(C, [&](int64_t c, int n) { s = V::add(s, V::exp(V::sub(load_part<V>(x + c, n, -INFINITY), mv))); });
    const R ls = V::set1(float(std::log(double(V::hsum(s)))));
    for_vectors<V>(C, [&](int64_t c, int n) {
      store_part<V>(y + c, V::sub(V::sub(load_part<V>(x + c, n, 0.0f), mv), ls), n);
    });
  } else {
    for_vectors<V>(C, [&](int64_t c, int n) {
      R e = V::exp(V::sub(load_part<V>(x + c, n, -INFINITY), mv));
      s = V::add(s, e);
      store_part<V>(y + c, e, n);
    });
    const R inv_s = V::set1(1.0f / V::hsum(s));
    for_vectors<V>(C, [&](int64_t c, int n) { store_part<V>(y + c, V::mul(load_part<V>(y + c, n, 0.0f), inv_s), n); });
  }
}

// W short rows (C <= kShortRow) at once, as ce_row_group: row maxima and sums
// by transpose-and-reduce, exp and the output on the C full vectors of the block.
template <class V>
void softmax_row_group(const float* xg, float* yg, int64_t C, const int32_t* row_of, bool log) {
  using R = typename V::R;
  constexpr int W = V::W;
  R acc[W];
  alignas(64) float e_buf[W * kShortRow];  // exp(x - m) of the block (W * C)
  for (int r = 0; r < W; ++r) {
    R m = V::set1(-INFINITY);
    for_vectors<V>(C, [&](int64_t c, int nv) { m = V::max(m, load_part<V>(xg + r * C + c, nv, -INFINITY)); });
    acc[r] = m;
  }
  const R M = V::rows_max(acc);
  for (int64_t j = 0; j < C; ++j) V::store(e_buf + j * W, V::exp(V::sub(V::load(xg + j * W), V::permute(M, row_of + j * W))));
  for (int r = 0; r < W; ++r) {
    R s = V::zero();
    for_vectors<V>(C, [&](int64_t c, int nv) { s = V::add(s, load_part<V>(e_buf + r * C + c, nv, 0.0f)); });
    acc[r] = s;
  }
  const R S = V::rows_sum(acc);
  if (log) {
    const R LSE = V::log(S);
    for (int64_t j = 0; j < C; ++j) {
      const int32_t* rows = row_of + j * W;
      V::store(yg + j * W, V::sub(V::sub(V::load(xg + j * W), V::permute(M, rows)), V::permute(LSE, rows)));
    }
  } else {
    const R inv_s = V::div_one(S);
    for (int64_t j = 0; j < C; ++j) V::store(yg + j * W, V::mul(V::load(e_buf + j * W), V::permute(inv_s, row_of + j * W)));
  }
}

// nl <= W neighbouring positions, element c of lane l at x[c * inner + l].
template <class V>
void softmax_lanes(const float* x, float* y, int64_t C, int64_t inner, int nl, bool log) {
  using R = typename V::R;
  R mv = V::set1(-INFINITY);
  for (int64_t c = 0; c < C; ++c) mv = V::max(mv, load_part<V>(x + c * inner, nl, 0.0f));
  R s = V::zero();
  for (int64_t c = 0; c < C; ++c) {
    R e = V::exp(V::sub(load_part<V>(x + c * inner, nl, 0.0f), mv));
    s = V::add(s, e);
    if (!log) store_part<V>(y + c * inner, e, nl);
  }
  if (log) {
    alignas(64) float l_s[V::W];
    V::store(l_s, s);
    for (int l = 0; l < V::W; ++l) l_s[l] = float(std::log(double(l_s[l])));
    const R ls = V::load(l_s);
    for (int64_t c = 0; c < C; ++c)
      store_part<V>(y + c * inner, V::sub(V::sub(load_part<V>(x + c * inner, nl, 0.0f), mv), ls), nl);
  } else {
    const R inv_s = V::div_one(s);
    for (int64_t c = 0; c < C; ++c)
      store_part<V>(y + c * inner, V::mul(load_part<V>(y + c * inner, nl, 0.0f), inv_s), nl);
  }
}

template <class V>
void softmax_backward_row(const float* gy, const float* y, float* gx, int64_t C, bool log) {
  using R = typename V::R;
  R acc = V::zero();
  if (log) {
    for_vectors<V>(C, [&](int64_t c, int n) { acc = V::add(acc, load_part<V>(gy + c, n, 0.0f)); });
    const R sum = V::set1(V::hsum(acc));
    for_vectors<V>(C, [&](int64_t c, int n) {
      R e = V::exp(load_part<V>(y + c, n, 0.0f));
      store_part<V>(gx + c, V::fnmadd(e, sum, load_part<V>(gy + c, n, 0.0f)), n);
    });
  } else {
    for_vectors<V>(C, [&](int64_t c, int n) {
      acc = V::fmadd(load_part<V>(gy + c, n, 0.0f), load_part<V>(y + c, n, 0.0f), acc);
    });
    const R dot = V::set1(V::hsum(acc));
    for_vectors<V>(C, [&](int64_t c, int n) {
      R yv = load_part<V>(y + c, n, 0.0f);
      store_part<V>(gx + c, V::mul(yv, V::sub(load_part<V>(gy + c, n, 0.0f), dot)), n);
    });
  }
}

template <class V>
void softmax_backward_lanes(const float* gy, const float* y, float* gx, int64_t C, int64_t inner, int nl, bool log) {
  using R = typename V::R;
  R acc = V::zero();
  for (int64_t c = 0; c < C; ++c) {
    R g = load_part<V>(gy + c * inner, nl, 0.0f);
    acc = log ? V::add(acc, g) : V::fmadd(g, load_part<V>(y + c * inner, nl, 0.0f), acc);
  }
  for (int64_t c = 0; c < C; ++c) {
    R g = load_part<V>(gy + c * inner, nl, 0.0f), yv = load_part<V>(y + c * inner, nl, 0.0f);
    R out = log ? V::fnmadd(V::exp(yv), acc, g) : V::mul(yv, V::sub(g, acc));
    store_part<V>(gx + c * inner, out, nl);
  }
}

// Runs row(x offset) for rows, or lanes(x offset, lane count) for inner > 1, over tasks [t0, t1).
template <class V, class Row, class Lanes>
void for_tasks(int64_t C, int64_t inner, int64_t t0, int64_t t1, Row row, Lanes lanes) {
  if (inner == 1) {
    for (int64_t n = t0; n < t1; ++n) row(n * C);
    return;
  }
  const int64_t blocks = (inner + kSpatialBlock - 1) / kSpatialBlock;
  for (int64_t task = t0; task < t1; ++task) {
    int64_t n = task / blocks, b0 = (task % blocks) * kSpatialBlock, b1 = std::min(inner, b0 + kSpatialBlock);
    for (int64_t i = b0; i < b1; i += V::W) lanes(n * C * inner + i, int(std::min<int64_t>(V::W, b1 - i)));
  }
}

template <class V>
void softmax_tasks(const float* x, float* y, int64_t C, int64_t inner, bool log, int64_t t0, int64_t t1) {
  if (inner == 1 && C <= kShortRow) {
    alignas(64) int32_t row_of[kShortRow * V::W];
    fill_row_of(row_of, C, V::W);
    for (; t0 + V::W <= t1; t0 += V::W) softmax_row_group<V>(x + t0 * C, y + t0 * C, C, row_of, log);
  }
  for_tasks<V>(
      C, inner, t0, t1, [&](int64_t off) { softmax_row<V>(x + off, y + off, C, log); },
      [&](int64_t off, int nl) { softmax_lanes<V>(x + off, y + off, C, inner, nl, log); });
}

template <class V>
void softmax_backward_tasks(const float* gy, const float* y, float* gx, int64_t C, int64_t inner, bool log,
                            int64_t t0, int64_t t1) {
  for_tasks<V>(
      C, inner, t0, t1, [&](int64_t off) { softmax_backward_row<V>(gy + off, y + off, gx + off, C, log); },
      [&](int64_t off, int nl) { softmax_backward_lanes<V>(gy + off, y + off, gx + off, C, inner, nl, log); });
}

}  // namespace
}  // namespace nnc::cpu

// Defines the twin entry points of softmax.h for one ISA from the templates above.
#define NNC_DEFINE_SOFTMAX_TWIN(isa, V)                                                                            \
  void ce_tasks_##isa(const CeArgs<float>& a, double g_scale, int64_t t0, int64_t t1, CePartial& part) {          \
    FlushDenormals ftz;                                                                                            \
    ce_tasks<V>(a, g_scale, t0, t1, part);                                                                         \
  }                                                                                                                \
  void softmax_tasks_##isa(const float* x, float* y, int64_t, int64_t C, int64_t inner, bool log, int64_t t0,     \
                           int64_t t1) {                                                                           \
    FlushDenormals ftz;                                                                                            \
    softmax_tasks<V>(x, y, C, inner, log, t0, t1);                                                                 \
  }                                                                                                                \
  void softmax_backward_tasks_##isa(const float* gy, const float* y, float* gx, int64_t, int64_t C, int64_t inner, \
                                    bool log, int64_t t0, int64_t t1) {                                            \
    FlushDenormals ftz;                                                                                            \
    softmax_backward_tasks<V>(gy, y, gx, C, inner, log, t0, t1);                                                   \
  }
