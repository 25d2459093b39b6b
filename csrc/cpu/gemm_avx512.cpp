// SGEMM, AVX-512F: a 12x32 register tile (24 zmm accumulators) over packed
// panels. Blocking measured on Sapphire Rapids (48 KiB L1d, 2 MiB L2): a deep
// KC halves the passes over C, which bound large sizes more than L1 misses on B.
#include <immintrin.h>

#include "cpu/gemm.h"
#include "cpu/gemm_blocked.h"

namespace nnc::cpu {
namespace {

struct SgemmAvx512_12x32 {
  static constexpr int MR = 12, NR = 32;
  static constexpr int64_t MC = 192, KC = 512, NC = 3072;

  // A panel NB (32 or 16) columns wide of a transposed B: dst[k][j] = B[j * ldb + k]
  // for j < NB (a scalar loop for the last k % 16). Per 16 x 16 block: register
  // x[a][q] holds, in lane l, row 4l + a at k = 4q..4q+3 (gathered by 128-bit loads,
  // which spare the shuffle port), and an in-lane 4 x 4 transpose of x[0..3][q]
  // yields the rows k = 4q..4q+3 of the panel.
  template <int NB>
  static void pack_b_transposed(int64_t kc, const float* B, int64_t ldb, float* dst) {
    int64_t k = 0;
    for (; k + 16 <= kc; k += 16)
      for (int half = 0; half < NB / 16; ++half) {
        const float* src = B + half * 16 * ldb + k;
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          __m512 x[4];
#pragma GCC unroll 4
          for (int a = 0; a < 4; ++a) {
            const float* p = src + a * ldb + 4 * q;
            __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(p));
            v = _mm512_insertf32x4(v, _mm_loadu_ps(p + 4 * ldb), 1);
            v = _mm512_insertf32x4(v, _mm_loadu_ps(p + 8 * ldb), 2);
            x[a] = _mm512_insertf32x4(v, _mm_loadu_ps(p + 12 * ldb), 3);
          }
          __m512 t0 = _mm512_unpacklo_ps(x[0], x[1]), t1 = _mm512_unpackhi_ps(x[0], x[1]);
          __m512 t2 = _mm512_unpacklo_ps(x[2], x[3]), t3 = _mm512_unpackhi_ps(x[2], x[3]);
          float* out = dst + (k + 4 * q) * NB + half * 16;
          _mm512_store_ps(out, _mm512_shuffle_ps(t0, t2, 0x44));
          _mm512_store_ps(out + NB, _mm512_shuffle_ps(t0, t2, 0xEE));
          _mm512_store_ps(out + 2 * NB, _mm512_shuffle_ps(t1, t3, 0x44));
          _mm512_store_ps(out + 3 * NB, _mm512_shuffle_ps(t1, t3, 0xEE));
        }
      }
    for (; k < kc; ++k)
      for (int j = 0; j < NB; ++j) dst[k * NB + j] = B[j * ldb + k];
  }

  // C (m x n corner of a Rows x NB tile, Rows = 4, 8 or 12) = A (Rows x kc) @ B panel (kc x NB) + beta * C.
  // A(r, k) is A[k * a_step + r] (a packed panel, a_step = MR, or a transposed A read
  // in place: Layout columns), or A[r * a_step + k] (Layout rows: rows of A read in place).
  template <int NB, ALayout Layout, int Rows = MR>
  static void micro(int64_t kc, const float* A, int64_t a_step, const float* B, float* C, int64_t ldc, float beta,
                    int m, int n) {
    constexpr int NV = NB / 16;
    __m512 acc[MR][NV];
#pragma GCC unroll 12
    for (int r = 0; r < Rows; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int r = 0; r < m; ++r)
      for (int v = 0; v < NV; ++v) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + 16 * v), _MM_HINT_T0);
    // Rows read in place: three base pointers, rows 4q + s at base q + s * a_step.
    const float* a4 = A + 4 * a_step;
    const float* a8 = A + 8 * a_step;
    const int64_t s1 = a_step, s2 = 2 * a_step, s3 = 3 * a_step;
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      __m512 b[NV];
      for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(B + 16 * v);
      _mm_prefetch(reinterpret_cast<const char*>(B + 8 * NB), _MM_HINT_T0);
      if constexpr (Layout == ALayout::columns) {  // a line per k: strides too long for the hardware prefetcher
        _mm_prefetch(reinterpret_cast<const char*>(A + kAheadK * a_step), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(A + kAheadK * a_step + Rows - 1), _MM_HINT_T0);
      }
#pragma GCC unroll 12
      for (int r = 0; r < Rows; ++r) {
        __m512 a;
        if constexpr (Layout == ALayout::rows) {
          const float* base = r < 4 ? A : r < 8 ? a4 : a8;
          int s = r & 3;
          a = _mm512_set1_ps(s == 0 ? base[0] : s == 1 ? base[s1] : s == 2 ? base[s2] : base[s3]);
        } else {
          a = _mm512_set1_ps(A[r]);
        }
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
      }
      if constexpr (Layout == ALayout::rows) {
        ++A;
        ++a4;
        ++a8;
      } else {
        A += Layout == ALayout::packed ? MR : a_step;
      }
      B += NB;
    }
    if (m == Rows && n == NB) {
      __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
      for (int r = 0; r < Rows; ++r)
        for (int v = 0; v < NV; ++v) {
          float* c = C + r * ldc + 16 * v;
          if (beta == 0.f) _mm512_storeu_ps(c, acc[r][v]);
          else _mm512_storeu_ps(c, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), acc[r][v]));
        }
      return;
    }
    alignas(64) float tile[MR * NB];
    for (int r = 0; r < Rows; ++r)
      for (int v = 0; v < NV; ++v) _mm512_store_ps(tile + r * NB + 16 * v, acc[r][v]);
    store_partial<MR, NB>(tile, m, n, C, ldc, beta);
  }
};

}  // namespace

void sgemm_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const Epilogue<float>& ep) {
  sgemm_blocked<SgemmAvx512_12x32>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

}  // namespace nnc::cpu
