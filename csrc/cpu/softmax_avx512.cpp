// AVX-512 twin of softmax / log_softmax / cross-entropy: the templates of
// softmax_simd.h over 16 float lanes, with a polynomial exp (Cephes-style
// range reduction x = n ln2 + r, degree-5 polynomial on |r| <= ln2 / 2, ~1 ulp).
#include <immintrin.h>

#include "cpu/softmax_simd.h"
#include "cpu/vec_math.h"

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
  // v with x subtracted in lane `lane` (no lane when lane is outside [0, W))
  static R sub_at(R v, int64_t lane, R x) {
    __mmask16 k = (lane >= 0 && lane < W) ? __mmask16(1u << lane) : __mmask16(0);
    return _mm512_mask_sub_ps(v, k, v, x);
  }
  static R sub_bits(R v, unsigned bits, R x) { return _mm512_mask_sub_ps(v, __mmask16(bits), v, x); }
  static R permute(R v, const int32_t* idx) {
    return _mm512_permutexvar_ps(_mm512_load_si512(reinterpret_cast<const void*>(idx)), v);
  }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R div_one(R v) { return _mm512_div_ps(set1(1.0f), v); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R fnmadd(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  static R round(R v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static float hmax(R v) { return _mm512_reduce_max_ps(v); }
  static float hsum(R v) { return _mm512_reduce_add_ps(v); }

  // Transpose-and-reduce of 16 vectors in four halving steps (128-bit blocks,
  // then pairs and single lanes within blocks); lane 4j + k then holds row
  // 4k + j, and one permute puts row r in lane r.
  template <class Op>
  static R rows_reduce(const R* v, Op op) {
    R w1[8], w2[4], w3[2];
    for (int i = 0; i < 8; ++i)
      w1[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                 _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 4; ++i)
      w2[i] = op(_mm512_shuffle_f32x4(w1[2 * i], w1[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                 _mm512_shuffle_f32x4(w1[2 * i], w1[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int i = 0; i < 2; ++i)
      w3[i] = op(_mm512_shuffle_ps(w2[2 * i], w2[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                 _mm512_shuffle_ps(w2[2 * i], w2[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    R out = op(_mm512_shuffle_ps(w3[0], w3[1], _MM_SHUFFLE(2, 0, 2, 0)),
               _mm512_shuffle_ps(w3[0], w3[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i row_order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(row_order, out);
  }
  static R rows_max(const R* v) { return rows_reduce(v, [](R a, R b) { return _mm512_max_ps(a, b); }); }
  static R rows_sum(const R* v) { return rows_reduce(v, [](R a, R b) { return _mm512_add_ps(a, b); }); }

  // log(x) = e ln2 + log(1 + f), x = 2^e (1 + f) with 1 + f in [sqrt(1/2), sqrt(2));
  // Cephes-style polynomial for log(1 + f) - f + f^2 / 2. x must be positive (NaN stays NaN).
  static R log(R x) {
    R e = _mm512_getexp_ps(x);
    R m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __mmask16 big = _mm512_cmp_ps_mask(m, set1(1.41421356237f), _CMP_GT_OQ);
    m = _mm512_mask_mul_ps(m, big, m, set1(0.5f));
    e = _mm512_mask_add_ps(e, big, e, set1(1.0f));
    return simd::log_reduced<Avx512>(sub(m, set1(1.0f)), e);
  }

  // exp(x) = 2^n exp(r), n = round(x / ln2), r = x - n ln2 (ln2 split in two so
  // n ln2 is exact), 2^n by scalef, which gives 0 or inf beyond float's range.
  // Callers run with flush-to-zero (FlushDenormals): results under float's
  // smallest normal become 0 without a microcode assist. A NaN x stays NaN.
  static R exp(R x) {
    x = _mm512_max_ps(set1(-104.0f), x);  // -inf -> 0; max keeps a NaN x
    R n, p = simd::exp_reduced<Avx512>(x, &n);
    return _mm512_scalef_ps(p, n);
  }
};

}  // namespace

NNC_DEFINE_SOFTMAX_TWIN(avx512, Avx512)

}  // namespace nnc::cpu
