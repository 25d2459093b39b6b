#include "core/host_cache.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/check.h"

namespace nnc {
namespace {

// Size classes: up to 4 KiB round to 64 bytes; above, to an eighth of the
// enclosing power of two (at most 12.5 % slack), so repeated calls with the
// same shapes find the same class.
std::size_t size_class(std::size_t bytes) {
  if (bytes <= 4096) return (bytes + 63) & ~std::size_t(63);
  std::size_t pow2 = 1;
  while (pow2 < bytes) pow2 <<= 1;
  std::size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

std::size_t default_limit() {
  if (const char* env = std::getenv("NNCORE_HOST_CACHE_MB")) return std::size_t(std::atoll(env)) << 20;
  return std::size_t(2) << 30;
}

struct Cache {
  std::mutex mu;
  std::map<std::size_t, std::vector<void*>> free_blocks;  // class -> blocks
  std::unordered_map<void*, std::size_t> live;            // block -> class
  std::size_t cached = 0;
  std::size_t limit = default_limit();

  void trim_to(std::size_t target) {
    // Drop the largest cached blocks first.
    while (cached > target && !free_blocks.empty()) {
      auto it = std::prev(free_blocks.end());
      for (void* p : it->second) {
        std::free(p);
        cached -= it->first;
      }
      free_blocks.erase(it);
    }
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: arrays may outlive static destructors
  return *c;
}

}  // namespace

void* host_alloc(std::size_t bytes) {
  Cache& c = cache();
  std::size_t cls = size_class(bytes ? bytes : 1);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(cls);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= cls;
      c.live.emplace(p, cls);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, cls);
  if (!p) throw std::bad_alloc();
  std::lock_guard<std::mutex> lock(c.mu);
  c.live.emplace(p, cls);
  return p;
}

void host_free(void* p) {
  if (!p) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(p);
  if (it == c.live.end()) return;
  std::size_t cls = it->second;
  c.live.erase(it);
  if (cls > c.limit) {
    std::free(p);
    return;
  }
  c.free_blocks[cls].push_back(p);
  c.cached += cls;
  c.trim_to(c.limit);
}

std::size_t host_cache_cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().cached;
}

std::size_t host_cache_limit() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().limit;
}

void set_host_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.limit = bytes;
  c.trim_to(bytes);
}

void host_cache_clear() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.trim_to(0);
}

}  // namespace nnc
