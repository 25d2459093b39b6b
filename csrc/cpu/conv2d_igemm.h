// Implicit-GEMM forward convolution shared by the SIMD twins: y (K, N*P*Q) =
// w (K, C R S) @ col (C R S, N*P*Q), where the column matrix is never stored:
// each KC x NR micro-panel of it is packed straight from x (NCHW) and used by
// every MR-row tile of the weights. Columns run across image boundaries, so small
// images still fill whole panels. The activation runs on each register tile right
// after its last KC block is stored, while it is in L1. Included only by
// *_avx2.cpp / *_avx512.cpp; internal linkage, so each twin gets its own copy
// compiled for its ISA.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/conv_math.h"
#include "core/host_cache.h"
#include "core/threading.h"
#include "cpu/conv2d.h"
#include "cpu/epilogue.h"

namespace {

using nnc::cpu::ConvShape;

// A stretch of panel columns that lie in one output row of one image:
// columns [col, col + len) are pixels (n, p, q0 .. q0 + len).
struct ColumnRun {
  int64_t n, p, q0, len, col;
};

// The runs covering global columns [j0, j0 + count) (column j = (n P + p) Q + q).
void column_runs(const ConvShape& s, int64_t j0, int64_t count, std::vector<ColumnRun>& runs) {
  runs.clear();
  int64_t PQ = s.P * s.Q;
  for (int64_t j = j0, col = 0; col < count;) {
    int64_t n = j / PQ, pq = j % PQ, p = pq / s.Q, q = pq % s.Q;
    int64_t len = std::min(s.Q - q, count - col);
    runs.push_back({n, p, q, len, col});
    j += len;
    col += len;
  }
}

// Where row k = (c, r, t) of the column matrix reads x: channel c, input row
// p stride_h + h_off, input columns q stride_w + w_off for q in [q_lo, q_hi).
struct Tap {
  int64_t x_off, h_off, w_off, q_lo, q_hi;
};

std::vector<Tap> conv_taps(const ConvShape& s, int64_t Cg) {
  std::vector<Tap> taps;
  taps.reserve(Cg * s.R * s.S);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < s.R; ++r)
      for (int64_t t = 0; t < s.S; ++t) {
        Tap tap{c * s.H * s.W, r * s.dil_h - s.pad_h, t * s.dil_w - s.pad_w, 0, 0};
        nnc::conv_valid_range(t, s.stride_w, s.pad_w, s.dil_w, s.W, s.Q, &tap.q_lo, &tap.q_hi);
        taps.push_back(tap);
      }
  return taps;
}

// Packs rows [k0, k0 + kc) of the column matrix for panel columns `runs` into
// dst (kc x NR, row-major, columns past the runs zero); x is one group's
// channels of image 0, images image_stride apart.
template <class Kernel, int NR>
void pack_columns(const ConvShape& s, const float* x, int64_t image_stride, const Tap* taps,
                  const std::vector<ColumnRun>& runs, int64_t used, int64_t kc, float* dst) {
  for (int64_t k = 0; k < kc; ++k, dst += NR) {
    const Tap& tap = taps[k];
    for (const ColumnRun& run : runs) {
      float* out = dst + run.col;  // out[i] is pixel q0 + i
      int64_t h = run.p * s.stride_h + tap.h_off;
      int64_t a = std::max(run.q0, tap.q_lo) - run.q0, b = std::min(run.q0 + run.len, tap.q_hi) - run.q0;
      if (h < 0 || h >= s.H || a >= b) {
        a = b = 0;  // nothing to read: all zeros
      }
      // src[i stride_w] is the input pixel of output column q0 + i, valid for i in [a, b)
      const float* src = x + run.n * image_stride + tap.x_off + h * s.W + run.q0 * s.stride_w + tap.w_off;
      Kernel::pack_run(out, src, run.len, a, b, s.stride_w);
    }
    for (int64_t j = used; j < NR; ++j) dst[j] = 0.f;
  }
}

// Weights w (Kg, CRS) -> per KC block, per MR-row tile: panel[k][MR], zero-padded rows.
// Tiles are split across nt threads.
template <int MR>
void pack_weights(const float* w, int64_t Kg, int64_t CRS, int64_t KC, float* dst, int nt) {
  const int64_t k_tiles = (Kg + MR - 1) / MR;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t it = 0; it < k_tiles; ++it) {
    const int64_t ir = it * MR, m = std::min<int64_t>(MR, Kg - ir);
    for (int64_t pc = 0; pc < CRS; pc += KC) {
      const int64_t kc = std::min(KC, CRS - pc);
      float* d = dst + pc * k_tiles * MR + it * MR * kc;  // blocks before pc are all KC deep
      for (int64_t k = 0; k < kc; ++k) {
        for (int64_t r = 0; r < m; ++r) d[k * MR + r] = w[(ir + r) * CRS + pc + k];
        for (int64_t r = m; r < MR; ++r) d[k * MR + r] = 0.f;
      }
    }
  }
}

// Kernel provides MR, NR, KC, C_TILE_FLOATS,
//   pack_run(out, src, len, a, b, stride): out[i] = src[i stride] for i in [a, b), 0 elsewhere in [0, len),
//   pack_panel(...): pack_columns<Kernel, NR> or a faster equivalent,
//   micro(kc, A (kc x MR), B (kc x NR), C, ldc, m, n, first, bias):
//   C[0..m)[0..n) = (first ? bias-or-0 : C) + A^T B, one MR x NR tile.
// y = act(conv(x, w) + bias).
template <class Kernel>
void conv_igemm_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                        const nnc::cpu::Activation<float>& act) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, CRS = Cg * s.R * s.S, PQ = s.P * s.Q;
  const int64_t J = s.N * PQ, panels = (J + NR - 1) / NR, k_tiles = (Kg + MR - 1) / MR;
  const int64_t KC = std::min<int64_t>(CRS, Kernel::KC);
  // columns per chunk: the chunk's output (Kg x NC) stays in L2 while the KC blocks sweep over it
  const int64_t chunk_panels = std::max<int64_t>(1, Kernel::C_TILE_FLOATS / (k_tiles * MR * NR));
  const int64_t work = 2 * Kg * CRS * J;
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({nnc::num_threads(), panels,
                                                                          std::max<int64_t>(1, work >> 20)})));
  // Small images with panels straddling them (PQ not a multiple of NR) write a
  // (K, N, PQ) staging copy of y whose columns run on across images, and
  // transpose it at the end; otherwise panels write y (N, K, PQ) in place.
  const bool staged = s.N > 1 && PQ % NR != 0 && PQ < 32 * NR;
  nnc::Workspace staging(staged ? s.K * J * sizeof(float) : 0);
  float* out = staged ? staging.as<float>() : y;
  const int64_t ldc = staged ? J : PQ, image_stride = staged ? PQ : s.K * PQ;
  nnc::Workspace packed_w(k_tiles * MR * CRS * sizeof(float));
  nnc::Workspace packed_b(nt * KC * NR * sizeof(float));
  const std::vector<Tap> taps = conv_taps(s, Cg);
  const nnc::cpu::Epilogue<float> ep{act, nullptr, false};  // the bias is added by the micro-kernel
  for (int64_t g = 0; g < G; ++g) {
    const float* xg = x + g * Cg * s.H * s.W;
    const float* bg = bias ? bias + g * Kg : nullptr;
    pack_weights<MR>(w + g * Kg * CRS, Kg, CRS, KC, packed_w.as<float>(), nt);
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
      int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
      int t = 0, team = 1;
#endif
      float* Bp = packed_b.as<float>() + t * KC * NR;
      std::vector<ColumnRun> runs;
      alignas(64) float tile[MR * NR];
      int64_t first_panel = panels * t / team, last_panel = panels * (t + 1) / team;
      for (int64_t c0 = first_panel; c0 < last_panel; c0 += chunk_panels) {
        int64_t c1 = std::min(last_panel, c0 + chunk_panels);
        for (int64_t pc = 0; pc < CRS; pc += KC) {
          int64_t kc = std::min(KC, CRS - pc);
          const bool activate = pc + kc == CRS && !act.none();
          const float* Ap = packed_w.as<float>() + pc * k_tiles * MR;
          for (int64_t jp = c0; jp < c1; ++jp) {
            int64_t j0 = jp * NR, used = std::min<int64_t>(NR, J - j0);
            column_runs(s, j0, used, runs);
            Kernel::pack_panel(s, xg, s.C * s.H * s.W, taps.data() + pc, runs, used, kc, Bp);
            // panel columns adjacent in memory: one image, or the staging copy
            bool contiguous = staged || runs.front().n == runs.back().n;
            const ColumnRun& head = runs.front();
            for (int64_t it = 0; it < k_tiles; ++it) {
              int m = static_cast<int>(std::min<int64_t>(MR, Kg - it * MR));
              const float* bias_tile = bg ? bg + it * MR : nullptr;
              const int64_t row0 = g * Kg + it * MR;
              if (contiguous) {
                float* C = out + head.n * image_stride + row0 * ldc + head.p * s.Q + head.q0;
                Kernel::micro(kc, Ap + it * MR * kc, Bp, C, ldc, m, static_cast<int>(used), pc == 0, bias_tile);
                if (activate) apply_epilogue(ep, C, ldc, 0, 0, m, used);
                continue;
              }
              // the panel straddles two images of y: go through a local tile
              for (const ColumnRun& run : runs) {
                if (pc == 0) break;
                const float* src = out + run.n * image_stride + row0 * ldc + run.p * s.Q + run.q0;
                for (int r = 0; r < m; ++r)
                  for (int64_t i = 0; i < run.len; ++i) tile[r * NR + run.col + i] = src[r * ldc + i];
              }
              Kernel::micro(kc, Ap + it * MR * kc, Bp, tile, NR, m, static_cast<int>(used), pc == 0, bias_tile);
              if (activate) apply_epilogue(ep, tile, NR, 0, 0, m, used);
              for (const ColumnRun& run : runs) {
                float* dst = out + run.n * image_stride + row0 * ldc + run.p * s.Q + run.q0;
                for (int r = 0; r < m; ++r)
                  for (int64_t i = 0; i < run.len; ++i) dst[r * ldc + i] = tile[r * NR + run.col + i];
              }
            }
          }
        }
      }
    }
  }
  if (staged) {  // (K, N, PQ) -> (N, K, PQ)
    const float* src = staging.as<float>();
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t k = 0; k < s.K; ++k) std::memcpy(y + (n * s.K + k) * PQ, src + k * J + n * PQ, PQ * sizeof(float));
  }
}

}  // namespace
