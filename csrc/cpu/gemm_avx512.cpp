// SGEMM, AVX-512F: a 12x32 register tile (24 zmm accumulators) over packed
// panels. Blocking measured on Sapphire Rapids (48 KiB L1d, 2 MiB L2): a deep
// KC halves the passes over C, which bound large sizes more than L1 misses on B.
#include <immintrin.h>

#include "cpu/gemm.h"
#include "cpu/gemm_blocked.h"
#include "cpu/transpose_simd.h"

namespace nnc::cpu {
namespace {

struct SgemmAvx512_12x32 {
  static constexpr int MR = 12, NR = 32;
  static constexpr int64_t MC = 192, KC = 512, NC = 3072;

  // A full panel of a transposed B: dst[k][j] = B[j * ldb + k] for j < 32, in
  // 16 x 16 blocks transposed in registers (a scalar loop for the last k % 16).
  static void pack_b_transposed(int64_t kc, const float* B, int64_t ldb, float* dst) {
    int64_t k = 0;
    for (; k + 16 <= kc; k += 16)
      for (int half = 0; half < 2; ++half) {
        __m512 r[16];
        for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(B + (half * 16 + i) * ldb + k);
        nnc::simd::transpose16x16(r);
        for (int i = 0; i < 16; ++i) _mm512_store_ps(dst + (k + i) * NR + half * 16, r[i]);
      }
    for (; k < kc; ++k)
      for (int j = 0; j < NR; ++j) dst[k * NR + j] = B[j * ldb + k];
  }

  // C (m x n corner of a 12 x 32 tile) = A panel (kc x 12) @ B panel (kc x 32) + beta * C
  static void micro(int64_t kc, const float* A, const float* B, float* C, int64_t ldc, float beta, int m, int n) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int r = 0; r < m; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);
      _mm_prefetch(reinterpret_cast<const char*>(B + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        __m512 a = _mm512_set1_ps(A[r]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      }
      A += MR;
      B += NR;
    }
    if (m == MR && n == NR) {
      __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        if (beta == 0.f) {
          _mm512_storeu_ps(c, acc[r][0]);
          _mm512_storeu_ps(c + 16, acc[r][1]);
        } else {
          _mm512_storeu_ps(c, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), acc[r][0]));
          _mm512_storeu_ps(c + 16, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), acc[r][1]));
        }
      }
      return;
    }
    alignas(64) float tile[MR * NR];
    for (int r = 0; r < MR; ++r) {
      _mm512_store_ps(tile + r * NR, acc[r][0]);
      _mm512_store_ps(tile + r * NR + 16, acc[r][1]);
    }
    store_partial<MR, NR>(tile, m, n, C, ldc, beta);
  }
};

}  // namespace

void sgemm_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const Epilogue<float>& ep) {
  sgemm_blocked<SgemmAvx512_12x32>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

}  // namespace nnc::cpu
