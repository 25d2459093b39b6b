// Portable 2-D convolution (float and double; the oracle twin): im2col /
// col2im into a reused workspace around nnc::cpu::gemm, which itself picks
// the AVX2 / AVX-512 SGEMM for float. Batches run one image per thread.
// float32 forward and weight gradient go to the SIMD twins (conv2d_avx2.cpp,
// conv2d_avx512.cpp) when active_isa() allows; a stride-1 input gradient is
// run as the forward convolution of flipped weights.
#include "cpu/conv2d.h"

#include <algorithm>
#include <type_traits>
#include <cstring>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/conv_math.h"
#include "core/host_cache.h"
#include "core/isa.h"
#include "core/threading.h"
#include "cpu/gemm.h"

namespace nnc::cpu {
namespace {

// The batched small-map path: output maps of at most kBatchedMaxPixels pixels,
// chunks of about kBatchedColumns GEMM columns.
constexpr int64_t kBatchedMaxPixels = 256;
constexpr int64_t kBatchedColumns = 512;

int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// 1x1, stride 1, no padding: the image itself is the column matrix.
bool is_pointwise(const ConvShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0 &&
         s.P == s.H && s.Q == s.W;
}

// col (Cg R S, P Q) from x (Cg, H, W): col[(c R + r) S + t][p Q + q] = x[c][p sh - ph + r dh][q sw - pw + t dw],
// zero where that falls in the padding. Rows of col are ld apart (ld >= P Q; P Q when 0).
template <typename T>
void im2col(const ConvShape& s, int64_t Cg, const T* x, T* col, int nt, int64_t ld = 0) {
  const int64_t PQ = s.P * s.Q;
  if (ld == 0) ld = PQ;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t c = 0; c < Cg; ++c) {
    const T* xc = x + c * s.H * s.W;
    for (int64_t r = 0; r < s.R; ++r) {
      int64_t p_lo, p_hi;
      conv_valid_range(r, s.stride_h, s.pad_h, s.dil_h, s.H, s.P, &p_lo, &p_hi);
      for (int64_t t = 0; t < s.S; ++t) {
        int64_t q_lo, q_hi;
        conv_valid_range(t, s.stride_w, s.pad_w, s.dil_w, s.W, s.Q, &q_lo, &q_hi);
        T* dst = col + ((c * s.R + r) * s.S + t) * ld;
        std::fill(dst, dst + p_lo * s.Q, T(0));
        for (int64_t p = p_lo; p < p_hi; ++p) {
          const T* src = xc + conv_in_index(p, r, s.stride_h, s.pad_h, s.dil_h) * s.W;
          T* row = dst + p * s.Q;
          std::fill(row, row + q_lo, T(0));
          int64_t w0 = conv_in_index(q_lo, t, s.stride_w, s.pad_w, s.dil_w);
          if (s.stride_w == 1) {
            std::memcpy(row + q_lo, src + w0, (q_hi - q_lo) * sizeof(T));
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) row[q] = src[w0 + (q - q_lo) * s.stride_w];
          }
          std::fill(row + q_hi, row + s.Q, T(0));
        }
        std::fill(dst + p_hi * s.Q, dst + PQ, T(0));
      }
    }
  }
}

// The adjoint of im2col: x (Cg, H, W) = sum of col (Cg R S, P Q) back onto the pixels each entry came from.
template <typename T>
void col2im(const ConvShape& s, int64_t Cg, const T* col, T* x, int nt, int64_t ld = 0) {
  const int64_t PQ = s.P * s.Q;
  if (ld == 0) ld = PQ;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t c = 0; c < Cg; ++c) {
    T* xc = x + c * s.H * s.W;
    std::fill(xc, xc + s.H * s.W, T(0));
    for (int64_t r = 0; r < s.R; ++r) {
      int64_t p_lo, p_hi;
      conv_valid_range(r, s.stride_h, s.pad_h, s.dil_h, s.H, s.P, &p_lo, &p_hi);
      for (int64_t t = 0; t < s.S; ++t) {
        int64_t q_lo, q_hi;
        conv_valid_range(t, s.stride_w, s.pad_w, s.dil_w, s.W, s.Q, &q_lo, &q_hi);
        const T* src = col + ((c * s.R + r) * s.S + t) * ld;
        for (int64_t p = p_lo; p < p_hi; ++p) {
          T* dst = xc + conv_in_index(p, r, s.stride_h, s.pad_h, s.dil_h) * s.W;
          const T* row = src + p * s.Q;
          int64_t w0 = conv_in_index(q_lo, t, s.stride_w, s.pad_w, s.dil_w);
          for (int64_t q = q_lo; q < q_hi; ++q) dst[w0 + (q - q_lo) * s.stride_w] += row[q];
        }
      }
    }
  }
}

// Runs body(n, col, inner_threads) for every image n. With enough images each
// thread takes a fixed share of them (and its own slice of col, col_elems long)
// and everything inside runs serially; otherwise images go one after another
// and the work inside each (im2col, gemm) is split across the threads.
template <typename T, class Body>
void for_each_image(int64_t N, int64_t col_elems, Body body) {
  int nt = num_threads();
  bool per_image = nt > 1 && N >= nt && (N % nt == 0 || N >= 4 * nt);
  if (!per_image) {
    Workspace ws(col_elems * sizeof(T));
    for (int64_t n = 0; n < N; ++n) body(n, ws.as<T>(), nt, 0);
    return;
  }
  Workspace ws(nt * col_elems * sizeof(T));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    int tid = thread_id();
    body(n, ws.as<T>() + tid * col_elems, 1, tid);
  }
}

int threads_for(int64_t N) {
  int nt = num_threads();
  return nt > 1 && N >= nt && (N % nt == 0 || N >= 4 * nt) ? nt : 1;
}

// Small output maps (the late stages of a ResNet at 32x32, DCGAN's 4x4 and 8x8 layers):
// one image's GEMM has only P Q columns, too few to fill a register tile, so
// images go in chunks of nb whose columns sit side by side in one matrix of
// nb P Q columns: col (Cg R S, nb P Q), and gy or y as (Kg, nb P Q).
bool use_batched(const ConvShape& s) {
  return s.N > 1 && s.P * s.Q <= kBatchedMaxPixels && !is_pointwise(s);
}

int64_t batch_chunk(const ConvShape& s) {
  const int64_t PQ = s.P * s.Q;
  return std::min<int64_t>(s.N, std::max<int64_t>(1, kBatchedColumns / PQ));
}

// dst (Kg, nb PQ) <- src rows k of images n0..n0+nb (image stride K PQ), or the reverse (scatter).
template <typename T>
void gather_rows(const ConvShape& s, int64_t g, int64_t n0, int64_t nb, const T* src, T* dst, int nt) {
  const int64_t Kg = s.K / s.groups, PQ = s.P * s.Q, ld = nb * PQ;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t k = 0; k < Kg; ++k)
    for (int64_t i = 0; i < nb; ++i)
      std::memcpy(dst + k * ld + i * PQ, src + ((n0 + i) * s.K + g * Kg + k) * PQ, PQ * sizeof(T));
}

template <typename T>
void backward_input_batched(const ConvShape& s, const T* gy, const T* w, T* gx) {
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, CRS = Cg * s.R * s.S, PQ = s.P * s.Q;
  const int64_t chunk = batch_chunk(s), HW = s.H * s.W;
  const int nt = num_threads();
  Workspace col_ws(CRS * chunk * PQ * sizeof(T)), rows_ws(Kg * chunk * PQ * sizeof(T));
  T *col = col_ws.as<T>(), *rows = rows_ws.as<T>();
  for (int64_t n0 = 0; n0 < s.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.N - n0), ld = nb * PQ;
    for (int64_t g = 0; g < G; ++g) {
      gather_rows(s, g, n0, nb, gy, rows, nt);
      // col (CRS, nb PQ) = w_g^T (CRS, Kg) @ rows (Kg, nb PQ)
      gemm<T>(true, false, CRS, ld, Kg, T(1), w + g * Kg * CRS, CRS, rows, ld, T(0), col, ld);
#pragma omp parallel for num_threads(nt) schedule(static)
      for (int64_t i = 0; i < nb; ++i) col2im(s, Cg, col + i * PQ, gx + ((n0 + i) * s.C + g * Cg) * HW, 1, ld);
    }
  }
}

}  // namespace

namespace {

// Taps that read only padding for every output (a 3x3 kernel over a 1x1 or 2x2
// map) contribute nothing: the live taps form a band [lo, hi) along each axis.
void live_taps(int64_t taps, int64_t stride, int64_t pad, int64_t dil, int64_t in, int64_t out, int64_t* lo,
               int64_t* hi) {
  *lo = 0, *hi = taps;
  auto live = [&](int64_t t) {
    int64_t a, b;
    conv_valid_range(t, stride, pad, dil, in, out, &a, &b);
    return a < b;
  };
  while (*lo < taps && !live(*lo)) ++*lo;
  while (*hi > *lo && !live(*hi - 1)) --*hi;
}

// The same convolution restricted to its live taps: t gets the band's shape and
// padding, band (K, C / groups, R', S') its weights. False when every tap is live.
template <typename T>
bool live_band(const ConvShape& s, const T* w, ConvShape* t, Workspace* band_ws) {
  int64_t r0, r1, t0, t1;
  live_taps(s.R, s.stride_h, s.pad_h, s.dil_h, s.H, s.P, &r0, &r1);
  live_taps(s.S, s.stride_w, s.pad_w, s.dil_w, s.W, s.Q, &t0, &t1);
  if ((r0 == 0 && r1 == s.R && t0 == 0 && t1 == s.S) || r0 >= r1 || t0 >= t1) return false;
  *t = s;
  t->R = r1 - r0, t->S = t1 - t0;
  t->pad_h = s.pad_h - r0 * s.dil_h, t->pad_w = s.pad_w - t0 * s.dil_w;
  if (t->pad_h < 0 || t->pad_w < 0) return false;
  const int64_t rows = s.K * (s.C / s.groups);
  band_ws->allocate(rows * t->R * t->S * sizeof(T));
  T* band = band_ws->as<T>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t r = 0; r < t->R; ++r)
      for (int64_t c = 0; c < t->S; ++c) band[(i * t->R + r) * t->S + c] = w[(i * s.R + r0 + r) * s.S + t0 + c];
  return true;
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, const Activation<T>& act) {
  {
    ConvShape t;
    Workspace band;
    if (live_band(s, w, &t, &band)) return conv2d_forward<T>(t, x, band.as<T>(), bias, y, act);
  }
  // implicit GEMM wants at least a few output channels per group to fill its 4- or 8-row tiles
  // (and something to reduce over)
  if constexpr (std::is_same_v<T, float>) {
    if (s.C / s.groups > 0) {
#ifdef NNCORE_HAVE_AVX512
      if (active_isa() == Isa::avx512 && s.K / s.groups >= 4) return conv2d_forward_avx512(s, x, w, bias, y, act);
#endif
#ifdef NNCORE_HAVE_AVX2
      if (active_isa() == Isa::avx2 && s.K / s.groups >= 3) return conv2d_forward_avx2(s, x, w, bias, y, act);
#endif
    }
  }
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, CRS = Cg * s.R * s.S, PQ = s.P * s.Q, HW = s.H * s.W;
  const bool pointwise = is_pointwise(s);
  for_each_image<T>(s.N, pointwise ? 0 : CRS * PQ, [&](int64_t n, T* col, int nt, int) {
    for (int64_t g = 0; g < G; ++g) {
      const T* xg = x + (n * s.C + g * Cg) * HW;  // (Cg, H, W)
      T* yg = y + (n * s.K + g * Kg) * PQ;       // (Kg, P, Q)
      const T* B = xg;
      if (!pointwise) {
        im2col(s, Cg, xg, col, nt);
        B = col;
      }
      // y_g (Kg, PQ) = act(w_g (Kg, CRS) @ col (CRS, PQ) + bias_g), bias and act in the GEMM's epilogue
      Epilogue<T> ep{act, bias ? bias + g * Kg : nullptr, true};
      gemm<T>(false, false, Kg, PQ, CRS, T(1), w + g * Kg * CRS, CRS, B, PQ, T(0), yg, PQ, ep);
    }
  });
}

// x * 0 is 0 for finite x and NaN for inf or NaN; 16 independent lanes so the loop vectorises.
template <typename T>
bool all_finite(const T* x, int64_t n) {
  constexpr int L = 16;
  T lanes[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) lanes[j] += x[i + j] * T(0);
  T sum = 0;
  for (; i < n; ++i) sum += x[i] * T(0);
  for (int j = 0; j < L; ++j) sum += lanes[j];
  return sum == T(0);
}

// With stride 1 the input gradient is itself a convolution: of gy with the
// weights flipped in space and with in/out channels swapped, padding d (R - 1) - p.
template <typename T>
bool backward_input_as_conv(const ConvShape& s, const T* gy, const T* w, T* gx) {
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, RS = s.R * s.S;
  if (s.stride_h != 1 || s.stride_w != 1 || s.pad_h > s.dil_h * (s.R - 1) || s.pad_w > s.dil_w * (s.S - 1))
    return false;
  // it computes every tap over the whole input: worth it only when the output is about as large
  // ("same" padding), and with enough input channels per group to fill the forward's tiles
  if (4 * s.H * s.W > 5 * s.P * s.Q || Cg < 4) return false;
  // the forward reads the padding as zeros and 0 * inf is NaN: a non-finite weight would reach
  // input positions its tap never touches, so such weights take the col2im path, which adds in bounds only
  if (!all_finite(w, s.K * Cg * RS)) return false;
  Workspace flipped_ws(s.C * Kg * RS * sizeof(T));
  T* flipped = flipped_ws.as<T>();  // (C, Kg, R, S): flipped[g Cg + c][k][r][t] = w[g Kg + k][c][R-1-r][S-1-t]
  // 16 x 16 blocks of (k, c): each source row k is read as one contiguous run of 16 R S weights
  constexpr int64_t B = 16;
  const int64_t kb = (Kg + B - 1) / B, cb = (Cg + B - 1) / B;
  const int nt = s.C * Kg * RS > (int64_t(1) << 16) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) collapse(3) schedule(static)
  for (int64_t g = 0; g < G; ++g)
    for (int64_t k0 = 0; k0 < kb * B; k0 += B)
      for (int64_t c0 = 0; c0 < cb * B; c0 += B)
        for (int64_t k = k0; k < std::min(k0 + B, Kg); ++k)
          for (int64_t c = c0; c < std::min(c0 + B, Cg); ++c) {
            const T* src = w + ((g * Kg + k) * Cg + c) * RS;
            T* dst = flipped + ((g * Cg + c) * Kg + k) * RS;
            for (int64_t i = 0; i < RS; ++i) dst[i] = src[RS - 1 - i];
          }
  ConvShape t = s;
  t.C = s.K, t.H = s.P, t.W = s.Q;
  t.K = s.C, t.P = s.H, t.Q = s.W;
  t.pad_h = s.dil_h * (s.R - 1) - s.pad_h;
  t.pad_w = s.dil_w * (s.S - 1) - s.pad_w;
  conv2d_forward<T>(t, gy, flipped, nullptr, gx);
  return true;
}

template <typename T>
void conv2d_backward_input(const ConvShape& s, const T* gy, const T* w, T* gx) {
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, CRS = Cg * s.R * s.S, PQ = s.P * s.Q, HW = s.H * s.W;
  const bool pointwise = is_pointwise(s);
  {
    ConvShape t;
    Workspace band;
    if (live_band(s, w, &t, &band)) return conv2d_backward_input<T>(t, gy, band.as<T>(), gx);
  }
  if (backward_input_as_conv(s, gy, w, gx)) return;
  if (use_batched(s)) return backward_input_batched(s, gy, w, gx);
  for_each_image<T>(s.N, pointwise ? 0 : CRS * PQ, [&](int64_t n, T* col, int nt, int) {
    for (int64_t g = 0; g < G; ++g) {
      const T* gyg = gy + (n * s.K + g * Kg) * PQ;  // (Kg, PQ)
      T* gxg = gx + (n * s.C + g * Cg) * HW;        // (Cg, H, W)
      // col (CRS, PQ) = w_g^T (CRS, Kg) @ gy_g (Kg, PQ)
      gemm<T>(true, false, CRS, PQ, Kg, T(1), w + g * Kg * CRS, CRS, gyg, PQ, T(0), pointwise ? gxg : col, PQ);
      if (!pointwise) col2im(s, Cg, col, gxg, nt);
    }
  });
}

template <typename T>
void conv2d_backward_weight(const ConvShape& s, const T* gy, const T* x, T* gw) {
#ifdef NNCORE_HAVE_AVX512
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() == Isa::avx512 && !is_pointwise(s) && conv2d_backward_weight_avx512(s, gy, x, gw)) return;
  }
#endif
#ifdef NNCORE_HAVE_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() == Isa::avx2 && !is_pointwise(s) && conv2d_backward_weight_avx2(s, gy, x, gw)) return;
  }
#endif
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, CRS = Cg * s.R * s.S, PQ = s.P * s.Q, HW = s.H * s.W;
  const bool pointwise = is_pointwise(s);
  const int64_t wsize = s.K * CRS;
  int nt = threads_for(s.N);
  // each thread sums its images into its own copy of gw; the copies are added in thread order
  Workspace partial(nt > 1 ? nt * wsize * sizeof(T) : 0);
  std::vector<int64_t> first_image(nt, -1);
  for_each_image<T>(s.N, pointwise ? 0 : CRS * PQ, [&](int64_t n, T* col, int inner_nt, int tid) {
    T* acc = nt > 1 ? partial.as<T>() + tid * wsize : gw;
    if (first_image[tid] < 0) first_image[tid] = n;
    T beta = first_image[tid] == n ? T(0) : T(1);
    for (int64_t g = 0; g < G; ++g) {
      const T* xg = x + (n * s.C + g * Cg) * HW;
      const T* gyg = gy + (n * s.K + g * Kg) * PQ;
      const T* B = xg;
      if (!pointwise) {
        im2col(s, Cg, xg, col, inner_nt);
        B = col;
      }
      // gw_g (Kg, CRS) += gy_g (Kg, PQ) @ col^T (PQ, CRS)
      gemm<T>(false, true, Kg, CRS, PQ, T(1), gyg, PQ, B, PQ, beta, acc + g * Kg * CRS, CRS);
    }
  });
  if (s.N == 0) {
    std::fill(gw, gw + wsize, T(0));
  } else if (nt > 1) {
    const T* p = partial.as<T>();
    for (int64_t i = 0; i < wsize; ++i) {
      T sum = p[i];
      for (int t = 1; t < nt; ++t) sum += p[t * wsize + i];
      gw[i] = sum;
    }
  }
}

template <typename T>
void channel_sum(int64_t N, int64_t C, int64_t HW, const T* src, T* dst) {
  const int nt = N * C * HW > (int64_t(1) << 16) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    T sum = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = src + (n * C + c) * HW;
      T part = 0;
      for (int64_t i = 0; i < HW; ++i) part += p[i];
      sum += part;
    }
    dst[c] = sum;
  }
}

template <typename T>
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const T* bias, T* y) {
  const int nt = N * C * HW > (int64_t(1) << 16) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T* p = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) p[i] += bias[c];
    }
}

#define NNC_INSTANTIATE(T)                                                                  \
  template void conv2d_forward<T>(const ConvShape&, const T*, const T*, const T*, T*, const Activation<T>&); \
  template void conv2d_backward_input<T>(const ConvShape&, const T*, const T*, T*);         \
  template void conv2d_backward_weight<T>(const ConvShape&, const T*, const T*, T*);        \
  template void channel_sum<T>(int64_t, int64_t, int64_t, const T*, T*);                    \
  template void add_channel_bias<T>(int64_t, int64_t, int64_t, const T*, T*);
NNC_INSTANTIATE(float)
NNC_INSTANTIATE(double)
#undef NNC_INSTANTIATE

}  // namespace nnc::cpu
