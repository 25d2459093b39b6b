// Stream-ordered scratch memory on the GPU for one kernel call: allocated
// with cudaMallocAsync on `stream`, freed on the same stream at scope exit.
#pragma once
#include <cuda_runtime.h>

#include "core/cuda_check.h"

namespace nnc::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    if (bytes) NNC_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace nnc::cuda
