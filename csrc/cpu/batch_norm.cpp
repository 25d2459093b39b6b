// Portable batch normalisation twin (the oracle: plain loops, double sums) and
// the drivers. L >= kColumnModeBelow ("rows"): channel by channel (threads over
// channels), sum the runs of L values, then run the affine pass over the same
// runs while they are still in cache. Smaller L ("columns"): per-column sums
// over each sample's C*L values (threads over column ranges), then the affine
// pass (threads over samples).
#include "cpu/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/isa.h"
#include "core/threading.h"

namespace nnc::cpu {

// ---------------------------------------------------------------- portable twin
namespace {

void row_moments(const float* x, int64_t n, double shift, double* sum, double* sum_sq) {
  double s = 0, q = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = double(x[i]) - shift;
    s += d;
    q += d * d;
  }
  *sum += s;
  *sum_sq += q;
}

void row_dot(const float* g, const float* x, int64_t n, double mean, double* sum_g, double* sum_gx) {
  double s = 0, q = 0;
  for (int64_t i = 0; i < n; ++i) {
    s += double(g[i]);
    q += double(g[i]) * (double(x[i]) - mean);
  }
  *sum_g += s;
  *sum_gx += q;
}

void row_affine(const float* p, const float* q, float* out, int64_t n, float a, float m, float k, float b) {
  for (int64_t i = 0; i < n; ++i) out[i] = (q[i] - m) * k + b + (p ? p[i] * a : 0.0f);
}

void col_moments(const float* x, int64_t cols, const double* shift, double* sum, double* sum_sq) {
  for (int64_t j = 0; j < cols; ++j) {
    double d = double(x[j]) - shift[j];
    sum[j] += d;
    sum_sq[j] += d * d;
  }
}

void col_dot(const float* g, const float* x, int64_t cols, const double* mean, double* sum_g, double* sum_gx) {
  for (int64_t j = 0; j < cols; ++j) {
    sum_g[j] += double(g[j]);
    sum_gx[j] += double(g[j]) * (double(x[j]) - mean[j]);
  }
}

void col_affine(const float* p, const float* q, float* out, int64_t cols, const float* a, const float* m,
                const float* k, const float* b) {
  for (int64_t j = 0; j < cols; ++j) out[j] = (q[j] - m[j]) * k[j] + b[j] + (p ? p[j] * a[j] : 0.0f);
}

}  // namespace

const BnKernels bn_kernels_portable = {row_moments, row_dot, row_affine, col_moments, col_dot, col_affine};

// ---------------------------------------------------------------- drivers
namespace {

constexpr int64_t kColumnModeBelow = 32;  // L below this: column kernels
constexpr int64_t kColumnChunk = 64;      // columns per thread range, a multiple of every SIMD width

const BnKernels& kernels() {
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: return bn_kernels_avx512;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: return bn_kernels_avx2;
#endif
    default: return bn_kernels_portable;
  }
}

// Runs fn(t0, t1) over `tasks` split evenly into one static range per thread;
// one thread below 128 Ki elements of work (a fork costs more than that much streaming).
template <typename Fn>
void parallel_ranges(int64_t tasks, int64_t work, Fn fn) {
  int nt = work >= (int64_t(1) << 17) ? std::max(1, num_threads()) : 1;
  nt = int(std::min<int64_t>(nt, std::max<int64_t>(tasks, 1)));
  if (nt == 1) return fn(int64_t(0), tasks);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) fn(tasks * t / nt, tasks * (t + 1) / nt);
}

// One channel's constants of out = (q - m) k + b (+ p a).
struct Coef {
  float a = 0, m = 0, k = 0, b = 0;
};

struct Stats {
  double mean, var;
};

// Mean and biased variance of a channel from its sums shifted by `shift`;
// running statistics (if any) move towards them, with the unbiased variance.
Stats batch_stats(int64_t c, double shift, double sum, double sum_sq, int64_t count, float* running_mean,
                  float* running_var, double momentum) {
  const double d = sum / double(count);
  Stats st{shift + d, std::max(0.0, sum_sq / double(count) - d * d)};
  if (running_mean) {
    running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * st.mean);
    const double unbiased = st.var * double(count) / double(count - 1);
    running_var[c] = float((1.0 - momentum) * double(running_var[c]) + momentum * unbiased);
  }
  return st;
}

// y = (x - mean) * weight / sqrt(var + eps) + bias; writes save_mean, save_invstd.
Coef forward_coef(int64_t c, Stats st, double eps, const float* weight, const float* bias, float* save_mean,
                  float* save_invstd) {
  const double invstd = 1.0 / std::sqrt(st.var + eps);
  save_mean[c] = float(st.mean);
  save_invstd[c] = float(invstd);
  Coef co;
  co.m = float(st.mean);
  co.k = float(invstd * (weight ? double(weight[c]) : 1.0));
  co.b = bias ? bias[c] : 0.0f;
  return co;
}

// From sum g and sum g (x - mean): writes grad_bias, grad_weight; returns dx's
// constants: training, dx = g a + (x - m) k + b with a = scale, k = -scale
// invstd^2 sum g (x - mean) / count, b = -scale sum g / count; not training,
// dx = (g - 0) scale (p is null then, q is g).
Coef backward_coef(int64_t c, double sum_g, double sum_gx, const float* weight, const float* save_mean,
                   const float* save_invstd, bool training, int64_t count, float* grad_weight, float* grad_bias) {
  const double invstd = double(save_invstd[c]);
  grad_bias[c] = float(sum_g);
  grad_weight[c] = float(sum_gx * invstd);
  const double scale = invstd * (weight ? double(weight[c]) : 1.0);
  Coef co;
  if (training) {
    co.a = float(scale);
    co.m = save_mean[c];
    co.k = float(-scale * invstd * invstd * sum_gx / double(count));
    co.b = float(-scale * sum_g / double(count));
  } else {
    co.k = float(scale);
  }
  return co;
}

// Column mode: per-channel pairs of sums (a_c, b_c) over the N*L values of each
// channel; col(offset, j0, count, a, b) adds `count` columns from column j0 of
// the sample starting at element `offset` into the column accumulators a, b.
// Each column adds its samples in order, whatever the thread count.
template <class Col>
void column_sums(BnShape s, std::vector<double>& a_c, std::vector<double>& b_c, Col col) {
  const int64_t N = s.N, C = s.C, L = s.L, cols = C * L, chunks = (cols + kColumnChunk - 1) / kColumnChunk;
  std::vector<double> a(size_t(cols), 0.0), b(size_t(cols), 0.0);
  parallel_ranges(chunks, N * cols, [&](int64_t k0, int64_t k1) {
    const int64_t j0 = k0 * kColumnChunk, j1 = std::min(cols, k1 * kColumnChunk);
    for (int64_t n = 0; n < N; ++n) col(n * cols, j0, j1 - j0, a.data() + j0, b.data() + j0);
  });
  a_c.assign(size_t(C), 0.0);
  b_c.assign(size_t(C), 0.0);
  for (int64_t j = 0; j < cols; ++j) {
    a_c[size_t(j / L)] += a[size_t(j)];
    b_c[size_t(j / L)] += b[size_t(j)];
  }
}

// Column mode: out = (q - m_c) k_c + b_c (+ p a_c when p), threads over samples.
void column_affine(const BnKernels& kern, const float* p, const float* q, float* out, BnShape s,
                   const std::vector<Coef>& co) {
  const int64_t N = s.N, L = s.L, cols = s.C * s.L;
  std::vector<float> a(static_cast<size_t>(cols)), m(static_cast<size_t>(cols)), k(static_cast<size_t>(cols)), b(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    const Coef& c = co[size_t(j / L)];
    a[size_t(j)] = c.a;
    m[size_t(j)] = c.m;
    k[size_t(j)] = c.k;
    b[size_t(j)] = c.b;
  }
  parallel_ranges(N, N * cols, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      kern.col_affine(p ? p + n * cols : nullptr, q + n * cols, out + n * cols, cols, a.data(), m.data(), k.data(),
                      b.data());
  });
}

// The per-column copy of a per-channel array (column mode).
std::vector<double> widen(const std::vector<double>& per_channel, BnShape s) {
  std::vector<double> wide(static_cast<size_t>(s.C * s.L));
  for (int64_t j = 0; j < s.C * s.L; ++j) wide[size_t(j)] = per_channel[size_t(j / s.L)];
  return wide;
}

}  // namespace

void batch_norm_forward(const float* x, float* y, BnShape s, const float* weight, const float* bias,
                        float* running_mean, float* running_var, bool training, double momentum, double eps,
                        float* save_mean, float* save_invstd) {
  const BnKernels& kern = kernels();
  const int64_t N = s.N, C = s.C, L = s.L, count = N * L;
  // Sums are shifted by each channel's first value, so a large mean costs no precision.
  if (L >= kColumnModeBelow) {
    // Row mode, channel by channel: the statistics, then the normalising pass
    // while the channel's N*L values are still in cache.
    parallel_ranges(C, N * C * L, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        Stats st{double(training ? 0.0f : running_mean[c]), double(training ? 0.0f : running_var[c])};
        if (training) {
          const double shift = double(x[c * L]);
          double sum = 0, sum_sq = 0;
          for (int64_t n = 0; n < N; ++n) kern.row_moments(x + (n * C + c) * L, L, shift, &sum, &sum_sq);
          st = batch_stats(c, shift, sum, sum_sq, count, running_mean, running_var, momentum);
        }
        const Coef co = forward_coef(c, st, eps, weight, bias, save_mean, save_invstd);
        for (int64_t n = 0; n < N; ++n) {
          const int64_t off = (n * C + c) * L;
          kern.row_affine(nullptr, x + off, y + off, L, co.a, co.m, co.k, co.b);
        }
      }
    });
    return;
  }
  std::vector<Coef> co(static_cast<size_t>(C));
  if (training) {
    std::vector<double> shift(static_cast<size_t>(C)), sum, sum_sq;
    for (int64_t c = 0; c < C; ++c) shift[size_t(c)] = double(x[c * L]);
    const std::vector<double> shift_wide = widen(shift, s);
    column_sums(s, sum, sum_sq, [&](int64_t offset, int64_t j0, int64_t n, double* a, double* b) {
      kern.col_moments(x + offset + j0, n, shift_wide.data() + j0, a, b);
    });
    for (int64_t c = 0; c < C; ++c) {
      const Stats st = batch_stats(c, shift[size_t(c)], sum[size_t(c)], sum_sq[size_t(c)], count, running_mean,
                                   running_var, momentum);
      co[size_t(c)] = forward_coef(c, st, eps, weight, bias, save_mean, save_invstd);
    }
  } else {
    for (int64_t c = 0; c < C; ++c)
      co[size_t(c)] = forward_coef(c, Stats{double(running_mean[c]), double(running_var[c])}, eps, weight, bias,
                                   save_mean, save_invstd);
  }
  if (N * C * L > 0) column_affine(kern, nullptr, x, y, s, co);
}

void batch_norm_backward(const float* g, const float* x, BnShape s, const float* weight, const float* save_mean,
                         const float* save_invstd, bool training, float* grad_input, float* grad_weight,
                         float* grad_bias) {
  const BnKernels& kern = kernels();
  const int64_t N = s.N, C = s.C, L = s.L, count = N * L;
  if (L >= kColumnModeBelow) {
    // Row mode, channel by channel: the sums, then grad_input while g and x are still in cache.
    parallel_ranges(C, N * C * L, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double sum_g = 0, sum_gx = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t off = (n * C + c) * L;
          kern.row_dot(g + off, x + off, L, double(save_mean[c]), &sum_g, &sum_gx);
        }
        const Coef co = backward_coef(c, sum_g, sum_gx, weight, save_mean, save_invstd, training, count, grad_weight,
                                      grad_bias);
        if (!grad_input) continue;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t off = (n * C + c) * L;
          kern.row_affine(training ? g + off : nullptr, training ? x + off : g + off, grad_input + off, L, co.a, co.m,
                          co.k, co.b);
        }
      }
    });
    return;
  }
  std::vector<double> mean(static_cast<size_t>(C)), sum_g, sum_gx;
  for (int64_t c = 0; c < C; ++c) mean[size_t(c)] = double(save_mean[c]);
  const std::vector<double> mean_wide = widen(mean, s);
  column_sums(s, sum_g, sum_gx, [&](int64_t offset, int64_t j0, int64_t n, double* a, double* b) {
    kern.col_dot(g + offset + j0, x + offset + j0, n, mean_wide.data() + j0, a, b);
  });
  std::vector<Coef> co(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    co[size_t(c)] = backward_coef(c, sum_g[size_t(c)], sum_gx[size_t(c)], weight, save_mean, save_invstd, training,
                                  count, grad_weight, grad_bias);
  if (grad_input && N * C * L > 0) column_affine(kern, training ? g : nullptr, training ? x : g, grad_input, s, co);
}

}  // namespace nnc::cpu
