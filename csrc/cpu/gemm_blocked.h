// The cache-blocked SGEMM driver shared by the SIMD twins (Goto/BLIS loop
// order): pack a KC x NC slab of B and an MC x KC block of A into micro-panels,
// then sweep the register-tiled micro-kernel over them. Included only by
// *_avx2.cpp / *_avx512.cpp; everything here has internal linkage so each
// twin gets its own copy compiled for its ISA. The epilogue (bias, activation)
// runs on each register tile right after the micro-kernel's last k block wrote it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/host_cache.h"
#include "core/threading.h"
#include "cpu/epilogue.h"

namespace {

// A block (mc x kc, scaled by alpha) -> panels of MR rows: panel[k][MR], zero-padded.
template <int MR>
void pack_a(bool trans_a, int64_t mc, int64_t kc, const float* A, int64_t lda, float alpha, float* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    int64_t m = std::min<int64_t>(MR, mc - ir);
    if (trans_a) {  // A(i, k) = A[k * lda + i]: rows of the panel are contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + k * lda + ir;
        for (int64_t r = 0; r < m; ++r) dst[k * MR + r] = alpha * src[r];
        for (int64_t r = m; r < MR; ++r) dst[k * MR + r] = 0.f;
      }
    } else if (m == MR) {  // A(i, k) = A[i * lda + k]: MR row streams, one contiguous output
      const float* src = A + ir * lda;
      for (int64_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) dst[k * MR + r] = alpha * src[r * lda + k];
    } else {
      for (int64_t r = 0; r < m; ++r) {
        const float* src = A + (ir + r) * lda;
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + r] = alpha * src[k];
      }
      for (int64_t r = m; r < MR; ++r)
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + r] = 0.f;
    }
  }
}

// One B panel (kc x n, n <= NB) -> panel[k][NB], zero-padded. A full panel of a
// transposed B goes through the twin's in-register transposes.
template <class Kernel, int NB>
void pack_b_panel(bool trans_b, int64_t kc, int64_t n, const float* B, int64_t ldb, float* dst) {
  if (trans_b && n == NB) {
    Kernel::template pack_b_transposed<NB>(kc, B, ldb, dst);
  } else if (trans_b) {  // B(k, j) = B[j * ldb + k]
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < kc; ++k) dst[k * NB + j] = B[j * ldb + k];
    for (int64_t j = n; j < NB; ++j)
      for (int64_t k = 0; k < kc; ++k) dst[k * NB + j] = 0.f;
  } else if (n == NB) {
    for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * NB, B + k * ldb, NB * sizeof(float));
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t j = 0; j < n; ++j) dst[k * NB + j] = B[k * ldb + j];
      for (int64_t j = n; j < NB; ++j) dst[k * NB + j] = 0.f;
    }
  }
}

// B slab (kc x nc) -> panels of NR columns at dst + jr * kc; a last panel of at
// most NR / 2 columns is packed NR / 2 wide (the half-width micro-kernel runs it).
template <class Kernel>
void pack_b(bool trans_b, int64_t kc, int64_t nc, const float* B, int64_t ldb, float* dst) {
  constexpr int NR = Kernel::NR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    int64_t n = std::min<int64_t>(NR, nc - jr);
    const float* src = trans_b ? B + jr * ldb : B + jr;
    if (n > NR / 2) pack_b_panel<Kernel, NR>(trans_b, kc, n, src, ldb, dst + jr * kc);
    else pack_b_panel<Kernel, NR / 2>(trans_b, kc, n, src, ldb, dst + jr * kc);
  }
}

// How a micro-kernel reads A(r, k): packed panels (A[k * MR + r]), a transposed
// A in place (columns: A[k * lda + r]) or A's rows in place (rows: A[r * lda + k]).
enum class ALayout { packed, columns, rows };
// With A read in place by columns, the micro-kernel prefetches the A line this many k ahead.
constexpr int64_t kAheadK = 8;

// Writes an m x n corner of a full MR x NR tile: C = acc + beta * C.
template <int MR, int NR>
void store_partial(const float* acc, int m, int n, float* C, int64_t ldc, float beta) {
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) {
      float* c = C + r * ldc + j;
      *c = beta == 0.f ? acc[r * NR + j] : acc[r * NR + j] + beta * *c;
    }
}

// Up to this many B panels per slab, and with alpha 1, the micro-kernel reads the full
// MR-row tiles of A in place: each A element then meets too few B columns to repay
// packing it (narrow N: the A block is the large operand, used once).
constexpr int64_t kAInPlacePanels = 2;

// The A rows [ic, ic + mc) of one k block, as the micro-kernel reads them: the
// first in_place rows (whole MR tiles) from A itself, the rest from packed panels.
struct ABlock {
  const float* A;  // A(ic, pc)
  int64_t lda, kc, in_place;
  bool trans_a;
  const float* Ap;  // packed panels of rows [ic + in_place, ic + mc)
};

template <int MR>
ABlock prepare_a(bool read_in_place, bool trans_a, int64_t mc, int64_t kc, const float* A, int64_t lda, float alpha,
                 float* Ap) {
  int64_t in_place = read_in_place ? mc / MR * MR : 0;
  if (in_place < mc)
    pack_a<MR>(trans_a, mc - in_place, kc, trans_a ? A + in_place : A + in_place * lda, lda, alpha, Ap);
  return {A, lda, kc, in_place, trans_a, Ap};
}

// The m x n tile at row ir of the block: C = A rows @ B panel (NR or NR / 2 wide) + beta C.
// A last partial tile runs a kernel of MR / 3 or 2 MR / 3 rows when m fits in it.
template <class Kernel, int NB>
void micro_tile(const ABlock& a, int64_t ir, const float* Bp, float* C, int64_t ldc, float beta, int m, int n) {
  constexpr int MR = Kernel::MR;
  const float* Ap = a.Ap + (ir - a.in_place) * a.kc;
  if (ir >= a.in_place && m <= MR / 3)  // a last partial tile: a third or two of the rows
    Kernel::template micro<NB, ALayout::packed, MR / 3>(a.kc, Ap, MR, Bp, C, ldc, beta, m, n);
  else if (ir >= a.in_place && m <= 2 * MR / 3)
    Kernel::template micro<NB, ALayout::packed, 2 * MR / 3>(a.kc, Ap, MR, Bp, C, ldc, beta, m, n);
  else if (ir >= a.in_place)
    Kernel::template micro<NB, ALayout::packed>(a.kc, Ap, MR, Bp, C, ldc, beta, m, n);
  else if (a.trans_a)
    Kernel::template micro<NB, ALayout::columns>(a.kc, a.A + ir, a.lda, Bp, C, ldc, beta, m, n);
  else
    Kernel::template micro<NB, ALayout::rows>(a.kc, a.A + ir * a.lda, a.lda, Bp, C, ldc, beta, m, n);
}

template <class Kernel>
void micro_tile(const ABlock& a, int64_t ir, const float* Bp, float* C, int64_t ldc, float beta, int m, int n) {
  if (n > Kernel::NR / 2) micro_tile<Kernel, Kernel::NR>(a, ir, Bp, C, ldc, beta, m, n);
  else micro_tile<Kernel, Kernel::NR / 2>(a, ir, Bp, C, ldc, beta, m, n);
}

using SgemmEpilogue = nnc::cpu::Epilogue<float>;

// Computes rows [i0, i1) of C for the packed B slab Bp (kc x nc at column jc);
// after the last k block (last_k) each tile gets the epilogue while in L1.
template <class Kernel>
void sweep_rows(bool trans_a, int64_t i0, int64_t i1, int64_t jc, int64_t nc, int64_t pc, int64_t kc, float alpha,
                const float* A, int64_t lda, const float* Bp, float beta_k, float* C, int64_t ldc, float* Ap,
                const SgemmEpilogue& ep, bool last_k) {
  const bool epilogue = last_k && ep.active();
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  const bool a_in_place = alpha == 1.f && nc <= kAInPlacePanels * NR;
  for (int64_t ic = i0; ic < i1; ic += Kernel::MC) {
    int64_t mc = std::min<int64_t>(Kernel::MC, i1 - ic);
    ABlock a = prepare_a<MR>(a_in_place, trans_a, mc, kc, trans_a ? A + pc * lda + ic : A + ic * lda + pc, lda,
                             alpha, Ap);
    for (int64_t jr = 0; jr < nc; jr += NR) {
      int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
      for (int64_t ir = 0; ir < mc; ir += MR) {
        int m = static_cast<int>(std::min<int64_t>(MR, mc - ir));
        float* tile = C + (ic + ir) * ldc + jc + jr;
        micro_tile<Kernel>(a, ir, Bp + jr * kc, tile, ldc, beta_k, m, n);
        if (epilogue) apply_epilogue(ep, tile, ldc, ic + ir, jc + jr, m, n);
      }
    }
  }
}

// Rows of C are split between nt threads (in whole MR tiles); each B slab is
// packed once, cooperatively, panel by panel, then shared by every thread.
template <class Kernel>
void sgemm_rows_parallel(int nt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                         int64_t ldc, const SgemmEpilogue& ep) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  constexpr int64_t KC = Kernel::KC, NC = Kernel::NC;
  int64_t nc_max = std::min<int64_t>(NC, N);
  nnc::Workspace b_pack(((nc_max + NR - 1) / NR * NR) * KC * sizeof(float));
  float* Bp = b_pack.as<float>();
  int64_t m_tiles = (M + MR - 1) / MR;
#pragma omp parallel num_threads(nt)
  {
    auto [t, threads] = nnc::team_slot();
    nnc::Workspace a_pack((Kernel::MC + MR) * KC * sizeof(float));
    int64_t i0 = std::min(M, m_tiles * t / threads * MR), i1 = std::min(M, m_tiles * (t + 1) / threads * MR);
    for (int64_t jc = 0; jc < N; jc += NC) {
      int64_t nc = std::min(NC, N - jc);
      int64_t panels = (nc + NR - 1) / NR;
      for (int64_t pc = 0; pc < K; pc += KC) {
        int64_t kc = std::min(KC, K - pc);
        int64_t p0 = panels * t / threads, p1 = panels * (t + 1) / threads;
        if (p1 > p0) {
          int64_t j0 = p0 * NR, j1 = std::min(nc, p1 * NR);
          pack_b<Kernel>(trans_b, kc, j1 - j0, trans_b ? B + (jc + j0) * ldb + pc : B + pc * ldb + jc + j0, ldb,
                     Bp + j0 * kc);
        }
#pragma omp barrier
        sweep_rows<Kernel>(trans_a, i0, i1, jc, nc, pc, kc, alpha, A, lda, Bp, pc == 0 ? beta : 1.f, C, ldc,
                           a_pack.as<float>(), ep, pc + kc == K);
#pragma omp barrier
      }
    }
  }
}

template <class Kernel>
void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const SgemmEpilogue& ep) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  constexpr int64_t KC = Kernel::KC, NC = Kernel::NC;
  nnc::Workspace a_pack((Kernel::MC + MR) * KC * sizeof(float));
  if (M <= Kernel::MC) {
    // One block of rows: each B panel is used by only M / MR tiles, so packing a whole
    // slab would write and read back B once more from memory. Instead each panel is
    // packed into a buffer that stays in L1 / L2 and used at once by every row tile.
    nnc::Workspace panel(NR * KC * sizeof(float));
    float* Bp = panel.as<float>();
    const bool a_in_place = alpha == 1.f && N <= kAInPlacePanels * NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
      int64_t kc = std::min(KC, K - pc);
      ABlock a = prepare_a<MR>(a_in_place, trans_a, M, kc, trans_a ? A + pc * lda : A + pc, lda, alpha,
                               a_pack.as<float>());
      float beta_k = pc == 0 ? beta : 1.f;
      const bool epilogue = pc + kc == K && ep.active();
      for (int64_t jr = 0; jr < N; jr += NR) {
        int n = static_cast<int>(std::min<int64_t>(NR, N - jr));
        pack_b<Kernel>(trans_b, kc, n, trans_b ? B + jr * ldb + pc : B + pc * ldb + jr, ldb, Bp);
        for (int64_t ir = 0; ir < M; ir += MR) {
          int m = static_cast<int>(std::min<int64_t>(MR, M - ir));
          float* tile = C + ir * ldc + jr;
          micro_tile<Kernel>(a, ir, Bp, tile, ldc, beta_k, m, n);
          if (epilogue) apply_epilogue(ep, tile, ldc, ir, jr, m, n);
        }
      }
    }
    return;
  }
  nnc::Workspace b_pack((std::min<int64_t>(NC, N) + NR) * KC * sizeof(float));
  for (int64_t jc = 0; jc < N; jc += NC) {
    int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      int64_t kc = std::min(KC, K - pc);
      pack_b<Kernel>(trans_b, kc, nc, trans_b ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, b_pack.as<float>());
      sweep_rows<Kernel>(trans_a, 0, M, jc, nc, pc, kc, alpha, A, lda, b_pack.as<float>(), pc == 0 ? beta : 1.f,
                         C, ldc, a_pack.as<float>(), ep, pc + kc == K);
    }
  }
}

// Splits C into one block of rows (B slabs shared; with narrow N, each thread
// runs the serial driver on its own rows) or of columns (the serial driver on
// each thread's columns) per thread; every element is summed in the same order
// whatever the thread count.
template <class Kernel>
void sgemm_blocked(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                   const SgemmEpilogue& ep) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    if (ep.active()) apply_epilogue(ep, C, ldc, 0, 0, M, N);
    return;
  }
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  int64_t m_tiles = (M + MR - 1) / MR, n_tiles = (N + NR - 1) / NR;
  bool split_m = m_tiles >= n_tiles;
  int64_t tiles = split_m ? m_tiles : n_tiles;
  int64_t work = M * N * K;
  int nt = static_cast<int>(std::min<int64_t>({nnc::num_threads(), tiles, std::max<int64_t>(1, work >> 18)}));
  if (nnc::in_parallel_region()) nt = 1;  // called from a caller's parallel region: stay on this thread
  if (nt <= 1) {
    sgemm_serial<Kernel>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
    return;
  }
  if (split_m && N > kAInPlacePanels * NR) {
    sgemm_rows_parallel<Kernel>(nt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
    return;
  }
  if (split_m) {  // narrow N: each thread packs its own (small) B and runs with no barrier
#pragma omp parallel num_threads(nt)
    {
      auto [t, threads] = nnc::team_slot();
      int64_t i0 = std::min(M, tiles * t / threads * MR), i1 = std::min(M, tiles * (t + 1) / threads * MR);
      SgemmEpilogue rows = ep;  // this thread's rows start at i0
      if (ep.bias && ep.bias_per_row) rows.bias = ep.bias + i0;
      if (i1 > i0)
        sgemm_serial<Kernel>(trans_a, trans_b, i1 - i0, N, K, alpha, trans_a ? A + i0 : A + i0 * lda, lda, B, ldb,
                             beta, C + i0 * ldc, ldc, rows);
    }
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    auto [t, threads] = nnc::team_slot();
    int64_t j0 = std::min(N, tiles * t / threads * NR), j1 = std::min(N, tiles * (t + 1) / threads * NR);
    SgemmEpilogue columns = ep;  // this thread's columns start at j0
    if (ep.bias && !ep.bias_per_row) columns.bias = ep.bias + j0;
    if (j1 > j0)
      sgemm_serial<Kernel>(trans_a, trans_b, M, j1 - j0, K, alpha, A, lda, trans_b ? B + j0 * ldb : B + j0, ldb,
                           beta, C + j0, ldc, columns);
  }
}

}  // namespace
