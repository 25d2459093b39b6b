// SGEMM, AVX2 + FMA: a 6x16 register tile (12 ymm accumulators) over packed
// panels. Blocking measured against OpenBLAS's Haswell kernels on a Sapphire
// Rapids core (not yet on a Zen 3): a small A block (72 x 256, 72 KiB) and a
// B slab of at most 2048 columns helped large sizes most.
#include <immintrin.h>

#include "cpu/gemm.h"
#include "cpu/gemm_blocked.h"
#include "cpu/transpose_simd.h"

namespace nnc::cpu {
namespace {

struct SgemmAvx2_6x16 {
  static constexpr int MR = 6, NR = 16;
  static constexpr int64_t MC = 72, KC = 256, NC = 2048;

  // A panel NB (16 or 8) columns wide of a transposed B: dst[k][j] = B[j * ldb + k]
  // for j < NB, in 8 x 8 blocks transposed in registers (a scalar loop for the last k % 8).
  template <int NB>
  static void pack_b_transposed(int64_t kc, const float* B, int64_t ldb, float* dst) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8)
      for (int half = 0; half < NB / 8; ++half) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(B + (half * 8 + i) * ldb + k);
        nnc::simd::transpose8x8(r);
        for (int i = 0; i < 8; ++i) _mm256_store_ps(dst + (k + i) * NB + half * 8, r[i]);
      }
    for (; k < kc; ++k)
      for (int j = 0; j < NB; ++j) dst[k * NB + j] = B[j * ldb + k];
  }

  // C (m x n corner of a Rows x NB tile, Rows = 2, 4 or 6) = A (Rows x kc) @ B panel (kc x NB) + beta * C.
  // A(r, k) is A[k * a_step + r] (a packed panel, a_step = MR, or a transposed A read
  // in place: Layout columns), or A[r * a_step + k] (Layout rows: rows of A read in place).
  template <int NB, ALayout Layout, int Rows = MR>
  static void micro(int64_t kc, const float* A, int64_t a_step, const float* B, float* C, int64_t ldc, float beta,
                    int m, int n) {
    constexpr bool wide = NB == 16;
    // Twelve named accumulators: an array here gets spilled to the stack by GCC.
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int r = 0; r < m; ++r) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
    const float* a3 = A + 3 * a_step;  // rows read in place: rows 3q + s at base q + s * a_step
    const int64_t s1 = a_step, s2 = 2 * a_step;
    const int64_t step = Layout == ALayout::rows ? 1 : Layout == ALayout::packed ? MR : a_step;
    for (int64_t k = 0; k < kc; ++k) {
      __m256 b0 = _mm256_load_ps(B), b1 = wide ? _mm256_load_ps(B + 8) : b0;
      _mm_prefetch(reinterpret_cast<const char*>(B + 8 * NB), _MM_HINT_T0);
      if constexpr (Layout == ALayout::columns) {  // a line per k: strides too long for the hardware prefetcher
        _mm_prefetch(reinterpret_cast<const char*>(A + kAheadK * a_step), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(A + kAheadK * a_step + Rows - 1), _MM_HINT_T0);
      }
      const float* ar[MR] = {A, A + 1, A + 2, A + 3, A + 4, A + 5};
      if constexpr (Layout == ALayout::rows) {
        ar[1] = A + s1;
        ar[2] = A + s2;
        ar[3] = a3;
        ar[4] = a3 + s1;
        ar[5] = a3 + s2;
      }
      __m256 a = _mm256_broadcast_ss(ar[0]);
      c00 = _mm256_fmadd_ps(a, b0, c00);
      if constexpr (wide) c01 = _mm256_fmadd_ps(a, b1, c01);
      a = _mm256_broadcast_ss(ar[1]);
      c10 = _mm256_fmadd_ps(a, b0, c10);
      if constexpr (wide) c11 = _mm256_fmadd_ps(a, b1, c11);
      if constexpr (Rows > 2) {
        a = _mm256_broadcast_ss(ar[2]);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        if constexpr (wide) c21 = _mm256_fmadd_ps(a, b1, c21);
      }
      if constexpr (Rows > 3) {
        a = _mm256_broadcast_ss(ar[3]);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        if constexpr (wide) c31 = _mm256_fmadd_ps(a, b1, c31);
      }
      if constexpr (Rows > 4) {
        a = _mm256_broadcast_ss(ar[4]);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        if constexpr (wide) c41 = _mm256_fmadd_ps(a, b1, c41);
      }
      if constexpr (Rows > 5) {
        a = _mm256_broadcast_ss(ar[5]);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        if constexpr (wide) c51 = _mm256_fmadd_ps(a, b1, c51);
      }
      A += step;
      a3 += step;
      B += NB;
    }
    const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    constexpr int NV = NB / 8;
    if (m == Rows && n == NB) {
      __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
      for (int r = 0; r < Rows; ++r)
        for (int v = 0; v < NV; ++v) {
          float* c = C + r * ldc + 8 * v;
          if (beta == 0.f) _mm256_storeu_ps(c, acc[r][v]);
          else _mm256_storeu_ps(c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), acc[r][v]));
        }
      return;
    }
    alignas(32) float tile[MR * NB];
    for (int r = 0; r < Rows; ++r)
      for (int v = 0; v < NV; ++v) _mm256_store_ps(tile + r * NB + 8 * v, acc[r][v]);
    store_partial<MR, NB>(tile, m, n, C, ldc, beta);
  }
};

}  // namespace

void sgemm_avx2(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                const Epilogue<float>& ep) {
  sgemm_blocked<SgemmAvx2_6x16>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

}  // namespace nnc::cpu
