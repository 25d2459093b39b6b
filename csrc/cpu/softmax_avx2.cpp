// AVX2+FMA twin of softmax / log_softmax / cross-entropy: the templates of
// softmax_simd.h over 8 float lanes, with a polynomial exp (Cephes-style range
// reduction x = n ln2 + r, degree-5 polynomial on |r| <= ln2 / 2, ~1 ulp,
// flushed to 0 below exp(-86.5)).
#include <immintrin.h>

#include "cpu/softmax_simd.h"
#include "cpu/vec_math.h"

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
  // v with x subtracted in lane `lane` (no lane when lane is outside [0, W))
  static R sub_at(R v, int64_t lane, R x) {
    int l = (lane >= 0 && lane < W) ? int(lane) : -1;
    __m256i hit = _mm256_cmpeq_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(l));
    return _mm256_sub_ps(v, _mm256_and_ps(x, _mm256_castsi256_ps(hit)));
  }
  static R sub_bits(R v, unsigned bits, R x) {
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i hit = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), lane_bit), lane_bit);
    return _mm256_sub_ps(v, _mm256_and_ps(x, _mm256_castsi256_ps(hit)));
  }
  static R permute(R v, const int32_t* idx) {
    return _mm256_permutevar8x32_ps(v, _mm256_load_si256(reinterpret_cast<const __m256i*>(idx)));
  }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R div_one(R v) { return _mm256_div_ps(set1(1.0f), v); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R fnmadd(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  static R round(R v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
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

  // Transpose-and-reduce of 8 vectors in three halving steps (128-bit halves,
  // then pairs and single lanes within halves); lane 4k + j then holds row
  // 2j + k, and one permute puts row r in lane r.
  template <class Op>
  static R rows_reduce(const R* v, Op op) {
    R w1[4], w2[2];
    for (int i = 0; i < 4; ++i)
      w1[i] = op(_mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x20), _mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x31));
    for (int i = 0; i < 2; ++i)
      w2[i] = op(_mm256_shuffle_ps(w1[2 * i], w1[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                 _mm256_shuffle_ps(w1[2 * i], w1[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    R out = op(_mm256_shuffle_ps(w2[0], w2[1], _MM_SHUFFLE(2, 0, 2, 0)),
               _mm256_shuffle_ps(w2[0], w2[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_permutevar8x32_ps(out, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
  static R rows_max(const R* v) { return rows_reduce(v, [](R a, R b) { return _mm256_max_ps(a, b); }); }
  static R rows_sum(const R* v) { return rows_reduce(v, [](R a, R b) { return _mm256_add_ps(a, b); }); }

  // log(x) = e ln2 + log(1 + f), x = 2^e (1 + f) with 1 + f in [sqrt(1/2), sqrt(2));
  // Cephes-style polynomial for log(1 + f) - f + f^2 / 2. x must be a positive
  // normal; NaN and inf are passed through.
  static R log(R x) {
    __m256i bits = _mm256_castps_si256(x);
    R e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
    R m = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
    R big = _mm256_cmp_ps(m, set1(1.41421356237f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, mul(m, set1(0.5f)), big);
    e = _mm256_blendv_ps(e, add(e, set1(1.0f)), big);
    R out = simd::log_reduced<Avx2>(sub(m, set1(1.0f)), e);
    R special = _mm256_cmp_ps(x, set1(INFINITY), _CMP_NLT_UQ);  // inf or NaN
    return _mm256_blendv_ps(out, x, special);
  }

  // exp(x) = 2^n exp(r), n = round(x / ln2), r = x - n ln2 (ln2 split in two);
  // 2^n built in the exponent bits, so x is clamped to [-86.5, 88] (n in
  // [-125, 127]) and the result set to 0 below -86.5, which also keeps it clear
  // of denormals (each costs a microcode assist). A NaN x stays NaN.
  static R exp(R x) {
    const R lo = set1(-86.5f);
    R xc = _mm256_min_ps(set1(88.0f), _mm256_max_ps(lo, x));  // max/min keep a NaN x
    R n, p = simd::exp_reduced<Avx2>(xc, &n);
    __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    R e = mul(p, _mm256_castsi256_ps(two_n));
    return _mm256_and_ps(e, _mm256_cmp_ps(x, lo, _CMP_NLT_UQ));  // true for x >= lo and for NaN
  }
};

}  // namespace

NNC_DEFINE_SOFTMAX_TWIN(avx2, Avx2)

}  // namespace nnc::cpu
