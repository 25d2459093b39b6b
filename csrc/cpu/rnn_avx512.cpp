// Fused LSTM / GRU / Elman gate kernels, AVX-512F: 16 hidden units per vector,
// masked tail; exp from the polynomial of cpu/vec_math.h, scaled by
// 2^n with vscalefps.
#include <immintrin.h>

#include "cpu/rnn_simd.h"
#include "cpu/transpose_simd.h"
#include "cpu/vec_math.h"

namespace {

struct Avx512 {
  using reg = __m512;
  using Mask = __mmask16;
  static constexpr int W = 16;
  static constexpr int MR = 12;  // rows of the recurrent GEMM tile: 24 accumulators
  static Mask full() { return Mask(0xFFFF); }
  static Mask tail(int n) { return Mask((1u << n) - 1u); }
  template <bool Tail>
  static reg load(const float* p, Mask m) {
    return Tail ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
  }
  template <bool Tail>
  static void store(float* p, reg v, Mask m) {
    if (Tail) _mm512_mask_storeu_ps(p, m, v);
    else _mm512_storeu_ps(p, v);
  }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  static reg round(reg v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 1/x: hardware estimate refined by one Newton step, r (2 - x r); a division's
  // latency and throughput cost more than the gate math around it.
  static reg rcp(reg x) {
    reg r = _mm512_rcp14_ps(x);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.f)));
  }
  static void transpose(reg r[16]) { nnc::simd::transpose16x16(r); }
  static float hsum(reg a) { return _mm512_reduce_add_ps(a); }
  static reg relu(reg a) { return _mm512_max_ps(a, _mm512_setzero_ps()); }
  static reg relu_grad(reg dh, reg h) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(h, _mm512_setzero_ps(), _CMP_GT_OQ), dh);
  }

  // e^x: x = n ln2 + r, |r| <= ln2/2, e^r by a polynomial (Cephes expf), times 2^n.
  // The clamp keeps NaN (max/min return their second operand on NaN).
  static reg exp(reg x) {
    x = _mm512_min_ps(_mm512_set1_ps(88.f), _mm512_max_ps(_mm512_set1_ps(-88.f), x));
    reg n, y = nnc::simd::exp_reduced<Avx512>(x, &n);
    return _mm512_scalef_ps(y, n);
  }

  // tanh: odd polynomial for |x| < 0.625 (Cephes tanhf), else sign(x) (1 - 2 / (e^{2|x|} + 1)).
  static reg tanh(reg x) {
    const __m512i sign_bit = _mm512_set1_epi32(int(0x80000000u));
    reg ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign_bit, _mm512_castps_si512(x)));
    reg z = _mm512_mul_ps(x, x);
    reg p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    reg small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    reg e = exp(_mm512_add_ps(ax, ax));
    reg one = _mm512_set1_ps(1.f);
    reg large = _mm512_fnmadd_ps(_mm512_set1_ps(2.f), rcp(_mm512_add_ps(e, one)), one);
    large = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(large),
                                                _mm512_and_si512(sign_bit, _mm512_castps_si512(x))));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), large, small);
  }
};

}  // namespace

NNC_RNN_DEFINE_TWIN(avx512, Avx512)
