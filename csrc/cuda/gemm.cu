// C = alpha * op(A) @ op(B) + beta * C on the GPU, batched over blockIdx.z,
// through the shared tiled kernel (cuda/tiled_gemm.cuh).
#include <cuda_runtime.h>

#include "cuda/gemm.h"
#include "cuda/tiled_gemm.cuh"

namespace nnc::cuda {
namespace {

// Dense row-major matrices with leading dimensions; batch entry z starts at z * stride.
template <typename T>
struct MatrixProblem {
  bool trans_a, trans_b;
  const T* A;
  int64_t lda, stride_a;
  const T* B;
  int64_t ldb, stride_b;
  T* C;
  int64_t ldc, stride_c;
  T alpha, beta;

  __device__ bool a_k_contiguous() const { return !trans_a; }
  __device__ bool b_j_contiguous() const { return !trans_b; }
  __device__ T a(int64_t z, int64_t i, int64_t k) const {
    const T* p = A + z * stride_a;
    return trans_a ? p[k * lda + i] : p[i * lda + k];
  }
  __device__ T b(int64_t z, int64_t k, int64_t j) const {
    const T* p = B + z * stride_b;
    return trans_b ? p[j * ldb + k] : p[k * ldb + j];
  }
  __device__ void store(int64_t z, int64_t i, int64_t j, T acc) const {
    T* c = C + z * stride_c + i * ldc + j;
    *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
  }
};

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
          int64_t stride_c, void* stream) {
  MatrixProblem<T> prob{trans_a, trans_b, A, lda, stride_a, B, ldb, stride_b, C, ldc, stride_c, alpha, beta};
  tiled::launch<T>("gemm", batch, M, N, K, prob, stream);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                          const float*, int64_t, int64_t, float, float*, int64_t, int64_t, void*);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t, void*);

}  // namespace nnc::cuda
