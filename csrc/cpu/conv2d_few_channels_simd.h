// Forward and weight gradient of a convolution with few input channels (a
// network's first layer: 1 to 4 channels) at stride 1 along rows, written once
// over a vector type V and instantiated by conv2d_avx2.cpp and conv2d_avx512.cpp.
// In both the lanes run along the output row q, reading a zero-padded copy of x.
//
// Forward: y[n][k][p][q] = act(bias[k] + sum over c, r, t of w[k][c][r][t] x_pad[n][c][p sh + r dh][q + t dw]),
// a register block of KB output channels x QV vectors of one output row.
//
// Weight gradient:
//   gw[k][c][r][t] = sum over n, p, q of gy[n][k][p][q] x_pad[n][c][p sh + r dh][q sw + t dw]
// x is (N, C, H, W), gy (N, K, P, Q), gw (K, C, R, S); groups == 1.
// The lanes run along q: each image's x is copied zero-padded and split into sw
// column phases, so every tap reads a contiguous run of its row. A register block
// of KB output channels x TB taps keeps KB x TB vector sums; they are reduced
// across lanes once, at the end. Images are shared between threads, each with its
// own sums, added in thread order.
//
// V provides: R, W, set1, load_n(p, n) (lanes >= n zero), store_n(p, v, n), fmadd, load, store, hsum.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/host_cache.h"
#include "core/threading.h"
#include "cpu/conv2d.h"
#include "cpu/epilogue.h"

namespace nnc::cpu {
namespace {

// Shapes it is for: one group, few input channels, stride 1 along rows long enough for
// the lanes (measured: with stride 2 the gathered implicit GEMM of the AVX-512 twin is faster).
inline bool few_channels_suits(const ConvShape& s, int lanes) {
  return s.groups == 1 && s.C <= 4 && s.stride_w == 1 && s.Q >= lanes / 2 && s.N > 0 && s.P > 0 && s.K > 0;
}

template <class V, int KB, int QV>
void forward_few_channels(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                          const Activation<float>& act) {
  constexpr int W = V::W, QW = QV * W;
  const int64_t C = s.C, K = s.K, RS = s.R * s.S, CRS = C * RS, PQ = s.P * s.Q;
  const int64_t q_blocks = (s.Q + QW - 1) / QW;
  const int64_t Hp = std::max(s.H + 2 * s.pad_h, (s.P - 1) * s.stride_h + (s.R - 1) * s.dil_h + 1);
  const int64_t Wp = std::max(s.W + 2 * s.pad_w, q_blocks * QW + (s.S - 1) * s.dil_w);
  const int64_t plane = Hp * Wp, image_len = C * plane, rows = s.N * s.P;
  const int64_t Kpad = (K + KB - 1) / KB * KB;
  Workspace xpad_ws(s.N * image_len * sizeof(float)), wt_ws(CRS * Kpad * sizeof(float));
  float *xpad = xpad_ws.as<float>(), *wt = wt_ws.as<float>();
  for (int64_t i = 0; i < CRS; ++i)  // wt (CRS, Kpad) = w^T, zero past K
    for (int64_t k = 0; k < Kpad; ++k) wt[i * Kpad + k] = k < K ? w[k * CRS + i] : 0.f;
  std::vector<int64_t> tap_offset(CRS);  // tap (c, r, t) -> offset of output (0, 0) in a padded image
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < s.R; ++r)
      for (int64_t t = 0; t < s.S; ++t) tap_offset[(c * s.R + r) * s.S + t] = c * plane + r * s.dil_h * Wp + t * s.dil_w;
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), rows)));
#pragma omp parallel num_threads(nt)
  {
    auto [tid, team] = team_slot();
    const int64_t planes = s.N * C;
    for (int64_t i = planes * tid / team; i < planes * (tid + 1) / team; ++i) {
      float* dst = xpad + i * plane;
      std::fill(dst, dst + plane, 0.f);
      const float* src = x + i * s.H * s.W;
      for (int64_t h = 0; h < s.H; ++h) std::copy(src + h * s.W, src + (h + 1) * s.W, dst + (h + s.pad_h) * Wp + s.pad_w);
    }
#pragma omp barrier
    for (int64_t row = rows * tid / team; row < rows * (tid + 1) / team; ++row) {
      const int64_t n = row / s.P, p = row % s.P;
      const float* x0 = xpad + n * image_len + p * s.stride_h * Wp;
      for (int64_t qb = 0; qb < q_blocks; ++qb) {
        const int64_t q0 = qb * QW;
        for (int64_t k0 = 0; k0 < Kpad; k0 += KB) {
          typename V::R acc[KB][QV];
#pragma GCC unroll 16
          for (int b = 0; b < KB; ++b)
#pragma GCC unroll 4
            for (int v = 0; v < QV; ++v) acc[b][v] = V::set1(k0 + b < K && bias ? bias[k0 + b] : 0.f);
          for (int64_t i = 0; i < CRS; ++i) {
            const float* xr = x0 + tap_offset[i] + q0;
            const float* wk = wt + i * Kpad + k0;
            typename V::R xv[QV];
#pragma GCC unroll 4
            for (int v = 0; v < QV; ++v) xv[v] = V::load(xr + v * W);
#pragma GCC unroll 16
            for (int b = 0; b < KB; ++b) {
              const typename V::R wv = V::set1(wk[b]);
#pragma GCC unroll 4
              for (int v = 0; v < QV; ++v) acc[b][v] = V::fmadd(wv, xv[v], acc[b][v]);
            }
          }
#pragma GCC unroll 16
          for (int b = 0; b < KB; ++b) {
            if (k0 + b >= K) break;
            float* out = y + (n * K + k0 + b) * PQ + p * s.Q + q0;
#pragma GCC unroll 4
            for (int v = 0; v < QV; ++v) {
              const int64_t valid = std::min<int64_t>(W, s.Q - q0 - v * W);
              if (valid > 0) V::store_n(out + v * W, acc[b][v], static_cast<int>(valid));
            }
            if (!act.none())
              for (int64_t j = 0; j < std::min<int64_t>(QW, s.Q - q0); ++j) out[j] = activation_value(act, out[j]);
          }
        }
      }
    }
  }
}

template <class V, int KB, int TB>
void wgrad_few_channels(const ConvShape& s, const float* gy, const float* x, float* gw) {
  constexpr int W = V::W;
  const int64_t C = s.C, K = s.K, RS = s.R * s.S, CRS = C * RS, PQ = s.P * s.Q;
  const int64_t Hp = s.H + 2 * s.pad_h, Wp = s.W + 2 * s.pad_w, sw = s.stride_w;
  const int64_t phase_len = (Wp + sw - 1) / sw + W;  // slack: a tail vector never leaves the row
  const int64_t row_len = sw * phase_len, image_len = C * Hp * row_len;
  const int64_t Kpad = (K + KB - 1) / KB * KB, Tpad = (CRS + TB - 1) / TB * TB;
  // tap i = (c, r, t): offset of its output row 0 in the phase-split image (taps past CRS read zeros)
  std::vector<int64_t> tap_offset(Tpad, -1);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < s.R; ++r)
      for (int64_t t = 0; t < s.S; ++t) {
        const int64_t col = t * s.dil_w;
        tap_offset[(c * s.R + r) * s.S + t] = (c * Hp + r * s.dil_h) * row_len + (col % sw) * phase_len + col / sw;
      }
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), s.N)));
  // each thread copies a group of its images at a time (about 1 MiB), then runs every
  // register block over all of the group's rows
  const int64_t group = std::max<int64_t>(1, std::min<int64_t>(s.N, (int64_t(1) << 18) / (image_len + W)));
  const int64_t sums_len = Kpad * Tpad * W;
  Workspace sums_ws(nt * sums_len * sizeof(float)), image_ws(nt * group * (image_len + W) * sizeof(float));
  Workspace zeros_ws((s.Q + W) * sizeof(float));
  float* zeros = zeros_ws.as<float>();
  std::fill(zeros, zeros + s.Q + W, 0.f);
  std::fill(sums_ws.as<float>(), sums_ws.as<float>() + nt * sums_len, 0.f);
#pragma omp parallel num_threads(nt)
  {
    auto [tid, team] = team_slot();
    float* sums = sums_ws.as<float>() + tid * sums_len;  // [k][tap][lane]
    float* images = image_ws.as<float>() + tid * group * (image_len + W);
    const int64_t first = s.N * tid / team, last = s.N * (tid + 1) / team;
    for (int64_t g0 = first; g0 < last; g0 += group) {
      const int64_t count = std::min(group, last - g0);
      // image i: xs[c][h][phase][j] = x_pad[g0 + i][c][h][j sw + phase]
      std::fill(images, images + count * (image_len + W), 0.f);
      for (int64_t i = 0; i < count; ++i)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t h = 0; h < s.H; ++h) {
            const float* src = x + (((g0 + i) * C + c) * s.H + h) * s.W;
            float* dst = images + i * (image_len + W) + (c * Hp + h + s.pad_h) * row_len;
            for (int64_t w = 0; w < s.W; ++w) {
              const int64_t col = w + s.pad_w;
              dst[(col % sw) * phase_len + col / sw] = src[w];
            }
          }
      for (int64_t k0 = 0; k0 < Kpad; k0 += KB)
        for (int64_t i0 = 0; i0 < Tpad; i0 += TB) {
          typename V::R acc[KB][TB];
#pragma GCC unroll 8
          for (int b = 0; b < KB; ++b)
#pragma GCC unroll 8
            for (int i = 0; i < TB; ++i) acc[b][i] = V::load(sums + ((k0 + b) * Tpad + i0 + i) * W);
          for (int64_t img = 0; img < count; ++img) {
            const float* gyn = gy + (g0 + img) * K * PQ;
            const float* xs = images + img * (image_len + W);
            for (int64_t p = 0; p < s.P; ++p) {
              const float* g[KB];
#pragma GCC unroll 8
              for (int b = 0; b < KB; ++b) g[b] = k0 + b < K ? gyn + (k0 + b) * PQ + p * s.Q : zeros;
              const float* xr[TB];
#pragma GCC unroll 8
              for (int i = 0; i < TB; ++i)
                xr[i] = tap_offset[i0 + i] < 0 ? zeros : xs + tap_offset[i0 + i] + p * s.stride_h * row_len;
              for (int64_t q = 0; q < s.Q; q += W) {
                const int n_valid = static_cast<int>(std::min<int64_t>(W, s.Q - q));
                typename V::R gv[KB];
#pragma GCC unroll 8
                for (int b = 0; b < KB; ++b) gv[b] = V::load_n(g[b] + q, n_valid);
#pragma GCC unroll 8
                for (int i = 0; i < TB; ++i) {
                  const typename V::R xv = V::load_n(xr[i] + q, n_valid);
#pragma GCC unroll 8
                  for (int b = 0; b < KB; ++b) acc[b][i] = V::fmadd(gv[b], xv, acc[b][i]);
                }
              }
            }
          }
#pragma GCC unroll 8
          for (int b = 0; b < KB; ++b)
#pragma GCC unroll 8
            for (int i = 0; i < TB; ++i) V::store(sums + ((k0 + b) * Tpad + i0 + i) * W, acc[b][i]);
        }
    }
  }
  const float* all = sums_ws.as<float>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < CRS; ++i) {
      float total = 0.f;
      for (int t = 0; t < nt; ++t) total += V::hsum(V::load(all + t * sums_len + (k * Tpad + i) * W));
      gw[k * CRS + i] = total;
    }
}

}  // namespace
}  // namespace nnc::cpu
