// AVX-512 twin of the batch-norm kernels (cpu/batch_norm_simd.h): sums in 8
// double lanes widened from floats, affine passes in 16 float lanes.
#include <immintrin.h>

#include "cpu/batch_norm_simd.h"

namespace nnc::cpu {
namespace {

struct Avx512 {
  using F = __m512;
  using D = __m512d;
  static constexpr int64_t W = 16, WD = 8;
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static D dzero() { return _mm512_setzero_pd(); }
  static D dset1(double v) { return _mm512_set1_pd(v); }
  static D widen(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  static D dload(const double* p) { return _mm512_loadu_pd(p); }
  static void dstore(double* p, D v) { _mm512_storeu_pd(p, v); }
  static D dadd(D a, D b) { return _mm512_add_pd(a, b); }
  static D dsub(D a, D b) { return _mm512_sub_pd(a, b); }
  static D dfmadd(D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); }
  static double dhsum(D v) { return _mm512_reduce_add_pd(v); }
};

}  // namespace

const BnKernels bn_kernels_avx512 = bn_simd::kernels<Avx512>();

}  // namespace nnc::cpu
