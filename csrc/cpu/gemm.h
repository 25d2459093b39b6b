// C = alpha * op(A) @ op(B) + beta * C, row-major with leading dimensions.
// op(A) is (M, K): A is (M, K), or (K, M) when trans_a. op(B) is (K, N): B is
// (K, N), or (N, K) when trans_b. C is (M, N). beta == 0 never reads C.
// The epilogue ep (a bias per row or column, an activation) is applied to each
// output tile after its last product: C = act(alpha op(A) op(B) + beta C + bias).
#pragma once
#include <cstdint>

#include "cpu/epilogue.h"

namespace nnc::cpu {

template <typename T>
void gemm_scalar(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                 const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const Epilogue<T>& ep = Epilogue<T>{});

void sgemm_avx2(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                const Epilogue<float>& ep = Epilogue<float>{});

void sgemm_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const Epilogue<float>& ep = Epilogue<float>{});

// The entry other kernels use: float goes to the best twin active_isa() allows,
// double to the portable twin.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const Epilogue<T>& ep = Epilogue<T>{});

}  // namespace nnc::cpu
