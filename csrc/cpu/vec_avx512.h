// The 16-lane float register type V of the element-wise SIMD bodies
// (activation_simd.h, optim_simd.h, conv2d_few_channels_simd.h); included only by the *_avx512.cpp files,
// which alone are compiled with the ISA's flags.
#pragma once
#include <immintrin.h>

namespace nnc::cpu {
namespace {  // each ISA's translation unit gets its own copy

struct Avx512 {
  using R = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static __mmask16 lanes(int n) { return __mmask16((1u << n) - 1u); }
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes(n), p); }
  static void store_n(float* p, R v, int n) { _mm512_mask_storeu_ps(p, lanes(n), v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R sqrt(R a) { return _mm512_sqrt_ps(a); }
  // 1 / a to ~1 ulp: the 14-bit estimate and one Newton step r (2 - a r); a division costs
  // more than the rest of a sigmoid. a must be finite and non-zero.
  static R rcp(R a) {
    R r = _mm512_rcp14_ps(a);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
  }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(R v) { return _mm512_reduce_add_ps(v); }
  static R fnmadd(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  static R round(R v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static R pow2n(R n) { return _mm512_scalef_ps(_mm512_set1_ps(1.0f), n); }
  static R ldexp(R p, R n) { return _mm512_scalef_ps(p, n); }
  static R bit_and(R a, R b) { return _mm512_and_ps(a, b); }
  static R bit_or(R a, R b) { return _mm512_or_ps(a, b); }
  static M gt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M lt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M ge(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M both(M a, M b) { return __mmask16(a & b); }
  static R select(M m, R a, R b) { return _mm512_mask_blend_ps(m, b, a); }
};

}  // namespace
}  // namespace nnc::cpu
