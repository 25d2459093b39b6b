// Portable batch normalisation twin (the oracle: plain loops, double sums) and
// the drivers: per-channel sums over contiguous runs of L values ("rows", one
// thread per channel range) or, for L < kColumnModeBelow, over each sample's
// C*L values with per-column accumulators ("columns", one thread per column
// range); then per-channel coefficients and one affine pass (threads over rows).
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
// one thread below 32 Ki elements of work.
template <typename Fn>
void parallel_ranges(int64_t tasks, int64_t work, Fn fn) {
  int nt = work >= (int64_t(1) << 15) ? std::max(1, num_threads()) : 1;
  nt = int(std::min<int64_t>(nt, std::max<int64_t>(tasks, 1)));
  if (nt == 1) return fn(int64_t(0), tasks);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) fn(tasks * t / nt, tasks * (t + 1) / nt);
}

// Per-channel pairs of sums (a_c, b_c) over the N*L values of each channel.
// row(offset, c, &a, &b) adds one run of L values starting at element `offset`;
// col(offset, j0, count, a, b) adds `count` columns from column j0 of the sample
// starting at `offset` into the column accumulators a, b.
template <class Row, class Col>
void per_channel_sums(BnShape s, std::vector<double>& a_c, std::vector<double>& b_c, Row row, Col col) {
  const int64_t N = s.N, C = s.C, L = s.L;
  a_c.assign(size_t(C), 0.0);
  b_c.assign(size_t(C), 0.0);
  if (L >= kColumnModeBelow) {
    parallel_ranges(C, N * C * L, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double a = 0, b = 0;
        for (int64_t n = 0; n < N; ++n) row((n * C + c) * L, c, &a, &b);
        a_c[size_t(c)] = a;
        b_c[size_t(c)] = b;
      }
    });
    return;
  }
  const int64_t cols = C * L, chunks = (cols + kColumnChunk - 1) / kColumnChunk;
  std::vector<double> a(size_t(cols), 0.0), b(size_t(cols), 0.0);
  parallel_ranges(chunks, N * cols, [&](int64_t k0, int64_t k1) {
    const int64_t j0 = k0 * kColumnChunk, j1 = std::min(cols, k1 * kColumnChunk);
    for (int64_t n = 0; n < N; ++n) col(n * cols, j0, j1 - j0, a.data() + j0, b.data() + j0);
  });
  for (int64_t c = 0; c < C; ++c)
    for (int64_t l = 0; l < L; ++l) {
      a_c[size_t(c)] += a[size_t(c * L + l)];
      b_c[size_t(c)] += b[size_t(c * L + l)];
    }
}

// Per-channel constants of out = (q - m) k + b + p a, as floats.
struct Coefficients {
  std::vector<float> a, m, k, b;
  explicit Coefficients(int64_t C) : a(static_cast<size_t>(C)), m(static_cast<size_t>(C)), k(static_cast<size_t>(C)), b(static_cast<size_t>(C)) {}
};

// out = (q - m_c) k_c + b_c (+ p a_c when p), over (N, C, L).
void affine_pass(const BnKernels& kern, const float* p, const float* q, float* out, BnShape s, const Coefficients& co) {
  const int64_t N = s.N, C = s.C, L = s.L;
  if (L >= kColumnModeBelow) {
    parallel_ranges(N * C, N * C * L, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const size_t c = size_t(r % C);
        kern.row_affine(p ? p + r * L : nullptr, q + r * L, out + r * L, L, co.a[c], co.m[c], co.k[c], co.b[c]);
      }
    });
    return;
  }
  const int64_t cols = C * L;
  Coefficients wide(cols);
  for (int64_t j = 0; j < cols; ++j) {
    const size_t c = size_t(j / L);
    wide.a[size_t(j)] = co.a[c];
    wide.m[size_t(j)] = co.m[c];
    wide.k[size_t(j)] = co.k[c];
    wide.b[size_t(j)] = co.b[c];
  }
  parallel_ranges(N, N * cols, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      kern.col_affine(p ? p + n * cols : nullptr, q + n * cols, out + n * cols, cols, wide.a.data(), wide.m.data(),
                      wide.k.data(), wide.b.data());
  });
}

// The per-column copy of a per-channel double array (column mode).
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
  const int64_t C = s.C, L = s.L, count = s.N * s.L;
  std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  if (training) {
    // shifted sums: shift by each channel's first value, so a large mean costs no precision
    std::vector<double> shift(static_cast<size_t>(C)), sum, sum_sq;
    for (int64_t c = 0; c < C; ++c) shift[size_t(c)] = double(x[c * L]);
    const std::vector<double> shift_wide = L < kColumnModeBelow ? widen(shift, s) : std::vector<double>();
    per_channel_sums(
        s, sum, sum_sq,
        [&](int64_t offset, int64_t c, double* a, double* b) { kern.row_moments(x + offset, L, shift[size_t(c)], a, b); },
        [&](int64_t offset, int64_t j0, int64_t n, double* a, double* b) {
          kern.col_moments(x + offset + j0, n, shift_wide.data() + j0, a, b);
        });
    for (int64_t c = 0; c < C; ++c) {
      const double d = sum[size_t(c)] / double(count);
      mean[size_t(c)] = shift[size_t(c)] + d;
      var[size_t(c)] = std::max(0.0, sum_sq[size_t(c)] / double(count) - d * d);
      if (running_mean) {
        running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * mean[size_t(c)]);
        const double unbiased = var[size_t(c)] * double(count) / double(count - 1);
        running_var[c] = float((1.0 - momentum) * double(running_var[c]) + momentum * unbiased);
      }
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[size_t(c)] = double(running_mean[c]);
      var[size_t(c)] = double(running_var[c]);
    }
  }
  Coefficients co(C);
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(var[size_t(c)] + eps);
    save_mean[c] = float(mean[size_t(c)]);
    save_invstd[c] = float(invstd);
    co.a[size_t(c)] = 0.0f;
    co.m[size_t(c)] = float(mean[size_t(c)]);
    co.k[size_t(c)] = float(invstd * (weight ? double(weight[c]) : 1.0));
    co.b[size_t(c)] = bias ? bias[c] : 0.0f;
  }
  if (s.N * C * L > 0) affine_pass(kern, nullptr, x, y, s, co);
}

void batch_norm_backward(const float* g, const float* x, BnShape s, const float* weight, const float* save_mean,
                         const float* save_invstd, bool training, float* grad_input, float* grad_weight,
                         float* grad_bias) {
  const BnKernels& kern = kernels();
  const int64_t C = s.C, L = s.L, count = s.N * s.L;
  std::vector<double> mean(static_cast<size_t>(C)), sum_g, sum_gx;
  for (int64_t c = 0; c < C; ++c) mean[size_t(c)] = double(save_mean[c]);
  const std::vector<double> mean_wide = L < kColumnModeBelow ? widen(mean, s) : std::vector<double>();
  per_channel_sums(
      s, sum_g, sum_gx,
      [&](int64_t offset, int64_t c, double* a, double* b) { kern.row_dot(g + offset, x + offset, L, mean[size_t(c)], a, b); },
      [&](int64_t offset, int64_t j0, int64_t n, double* a, double* b) {
        kern.col_dot(g + offset + j0, x + offset + j0, n, mean_wide.data() + j0, a, b);
      });
  Coefficients co(C);
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = double(save_invstd[c]), sg = sum_g[size_t(c)], sgx = sum_gx[size_t(c)];
    grad_bias[c] = float(sg);
    grad_weight[c] = float(sgx * invstd);
    const double scale = invstd * (weight ? double(weight[c]) : 1.0);
    if (training) {  // dx = scale (g - sum g / count - (x - mean) invstd^2 sum g (x - mean) / count)
      co.a[size_t(c)] = float(scale);
      co.m[size_t(c)] = float(mean[size_t(c)]);
      co.k[size_t(c)] = float(-scale * invstd * invstd * sgx / double(count));
      co.b[size_t(c)] = float(-scale * sg / double(count));
    } else {  // dx = scale g
      co.a[size_t(c)] = 0.0f;
      co.m[size_t(c)] = 0.0f;
      co.k[size_t(c)] = float(scale);
      co.b[size_t(c)] = 0.0f;
    }
  }
  if (grad_input && s.N * C * L > 0) {
    if (training) affine_pass(kern, g, x, grad_input, s, co);
    else affine_pass(kern, nullptr, g, grad_input, s, co);
  }
}

}  // namespace nnc::cpu
