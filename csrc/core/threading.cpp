#include "core/threading.h"

#include <atomic>
#include <cstdlib>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/check.h"

namespace nnc {
namespace {

int default_threads() {
  int n = 1;
#ifdef _OPENMP
  n = omp_get_num_procs();
#endif
  if (const char* env = std::getenv("NNCORE_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v > 0) n = v;
  }
  return n;
}

std::atomic<int>& slot() {
  static std::atomic<int> n{default_threads()};
  return n;
}

}  // namespace

int num_threads() {
#ifdef _OPENMP
  return slot().load(std::memory_order_relaxed);
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  NNC_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  slot().store(n);
}

TeamSlot team_slot() {
#ifdef _OPENMP
  return {omp_get_thread_num(), omp_get_num_threads()};
#else
  return {0, 1};
#endif
}

bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace nnc
