// C = alpha * op(A) @ op(B) + beta * C on the GPU, batched over blockIdx.z,
// through the shared tiled kernel (cuda/tiled_gemm.cuh); the epilogue
// C = act(C + bias) runs in the kernel's store.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/gemm.h"
#include "cuda/tiled_gemm.cuh"

namespace nnc::cuda {
namespace {

// Dense row-major matrices with leading dimensions; batch entry z starts at z * stride.
template <typename T>
struct MatrixProblem {
  static constexpr bool kVectorA = true, kVectorB = true;
  bool trans_a, trans_b;
  const T* A;
  int64_t lda, stride_a;
  const T* B;
  int64_t ldb, stride_b;
  T* C;
  int64_t ldc, stride_c;
  T alpha, beta;
  bool vec_a, vec_b;  // every 4 elements from a multiple of 4 along the contiguous axis are 16-byte aligned
  nnc::cpu::Epilogue<T> ep;

  __device__ bool a_k_contiguous() const { return !trans_a; }
  __device__ bool b_j_contiguous() const { return !trans_b; }
  __device__ bool a_vec4() const { return vec_a; }
  __device__ bool b_vec4() const { return vec_b; }
  __device__ const T* a_ptr(int64_t z, int64_t i, int64_t k) const {
    return A + z * stride_a + (trans_a ? k * lda + i : i * lda + k);
  }
  __device__ const T* b_ptr(int64_t z, int64_t k, int64_t j) const {
    return B + z * stride_b + (trans_b ? j * ldb + k : k * ldb + j);
  }
  __device__ T a(int64_t z, int64_t i, int64_t k) const { return *a_ptr(z, i, k); }
  __device__ T b(int64_t z, int64_t k, int64_t j) const { return *b_ptr(z, k, j); }
  __device__ void store(int64_t z, int64_t i, int64_t j, T acc) const {
    T* c = C + z * stride_c + i * ldc + j;
    T v = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
    if (ep.bias) v += ep.bias[ep.bias_per_row ? i : j];
    *c = ep.act(v);
  }
};

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
          int64_t stride_c, const nnc::cpu::Epilogue<T>& ep, void* stream) {
  // 16-byte vectors: the base aligned, and row and batch steps whole vectors.
  auto vectors_aligned = [](const T* p, int64_t ld, int64_t stride, int64_t batch) {
    constexpr int64_t per_vector = 16 / sizeof(T);
    return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % per_vector == 0 && (batch == 1 || stride % per_vector == 0);
  };
  MatrixProblem<T> prob{trans_a, trans_b, A, lda, stride_a, B, ldb, stride_b, C, ldc, stride_c, alpha, beta,
                        vectors_aligned(A, lda, stride_a, batch), vectors_aligned(B, ldb, stride_b, batch), ep};
  tiled::launch<T>("gemm", batch, M, N, K, prob, stream);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                          const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                          const nnc::cpu::Epilogue<float>&, void*);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t,
                           const nnc::cpu::Epilogue<double>&, void*);

}  // namespace nnc::cuda
