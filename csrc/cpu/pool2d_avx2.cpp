// 2-D pooling, AVX2 twin (float): 8 neighbouring outputs of a row per vector,
// maskload/maskstore for row ends; loops in cpu/pool2d_simd.h.
#include <immintrin.h>

#include "cpu/pool2d.h"

namespace nnc::cpu {
namespace {

struct Avx2 {
  static constexpr int L = 8;
  using F = __m256;
  using I = __m256i;
  using M = __m256i;  // all-ones lanes are active

  static M mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  static F loadu(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static F loadu_all(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, F v, M m) { _mm256_maskstore_ps(p, m, v); }
  static I iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I iload(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I iota_times(int32_t s) {
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s));
  }

  // lo = a0 b0 a1 b1 a2 b2 a3 b3, hi = a4 b4 ... a7 b7
  static void interleave(F a, F b, F& lo, F& hi) {
    F l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);  // a0 b0 a1 b1 | a4 b4 a5 b5 and a2 b2 a3 b3 | a6 b6 a7 b7
    lo = _mm256_permute2f128_ps(l, h, 0x20);
    hi = _mm256_permute2f128_ps(l, h, 0x31);
  }
  static M mask_from_bits(uint32_t bits) {
    const I lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), lane_bits), lane_bits);
  }
  static F loadu_fill(const float* p, M m, F fill) {
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static F evens_of(F lo, F hi) {
    F mixed = _mm256_shuffle_ps(lo, hi, 0x88);  // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), 0xD8));
  }
  static F gather_fill(const float* p, I offsets, M m, F fill) {
    return _mm256_mask_i32gather_ps(fill, p, offsets, _mm256_castsi256_ps(m), 4);
  }
  // running max that keeps a NaN once seen and takes a new one (as all-ones bits, a NaN)
  static F max_nan(F best, F v) { return _mm256_or_ps(_mm256_max_ps(v, best), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); }
  static void take(F& best, I& best_at, F v, I at) {
    F t = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, v, t);
    best_at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best_at), _mm256_castsi256_ps(at), t));
  }
  static void store_indices(int64_t* p, I at, int n) {
    M m = mask(n);
    auto* q = reinterpret_cast<long long*>(p);
    _mm256_maskstore_epi64(q, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)),
                           _mm256_cvtepi32_epi64(_mm256_castsi256_si128(at)));
    if (n > 4)
      _mm256_maskstore_epi64(q + 4, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)),
                             _mm256_cvtepi32_epi64(_mm256_extracti128_si256(at, 1)));
  }
  // 64 bytes to a 64-byte aligned dst, bypassing the cache
  static void stream64(float* dst, const float* src) {
    _mm256_stream_ps(dst, _mm256_loadu_ps(src));
    _mm256_stream_ps(dst + 8, _mm256_loadu_ps(src + 8));
  }
  static void fence() { _mm_sfence(); }
  // p[0..n) as int32 lanes; false when one lies outside [0, limit)
  static bool load_indices(const int64_t* p, int n, int64_t limit, I& out) {
    M m = mask(n);
    auto* q = reinterpret_cast<const long long*>(p);
    I a = _mm256_maskload_epi64(q, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)));
    I b = _mm256_maskload_epi64(q + 4, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)));
    I lim = _mm256_set1_epi64x(limit), below = _mm256_set1_epi64x(-1);
    I good = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi64(lim, a), _mm256_cmpgt_epi64(a, below)),
                              _mm256_and_si256(_mm256_cmpgt_epi64(lim, b), _mm256_cmpgt_epi64(b, below)));
    const I low_halves = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    out = _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(a, low_halves),
                                    _mm256_permutevar8x32_epi32(b, low_halves), 0x20);
    return _mm256_movemask_epi8(good) == -1;
  }
  static M ieq(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
  static M mask_or(M a, M b) { return _mm256_or_si256(a, b); }
  static F select(M m, F v) { return _mm256_and_ps(_mm256_castsi256_ps(m), v); }
  static bool all_lanes(M m, int n) {
    return _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(m, _mm256_xor_si256(mask(n), _mm256_set1_epi32(-1))))) == 0xFF;
  }
  static F zero_where_zero(F ref, F v) { return _mm256_and_ps(_mm256_cmp_ps(ref, zero(), _CMP_NEQ_UQ), v); }
};

}  // namespace
}  // namespace nnc::cpu

#include "cpu/pool2d_simd.h"

namespace nnc::cpu {

void max_pool2d_forward_avx2(const Pool2dShape& sh, const float* x, float* y, int64_t* indices) {
  max_forward<Avx2>(sh, x, y, indices);
}

bool max_pool2d_backward_avx2(const Pool2dShape& sh, const float* gy, const int64_t* indices, float* gx) {
  return max_backward<Avx2>(sh, gy, indices, gx);
}

void avg_pool2d_forward_avx2(const Pool2dShape& sh, AvgDivisor div, const float* x, float* y) {
  sum_forward<Avx2, 0>(sh, div, x, y);
}

void avg_pool2d_backward_avx2(const Pool2dShape& sh, AvgDivisor div, const float* gy, float* gx) {
  sum_backward<Avx2, 0>(sh, div, gy, nullptr, nullptr, gx);
}

void lp_pool2d_forward_avx2(const Pool2dShape& sh, double p, const float* x, float* y) {
  if (p == 1) sum_forward<Avx2, 1>(sh, kLpDivisor, x, y);
  else sum_forward<Avx2, 2>(sh, kLpDivisor, x, y);
}

void lp_pool2d_backward_avx2(const Pool2dShape& sh, double p, const float* gy, const float* x, const float* y,
                             float* gx) {
  if (p == 1) sum_backward<Avx2, 1>(sh, kLpDivisor, gy, x, y, gx);
  else sum_backward<Avx2, 2>(sh, kLpDivisor, gy, x, y, gx);
}

}  // namespace nnc::cpu
