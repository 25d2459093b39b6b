// 128-bit global memory access for the CUDA twins: four consecutive elements as
// one float4 (float) or two double2 (double). p must be 16-byte aligned; the
// emulator (NNCORE_CUDA_SIM) fails the launch where a GPU would fault.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

namespace nnc::cuda {

__host__ __device__ inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

__device__ __forceinline__ void load4(const float* p, float v[4]) {
#ifdef NNCORE_CUDA_SIM
  sim::check_aligned(p, 16);
  std::memcpy(v, p, 4 * sizeof(float));
#else
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
#endif
}

__device__ __forceinline__ void load4(const double* p, double v[4]) {
#ifdef NNCORE_CUDA_SIM
  sim::check_aligned(p, 16);
  std::memcpy(v, p, 4 * sizeof(double));
#else
  const double2 q0 = reinterpret_cast<const double2*>(p)[0], q1 = reinterpret_cast<const double2*>(p)[1];
  v[0] = q0.x, v[1] = q0.y, v[2] = q1.x, v[3] = q1.y;
#endif
}

__device__ __forceinline__ void store4(float* p, const float v[4]) {
#ifdef NNCORE_CUDA_SIM
  sim::check_aligned(p, 16);
  std::memcpy(p, v, 4 * sizeof(float));
#else
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
#endif
}

__device__ __forceinline__ void store4(double* p, const double v[4]) {
#ifdef NNCORE_CUDA_SIM
  sim::check_aligned(p, 16);
  std::memcpy(p, v, 4 * sizeof(double));
#else
  reinterpret_cast<double2*>(p)[0] = make_double2(v[0], v[1]);
  reinterpret_cast<double2*>(p)[1] = make_double2(v[2], v[3]);
#endif
}

}  // namespace nnc::cuda
