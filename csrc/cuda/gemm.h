// CUDA GEMM, batched: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] on `stream`
// (a cudaStream_t passed as void* so host code needs no CUDA headers).
// The epilogue (bias per row or column, activation) is applied as each output is stored.
#pragma once
#include <cstdint>

#include "cpu/epilogue.h"

namespace nnc::cuda {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
          int64_t stride_c, const nnc::cpu::Epilogue<T>& ep, void* stream);

}  // namespace nnc::cuda
