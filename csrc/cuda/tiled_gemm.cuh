// The one tiled matrix-product kernel of the CUDA twins: for each z =
// blockIdx.z (a batch entry or a group), C (M, Ncols) = A (M, Kred) @ B (Kred, Ncols),
// in 64x64 output tiles staged through shared memory in 16-deep slabs, 4x4
// outputs per thread. A Problem says where the operands live:
//   a(z, i, k), b(z, k, j)         element reads (gathers are fine: implicit GEMM)
//   store(z, i, j, acc)            writes one output
//   a_k_contiguous(), b_j_contiguous()  which axis consecutive threads walk, so loads coalesce
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/check.h"
#include "core/cuda_check.h"
#include "cuda/launch.cuh"

namespace nnc::cuda::tiled {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, THREADS = 256;

template <typename T, class Problem>
__global__ void gemm_kernel(int64_t M, int64_t Ncols, int64_t Kred, Problem prob) {
  __shared__ T As[BK][BM + 1];  // As[k][i] = A(row0 + i, k0 + k)
  __shared__ T Bs[BK][BN + 1];  // Bs[k][j] = B(k0 + k, col0 + j)
  const int64_t z = blockIdx.z, row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
  const bool a_k = prob.a_k_contiguous(), b_j = prob.b_j_contiguous();
  T acc[TM][TN] = {};
  for (int64_t k0 = 0; k0 < Kred; k0 += BK) {
    for (int l = threadIdx.x; l < BM * BK; l += THREADS) {
      int i = a_k ? l / BK : l % BM, k = a_k ? l % BK : l / BM;
      int64_t gi = row0 + i, gk = k0 + k;
      As[k][i] = (gi < M && gk < Kred) ? prob.a(z, gi, gk) : T(0);
    }
    for (int l = threadIdx.x; l < BK * BN; l += THREADS) {
      int j = b_j ? l % BN : l / BK, k = b_j ? l / BN : l % BK;
      int64_t gj = col0 + j, gk = k0 + k;
      Bs[k][j] = (gj < Ncols && gk < Kred) ? prob.b(z, gk, gj) : T(0);
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
      if (gj < Ncols) prob.store(z, gi, gj, acc[i][j]);
    }
  }
}

// Runs gemm_kernel over `count` batch entries or groups on `stream`; `op` names the caller in errors.
template <typename T, class Problem>
void launch(const char* op, int64_t count, int64_t M, int64_t Ncols, int64_t Kred, const Problem& prob,
            void* stream) {
  if (count == 0 || M == 0 || Ncols == 0) return;
  NNC_CHECK(count <= 65535, op, ": at most 65535 batch entries or groups in one CUDA launch, got ", count);
  NNC_CHECK((M + BM - 1) / BM <= 65535 && (Ncols + BN - 1) / BN <= 2147483647, op,
            ": problem too large for one CUDA launch (", M, " x ", Ncols, ")");
  dim3 grid(static_cast<unsigned>((Ncols + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM),
            static_cast<unsigned>(count));
  cuda::launch(gemm_kernel<T, Problem>, grid, THREADS, 0, static_cast<cudaStream_t>(stream), M, Ncols, Kred, prob);
}

}  // namespace nnc::cuda::tiled
