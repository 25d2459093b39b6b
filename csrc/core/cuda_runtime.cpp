#include "core/cuda_runtime.h"

#include <atomic>

#include "core/check.h"

#ifdef NNCORE_HAVE_CUDA
#include <cuda_runtime.h>
#include "core/cuda_check.h"
#endif

namespace nnc {

namespace {
std::atomic<bool> tf32_enabled{false};
}

bool cuda_tf32_enabled() { return tf32_enabled.load(std::memory_order_relaxed); }

void set_cuda_tf32_enabled(bool enabled) { tf32_enabled.store(enabled, std::memory_order_relaxed); }

#ifdef NNCORE_HAVE_CUDA

bool cuda_built() { return true; }

#ifdef NNCORE_CUDA_SIM
bool cuda_emulated() { return true; }
#else
bool cuda_emulated() { return false; }
#endif

int cuda_device_count(std::string* why_none) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (why_none) *why_none = cudaGetErrorString(err);
    return 0;
  }
  if (n == 0 && why_none) *why_none = "no CUDA device";
  return n;
}

int cuda_pointer_device(const void* p) {
  cudaPointerAttributes attr{};
  NNC_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  NNC_CHECK(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
            "array reports __cuda_array_interface__ but its pointer is not CUDA device memory");
  return attr.device;
}

int cuda_current_device() {
  int d = 0;
  NNC_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

std::string cuda_architectures() { return NNCORE_CUDA_ARCHITECTURES; }

bool cuda_has_tf32() {
  int major = 0;
  NNC_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, cuda_current_device()));
  return major >= 8;
}

std::string cuda_runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

#else

bool cuda_built() { return false; }

bool cuda_emulated() { return false; }

int cuda_device_count(std::string* why_none) {
  if (why_none) *why_none = "nncore was built without CUDA";
  return 0;
}

int cuda_pointer_device(const void*) {
  throw ValueError("got a CUDA array, but nncore was built without CUDA (rebuild with nvcc and NNCORE_CUDA=ON)");
}

int cuda_current_device() { return cuda_pointer_device(nullptr); }

std::string cuda_architectures() { return ""; }

bool cuda_has_tf32() { return false; }

std::string cuda_runtime_version() { return ""; }

#endif

}  // namespace nnc
