// Convolution, AVX-512F. Forward, by shape: Winograd F(2x2, 3x3) (3x3 stride 1,
// >= 32 channels, >= 160 tiles); a channels-in-vector kernel for <= 16 output
// channels; otherwise implicit GEMM (cpu/conv2d_igemm.h) with an 8 x 48 register
// tile (8 output channels x 48 output pixels). Weight gradient: a GEMM over pixels
// on a channels-last copy of x (>= 32 input channels) or with gathered panels.
// Every forward path applies the activation epilogue to its output tile in registers or L1.
#include <immintrin.h>

#include <algorithm>
#include <utility>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/host_cache.h"
#include "core/threading.h"
#include "cpu/conv2d.h"
#include "cpu/conv2d_igemm.h"
#include "cpu/conv2d_few_channels_simd.h"
#include "cpu/vec_avx512.h"
#include "cpu/transpose_simd.h"

namespace nnc::cpu {
namespace {

struct ConvAvx512_8x48 {
  static constexpr int MR = 8, NR = 48;
  static constexpr int64_t KC = 256;                 // B micro-panel 256 x 48 floats = 48 KiB, L1-sized
  static constexpr int64_t C_TILE_FLOATS = 96 * 1024;  // 384 KiB of output per chunk, in L2

  static __mmask16 column_mask(int n, int i) {
    int left = n - 16 * i;
    return left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }

  // out[i] = src[i stride] for i in [a, b), zero for the rest of [0, len): masked loads read only valid pixels
  static void pack_run(float* out, const float* src, int64_t len, int64_t a, int64_t b, int64_t stride) {
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(static_cast<int>(stride)));
    for (int64_t i0 = 0; i0 < len; i0 += 16) {
      __mmask16 store = lane_range(0, len - i0), load = lane_range(a - i0, b - i0);
      __m512 v = stride == 1 ? _mm512_maskz_loadu_ps(load, src + i0)
                             : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), load, step, src + i0 * stride, 4);
      _mm512_mask_storeu_ps(out + i0, store, v);
    }
  }

  // Packs a KC x 48 micro-panel. Short output rows make many short runs, so
  // there each column's source index is computed in vector lanes and gathered.
  static void pack_panel(const ConvShape& s, const float* x, int64_t image_stride, const Tap* taps,
                         const std::vector<ColumnRun>& runs, int64_t used, int64_t kc, float* dst) {
    const bool small_index = (s.N - 1) * image_stride + s.C * s.H * s.W < (int64_t(1) << 31);
    if (s.Q >= 24 || !small_index) return pack_columns<ConvAvx512_8x48, NR>(s, x, image_stride, taps, runs, used, kc, dst);
    // per panel column j: base = n image_stride + (p sh) W + q sw, and the row / column it reads from for tap 0
    alignas(64) int32_t base[NR], row[NR], col[NR];
    for (int j = 0; j < NR; ++j) base[j] = row[j] = col[j] = 0;
    for (const ColumnRun& run : runs)
      for (int64_t i = 0; i < run.len; ++i) {
        int64_t j = run.col + i, q = run.q0 + i;
        row[j] = static_cast<int32_t>(run.p * s.stride_h);
        col[j] = static_cast<int32_t>(q * s.stride_w);
        base[j] = static_cast<int32_t>(run.n * image_stride + row[j] * s.W + col[j]);
      }
    __m512i vbase[3], vrow[3], vcol[3];
    __mmask16 used_mask[3];
    for (int v = 0; v < 3; ++v) {
      vbase[v] = _mm512_load_si512(base + 16 * v);
      vrow[v] = _mm512_load_si512(row + 16 * v);
      vcol[v] = _mm512_load_si512(col + 16 * v);
      used_mask[v] = lane_range(0, used - 16 * v);
    }
    const __m512i vH = _mm512_set1_epi32(static_cast<int>(s.H)), vW = _mm512_set1_epi32(static_cast<int>(s.W));
    for (int64_t k = 0; k < kc; ++k, dst += NR) {
      const Tap& tap = taps[k];
      const __m512i dh = _mm512_set1_epi32(static_cast<int>(tap.h_off)), dw = _mm512_set1_epi32(static_cast<int>(tap.w_off));
      const __m512i off = _mm512_set1_epi32(static_cast<int>(tap.x_off + tap.h_off * s.W + tap.w_off));
      for (int v = 0; v < 3; ++v) {
        // inside the image: 0 <= row + h_off < H and 0 <= col + w_off < W (as unsigned compares)
        __mmask16 inside = _mm512_mask_cmplt_epu32_mask(used_mask[v], _mm512_add_epi32(vrow[v], dh), vH);
        inside = _mm512_mask_cmplt_epu32_mask(inside, _mm512_add_epi32(vcol[v], dw), vW);
        __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, _mm512_add_epi32(vbase[v], off), x, 4);
        _mm512_store_ps(dst + 16 * v, g);
      }
    }
  }

  // lanes l of [0, 16) with lo <= l < hi
  static __mmask16 lane_range(int64_t lo, int64_t hi) {
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, 16);
    if (hi <= lo) return 0;
    return __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1));
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
        acc[r][0] = _mm512_maskz_loadu_ps(mask[0], C + r * ldc);
        acc[r][1] = _mm512_maskz_loadu_ps(mask[1], C + r * ldc + 16);
        acc[r][2] = _mm512_maskz_loadu_ps(mask[2], C + r * ldc + 32);
      }
    }
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16), b2 = _mm512_load_ps(B + 32);
      _mm_prefetch(reinterpret_cast<const char*>(A + 16 * MR), _MM_HINT_T0);  // the weights stream in from L2
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
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      if (r >= m) break;
      _mm512_mask_storeu_ps(C + r * ldc, mask[0], acc[r][0]);
      _mm512_mask_storeu_ps(C + r * ldc + 16, mask[1], acc[r][1]);
      _mm512_mask_storeu_ps(C + r * ldc + 32, mask[2], acc[r][2]);
    }
  }
};

// Few output channels (Kg <= 16), stride 1 along W: the implicit GEMM would spend
// more time packing columns than multiplying (each is used by only Kg rows). Here
// the vector runs over the output channels instead: a tile is MR consecutive
// output pixels of one row x 16 channels, the pixels broadcast straight from a
// zero-padded copy of x (fixed offsets, no packing), the weights read as
// w^T (C R S, 16). Reduction over all of C R S stays in registers.
template <int MR>
void small_k_tile(const float* x0, int64_t Cg, int64_t R, int64_t S, int64_t plane, int64_t row_step,
                  int64_t dw, const float* wt, float* tile) {
  __m512 acc[MR];
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < R; ++r) {
      const float* xr = x0 + c * plane + r * row_step;
      for (int64_t t = 0; t < S; ++t, wt += 16) {
        const float* xp = xr + t * dw;
        __m512 wk = _mm512_load_ps(wt);
#pragma GCC unroll 24
        for (int i = 0; i < MR; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(xp[i]), wk, acc[i]);
      }
    }
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i) _mm512_store_ps(tile + 16 * i, acc[i]);
}

using SmallKTile = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const float*, float*);

template <int MR>
constexpr std::pair<int, SmallKTile> small_k_entry() {
  return {MR, &small_k_tile<MR>};
}

bool conv_small_k_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                          const Activation<float>& act) {
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, RS = s.R * s.S, CRS = Cg * RS;
  if (Kg > 16 || s.stride_w != 1 || s.Q < 12 || CRS < 64) return false;
  // the pixel tile width that wastes least of a row
  constexpr std::pair<int, SmallKTile> entries[] = {small_k_entry<24>(), small_k_entry<20>(), small_k_entry<19>(),
                                                    small_k_entry<16>(), small_k_entry<14>(), small_k_entry<12>()};
  std::pair<int, SmallKTile> pick = entries[0];
  for (const auto& e : entries)
    if ((s.Q + e.first - 1) / e.first * e.first < (s.Q + pick.first - 1) / pick.first * pick.first) pick = e;
  const int MR = pick.first;
  const int64_t q_tiles = (s.Q + MR - 1) / MR;
  // padded extents: every row and column any tile reads
  const int64_t Hp = std::max(s.H + 2 * s.pad_h, (s.P - 1) * s.stride_h + (s.R - 1) * s.dil_h + 1);
  const int64_t Wp = std::max(s.W + 2 * s.pad_w, q_tiles * MR + (s.S - 1) * s.dil_w);
  const int64_t plane = Hp * Wp, PQ = s.P * s.Q, rows = s.N * s.P;
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nnc::num_threads(), rows)));
  Workspace xpad_ws(s.N * Cg * plane * sizeof(float));
  Workspace wt_ws(CRS * 16 * sizeof(float));
  float* xpad = xpad_ws.as<float>();
  float* wt = wt_ws.as<float>();
  for (int64_t g = 0; g < G; ++g) {
    // wt (CRS, 16) = w_g^T, zero past Kg
    for (int64_t kk = 0; kk < CRS; ++kk)
      for (int64_t k = 0; k < 16; ++k) wt[kk * 16 + k] = k < Kg ? w[(g * Kg + k) * CRS + kk] : 0.f;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
      int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
      int t = 0, team = 1;
#endif
      // xpad (N, Cg, Hp, Wp): this thread's planes
      int64_t planes = s.N * Cg;
      for (int64_t i = planes * t / team; i < planes * (t + 1) / team; ++i) {
        int64_t n = i / Cg, c = i % Cg;
        const float* src = x + (n * s.C + g * Cg + c) * s.H * s.W;
        float* dst = xpad + i * plane;
        std::fill(dst, dst + s.pad_h * Wp, 0.f);
        for (int64_t h = 0; h < s.H; ++h) {
          float* row = dst + (h + s.pad_h) * Wp;
          std::fill(row, row + s.pad_w, 0.f);
          std::copy(src + h * s.W, src + (h + 1) * s.W, row + s.pad_w);
          std::fill(row + s.pad_w + s.W, row + Wp, 0.f);
        }
        std::fill(dst + (s.H + s.pad_h) * Wp, dst + plane, 0.f);
      }
#pragma omp barrier
      alignas(64) float tile[24 * 16];
      for (int64_t row = rows * t / team; row < rows * (t + 1) / team; ++row) {
        int64_t n = row / s.P, p = row % s.P;
        for (int64_t qt = 0; qt < q_tiles; ++qt) {
          int64_t q0 = qt * MR, valid = std::min<int64_t>(MR, s.Q - q0);
          const float* x0 = xpad + (n * Cg) * plane + (p * s.stride_h) * Wp + q0;
          pick.second(x0, Cg, s.R, s.S, plane, s.dil_h * Wp, s.dil_w, wt, tile);
          for (int64_t k = 0; k < Kg; ++k) {
            float b = bias ? bias[g * Kg + k] : 0.f;
            float* out = y + (n * s.K + g * Kg + k) * PQ + p * s.Q + q0;
            for (int64_t i = 0; i < valid; ++i) out[i] = activation_value(act, tile[i * 16 + k] + b);
          }
        }
      }
    }
  }
  return true;
}

// act(v) lane by lane: relu, relu6 and leaky relu in vector compares, the rest through act::forward.
__m512 activate(const Activation<float>& act, __m512 v) {
  const __m512 zero = _mm512_setzero_ps();
  switch (act.kind) {
    case act::kNone: return v;
    case act::kRelu: return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v);
    case act::kRelu6:
      return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), _mm512_min_ps(v, _mm512_set1_ps(6.f)));
    case act::kLeakyRelu:
      return _mm512_mask_mov_ps(_mm512_mul_ps(v, _mm512_set1_ps(act.alpha)), _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ),
                                v);
    default: {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, v);
      for (float& l : lanes) l = activation_value(act, l);
      return _mm512_load_ps(lanes);
    }
  }
}

// Winograd F(2x2, 3x3) for 3x3, stride 1, undilated, ungrouped convolutions with
// enough channels: each 2x2 output tile costs 16 multiplies per (k, c) instead of
// 36. For a panel of 48 tiles: V = B^T d B of every 4x4 input patch (gathered
// from a padded copy of x, 16 tiles per vector), then 16 GEMMs M_xi (K, 48) =
// U_xi (K, C) @ V_xi (C, 48) with the 8 x 48 tile, U = G g G^T precomputed, then
// y = A^T M A scattered into the 2x2 outputs.
bool conv_winograd_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                           const Activation<float>& act) {
  using Kernel = ConvAvx512_8x48;
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  if (s.R != 3 || s.S != 3 || s.stride_h != 1 || s.stride_w != 1 || s.dil_h != 1 || s.dil_w != 1 ||
      s.groups != 1 || s.C < 32 || s.K < 32 || s.P < 4 || s.Q < 4)
    return false;
  // the filter transform costs about as much per (k, c) as the GEMMs over 64 tiles: skip small images
  if (s.N * ((s.P + 1) / 2) * ((s.Q + 1) / 2) < 160) return false;
  const int64_t C = s.C, K = s.K, P = s.P, Q = s.Q, PQ = P * Q;
  const int64_t TP = (P + 1) / 2, TQ = (Q + 1) / 2, T = s.N * TP * TQ, panels = (T + NR - 1) / NR;
  const int64_t Hp = std::max(2 * TP + 2, s.pad_h + s.H), Wp = std::max(2 * TQ + 2, s.pad_w + s.W), plane = Hp * Wp;
  if (s.N * C * plane >= (int64_t(1) << 31) || s.N * K * PQ >= (int64_t(1) << 31)) return false;  // 32-bit lanes
  const int64_t k_tiles = (K + MR - 1) / MR, Kpad = k_tiles * MR;
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nnc::num_threads(), panels)));

  // U_xi (K, C) = G g G^T per (k, c), written straight into 8-row panels: Up[xi][k tile][c][8]
  Workspace up_ws(16 * Kpad * C * sizeof(float));
  float* Up = up_ws.as<float>();
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t it = 0; it < k_tiles; ++it)
    for (int64_t c = 0; c < C; ++c)
      for (int r = 0; r < MR; ++r) {
        const int64_t k = it * MR + r;
        float u[16] = {};
        if (k < K) {
          const float* g = w + (k * C + c) * 9;
          float t[4][3];  // G g
          for (int j = 0; j < 3; ++j) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
          }
          for (int i = 0; i < 4; ++i) {  // (G g) G^T
            u[i * 4 + 0] = t[i][0];
            u[i * 4 + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            u[i * 4 + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            u[i * 4 + 3] = t[i][2];
          }
        }
        for (int xi = 0; xi < 16; ++xi) Up[((xi * k_tiles + it) * C + c) * MR + r] = u[xi];
      }

  // xpad (N, C, Hp, Wp): x shifted by the padding, zeros around
  Workspace xpad_ws(s.N * C * plane * sizeof(float));
  float* xpad = xpad_ws.as<float>();
  // Panels go in chunks: all 16 U_xi (K, C) stream through the cache once per chunk,
  // so with large U (many channels, few tiles) a chunk holds several panels.
  const int64_t per_thread = (panels + nt - 1) / nt;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(per_thread, K * C / ((C + Kpad) * NR)));
  Workspace v_ws(nt * chunk * 16 * C * NR * sizeof(float)), m_ws(nt * chunk * 16 * Kpad * NR * sizeof(float));
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
    int t = 0, team = 1;
#endif
    for (int64_t i = s.N * C * t / team; i < s.N * C * (t + 1) / team; ++i) {
      const float* src = x + i * s.H * s.W;
      float* dst = xpad + i * plane;
      std::fill(dst, dst + plane, 0.f);
      for (int64_t h = 0; h < s.H && h + s.pad_h < Hp; ++h)
        for (int64_t wi = 0; wi < s.W && wi + s.pad_w < Wp; ++wi) dst[(h + s.pad_h) * Wp + wi + s.pad_w] = src[h * s.W + wi];
    }
#pragma omp barrier
    float* Vall = v_ws.as<float>() + t * chunk * 16 * C * NR;     // per panel in chunk: V[xi][c][48]
    float* Mall = m_ws.as<float>() + t * chunk * 16 * Kpad * NR;  // per panel in chunk: M[xi][k][48]
    alignas(64) int32_t in_base[NR], out_base[NR], out_row[NR], out_col[NR];
    const int64_t first = panels * t / team, last = panels * (t + 1) / team;
    for (int64_t c0 = first; c0 < last; c0 += chunk) {
      const int64_t c1 = std::min(last, c0 + chunk);
      for (int64_t panel = c0; panel < c1; ++panel) {
        float* V = Vall + (panel - c0) * 16 * C * NR;
        const int64_t t0 = panel * NR, used = std::min<int64_t>(NR, T - t0);
        for (int j = 0; j < NR; ++j) {
          int64_t tile = t0 + std::min<int64_t>(j, used - 1);  // lanes past the end repeat the last tile (masked out)
          int64_t n = tile / (TP * TQ), tp = tile % (TP * TQ) / TQ, tq = tile % TQ;
          in_base[j] = static_cast<int32_t>(n * C * plane + 2 * tp * Wp + 2 * tq);
        }
        // input transform: V[xi][c][lanes] = (B^T d B)[xi] of each tile's 4x4 patch
        for (int v = 0; v < 3; ++v) {
          const __mmask16 lanes = Kernel::lane_range(0, used - 16 * v);
          const __m512i base = _mm512_load_si512(in_base + 16 * v);
          for (int64_t c = 0; c < C; ++c) {
            __m512 d[4][4];
            const float* xc = xpad + c * plane;
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j)
                d[i][j] = _mm512_mask_i32gather_ps(
                    _mm512_setzero_ps(), lanes, _mm512_add_epi32(base, _mm512_set1_epi32(static_cast<int>(i * Wp + j))),
                    xc, 4);
            __m512 tb[4][4];  // B^T d
            for (int j = 0; j < 4; ++j) {
              tb[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
              tb[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
              tb[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
              tb[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; ++i) {  // (B^T d) B
              float* out = V + ((i * 4) * C + c) * NR + 16 * v;
              _mm512_store_ps(out, _mm512_sub_ps(tb[i][0], tb[i][2]));
              _mm512_store_ps(out + C * NR, _mm512_add_ps(tb[i][1], tb[i][2]));
              _mm512_store_ps(out + 2 * C * NR, _mm512_sub_ps(tb[i][2], tb[i][1]));
              _mm512_store_ps(out + 3 * C * NR, _mm512_sub_ps(tb[i][1], tb[i][3]));
            }
          }
        }
      }
      // 16 GEMMs per panel: M_xi (K, 48) = U_xi (K, C) @ V_xi (C, 48); each U_xi once per chunk
      for (int xi = 0; xi < 16; ++xi)
        for (int64_t panel = c0; panel < c1; ++panel) {
          const float* V = Vall + (panel - c0) * 16 * C * NR;
          float* M = Mall + (panel - c0) * 16 * Kpad * NR;
          for (int64_t it = 0; it < k_tiles; ++it)
            Kernel::micro(C, Up + (xi * k_tiles + it) * MR * C, V + xi * C * NR, M + (xi * Kpad + it * MR) * NR, NR, MR,
                          NR, true, nullptr);
        }
      for (int64_t panel = c0; panel < c1; ++panel) {
        const float* M = Mall + (panel - c0) * 16 * Kpad * NR;
        const int64_t t0 = panel * NR, used = std::min<int64_t>(NR, T - t0);
        for (int j = 0; j < NR; ++j) {
          int64_t tile = t0 + std::min<int64_t>(j, used - 1);
          int64_t n = tile / (TP * TQ), tp = tile % (TP * TQ) / TQ, tq = tile % TQ;
          out_base[j] = static_cast<int32_t>(n * K * PQ + 2 * tp * Q + 2 * tq);
          out_row[j] = static_cast<int32_t>(2 * tp);
          out_col[j] = static_cast<int32_t>(2 * tq);
        }
        // output transform: y (2x2 per tile) = A^T M A (+ bias), scattered with bounds masks
        for (int v = 0; v < 3; ++v) {
          const __mmask16 lanes = Kernel::lane_range(0, used - 16 * v);
          const __m512i obase = _mm512_load_si512(out_base + 16 * v);
          const __m512i orow = _mm512_load_si512(out_row + 16 * v), ocol = _mm512_load_si512(out_col + 16 * v);
          const __mmask16 row1 = _mm512_mask_cmplt_epi32_mask(lanes, _mm512_add_epi32(orow, _mm512_set1_epi32(1)),
                                                              _mm512_set1_epi32(static_cast<int>(P)));
          const __mmask16 col1 = _mm512_mask_cmplt_epi32_mask(lanes, _mm512_add_epi32(ocol, _mm512_set1_epi32(1)),
                                                              _mm512_set1_epi32(static_cast<int>(Q)));
          const __mmask16 mask[2][2] = {{lanes, col1}, {row1, __mmask16(row1 & col1)}};
          for (int64_t k = 0; k < K; ++k) {
            __m512 m[4][4];
            for (int xi = 0; xi < 16; ++xi) m[xi / 4][xi % 4] = _mm512_load_ps(M + (xi * Kpad + k) * NR + 16 * v);
            __m512 s0[4], s1[4];  // A^T m
            for (int j = 0; j < 4; ++j) {
              s0[j] = _mm512_add_ps(_mm512_add_ps(m[0][j], m[1][j]), m[2][j]);
              s1[j] = _mm512_sub_ps(_mm512_sub_ps(m[1][j], m[2][j]), m[3][j]);
            }
            const __m512 b = _mm512_set1_ps(bias ? bias[k] : 0.f);
            __m512 out[2][2];  // (A^T m) A
            out[0][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), b);
            out[0][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), b);
            out[1][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), b);
            out[1][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), b);
            for (int i = 0; i < 2; ++i)
              for (int j = 0; j < 2; ++j) out[i][j] = activate(act, out[i][j]);
            const __m512i kb = _mm512_add_epi32(obase, _mm512_set1_epi32(static_cast<int>(k * PQ)));
            for (int i = 0; i < 2; ++i)
              for (int j = 0; j < 2; ++j)
                _mm512_mask_i32scatter_ps(y, mask[i][j],
                                          _mm512_add_epi32(kb, _mm512_set1_epi32(static_cast<int>(i * Q + j))),
                                          out[i][j], 4);
          }
        }
      }
    }
  }
  return true;
}

}  // namespace

void conv2d_forward_avx512(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                           const Activation<float>& act) {
  if (few_channels_suits(s, Avx512::W) && s.C <= 3) {  // measured: the implicit GEMM wins from 4 channels
    forward_few_channels<Avx512, 12, 2>(s, x, w, bias, y, act);
    return;
  }
  if (conv_winograd_forward(s, x, w, bias, y, act)) return;
  if (conv_small_k_forward(s, x, w, bias, y, act)) return;
  conv_igemm_forward<ConvAvx512_8x48>(s, x, w, bias, y, act);
}

}  // namespace nnc::cpu

namespace nnc::cpu {
namespace {

// Weight gradient, vectorised over input channels: for each tap (r, t),
// gw_rt (Kg, Cg) = gy (Kg, N P Q) @ xh_rt (N P Q, Cg), where xh is a zero-padded
// channels-last copy of x, so row j of xh_rt is a contiguous run of channels and
// needs no packing. The register tile is MR output channels x NV*16 input channels.
template <int NV>
struct WgradTile {
  static constexpr int MR = 24 / NV;

  // C (m x NV*16, row stride ldc, first m rows / last_mask-ed columns valid) = (first ? 0 : C) +
  // sum over the chunk's pixels of A[j][0..MR) (x) xh[pixel j][0..NV*16).
  static void micro(int64_t nrows, const int64_t* rows, int64_t Q, int64_t step, const float* xh, const float* A,
                    float* C, int64_t ldc, int m, __mmask16 last_mask, bool first) {
    // pixel j of output row i is at xh + rows[i] + j step
    __m512 acc[MR][NV];
#pragma GCC unroll 24
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nrows; ++i) {
      const float* B = xh + rows[i];
      for (int64_t q = 0; q < Q; ++q, B += step, A += MR) {
        __m512 b[NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v)
          b[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last_mask, B + 16 * v) : _mm512_loadu_ps(B + 16 * v);
#pragma GCC unroll 24
        for (int r = 0; r < MR; ++r) {
          __m512 a = _mm512_set1_ps(A[r]);
#pragma GCC unroll 3
          for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
        }
      }
    }
#pragma GCC unroll 24
    for (int r = 0; r < MR; ++r) {  // fully unrolled, so acc stays in registers
      if (r >= m) break;
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) {
        __mmask16 mk = v == NV - 1 ? last_mask : __mmask16(0xFFFF);
        float* c = C + r * ldc + 16 * v;
        __m512 sum = first ? acc[r][v] : _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(mk, c));
        _mm512_mask_storeu_ps(c, mk, sum);
      }
    }
  }
};

// rows[i][0..n) (i < nrows, other rows zero) -> dst[j * ld + i] for j < n, i < nrows: a 16 x 16 block transposed.
void transpose_block(const float* const* rows, int nrows, int64_t n, float* dst, int64_t ld) {
  const __mmask16 in = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 out = nrows >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nrows) - 1);
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = i < nrows ? _mm512_maskz_loadu_ps(in, rows[i]) : _mm512_setzero_ps();
  nnc::simd::transpose16x16(r);
  for (int64_t j = 0; j < n && j < 16; ++j) _mm512_mask_storeu_ps(dst + j * ld, out, r[j]);
}

// gy (Kg rows of one group, image stride K P Q) -> panels [j][MR] over all pixels j, zero-padded rows.
void pack_grad_rows(const ConvShape& s, const float* gy, int64_t Kg, int MR, float* panels, int nt) {
  const int64_t PQ = s.P * s.Q, J = s.N * PQ;
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
  for (int64_t k0 = 0; k0 < Kg; k0 += MR)
    for (int64_t n = 0; n < s.N; ++n) {
      float* dst = panels + k0 * J;  // panel k0 / MR starts at (k0 / MR) J MR
      for (int r0 = 0; r0 < MR; r0 += 16) {
        const int nrows = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>({16, MR - r0, Kg - k0 - r0})));
        const int width = std::min(16, MR - r0);  // lanes of the panel row this block fills (zeros past nrows)
        const float* rows[16];
        for (int i = 0; i < nrows; ++i) rows[i] = gy + (n * s.K + k0 + r0 + i) * PQ;
        for (int64_t j0 = 0; j0 < PQ; j0 += 16) {
          for (int i = 0; i < nrows; ++i) rows[i] += j0 ? 16 : 0;
          transpose_block(rows, nrows, std::min<int64_t>(16, PQ - j0), dst + (n * PQ + j0) * MR + r0, MR);
          if (nrows < width)  // rows past Kg: zero
            for (int64_t j = j0; j < std::min(PQ, j0 + 16); ++j)
              std::fill(dst + (n * PQ + j) * MR + r0 + nrows, dst + (n * PQ + j) * MR + r0 + width, 0.f);
        }
      }
    }
}

struct ChannelBlock {
  int64_t c0;
  int nv, width;
};

template <int NV>
void run_tile(const ConvShape& s, int64_t Kg, int64_t Cg, int64_t k0, const ChannelBlock& cb, const float* xh,
              const float* panels, const int64_t* rows, int64_t row0, int64_t nrows, float* gwt, bool first) {
  constexpr int MR = WgradTile<NV>::MR;
  const int64_t J = s.N * s.P * s.Q;
  int left = cb.width - 16 * (NV - 1);
  __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
  const float* A = panels + (k0 / MR) * J * MR + row0 * s.Q * MR;
  WgradTile<NV>::micro(nrows, rows, s.Q, s.stride_w * Cg, xh, A, gwt + k0 * Cg + cb.c0, Cg,
                       static_cast<int>(std::min<int64_t>(MR, Kg - k0)), mask, first);
}

}  // namespace

namespace {

// Weight gradient for few input channels: gw_g (Kg, CRS) = gy_g (Kg, N P Q) @ col^T (N P Q, CRS)
// as an implicit GEMM reducing over pixels, with the 8 x 48 forward tile. A panels
// are gy rows; each row of a B panel holds one pixel's 48 taps, gathered from x.
bool backward_weight_gathered(const ConvShape& s, const float* gy, const float* x, float* gw) {
  using Kernel = ConvAvx512_8x48;
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  constexpr int64_t KC = 256;
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, CRS = Cg * s.R * s.S, PQ = s.P * s.Q, J = s.N * PQ;
  const int64_t image_stride = s.C * s.H * s.W;
  if ((s.N - 1) * image_stride + s.C * s.H * s.W >= (int64_t(1) << 31)) return false;  // 32-bit gather indices
  const int64_t panels = (CRS + NR - 1) / NR, k_tiles = (Kg + MR - 1) / MR;
  const std::vector<Tap> taps = conv_taps(s, Cg);
  // per tap column: x offset, row and column shift, as int32 lanes (zero past CRS)
  std::vector<int32_t> tap_x(panels * NR, 0), tap_h(panels * NR, 0), tap_w(panels * NR, 0);
  for (int64_t kk = 0; kk < CRS; ++kk) {
    tap_x[kk] = static_cast<int32_t>(taps[kk].x_off + taps[kk].h_off * s.W + taps[kk].w_off);
    tap_h[kk] = static_cast<int32_t>(taps[kk].h_off);
    tap_w[kk] = static_cast<int32_t>(taps[kk].w_off);
  }
  // per pixel j = (n, p, q): offset of its tap-0 read, and the row / column it starts from
  std::vector<int32_t> pix_base(J), pix_row(J), pix_col(J);
  for (int64_t j = 0; j < J; ++j) {
    int64_t n = j / PQ, p = j % PQ / s.Q, q = j % s.Q;
    pix_row[j] = static_cast<int32_t>(p * s.stride_h);
    pix_col[j] = static_cast<int32_t>(q * s.stride_w);
    pix_base[j] = static_cast<int32_t>(n * image_stride + pix_row[j] * s.W + pix_col[j]);
  }
  const int nt = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>({nnc::num_threads(), panels, std::max<int64_t>(1, (Kg * CRS * J) >> 18)})));
  Workspace a_ws(nt * k_tiles * MR * KC * sizeof(float)), b_ws(nt * KC * NR * sizeof(float));
  const __m512i vH = _mm512_set1_epi32(static_cast<int>(s.H)), vW = _mm512_set1_epi32(static_cast<int>(s.W));
  for (int64_t g = 0; g < G; ++g) {
    const float* xg = x + g * Cg * s.H * s.W;
    const float* gyg = gy + g * Kg * PQ;
    float* gwg = gw + g * Kg * CRS;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
      int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
      int t = 0, team = 1;
#endif
      float* Ap = a_ws.as<float>() + t * k_tiles * MR * KC;
      float* Bp = b_ws.as<float>() + t * KC * NR;
      const int64_t p0 = panels * t / team, p1 = panels * (t + 1) / team;
      for (int64_t pc = 0; pc < J && p0 < p1; pc += KC) {
        const int64_t kc = std::min(KC, J - pc);
        // A panels: Ap[tile][j][MR] = gy_g[n][tile MR + r][pq] for pixels j in [pc, pc + kc)
        for (int64_t it = 0; it < k_tiles; ++it)
          for (int r = 0; r < MR; ++r) {
            int64_t k = it * MR + r;
            float* d = Ap + it * MR * kc + r;
            if (k >= Kg) {
              for (int64_t j = 0; j < kc; ++j) d[j * MR] = 0.f;
              continue;
            }
            for (int64_t j = 0, n = pc / PQ, pq = pc % PQ; j < kc; ++j) {
              d[j * MR] = gyg[(n * s.K + k) * PQ + pq];
              if (++pq == PQ) pq = 0, ++n;
            }
          }
        for (int64_t jp = p0; jp < p1; ++jp) {
          __m512i tx[3], th[3], tw[3];
          __mmask16 lanes[3];
          for (int v = 0; v < 3; ++v) {
            tx[v] = _mm512_loadu_si512(tap_x.data() + jp * NR + 16 * v);
            th[v] = _mm512_loadu_si512(tap_h.data() + jp * NR + 16 * v);
            tw[v] = _mm512_loadu_si512(tap_w.data() + jp * NR + 16 * v);
            lanes[v] = Kernel::lane_range(0, CRS - jp * NR - 16 * v);
          }
          for (int64_t j = 0; j < kc; ++j) {  // B row j: the 48 taps of pixel pc + j
            const __m512i base = _mm512_set1_epi32(pix_base[pc + j]), row = _mm512_set1_epi32(pix_row[pc + j]),
                          col = _mm512_set1_epi32(pix_col[pc + j]);
            for (int v = 0; v < 3; ++v) {
              __mmask16 inside = _mm512_mask_cmplt_epu32_mask(lanes[v], _mm512_add_epi32(row, th[v]), vH);
              inside = _mm512_mask_cmplt_epu32_mask(inside, _mm512_add_epi32(col, tw[v]), vW);
              _mm512_store_ps(Bp + j * NR + 16 * v,
                              _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, _mm512_add_epi32(base, tx[v]), xg, 4));
            }
          }
          const int n = static_cast<int>(std::min<int64_t>(NR, CRS - jp * NR));
          for (int64_t it = 0; it < k_tiles; ++it) {
            const int m = static_cast<int>(std::min<int64_t>(MR, Kg - it * MR));
            Kernel::micro(kc, Ap + it * MR * kc, Bp, gwg + it * MR * CRS + jp * NR, CRS, m, n, pc == 0, nullptr);
          }
        }
      }
    }
  }
  return true;
}

}  // namespace

bool conv2d_backward_weight_avx512(const ConvShape& s, const float* gy, const float* x, float* gw) {
  if (few_channels_suits(s, Avx512::W)) {
    wgrad_few_channels<Avx512, 4, 6>(s, gy, x, gw);
    return true;
  }
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, RS = s.R * s.S, PQ = s.P * s.Q, J = s.N * PQ;
  if (J == 0 || Kg < 4) return false;
  if (Cg < 32) return Cg * RS >= 64 && backward_weight_gathered(s, gy, x, gw);
  const int64_t Hp = s.H + 2 * s.pad_h, Wp = s.W + 2 * s.pad_w;
  // channel blocks of up to 48, as even as whole vectors allow (64 = 32 + 32, not 48 + 16)
  std::vector<ChannelBlock> blocks;
  const int64_t nblocks = (Cg + 47) / 48, even = ((Cg + nblocks - 1) / nblocks + 15) / 16 * 16;
  for (int64_t c0 = 0; c0 < Cg;) {
    int64_t width = std::min<int64_t>(even, Cg - c0);
    int nv = static_cast<int>((width + 15) / 16);
    blocks.push_back({c0, nv, static_cast<int>(width)});
    c0 += width;
  }
  bool need[4] = {false, false, false, false};
  for (const ChannelBlock& b : blocks) need[b.nv] = true;
  // output rows (n, p) -> offset of their first pixel in xh
  std::vector<int64_t> row_offsets(s.N * s.P);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t p = 0; p < s.P; ++p) row_offsets[n * s.P + p] = ((n * Hp + p * s.stride_h) * Wp) * Cg;
  // work items: (channel block, tap, row tile), each owned by one thread for the whole
  // reduction; the pixels go by in chunks of about 128 whose xh rows stay in L1 across a
  // block's row tiles and in L2 across its taps
  struct Item {
    int64_t block, tap, k0;
  };
  std::vector<Item> items;
  for (int64_t b = 0; b < static_cast<int64_t>(blocks.size()); ++b)
    for (int64_t tap = 0; tap < RS; ++tap) {
      int mr = 24 / blocks[b].nv;
      for (int64_t k0 = 0; k0 < Kg; k0 += mr) items.push_back({b, tap, k0});
    }
  const int64_t rows_per_chunk = std::max<int64_t>(1, 128 / s.Q);
  const int64_t total_rows = s.N * s.P;
  const int nt = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>({nnc::num_threads(), static_cast<int64_t>(items.size()), (Kg * Cg * RS * J) >> 18})));
  Workspace xh_ws(s.N * Hp * Wp * Cg * sizeof(float));
  Workspace panel_ws[4] = {Workspace(0), Workspace(need[1] ? ((Kg + 23) / 24 * 24) * J * sizeof(float) : 0),
                           Workspace(need[2] ? ((Kg + 11) / 12 * 12) * J * sizeof(float) : 0),
                           Workspace(need[3] ? ((Kg + 7) / 8 * 8) * J * sizeof(float) : 0)};
  Workspace gwt_ws(RS * Kg * Cg * sizeof(float));  // gwt[tap][k][c]
  float* xh = xh_ws.as<float>();
  float* gwt = gwt_ws.as<float>();
  for (int64_t g = 0; g < G; ++g) {
    const float* xg = x + g * Cg * s.H * s.W;
    const float* gyg = gy + g * Kg * PQ;
    // xh (N, Hp, Wp, Cg): zero-padded, channels last
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t nh = 0; nh < s.N * Hp; ++nh) {
      int64_t n = nh / Hp, hp = nh % Hp, h = hp - s.pad_h;
      float* dst = xh + nh * Wp * Cg;
      if (h < 0 || h >= s.H) {
        std::fill(dst, dst + Wp * Cg, 0.f);
        continue;
      }
      std::fill(dst, dst + s.pad_w * Cg, 0.f);
      std::fill(dst + (s.pad_w + s.W) * Cg, dst + Wp * Cg, 0.f);
      // transpose the (Cg, W) slab of row h into (W, Cg), in 16 x 16 blocks
      const float* src = xg + n * s.C * s.H * s.W + h * s.W;  // src[c H W + w]
      float* out = dst + s.pad_w * Cg;                          // out[w Cg + c]
      for (int64_t c0 = 0; c0 < Cg; c0 += 16) {
        const int nrows = static_cast<int>(std::min<int64_t>(16, Cg - c0));
        const float* rows[16];
        for (int64_t w0 = 0; w0 < s.W; w0 += 16) {
          for (int i = 0; i < nrows; ++i) rows[i] = src + (c0 + i) * s.H * s.W + w0;
          transpose_block(rows, nrows, std::min<int64_t>(16, s.W - w0), out + w0 * Cg + c0, Cg);
        }
      }
    }
    for (int nv = 1; nv <= 3; ++nv)
      if (need[nv]) pack_grad_rows(s, gyg, Kg, 24 / nv, panel_ws[nv].as<float>(), nt);
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
      int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
      int t = 0, team = 1;
#endif
      int64_t i0 = static_cast<int64_t>(items.size()) * t / team, i1 = static_cast<int64_t>(items.size()) * (t + 1) / team;
      std::vector<int64_t> rows(rows_per_chunk);
      for (int64_t row0 = 0; row0 < total_rows; row0 += rows_per_chunk) {
        int64_t nrows = std::min(rows_per_chunk, total_rows - row0);
        for (int64_t i = i0; i < i1; ++i) {
          const Item& it = items[i];
          const ChannelBlock& cb = blocks[it.block];
          int64_t r = it.tap / s.S, tt = it.tap % s.S;
          int64_t shift = (r * s.dil_h * Wp + tt * s.dil_w) * Cg + cb.c0;
          for (int64_t k = 0; k < nrows; ++k) rows[k] = row_offsets[row0 + k] + shift;
          float* tile = gwt + it.tap * Kg * Cg;
          bool first = row0 == 0;
          if (cb.nv == 3)
            run_tile<3>(s, Kg, Cg, it.k0, cb, xh, panel_ws[3].as<float>(), rows.data(), row0, nrows, tile, first);
          else if (cb.nv == 2)
            run_tile<2>(s, Kg, Cg, it.k0, cb, xh, panel_ws[2].as<float>(), rows.data(), row0, nrows, tile, first);
          else
            run_tile<1>(s, Kg, Cg, it.k0, cb, xh, panel_ws[1].as<float>(), rows.data(), row0, nrows, tile, first);
        }
      }
    }
    // gw[g Kg + k][c][r][t] = gwt[tap][k][c]
    float* gwg = gw + g * Kg * Cg * RS;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t tap = 0; tap < RS; ++tap) gwg[(k * Cg + c) * RS + tap] = gwt[(tap * Kg + k) * Cg + c];
  }
  return true;
}

}  // namespace nnc::cpu
