// 2-D pooling, AVX-512 twin (float): 16 neighbouring outputs of a row per
// vector, masked loads and stores for row ends; loops in cpu/pool2d_simd.h.
#include <immintrin.h>

#include "cpu/pool2d.h"

namespace nnc::cpu {
namespace {

struct Avx512 {
  static constexpr int L = 16;
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;

  static M mask(int n) { return n >= L ? M(0xFFFF) : n <= 0 ? M(0) : M((1u << n) - 1); }
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F sqrt(F a) { return _mm512_sqrt_ps(a); }
  static F loadu(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static F loadu_all(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, F v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  static I iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I iload(const int32_t* p) { return _mm512_loadu_si512(p); }
  static I iota_times(int32_t s) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32(s));
  }

  // lo = a0 b0 a1 b1 ... a7 b7, hi = a8 b8 ... a15 b15
  static void interleave(F a, F b, F& lo, F& hi) {
    lo = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
    hi = _mm512_permutex2var_ps(a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), b);
  }
  static M mask_from_bits(uint32_t bits) { return M(bits); }
  static F loadu_fill(const float* p, M m, F fill) { return _mm512_mask_loadu_ps(fill, m, p); }
  static F evens_of(F lo, F hi) {
    return _mm512_permutex2var_ps(lo, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), hi);
  }
  static F gather_fill(const float* p, I offsets, M m, F fill) { return _mm512_mask_i32gather_ps(fill, m, offsets, p, 4); }
  // running max that keeps a NaN once seen and takes a new one
  static F max_nan(F best, F v) {
    return _mm512_mask_mov_ps(_mm512_max_ps(v, best), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
  }
  static void take(F& best, I& best_at, F v, I at) {
    M t = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    best = _mm512_mask_mov_ps(best, t, v);
    best_at = _mm512_mask_mov_epi32(best_at, t, at);
  }
  static void store_indices(int64_t* p, I at, int n) {
    M m = mask(n);
    _mm512_mask_storeu_epi64(p, __mmask8(m & 0xFF), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
    if (n > 8) _mm512_mask_storeu_epi64(p + 8, __mmask8(m >> 8), _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
  }
  // 64 bytes to a 64-byte aligned dst, bypassing the cache
  static void stream64(float* dst, const float* src) { _mm512_stream_ps(dst, _mm512_loadu_ps(src)); }
  static void fence() { _mm_sfence(); }
  // p[0..n) as int32 lanes; false when one lies outside [0, limit)
  static bool load_indices(const int64_t* p, int n, int64_t limit, I& out) {
    M m = mask(n);
    __m512i a = _mm512_maskz_loadu_epi64(__mmask8(m & 0xFF), p);
    __m512i b = _mm512_maskz_loadu_epi64(__mmask8(m >> 8), p + 8);
    __m512i lim = _mm512_set1_epi64(limit);
    bool ok = _mm512_cmplt_epu64_mask(a, lim) == 0xFF && _mm512_cmplt_epu64_mask(b, lim) == 0xFF;
    out = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(a)), _mm512_cvtepi64_epi32(b), 1);
    return ok;
  }
  static M ieq(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static M mask_or(M a, M b) { return M(a | b); }
  static F select(M m, F v) { return _mm512_maskz_mov_ps(m, v); }
  static bool all_lanes(M m, int n) { return (m | M(~mask(n))) == M(0xFFFF); }
  static F zero_where_zero(F ref, F v) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(ref, zero(), _CMP_NEQ_UQ), v); }
};

}  // namespace
}  // namespace nnc::cpu

#include "cpu/pool2d_simd.h"

namespace nnc::cpu {

void max_pool2d_forward_avx512(const Pool2dShape& sh, const float* x, float* y, int64_t* indices) {
  max_forward<Avx512>(sh, x, y, indices);
}

bool max_pool2d_backward_avx512(const Pool2dShape& sh, const float* gy, const int64_t* indices, float* gx) {
  return max_backward<Avx512>(sh, gy, indices, gx);
}

void avg_pool2d_forward_avx512(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  sum_forward<Avx512, 0>(sh, div, x, y);
}

void avg_pool2d_backward_avx512(const Pool2dShape& sh, AvgDivisor div, const float* gy, float* gx) {
  sum_backward<Avx512, 0>(sh, div, gy, nullptr, nullptr, gx);
}

void lp_pool2d_forward_avx512(const Pool2dShape& sh, double p, const float* x, float* y) {
  if (p == 1) sum_forward<Avx512, 1>(sh, kLpDivisor, x, y);
  else sum_forward<Avx512, 2>(sh, kLpDivisor, x, y);
}

void lp_pool2d_backward_avx512(const Pool2dShape& sh, double p, const float* gy, const float* x, const float* y,
                               float* gx) {
  if (p == 1) sum_backward<Avx512, 1>(sh, kLpDivisor, gy, x, y, gx);
  else sum_backward<Avx512, 2>(sh, kLpDivisor, gy, x, y, gx);
}

}  // namespace nnc::cpu
