// The CUDA emulator's stand-in for <cuda_runtime.h> (NNCORE_CUDA=SIM): the part of
// the runtime API and device language that csrc/cuda/*.cu use, so those files
// compile with the host compiler and their kernels run on the CPU. Every thread
// of a block is a fibre; __syncthreads and the warp shuffles switch fibres
// (csrc/sim/sim.cpp); "device memory" is host memory.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static  // one copy per kernel: blocks run one after another
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// Vector types with CUDA's sizes and alignments.
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(16) int4 { int x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorMisalignedAddress = 716,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaMemoryType { cudaMemoryTypeUnregistered = 0, cudaMemoryTypeHost, cudaMemoryTypeDevice, cudaMemoryTypeManaged };

struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};

enum cudaDeviceAttr { cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76 };

struct CUstream_st;
using cudaStream_t = CUstream_st*;

cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t err);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);  // an sm_90 device
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

namespace nnc::sim {

// Where the running fibre is in its launch.
struct ThreadPlace {
  dim3 threadIdx, blockIdx, blockDim, gridDim;
  unsigned linear;  // threadIdx flattened, x fastest
};
extern thread_local const ThreadPlace* place;

// Runs body once per thread of every block, blocks one after another; a bad
// configuration sets the error cudaGetLastError reports, as a real launch does.
void run(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const std::function<void()>& body);
void sync_block();
void sync_warp();
uint64_t* warp_slots();  // one 8-byte slot per lane of the running fibre's warp
void* dynamic_shared();
// A vector access the GPU would fault on (p not aligned to `bytes`) fails the launch.
void check_aligned(const void* p, size_t bytes);

template <typename T>
T exchange(T v, int src_lane_in_warp) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffles move at most 8 bytes");
  uint64_t* slots = warp_slots();
  const unsigned lane = place->linear % 32;
  std::memcpy(&slots[lane], &v, sizeof(T));
  sync_warp();
  T r;
  std::memcpy(&r, &slots[src_lane_in_warp], sizeof(T));
  sync_warp();  // nobody overwrites a slot before every lane has read
  return r;
}

}  // namespace nnc::sim

#define threadIdx (::nnc::sim::place->threadIdx)
#define blockIdx (::nnc::sim::place->blockIdx)
#define blockDim (::nnc::sim::place->blockDim)
#define gridDim (::nnc::sim::place->gridDim)
constexpr int warpSize = 32;

inline void __syncthreads() { nnc::sim::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { nnc::sim::sync_warp(); }

template <typename T>
T __shfl_sync(unsigned, T v, int src, int width = 32) {
  const int lane = int(nnc::sim::place->linear % 32), base = lane / width * width;
  return nnc::sim::exchange(v, base + ((src % width) + width) % width);
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int lane = int(nnc::sim::place->linear % 32), src = lane ^ mask;
  return nnc::sim::exchange(v, src / width == lane / width ? src : lane);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = int(nnc::sim::place->linear % 32), src = lane + int(delta);
  return nnc::sim::exchange(v, src / width == lane / width ? src : lane);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = int(nnc::sim::place->linear % 32), src = lane - int(delta);
  return nnc::sim::exchange(v, src >= 0 && src / width == lane / width ? src : lane);
}

// Fibres never run at the same time, so read-modify-write is atomic as written.
template <typename T>
T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <typename T>
T atomicMin(T* p, T v) {
  T old = *p;
  *p = v < old ? v : old;
  return old;
}
template <typename T>
T atomicMax(T* p, T v) {
  T old = *p;
  *p = v > old ? v : old;
  return old;
}
template <typename T>
T atomicOr(T* p, T v) {
  T old = *p;
  *p = old | v;
  return old;
}
template <typename T>
T atomicCAS(T* p, T expected, T desired) {
  T old = *p;
  if (old == expected) *p = desired;
  return old;
}

template <typename T>
T __ldg(const T* p) { return *p; }
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline long long __double_as_longlong(double d) {
  long long u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline int __clzll(long long v) { return v ? __builtin_clzll(static_cast<unsigned long long>(v)) : 64; }
// Device code calls the math functions unqualified and gets CUDA's float and
// double overloads; on the host that takes std's (the global abs is int's).
using std::abs;
using std::ceil;
using std::exp;
using std::expm1;
using std::fabs;
using std::floor;
using std::fma;
using std::fmax;
using std::fmin;
using std::isfinite;
using std::isinf;
using std::isnan;
using std::log;
using std::log1p;
using std::pow;
using std::sqrt;
using std::tanh;
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
