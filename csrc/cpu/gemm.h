// C = alpha * op(A) @ op(B) + beta * C, row-major with leading dimensions.
// op(A) is (M, K): A is (M, K), or (K, M) when trans_a. op(B) is (K, N): B is
// (K, N), or (N, K) when trans_b. C is (M, N). beta == 0 never reads C.
#pragma once
#include <cstdint>

namespace nnc::cpu {

template <typename T>
void gemm_scalar(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                 const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

void sgemm_avx2(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void sgemm_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The entry other kernels use: float goes to the best twin active_isa() allows,
// double to the portable twin.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace nnc::cpu
