// The 8-lane float register type V of the element-wise SIMD bodies
// (activation_simd.h, optim_simd.h, conv2d_few_channels_simd.h); included only by the *_avx2.cpp files,
// which alone are compiled with the ISA's flags.
#pragma once
#include <immintrin.h>

namespace nnc::cpu {
namespace {  // each ISA's translation unit gets its own copy

struct Avx2 {
  using R = __m256;
  using M = __m256;
  static constexpr int W = 8;
  static __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R load_n(const float* p, int n) { return _mm256_maskload_ps(p, lanes(n)); }
  static void store_n(float* p, R v, int n) { _mm256_maskstore_ps(p, lanes(n), v); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R sqrt(R a) { return _mm256_sqrt_ps(a); }
  // 1 / a to ~1 ulp: the 12-bit estimate and one Newton step r (2 - a r); a division costs
  // more than the rest of a sigmoid. a must be finite and non-zero.
  static R rcp(R a) {
    R r = _mm256_rcp_ps(a);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
  }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(R v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
  }
  static R fnmadd(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  static R round(R v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static R pow2n(R n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  static R ldexp(R p, R n) { return _mm256_mul_ps(p, pow2n(n)); }
  static R bit_and(R a, R b) { return _mm256_and_ps(a, b); }
  static R bit_or(R a, R b) { return _mm256_or_ps(a, b); }
  static M gt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M lt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M ge(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M both(M a, M b) { return _mm256_and_ps(a, b); }
  static R select(M m, R a, R b) { return _mm256_blendv_ps(b, a, m); }
};

}  // namespace
}  // namespace nnc::cpu
