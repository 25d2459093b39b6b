// Portable GEMM (the oracle twin, float and double) and the dispatcher that
// sends float32 to the AVX2 or AVX-512 twin when the processor has it.
#include "cpu/gemm.h"

#include <algorithm>

#include "core/isa.h"
#include "core/threading.h"

namespace nnc::cpu {
namespace {

// c (N) += alpha * row i of op(A) @ op(B), in k blocks that keep a slab of B rows warm in cache.
template <typename T>
void accumulate_row(bool trans_a, bool trans_b, int64_t i, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T* c) {
  constexpr int64_t KB = 128;
  for (int64_t k0 = 0; k0 < K; k0 += KB) {
    int64_t k1 = std::min(K, k0 + KB);
    for (int64_t k = k0; k < k1; ++k) {
      T a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
      if (trans_b) {
        for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
      } else {
        const T* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      }
    }
  }
}

}  // namespace

template <typename T>
void gemm_scalar(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                 const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const Epilogue<T>& ep) {
  int nt = (M * N * K > (int64_t(1) << 18)) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
    if (alpha != T(0)) accumulate_row(trans_a, trans_b, i, N, K, alpha, A, lda, B, ldb, c);
    if (ep.active()) apply_epilogue(ep, c, ldc, i, 0, 1, N);  // the row is still in cache
  }
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const Epilogue<T>& ep) {
  if constexpr (std::is_same_v<T, float>) {
    switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
      case Isa::avx512:
        return sgemm_avx512(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
#endif
#ifdef NNCORE_HAVE_AVX2
      case Isa::avx2:
        return sgemm_avx2(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
#endif
      default:
        break;
    }
  }
  gemm_scalar<T>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

template void gemm_scalar<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                 int64_t, float, float*, int64_t, const Epilogue<float>&);
template void gemm_scalar<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                  const double*, int64_t, double, double*, int64_t, const Epilogue<double>&);
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t, const Epilogue<float>&);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t, const Epilogue<double>&);

}  // namespace nnc::cpu
