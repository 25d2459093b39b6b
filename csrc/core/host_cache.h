// Caching host allocator for kernel outputs and workspaces. A fresh page
// costs more than most kernels' work on these machines (PERF.md, trap 1), so
// freed blocks are kept per size class and handed out again.
#pragma once
#include <cstddef>

namespace nnc {

void* host_alloc(std::size_t bytes);  // 64-byte aligned; never returns null (throws)
void host_free(void* p);
std::size_t host_cache_cached_bytes();  // held for reuse, not in use
std::size_t host_cache_limit();
void set_host_cache_limit(std::size_t bytes);
void host_cache_clear();

// Scratch memory for one kernel call, returned to the cache on scope exit.
class Workspace {
 public:
  Workspace() : ptr_(nullptr) {}
  explicit Workspace(std::size_t bytes) : ptr_(bytes ? host_alloc(bytes) : nullptr) {}
  ~Workspace() { if (ptr_) host_free(ptr_); }
  // Replaces the memory held (if any) with a fresh block of `bytes`.
  void allocate(std::size_t bytes) {
    if (ptr_) host_free(ptr_);
    ptr_ = bytes ? host_alloc(bytes) : nullptr;
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_;
};

}  // namespace nnc
