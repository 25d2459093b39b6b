// AVX2+FMA twin of softmax / log_softmax / cross-entropy: the templates of
// softmax_simd.h over 8 float lanes, with a polynomial exp (Cephes-style range
// reduction x = n ln2 + r, degree-5 polynomial on |r| <= ln2 / 2, ~1 ulp,
// flushed to 0 below exp(-86.5)).
#include <immintrin.h>

#include "cpu/softmax_simd.h"

namespace nnc::cpu {
namespace {

struct Avx2 {
  using R = __m256;
  static constexpr int W = 8;
  static __m256i mask(int n) {
    alignas(64) static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - n));
  }
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R load_n(const float* p, int n, float fill) {
    __m256i k = mask(n);
    return _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
  }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static void store_n(float* p, R v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static R zero_tail(R v, int n) { return _mm256_and_ps(v, _mm256_castsi256_ps(mask(n))); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R div_one(R v) { return _mm256_div_ps(set1(1.0f), v); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R fnmadd(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  static float hmax(R v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
  }
  static float hsum(R v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
  }

  // exp(x) = 2^n exp(r), n = round(x / ln2), r = x - n ln2 (ln2 split in two);
  // 2^n built in the exponent bits, so x is clamped to [-86.5, 88] (n in
  // [-125, 127]) and the result set to 0 below -86.5, which also keeps it clear
  // of denormals (each costs a microcode assist). A NaN x stays NaN.
  static R exp(R x) {
    const R lo = set1(-86.5f);
    R xc = _mm256_min_ps(set1(88.0f), _mm256_max_ps(lo, x));  // max/min keep a NaN x
    R n = _mm256_round_ps(mul(xc, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R r = fnmadd(n, set1(0.693359375f), xc);
    r = fnmadd(n, set1(-2.12194440e-4f), r);
    R p = set1(1.9875691500e-4f);
    p = fmadd(p, r, set1(1.3981999507e-3f));
    p = fmadd(p, r, set1(8.3334519073e-3f));
    p = fmadd(p, r, set1(4.1665795894e-2f));
    p = fmadd(p, r, set1(1.6666665459e-1f));
    p = fmadd(p, r, set1(5.0000001201e-1f));
    p = add(fmadd(p, mul(r, r), r), set1(1.0f));  // exp(r) = 1 + r + r^2 P(r)
    __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    R e = mul(p, _mm256_castsi256_ps(two_n));
    return _mm256_and_ps(e, _mm256_cmp_ps(x, lo, _CMP_NLT_UQ));  // true for x >= lo and for NaN
  }
};

}  // namespace

NNC_DEFINE_SOFTMAX_TWIN(avx2, Avx2)

}  // namespace nnc::cpu
