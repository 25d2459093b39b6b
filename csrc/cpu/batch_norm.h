// Batch normalisation on the CPU, float32, input contiguous (N, C, L) with L the
// product of the spatial dims (L = 1 for (N, C)): statistics per channel over N*L
// values in double, then one pass y = (x - mean) * scale + shift; the backward is
// one reduction pass (sum g, sum g (x - mean)) and one pass writing grad_input.
#pragma once
#include <cstdint>

namespace nnc::cpu {

struct BnShape {
  int64_t N, C, L;
};

// training: mean and biased variance of the batch; running_mean / running_var
// (both null, or both (C,)) become (1 - momentum) r + momentum stat, with the
// unbiased variance. Not training: running_mean / running_var are used.
// save_mean, save_invstd (C,): the mean and 1 / sqrt(var + eps) that normalised.
// weight, bias: (C,) or null (1 and 0). y: (N, C, L), may not overlap x.
void batch_norm_forward(const float* x, float* y, BnShape s, const float* weight, const float* bias,
                        float* running_mean, float* running_var, bool training, double momentum, double eps,
                        float* save_mean, float* save_invstd);

// grad_weight = sum g (x - mean) invstd and grad_bias = sum g per channel, always
// written; grad_input (null: not wanted) = d loss / d x, with the batch
// statistics' dependence on x when training, without it when not.
void batch_norm_backward(const float* g, const float* x, BnShape s, const float* weight, const float* save_mean,
                         const float* save_invstd, bool training, float* grad_input, float* grad_weight,
                         float* grad_bias);

// ---- what each twin implements. Row kernels walk one contiguous run of n
// values of one channel; column kernels walk one sample's C*L values with
// per-column constants. Sums are added into the accumulators given.
struct BnKernels {
  // sum += sum(x - shift), sum_sq += sum (x - shift)^2
  void (*row_moments)(const float* x, int64_t n, double shift, double* sum, double* sum_sq);
  // sum_g += sum g, sum_gx += sum g (x - mean)
  void (*row_dot)(const float* g, const float* x, int64_t n, double mean, double* sum_g, double* sum_gx);
  // out = (q - m) k + b, plus p a when p is not null
  void (*row_affine)(const float* p, const float* q, float* out, int64_t n, float a, float m, float k, float b);
  void (*col_moments)(const float* x, int64_t cols, const double* shift, double* sum, double* sum_sq);
  void (*col_dot)(const float* g, const float* x, int64_t cols, const double* mean, double* sum_g, double* sum_gx);
  void (*col_affine)(const float* p, const float* q, float* out, int64_t cols, const float* a, const float* m,
                     const float* k, const float* b);
};

extern const BnKernels bn_kernels_portable;
extern const BnKernels bn_kernels_avx2;
extern const BnKernels bn_kernels_avx512;

}  // namespace nnc::cpu
