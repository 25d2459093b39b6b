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
// zero where that falls in the padding.
template <typename T>
void im2col(const ConvShape& s, int64_t Cg, const T* x, T* col, int nt) {
  const int64_t PQ = s.P * s.Q;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t c = 0; c < Cg; ++c) {
    const T* xc = x + c * s.H * s.W;
    for (int64_t r = 0; r < s.R; ++r) {
      int64_t p_lo, p_hi;
      conv_valid_range(r, s.stride_h, s.pad_h, s.dil_h, s.H, s.P, &p_lo, &p_hi);
      for (int64_t t = 0; t < s.S; ++t) {
        int64_t q_lo, q_hi;
        conv_valid_range(t, s.stride_w, s.pad_w, s.dil_w, s.W, s.Q, &q_lo, &q_hi);
        T* dst = col + ((c * s.R + r) * s.S + t) * PQ;
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
void col2im(const ConvShape& s, int64_t Cg, const T* col, T* x, int nt) {
  const int64_t PQ = s.P * s.Q;
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
        const T* src = col + ((c * s.R + r) * s.S + t) * PQ;
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

}  // namespace

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, const Activation<T>& act) {
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
  T finite = 0;
  for (int64_t i = 0; i < s.K * Cg * RS; ++i) finite += w[i] - w[i];
  if (finite != T(0)) return false;
  Workspace flipped_ws(s.C * Kg * RS * sizeof(T));
  T* flipped = flipped_ws.as<T>();  // (C, Kg, R, S): flipped[g Cg + c][k][r][t] = w[g Kg + k][c][R-1-r][S-1-t]
  const int nt = s.C * Kg * RS > (int64_t(1) << 16) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t k = 0; k < Kg; ++k) {
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
  if (backward_input_as_conv(s, gy, w, gx)) return;
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
