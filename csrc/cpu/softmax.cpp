// Portable softmax / log_softmax / cross-entropy (the oracle twin, float and
// double, online max-and-sum per row in double) and the drivers that split the
// work into fixed blocks, dispatch float to the SIMD twins and reduce in order.
#include "cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/isa.h"
#include "core/softmax_math.h"
#include "core/threading.h"

namespace nnc::cpu {

namespace sm = nnc::softmax_math;

namespace {

// Calls fn(first position, position count) for the positions of tasks [t0, t1).
template <typename Fn>
void for_each_run(int64_t outer, int64_t inner, int64_t t0, int64_t t1, Fn fn) {
  if (inner == 1) {
    fn(t0, t1 - t0);
    return;
  }
  int64_t blocks = (inner + kSpatialBlock - 1) / kSpatialBlock;
  for (int64_t t = t0; t < t1; ++t) {
    int64_t n = t / blocks, i0 = (t % blocks) * kSpatialBlock;
    fn(n * inner + i0, std::min(kSpatialBlock, inner - i0));
  }
  (void)outer;
}

// Runs fn(t0, t1) over `tasks` split evenly into one static range per thread.
template <typename Fn>
void parallel_ranges(int64_t tasks, int64_t work, Fn fn) {
  int nt = work >= (int64_t(1) << 15) ? std::max(1, num_threads()) : 1;
  nt = int(std::min<int64_t>(nt, std::max<int64_t>(tasks, 1)));
  if (nt == 1) return fn(int64_t(0), tasks);  // small problems: no parallel region
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int k = 0; k < nt; ++k) fn(tasks * k / nt, tasks * (k + 1) / nt);
}

}  // namespace

// ---------------------------------------------------------------- portable twin

template <typename T>
void ce_tasks_portable(const CeArgs<T>& a, double g_scale, int64_t t0, int64_t t1, CePartial& part) {
  const int64_t C = a.C, S = a.S;
  const double eps = a.label_smoothing, inv_c = C > 0 ? 1.0 / double(C) : 0.0;
  double w_all = 0;
  for (int64_t c = 0; c < C; ++c) w_all += a.weight ? double(a.weight[c]) : 1.0;
  auto w = [&](int64_t c) { return a.weight ? double(a.weight[c]) : 1.0; };

  for_each_run(a.N, S, t0, t1, [&](int64_t first, int64_t count) {
    for (int64_t pos = first; pos < first + count; ++pos) {
      int64_t n = pos / S, i = pos % S;
      const T* x = a.logits + n * C * S + i;  // x[c * S], c < C
      T* gx = a.grad ? a.grad + n * C * S + i : nullptr;
      const T* t = a.target_prob ? a.target_prob + n * C * S + i : nullptr;
      int64_t y = 0;
      if (!t) {
        y = a.target[pos];
        bool ignored = y == a.ignore_index;
        if (!ignored && (y < 0 || y >= C)) part.flag_bad(pos, y);
        if (ignored || y < 0 || y >= C) {
          if (a.loss && a.reduction == Reduction::none) a.loss[pos] = T(0);
          if (gx)
            for (int64_t c = 0; c < C; ++c) gx[c * S] = T(0);
          continue;
        }
      }
      // one pass: online (max, sum of exp) and the weighted sums the loss needs
      sm::Online<double> st = sm::online_empty<double>();
      double wx = 0, wt = 0, wtx = 0;
      for (int64_t c = 0; c < C; ++c) {
        double xc = double(x[c * S]);
        sm::online_add(st, xc);
        if (t) {
          double tc = double(t[c * S]);
          if (!std::isfinite(tc)) part.nonfinite_target = true;
          double wtc = w(c) * sm::smoothed(tc, eps, inv_c);
          wt += wtc;
          wtx += wtc * xc;
        } else if (eps > 0) {
          wx += w(c) * xc;
        }
      }
      double m = st.m, lse = std::log(st.s), loss, w_y = 1.0;
      if (t) {
        loss = sm::ce_prob_loss(lse, wt, wtx - wt * m);
      } else {
        w_y = w(y);
        loss = sm::ce_index_loss(lse, double(x[y * S]) - m, w_y, eps, inv_c, w_all, wx - w_all * m);
        part.wsum += w_y;
      }
      part.loss += loss;
      if (a.loss && a.reduction == Reduction::none) a.loss[pos] = T(loss);
      if (!gx) continue;
      double g = g_scale * (a.grad_output ? double(a.grad_output[pos * a.grad_output_stride]) : 1.0);
      if (t) {
        double p_scale = sm::ce_prob_p_scale(g, st.s, wt);
        for (int64_t c = 0; c < C; ++c)
          gx[c * S] = T(p_scale * std::exp(double(x[c * S]) - m) -
                        g * w(c) * sm::smoothed(double(t[c * S]), eps, inv_c));
      } else {
        sm::CeGrad<double> k = sm::ce_index_grad(g, st.s, w_y, eps, inv_c, w_all);
        for (int64_t c = 0; c < C; ++c)
          gx[c * S] = T(k.p_scale * std::exp(double(x[c * S]) - m) - k.w_scale * w(c) -
                        (c == y ? k.target_sub : 0.0));
      }
    }
  });
}

template <typename T>
void softmax_tasks_portable(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log, int64_t t0,
                            int64_t t1) {
  for_each_run(outer, inner, t0, t1, [&](int64_t first, int64_t count) {
    for (int64_t pos = first; pos < first + count; ++pos) {
      int64_t base = (pos / inner) * C * inner + pos % inner;  // element c at base + c * inner
      sm::Online<double> st = sm::online_empty<double>();
      for (int64_t c = 0; c < C; ++c) sm::online_add(st, double(x[base + c * inner]));
      double lse = std::log(st.s), inv_s = 1.0 / st.s;
      for (int64_t c = 0; c < C; ++c) {
        double d = double(x[base + c * inner]) - st.m;
        y[base + c * inner] = T(log ? d - lse : std::exp(d) * inv_s);
      }
    }
  });
}

template <typename T>
void softmax_backward_tasks_portable(const T* gy, const T* y, T* gx, int64_t outer, int64_t C, int64_t inner,
                                     bool log, int64_t t0, int64_t t1) {
  for_each_run(outer, inner, t0, t1, [&](int64_t first, int64_t count) {
    for (int64_t pos = first; pos < first + count; ++pos) {
      int64_t base = (pos / inner) * C * inner + pos % inner;
      double acc = 0;  // log: sum_c g; softmax: sum_c g y
      for (int64_t c = 0; c < C; ++c) {
        int64_t k = base + c * inner;
        acc += log ? double(gy[k]) : double(gy[k]) * double(y[k]);
      }
      for (int64_t c = 0; c < C; ++c) {
        int64_t k = base + c * inner;
        double g = double(gy[k]), v = double(y[k]);
        gx[k] = T(log ? g - std::exp(v) * acc : v * (g - acc));
      }
    }
  });
}

// ---------------------------------------------------------------- drivers

namespace {

template <typename T>
using CeTasks = void (*)(const CeArgs<T>&, double, int64_t, int64_t, CePartial&);

template <typename T>
CeTasks<T> ce_twin() {
  if constexpr (std::is_same_v<T, float>) {
    switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
      case Isa::avx512:
        return ce_tasks_avx512;
#endif
#ifdef NNCORE_HAVE_AVX2
      case Isa::avx2:
        return ce_tasks_avx2;
#endif
      default:
        break;
    }
  }
  return ce_tasks_portable<T>;
}

// Sum of the weights of the non-ignored class-index targets, in a fixed order
// (needed before the gradient of reduction mean); flags the first bad target.
template <typename T>
double total_weight(const CeArgs<T>& a, CeStatus& status) {
  const int64_t positions = a.N * a.S, chunk = 16384;
  int64_t chunks = (positions + chunk - 1) / chunk;
  std::vector<CePartial> parts(size_t(std::max<int64_t>(chunks, 1)));
  const int64_t* target = a.target;
  const T* weight = a.weight;
  const int64_t C = a.C, ignore_index = a.ignore_index;
  parallel_ranges(chunks, positions * 4, [&](int64_t c0, int64_t c1) {
    for (int64_t k = c0; k < c1; ++k) {
      double wsum = 0;
      int64_t bad = -1;
      for (int64_t pos = k * chunk; pos < std::min(positions, (k + 1) * chunk); ++pos) {
        int64_t y = target[pos];
        if (y == ignore_index) continue;
        if (y < 0 || y >= C) {
          if (bad < 0) bad = pos;
          continue;
        }
        wsum += weight ? double(weight[y]) : 1.0;
      }
      parts[size_t(k)].wsum = wsum;
      if (bad >= 0) parts[size_t(k)].flag_bad(bad, target[bad]);
    }
  });
  double w = 0;
  for (int64_t k = 0; k < chunks; ++k) {
    w += parts[size_t(k)].wsum;
    if (status.bad_position < 0 && parts[size_t(k)].bad_position >= 0) {
      status.bad_position = parts[size_t(k)].bad_position;
      status.bad_target = parts[size_t(k)].bad_target;
    }
  }
  return w;
}

}  // namespace

template <typename T>
CeStatus cross_entropy(const CeArgs<T>& a) {
  CeStatus status;
  const int64_t positions = a.N * a.S;
  double g_scale = a.grad_scale, total_w = 0;
  bool have_total_w = false;
  if (a.grad && a.reduction == Reduction::mean) {
    if (a.target_prob) {
      g_scale /= double(positions);
    } else {
      total_w = total_weight(a, status);
      have_total_w = true;
      if (status.bad_position >= 0) return status;
      g_scale /= total_w;
    }
  }
  const int64_t tasks = task_count(a.N, a.S);
  const int64_t per_task = std::max<int64_t>(1, a.C * (a.S == 1 ? 1 : kSpatialBlock));
  const int64_t block = std::max<int64_t>(1, 32768 / per_task);
  const int64_t blocks = (tasks + block - 1) / block;
  std::vector<CePartial> parts(size_t(std::max<int64_t>(blocks, 1)));
  CeTasks<T> twin = ce_twin<T>();
  parallel_ranges(blocks, positions * std::max<int64_t>(a.C, 1), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) twin(a, g_scale, b * block, std::min(tasks, (b + 1) * block), parts[size_t(b)]);
  });
  double loss = 0, wsum = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const CePartial& p = parts[size_t(b)];
    loss += p.loss;
    wsum += p.wsum;
    status.nonfinite_target = status.nonfinite_target || p.nonfinite_target;
    if (status.bad_position < 0 && p.bad_position >= 0) {
      status.bad_position = p.bad_position;
      status.bad_target = p.bad_target;
    }
  }
  if (a.loss && a.reduction != Reduction::none) {
    if (a.reduction == Reduction::sum) {
      a.loss[0] = T(loss);
    } else if (a.target_prob) {
      a.loss[0] = positions * a.C == 0 ? std::numeric_limits<T>::quiet_NaN() : T(loss / double(positions));
    } else {
      a.loss[0] = T(loss / (have_total_w ? total_w : wsum));
    }
  }
  return status;
}

template <typename T>
void softmax(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  auto twin = softmax_tasks_portable<T>;
  if constexpr (std::is_same_v<T, float>) {
    switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
      case Isa::avx512: twin = softmax_tasks_avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
      case Isa::avx2: twin = softmax_tasks_avx2; break;
#endif
      default: break;
    }
  }
  parallel_ranges(task_count(outer, inner), outer * C * inner,
                  [&](int64_t t0, int64_t t1) { twin(x, y, outer, C, inner, log, t0, t1); });
}

template <typename T>
void softmax_backward(const T* grad_y, const T* y, T* grad_x, int64_t outer, int64_t C, int64_t inner, bool log) {
  auto twin = softmax_backward_tasks_portable<T>;
  if constexpr (std::is_same_v<T, float>) {
    switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
      case Isa::avx512: twin = softmax_backward_tasks_avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
      case Isa::avx2: twin = softmax_backward_tasks_avx2; break;
#endif
      default: break;
    }
  }
  parallel_ranges(task_count(outer, inner), outer * C * inner,
                  [&](int64_t t0, int64_t t1) { twin(grad_y, y, grad_x, outer, C, inner, log, t0, t1); });
}

template CeStatus cross_entropy<float>(const CeArgs<float>&);
template CeStatus cross_entropy<double>(const CeArgs<double>&);
template void softmax<float>(const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax<double>(const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, bool);

}  // namespace nnc::cpu
