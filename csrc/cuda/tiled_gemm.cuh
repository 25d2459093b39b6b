// The one tiled matrix-product kernel of the CUDA twins: for each z = blockIdx.z
// (a batch entry or a group), C (M, Ncols) = A (M, Kred) @ B (Kred, Ncols), in
// 64x64 output tiles over 16-deep slabs of the reduction.
//
// Slabs are double-buffered in shared memory: while the block multiplies slab t,
// each thread already holds its 4 + 4 elements of slab t + 1 in registers (one
// 128-bit load per operand where the Problem allows), so one barrier per slab
// suffices. The product is 4x4 FMAs per thread, or, for float32 with TF32 enabled
// (nncore.cuda.set_tf32_enabled; off by default), tensor-core 16x16x8 wmma tiles.
//
// A Problem says where the operands live:
//   a(z, i, k), b(z, k, j)             element reads (gathers are fine: implicit GEMM)
//   a_k_contiguous(), b_j_contiguous() which axis holds consecutive elements, so loads coalesce
//   kVectorA, a_vec4(), a_ptr(z, i, k) when kVectorA and a_vec4(): the 4 elements along A's
//                                      contiguous axis from a_ptr (i or k a multiple of 4) are
//                                      contiguous and 16-byte aligned (likewise kVectorB for B)
//   store(z, i, j, acc)                writes one output
#pragma once
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "core/check.h"
#include "core/cuda_check.h"
#include "core/cuda_runtime.h"
#include "cuda/launch.cuh"
#include "cuda/vector_access.cuh"

namespace nnc::cuda::tiled {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, THREADS = 256;
constexpr int PAD = 4;  // keeps shared rows 16-byte aligned (vector and wmma loads) and staggers banks

// The two operands seen alike, as (outer, k) matrices: A is (M, Kred), B transposed is (Ncols, Kred).
template <class Problem>
struct OperandA {
  static constexpr bool kVector = Problem::kVectorA;
  Problem p;
  __device__ bool k_contiguous() const { return p.a_k_contiguous(); }
  __device__ bool vec4() const { return p.a_vec4(); }
  __device__ auto ptr(int64_t z, int64_t i, int64_t k) const { return p.a_ptr(z, i, k); }
  __device__ auto at(int64_t z, int64_t i, int64_t k) const { return p.a(z, i, k); }
};
template <class Problem>
struct OperandB {
  static constexpr bool kVector = Problem::kVectorB;
  Problem p;
  __device__ bool k_contiguous() const { return !p.b_j_contiguous(); }
  __device__ bool vec4() const { return p.b_vec4(); }
  __device__ auto ptr(int64_t z, int64_t j, int64_t k) const { return p.b_ptr(z, k, j); }
  __device__ auto at(int64_t z, int64_t j, int64_t k) const { return p.b(z, k, j); }
};

// This thread's 4 elements of the operand's slab at (outer0, k0), consecutive along its contiguous axis
// (one vector load where the Problem allows); 0 outside the operand.
template <typename T, class Operand>
__device__ void fetch(const Operand& op, int64_t z, int64_t outer0, int64_t k0, int64_t outer_n, int64_t Kred,
                      T v[4]) {
  const int l = threadIdx.x;
  const bool along_k = op.k_contiguous();
  const int64_t o0 = outer0 + (along_k ? l / 4 : l % 16 * 4), kk0 = k0 + (along_k ? l % 4 * 4 : l / 16);
  const int64_t o_last = along_k ? o0 : o0 + 3, k_last = along_k ? kk0 + 3 : kk0;
  if constexpr (Operand::kVector)
    if (o_last < outer_n && k_last < Kred && op.vec4()) return load4(op.ptr(z, o0, kk0), v);
  for (int e = 0; e < 4; ++e) {
    const int64_t o = along_k ? o0 : o0 + e, kk = along_k ? kk0 + e : kk0;
    v[e] = o < outer_n && kk < Kred ? op.at(z, o, kk) : T(0);
  }
}

// Puts fetched elements where the multiply reads them: S[k][outer] (As[k][i], Bs[k][j]).
template <typename T, int W>
__device__ void stage(bool along_k, const T v[4], T (*S)[W]) {
  const int l = threadIdx.x;
  for (int e = 0; e < 4; ++e) {
    if (along_k) S[l % 4 * 4 + e][l / 4] = v[e];
    else S[l / 16][l % 16 * 4 + e] = v[e];
  }
}

// acc (TM x TN, this thread's outputs) += the slab's As^T Bs, in the precision of T.
template <typename T>
__device__ void multiply_slab(const T (*As)[BM + PAD], const T (*Bs)[BN + PAD], T acc[TM][TN]) {
  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
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
}

namespace wmma = nvcuda::wmma;
using TF32FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
using TF32FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using TF32Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

// Warp w owns output rows 16 (w / 2) .. +16 and columns 32 (w % 2) .. +32 of the tile: two 16x16 accumulators.
__device__ inline void multiply_slab_tf32(const float (*As)[BM + PAD], const float (*Bs)[BN + PAD], TF32Acc acc[2]) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  const int warp = threadIdx.x / 32, row = warp / 2 * 16, col = warp % 2 * 32;
  for (int k = 0; k < BK; k += 8) {
    TF32FragA a;
    wmma::load_matrix_sync(a, &As[k][row], BM + PAD);
    for (int e = 0; e < a.num_elements; ++e) a.x[e] = wmma::__float_to_tf32(a.x[e]);
    for (int c = 0; c < 2; ++c) {
      TF32FragB b;
      wmma::load_matrix_sync(b, &Bs[k][col + 16 * c], BN + PAD);
      for (int e = 0; e < b.num_elements; ++e) b.x[e] = wmma::__float_to_tf32(b.x[e]);
      wmma::mma_sync(acc[c], a, b, acc[c]);
    }
  }
#endif
}

template <typename T, class Problem, bool TF32>
__global__ void __launch_bounds__(THREADS) gemm_kernel(int64_t M, int64_t Ncols, int64_t Kred, Problem prob) {
  __shared__ __align__(32) T As[2][BK][BM + PAD];  // As[buffer][k][i] = A(row0 + i, k0 + k)
  __shared__ __align__(32) T Bs[2][BK][BN + PAD];  // Bs[buffer][k][j] = B(k0 + k, col0 + j)
  const int64_t z = blockIdx.z, row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
  const OperandA<Problem> A{prob};
  const OperandB<Problem> B{prob};
  const bool a_along_k = A.k_contiguous(), b_along_k = B.k_contiguous();
  T acc[TM][TN] = {};
  TF32Acc tf32_acc[2];
  if constexpr (TF32)
    for (auto& f : tf32_acc) wmma::fill_fragment(f, 0.0f);

  T next_a[4], next_b[4];
  fetch(A, z, row0, 0, M, Kred, next_a);
  fetch(B, z, col0, 0, Ncols, Kred, next_b);
  stage(a_along_k, next_a, As[0]);
  stage(b_along_k, next_b, Bs[0]);
  __syncthreads();
  int buffer = 0;
  for (int64_t k0 = 0; k0 < Kred; k0 += BK) {
    const bool more = k0 + BK < Kred;
    if (more) {  // global loads in flight while the slab below is multiplied
      fetch(A, z, row0, k0 + BK, M, Kred, next_a);
      fetch(B, z, col0, k0 + BK, Ncols, Kred, next_b);
    }
    if constexpr (TF32) multiply_slab_tf32(As[buffer], Bs[buffer], tf32_acc);
    else multiply_slab(As[buffer], Bs[buffer], acc);
    if (more) {  // the other buffer was last read before the previous barrier
      stage(a_along_k, next_a, As[buffer ^ 1]);
      stage(b_along_k, next_b, Bs[buffer ^ 1]);
    }
    __syncthreads();
    buffer ^= 1;
  }

  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
  if constexpr (TF32) {  // accumulators through shared memory into the 4x4 layout the stores use
    __shared__ __align__(32) float Cs[BM][BN + PAD];
    const int warp = threadIdx.x / 32;
    for (int c = 0; c < 2; ++c)
      wmma::store_matrix_sync(&Cs[warp / 2 * 16][warp % 2 * 32 + 16 * c], tf32_acc[c], BN + PAD, wmma::mem_row_major);
    __syncthreads();
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) acc[i][j] = Cs[ty * TM + i][tx * TN + j];
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
// Float32 products use tensor cores (TF32) when nncore.cuda.set_tf32_enabled(True) and the device has them.
template <typename T, class Problem>
void launch(const char* op, int64_t count, int64_t M, int64_t Ncols, int64_t Kred, const Problem& prob,
            void* stream) {
  if (count == 0 || M == 0 || Ncols == 0) return;
  NNC_CHECK(count <= 65535, op, ": at most 65535 batch entries or groups in one CUDA launch, got ", count);
  NNC_CHECK((M + BM - 1) / BM <= 65535 && (Ncols + BN - 1) / BN <= 2147483647, op,
            ": problem too large for one CUDA launch (", M, " x ", Ncols, ")");
  dim3 grid(static_cast<unsigned>((Ncols + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM),
            static_cast<unsigned>(count));
  const auto s = static_cast<cudaStream_t>(stream);
  if constexpr (std::is_same_v<T, float>) {
    if (cuda_tf32_enabled() && cuda_has_tf32())
      return NNC_LAUNCH(gemm_kernel<T, Problem, true>, grid, THREADS, 0, s, M, Ncols, Kred, prob);
  }
  NNC_LAUNCH(gemm_kernel<T, Problem, false>, grid, THREADS, 0, s, M, Ncols, Kred, prob);
}

}  // namespace nnc::cuda::tiled
