// AVX-512 twin of softmax / log_softmax / cross-entropy: the templates of
// softmax_simd.h over 16 float lanes, with a polynomial exp (Cephes-style
// range reduction x = n ln2 + r, degree-5 polynomial on |r| <= ln2 / 2, ~1 ulp,
// flushed to 0 below exp(-86.5)).
#include <immintrin.h>

#include "cpu/softmax_simd.h"

namespace nnc::cpu {
namespace {

struct Avx512 {
  using R = __m512;
  static constexpr int W = 16;
  static __mmask16 mask(int n) { return __mmask16((1u << n) - 1u); }
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static R load_n(const float* p, int n, float fill) { return _mm512_mask_loadu_ps(set1(fill), mask(n), p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static void store_n(float* p, R v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static R zero_tail(R v, int n) { return _mm512_maskz_mov_ps(mask(n), v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R div_one(R v) { return _mm512_div_ps(set1(1.0f), v); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R fnmadd(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  static float hmax(R v) { return _mm512_reduce_max_ps(v); }
  static float hsum(R v) { return _mm512_reduce_add_ps(v); }

  // exp(x) = 2^n exp(r), n = round(x / ln2), r = x - n ln2 (ln2 split in two so
  // n ln2 is exact), 2^n by scalef. Below -86.5 the result is set to 0 rather
  // than a value near float's smallest normal: denormal results cost a
  // microcode assist each (hundreds of cycles). A NaN x stays NaN.
  static R exp(R x) {
    const R lo = set1(-86.5f);
    __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ);  // x >= lo, or NaN
    x = _mm512_min_ps(set1(88.5f), _mm512_max_ps(lo, x));    // max/min keep a NaN x
    R n = _mm512_roundscale_ps(mul(x, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R r = fnmadd(n, set1(0.693359375f), x);
    r = fnmadd(n, set1(-2.12194440e-4f), r);
    R p = set1(1.9875691500e-4f);
    p = fmadd(p, r, set1(1.3981999507e-3f));
    p = fmadd(p, r, set1(8.3334519073e-3f));
    p = fmadd(p, r, set1(4.1665795894e-2f));
    p = fmadd(p, r, set1(1.6666665459e-1f));
    p = fmadd(p, r, set1(5.0000001201e-1f));
    p = add(fmadd(p, mul(r, r), r), set1(1.0f));  // exp(r) = 1 + r + r^2 P(r)
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
  }
};

}  // namespace

NNC_DEFINE_SOFTMAX_TWIN(avx512, Avx512)

}  // namespace nnc::cpu
