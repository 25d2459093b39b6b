// Forward convolution, AVX2 + FMA: implicit GEMM (cpu/conv2d_igemm.h) with a
// 4 x 24 register tile (4 output channels x 24 output pixels, 12 ymm accumulators);
// the activation epilogue runs on each finished tile.
#include <immintrin.h>

#include <algorithm>

#include "cpu/conv2d.h"
#include "cpu/conv2d_igemm.h"
#include "cpu/conv2d_few_channels_simd.h"
#include "cpu/vec_avx2.h"

namespace nnc::cpu {
namespace {

struct ConvAvx2_4x24 {
  static constexpr int MR = 4, NR = 24;
  static constexpr int64_t KC = 256;                   // B micro-panel 256 x 24 floats = 24 KiB of L1
  static constexpr int64_t C_TILE_FLOATS = 64 * 1024;  // 256 KiB of output per chunk, in L2

  // out[i] = src[i stride] for i in [a, b), zero for the rest of [0, len)
  static void pack_run(float* out, const float* src, int64_t len, int64_t a, int64_t b, int64_t stride) {
    for (int64_t i = 0; i < a; ++i) out[i] = 0.f;
    if (stride == 1) {
      for (int64_t i = a; i < b; ++i) out[i] = src[i];
    } else {
      for (int64_t i = a; i < b; ++i) out[i] = src[i * stride];
    }
    for (int64_t i = b; i < len; ++i) out[i] = 0.f;
  }

  static void pack_panel(const ConvShape& s, const float* x, int64_t image_stride, const Tap* taps,
                         const std::vector<ColumnRun>& runs, int64_t used, int64_t kc, float* dst) {
    pack_columns<ConvAvx2_4x24, NR>(s, x, image_stride, taps, runs, used, kc, dst);
  }

  // C (m x n corner of a 4 x 24 tile, row stride ldc) = (first ? bias : C) + A (kc x 4)^T @ B (kc x 24)
  static void micro(int64_t kc, const float* A, const float* B, float* C, int64_t ldc, int m, int n, bool first,
                    const float* bias) {
    alignas(32) float tile[MR * NR];
    const bool full = n == NR;
    float* out = C;
    int64_t ld = ldc;
    if (!full) {  // work on a local copy of the partial tile
      out = tile;
      ld = NR;
      if (!first)
        for (int r = 0; r < m; ++r) std::copy(C + r * ldc, C + r * ldc + n, tile + r * NR);
    }
    __m256 acc[MR][3];
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      if (r >= m) {
        acc[r][0] = acc[r][1] = acc[r][2] = _mm256_setzero_ps();
      } else if (first) {
        acc[r][0] = acc[r][1] = acc[r][2] = bias ? _mm256_set1_ps(bias[r]) : _mm256_setzero_ps();
      } else {
        acc[r][0] = _mm256_loadu_ps(out + r * ld);
        acc[r][1] = _mm256_loadu_ps(out + r * ld + 8);
        acc[r][2] = _mm256_loadu_ps(out + r * ld + 16);
      }
    }
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8), b2 = _mm256_load_ps(B + 16);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        __m256 a = _mm256_broadcast_ss(A + r);
        acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        acc[r][2] = _mm256_fmadd_ps(a, b2, acc[r][2]);
      }
      A += MR;
      B += NR;
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      if (r >= m) break;
      _mm256_storeu_ps(out + r * ld, acc[r][0]);
      _mm256_storeu_ps(out + r * ld + 8, acc[r][1]);
      _mm256_storeu_ps(out + r * ld + 16, acc[r][2]);
    }
    if (!full)
      for (int r = 0; r < m; ++r) std::copy(tile + r * NR, tile + r * NR + n, C + r * ldc);
  }
};

}  // namespace

void conv2d_forward_avx2(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Activation<float>& act) {
  if (few_channels_suits(s, Avx2::W) && s.C <= 3) {  // measured: the implicit GEMM wins from 4 channels
    forward_few_channels<Avx2, 6, 2>(s, x, w, bias, y, act);
    return;
  }
  conv_igemm_forward<ConvAvx2_4x24>(s, x, w, bias, y, act);
}

bool conv2d_backward_weight_avx2(const ConvShape& s, const float* gy, const float* x, float* gw) {
  if (!few_channels_suits(s, Avx2::W)) return false;
  wgrad_few_channels<Avx2, 3, 4>(s, gy, x, gw);
  return true;
}

}  // namespace nnc::cpu
