// Per-row softmax and cross-entropy math shared by the portable CPU twin and the
// CUDA kernels: the online (running max, running sum) update and merge, and the
// closed forms of the cross-entropy loss and gradient once a row's (m, s) is known.
#pragma once
#include <cmath>

#include "core/hd.h"

namespace nnc::softmax_math {

NNC_HD float exp_of(float x) { return expf(x); }
NNC_HD double exp_of(double x) { return ::exp(x); }
NNC_HD float log_of(float x) { return logf(x); }
NNC_HD double log_of(double x) { return ::log(x); }

// The state of a row seen so far: m = max of its elements, s = sum of exp(x - m).
template <typename A>
struct Online {
  A m;
  A s;
};

template <typename A>
NNC_HD Online<A> online_empty() {
  return {-INFINITY, A(0)};
}

// Adds one element. A row that starts with -inf stays exact (exp(-inf - -inf)
// counts as 1 and is rescaled to 0 by the first finite element); NaN propagates.
template <typename A>
NNC_HD void online_add(Online<A>& st, A x) {
  if (x > st.m) {
    st.s = st.s * exp_of(st.m - x) + A(1);
    st.m = x;
  } else {
    st.s += (x == st.m) ? A(1) : exp_of(x - st.m);
  }
}

// Combines the states of two disjoint parts of a row.
template <typename A>
NNC_HD Online<A> online_merge(Online<A> a, Online<A> b) {
  if (b.s == A(0)) return a;
  if (a.s == A(0)) return b;
  if (a.m < b.m) {
    Online<A> t = a;
    a = b;
    b = t;
  }
  A scale = (b.m == a.m) ? A(1) : exp_of(b.m - a.m);
  return {a.m, a.s + b.s * scale};
}

// Class-index target y (not ignored). lse = log(s); xy = x_y - m; w_y the
// weight of y (1 without weights); eps the label smoothing; w_all = sum_c w_c;
// wx = sum_c w_c (x_c - m). As torch: (1 - eps) nll + eps / C * sum_c w_c (-log p_c).
template <typename A>
NNC_HD A ce_index_loss(A lse, A xy, A w_y, A eps, A inv_c, A w_all, A wx) {
  A nll = w_y * (lse - xy);
  if (eps == A(0)) return nll;
  return (A(1) - eps) * nll + eps * inv_c * (w_all * lse - wx);
}

// Probability target t, smoothed t'_c = (1 - eps) t_c + eps / C:
// loss = -sum_c w_c t'_c log p_c = wt * lse - wtx with wt = sum w t', wtx = sum w t' (x - m).
template <typename A>
NNC_HD A ce_prob_loss(A lse, A wt, A wtx) {
  return wt * lse - wtx;
}

// d loss / d x_j = g [p_j ((1-eps) w_y + eps/C w_all) - (1-eps) w_y [j == y] - eps/C w_j]
//               = p_scale * exp(x_j - m) - w_scale * w_j - [j == y] target_sub.
template <typename A>
struct CeGrad {
  A p_scale;
  A w_scale;
  A target_sub;
};

template <typename A>
NNC_HD CeGrad<A> ce_index_grad(A g, A s, A w_y, A eps, A inv_c, A w_all) {
  A keep = (A(1) - eps) * w_y;
  return {g * (keep + eps * inv_c * w_all) / s, g * eps * inv_c, g * keep};
}

// Probability target: d loss / d x_j = g [p_j wt - w_j t'_j] = p_scale exp(x_j - m) - g w_j t'_j.
template <typename A>
NNC_HD A ce_prob_p_scale(A g, A s, A wt) {
  return g * wt / s;
}

// How a probability target is smoothed.
template <typename A>
NNC_HD A smoothed(A t, A eps, A inv_c) {
  return (A(1) - eps) * t + eps * inv_c;
}

}  // namespace nnc::softmax_math
