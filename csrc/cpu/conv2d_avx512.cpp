// Forward convolution, AVX-512F: implicit GEMM (cpu/conv2d_igemm.h) with an
// 8 x 48 register tile (8 output channels x 48 output pixels, 24 zmm accumulators).
#include <immintrin.h>

#include "cpu/conv2d.h"
#include "cpu/conv2d_igemm.h"

namespace nnc::cpu {
namespace {

struct ConvAvx512_8x48 {
  static constexpr int MR = 8, NR = 48;
  static constexpr int64_t KC = 128;                 // B micro-panel 128 x 48 floats = 24 KiB of L1
  static constexpr int64_t C_TILE_FLOATS = 96 * 1024;  // 384 KiB of output per chunk, in L2

  static __mmask16 column_mask(int n, int i) {
    int left = n - 16 * i;
    return left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }

  // C (m x n corner of an 8 x 48 tile, row stride ldc) = (first ? bias : C) + A (kc x 8)^T @ B (kc x 48)
  static void micro(int64_t kc, const float* A, const float* B, float* C, int64_t ldc, int m, int n, bool first,
                    const float* bias) {
    __m512 acc[MR][3];
    const __mmask16 mask[3] = {column_mask(n, 0), column_mask(n, 1), column_mask(n, 2)};
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      if (r >= m) {
        acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();
      } else if (first) {
        acc[r][0] = acc[r][1] = acc[r][2] = bias ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps();
      } else {
        for (int i = 0; i < 3; ++i) acc[r][i] = _mm512_maskz_loadu_ps(mask[i], C + r * ldc + 16 * i);
      }
    }
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16), b2 = _mm512_load_ps(B + 32);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512 a = _mm512_set1_ps(A[r]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
      }
      A += MR;
      B += NR;
    }
    if (n == NR) {
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        if (r >= m) break;
        _mm512_storeu_ps(C + r * ldc, acc[r][0]);
        _mm512_storeu_ps(C + r * ldc + 16, acc[r][1]);
        _mm512_storeu_ps(C + r * ldc + 32, acc[r][2]);
      }
      return;
    }
    for (int r = 0; r < m; ++r)
      for (int i = 0; i < 3; ++i) _mm512_mask_storeu_ps(C + r * ldc + 16 * i, mask[i], acc[r][i]);
  }
};

}  // namespace

void conv2d_forward_avx512(const ConvShape& s, const float* x, const float* w, const float* bias, float* y) {
  conv_igemm_forward<ConvAvx512_8x48>(s, x, w, bias, y);
}

}  // namespace nnc::cpu
