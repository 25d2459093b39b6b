// Fused LSTM / GRU / Elman gate kernels, AVX2+FMA: 8 hidden units per vector,
// masked tail; exp from the polynomial of cpu/vec_math.h, scaled by
// 2^n built in the exponent bits.
#include <immintrin.h>

#include "cpu/rnn_simd.h"
#include "cpu/transpose_simd.h"
#include "cpu/vec_math.h"

namespace {

struct Avx2 {
  using reg = __m256;
  using Mask = __m256i;
  static constexpr int W = 8;
  static constexpr int MR = 6;  // rows of the recurrent GEMM tile: 12 accumulators
  static Mask full() { return _mm256_set1_epi32(-1); }
  static Mask tail(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  template <bool Tail>
  static reg load(const float* p, Mask m) {
    return Tail ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
  }
  template <bool Tail>
  static void store(float* p, reg v, Mask m) {
    if (Tail) _mm256_maskstore_ps(p, m, v);
    else _mm256_storeu_ps(p, v);
  }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  static reg round(reg v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 1/x: hardware estimate refined by one Newton step, r (2 - x r); a division's
  // latency and throughput cost more than the gate math around it.
  static reg rcp(reg x) {
    reg r = _mm256_rcp_ps(x);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(x, r, _mm256_set1_ps(2.f)));
  }
  static void transpose(reg r[8]) { nnc::simd::transpose8x8(r); }
  static float hsum(reg a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static reg relu(reg a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
  static reg relu_grad(reg dh, reg h) {
    return _mm256_and_ps(_mm256_cmp_ps(h, _mm256_setzero_ps(), _CMP_GT_OQ), dh);
  }

  // e^x: x = n ln2 + r, |r| <= ln2/2, e^r by a polynomial (Cephes expf), times 2^n
  // built as (n + 127) << 23; the clamp keeps n in the normal range and keeps NaN.
  static reg exp(reg x) {
    x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
    reg n, y = nnc::simd::exp_reduced<Avx2>(x, &n);
    __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(pow2n));
  }

  // tanh: odd polynomial for |x| < 0.625 (Cephes tanhf), else sign(x) (1 - 2 / (e^{2|x|} + 1)).
  static reg tanh(reg x) {
    const reg sign_bit = _mm256_set1_ps(-0.f);
    reg ax = _mm256_andnot_ps(sign_bit, x);
    reg z = _mm256_mul_ps(x, x);
    reg p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    reg small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    reg e = exp(_mm256_add_ps(ax, ax));
    reg one = _mm256_set1_ps(1.f);
    reg large = _mm256_fnmadd_ps(_mm256_set1_ps(2.f), rcp(_mm256_add_ps(e, one)), one);
    large = _mm256_or_ps(large, _mm256_and_ps(sign_bit, x));
    return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  }
};

}  // namespace

NNC_RNN_DEFINE_TWIN(avx2, Avx2)
