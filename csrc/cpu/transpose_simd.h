// In-register transposes of square float blocks, r[i][c] -> r[c][i], shared by
// the SIMD twins: 8 x 8 for *_avx2.cpp, 16 x 16 for *_avx512.cpp. Each stage
// unpacks pairs of rows, then forms 4 x 4 blocks within 128-bit lanes, then
// moves lanes. Internal linkage: every twin compiles its own copy for its ISA.
#pragma once
#include <immintrin.h>

namespace nnc::simd {
namespace {

#if defined(__AVX2__)
inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {  // u[4i + q]: column 4l + q of rows 4i..4i+3, in lane l
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
    r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
  }
}
#endif

#if defined(__AVX512F__)
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + q]: column 4l + q of rows 4i..4i+3, in lane l
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int q = 0; q < 4; ++q) {
    __m512 a_lo = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44), a_hi = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
    __m512 b_lo = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
    __m512 b_hi = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
    r[q] = _mm512_shuffle_f32x4(a_lo, b_lo, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(a_lo, b_lo, 0xDD);
    r[8 + q] = _mm512_shuffle_f32x4(a_hi, b_hi, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(a_hi, b_hi, 0xDD);
  }
}
#endif

}  // namespace
}  // namespace nnc::simd
