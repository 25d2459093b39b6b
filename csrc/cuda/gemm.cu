// C = alpha * op(A) @ op(B) + beta * C on the GPU, batched over blockIdx.z:
// 64x64 output tiles staged through shared memory in 16-deep k slabs, each of
// the 256 threads accumulating a 4x4 block in registers.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "cuda/gemm.h"

namespace nnc::cuda {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, THREADS = 256;

template <typename T>
__global__ void gemm_tiled_kernel(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                                  const T* __restrict__ A, int64_t lda, int64_t stride_a, const T* __restrict__ B,
                                  int64_t ldb, int64_t stride_b, T beta, T* __restrict__ C, int64_t ldc,
                                  int64_t stride_c) {
  __shared__ T As[BK][BM + 1];  // As[k][i] = op(A)(row0 + i, k0 + k)
  __shared__ T Bs[BK][BN + 1];  // Bs[k][j] = op(B)(k0 + k, col0 + j)
  A += blockIdx.z * stride_a;
  B += blockIdx.z * stride_b;
  C += blockIdx.z * stride_c;
  const int64_t row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
  T acc[TM][TN] = {};
  for (int64_t k0 = 0; k0 < K; k0 += BK) {
    for (int l = threadIdx.x; l < BM * BK; l += THREADS) {
      // consecutive threads walk the contiguous axis of A in memory
      int i = trans_a ? l % BM : l / BK, k = trans_a ? l / BM : l % BK;
      int64_t gi = row0 + i, gk = k0 + k;
      As[k][i] = (gi < M && gk < K) ? (trans_a ? A[gk * lda + gi] : A[gi * lda + gk]) : T(0);
    }
    for (int l = threadIdx.x; l < BK * BN; l += THREADS) {
      int j = trans_b ? l / BK : l % BN, k = trans_b ? l % BK : l / BN;
      int64_t gj = col0 + j, gk = k0 + k;
      Bs[k][j] = (gj < N && gk < K) ? (trans_b ? B[gj * ldb + gk] : B[gk * ldb + gj]) : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      T a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[k][ty * TM + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[k][tx * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    int64_t gi = row0 + ty * TM + i;
    if (gi >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      int64_t gj = col0 + tx * TN + j;
      if (gj >= N) continue;
      T* c = C + gi * ldc + gj;
      *c = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
    }
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
          int64_t stride_c, void* stream) {
  if (batch == 0 || M == 0 || N == 0) return;
  NNC_CHECK(batch <= 65535, "gemm: at most 65535 batches on CUDA, got ", batch);
  NNC_CHECK((M + BM - 1) / BM <= 65535, "gemm: M too large for one CUDA launch (", M, ")");
  dim3 grid(static_cast<unsigned>((N + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM),
            static_cast<unsigned>(batch));
  gemm_tiled_kernel<T><<<grid, THREADS, 0, static_cast<cudaStream_t>(stream)>>>(
      trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c);
  NNC_CUDA_CHECK_LAUNCH();
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                          const float*, int64_t, int64_t, float, float*, int64_t, int64_t, void*);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t, void*);

}  // namespace nnc::cuda
