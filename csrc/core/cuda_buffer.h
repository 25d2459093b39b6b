// Scratch memory on the GPU for one kernel call, from CuPy's memory pool (the
// allocator nncore.ops registers, see core/cuda_workspace.cpp): taken at
// construction, handed back at scope exit. Work queued on the current stream
// before the release still owns it, as with CuPy's own temporaries.
#pragma once
#include <cstddef>

namespace nnc::cuda {

// Device memory of `bytes` from the registered allocator; *owner keeps it alive until workspace_release.
void* workspace_acquire(size_t bytes, void** owner);
void workspace_release(void* owner);

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) {
    if (bytes) ptr_ = workspace_acquire(bytes, &owner_);
  }
  ~DeviceBuffer() {
    if (owner_) workspace_release(owner_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  void* owner_ = nullptr;
};

}  // namespace nnc::cuda
