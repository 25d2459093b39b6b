// The CUDA emulator (NNCORE_CUDA=SIM): runs a kernel launch on the calling CPU
// thread, each block's threads as fibres switched at __syncthreads and warp
// shuffles, plus the runtime calls csrc/cuda uses, on host memory. It fails what
// a GPU would reject or leave undefined: bad launch shapes, misaligned vector
// accesses, barriers not every thread reaches; dynamic shared memory starts
// poisoned, and NNCORE_CUDA_SIM_ORDER=reverse runs threads last-first.
#include <sys/mman.h>
#include <unistd.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "core/check.h"

namespace nnc::sim {

using nnc::RuntimeError;
using nnc::str;

thread_local const ThreadPlace* place = nullptr;

namespace {

thread_local cudaError_t last_error = cudaSuccess;

constexpr size_t kStackBytes = 256 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxDynamicShared = 48 * 1024;

enum class State { runnable, at_block_barrier, at_warp_barrier, done };

// A suspended stack. On x86-64 a switch saves the callee-saved registers and the
// FP control words on the old stack and pops them from the new one (ucontext's
// swapcontext makes a system call per switch, which made the emulator 3x slower).
#if defined(__x86_64__)
extern "C" void nnc_sim_switch(void** save_sp, void* resume_sp);
asm(R"(
  .text
  .globl nnc_sim_switch
  .hidden nnc_sim_switch
  .type nnc_sim_switch, @function
nnc_sim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size nnc_sim_switch, .-nnc_sim_switch
)");

struct Context {
  void* sp = nullptr;
  // A context that starts entry() on the stack below top; entry must never return.
  void start_on(char* top, size_t, void (*entry)()) {
    auto* frame = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t(15));
    uint32_t mxcsr, fpu_control = 0;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpu_control));
    *--frame = 0;                                     // entry's return address: none
    *--frame = reinterpret_cast<uint64_t>(entry);     // popped by ret
    for (int r = 0; r < 6; ++r) *--frame = 0;        // rbp rbx r12 r13 r14 r15
    *--frame = uint64_t(mxcsr) | uint64_t(fpu_control) << 32;
    sp = frame;
  }
  static void swap(Context& from, Context& to) { nnc_sim_switch(&from.sp, to.sp); }
};
#else
struct Context {
  ucontext_t uc;
  void start_on(char* top, size_t bytes, void (*entry)()) {
    getcontext(&uc);
    uc.uc_stack.ss_sp = top - bytes;
    uc.uc_stack.ss_size = bytes;
    uc.uc_link = nullptr;
    makecontext(&uc, entry, 0);
  }
  static void swap(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
};
#endif

struct Fibre {
  Context context;
  ThreadPlace where;
  State state;
};

// The stacks of one block's fibres, each above a guard page; kept for the next launch.
class Stacks {
 public:
  ~Stacks() {
    if (base_) munmap(base_, bytes_);
  }
  char* top_of(unsigned i) { return static_cast<char*>(base_) + size_t(i + 1) * (kStackBytes + page_); }
  void reserve(unsigned count) {
    if (count <= count_) return;
    if (base_) munmap(base_, bytes_);
    page_ = size_t(sysconf(_SC_PAGESIZE));
    bytes_ = size_t(count) * (kStackBytes + page_);
    base_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      count_ = 0;
      throw RuntimeError(str("CUDA emulator: cannot map ", count, " fibre stacks"));
    }
    for (unsigned i = 0; i < count; ++i)
      mprotect(static_cast<char*>(base_) + size_t(i) * (kStackBytes + page_), page_, PROT_NONE);
    count_ = count;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_ = 0, page_ = 0;
  unsigned count_ = 0;
};

struct Launch {
  const std::function<void()>* body = nullptr;
  std::vector<Fibre> fibres;
  std::vector<uint64_t> slots;  // 32 per warp
  std::vector<unsigned char> dynamic_shared;
  Context scheduler;
  Fibre* running = nullptr;
  Stacks stacks;
};

thread_local Launch* launch_now = nullptr;
std::mutex one_launch_at_a_time;  // __shared__ arrays are process-wide statics

[[noreturn]] void fibre_main() {
  (*launch_now->body)();
  launch_now->running->state = State::done;
  Context::swap(launch_now->running->context, launch_now->scheduler);
  __builtin_unreachable();  // a finished fibre is never resumed
}

void yield(State state) {
  if (!launch_now || !launch_now->running) throw RuntimeError("CUDA emulator: a barrier or shuffle outside a kernel");
  launch_now->running->state = state;
  Context::swap(launch_now->running->context, launch_now->scheduler);
}

// Releases fibres whose barrier everyone has reached; false when no fibre can go on.
bool release(Launch& l, unsigned threads) {
  bool any_live = false, all_at_block = true;
  for (auto& f : l.fibres) {
    if (f.state == State::done) continue;
    any_live = true;
    if (f.state == State::runnable) return true;
    all_at_block &= f.state == State::at_block_barrier;
  }
  if (!any_live) return true;
  if (all_at_block) {
    for (auto& f : l.fibres)
      if (f.state == State::at_block_barrier) f.state = State::runnable;
    return true;
  }
  bool released = false;
  for (unsigned w0 = 0; w0 < threads; w0 += 32) {
    bool whole = true, some = false;
    for (unsigned i = w0; i < std::min(threads, w0 + 32); ++i) {
      State s = l.fibres[i].state;
      if (s == State::done) continue;
      some = true;
      whole &= s == State::at_warp_barrier;
    }
    if (!some || !whole) continue;
    for (unsigned i = w0; i < std::min(threads, w0 + 32); ++i)
      if (l.fibres[i].state == State::at_warp_barrier) l.fibres[i].state = State::runnable;
    released = true;
  }
  return released;
}

// Between barriers, threads run one after another: in thread order, or with
// NNCORE_CUDA_SIM_ORDER=reverse last thread first. A kernel whose result depends
// on which ran first (a race on a GPU) fails under one of the two orders.
bool reverse_order() {
  static const bool reverse = [] {
    const char* order = std::getenv("NNCORE_CUDA_SIM_ORDER");
    const std::string value = order ? order : "forward";
    if (value != "forward" && value != "reverse")
      throw RuntimeError(str("NNCORE_CUDA_SIM_ORDER must be forward or reverse, got '", value, "'"));
    return value == "reverse";
  }();
  return reverse;
}

void run_block(Launch& l, dim3 grid, dim3 block, dim3 block_idx) {
  const unsigned threads = block.x * block.y * block.z;
  std::fill(l.dynamic_shared.begin(), l.dynamic_shared.end(), 0xFF);  // undefined at block start: poisoned
  l.fibres.resize(threads);
  for (unsigned i = 0; i < threads; ++i) {
    Fibre& f = l.fibres[i];
    f.where = ThreadPlace{dim3(i % block.x, i / block.x % block.y, i / (block.x * block.y)), block_idx, block, grid, i};
    f.state = State::runnable;
    f.context.start_on(l.stacks.top_of(i), kStackBytes, fibre_main);
  }
  const bool reverse = reverse_order();
  for (;;) {
    bool all_done = true;
    for (unsigned n = 0; n < threads; ++n) {
      Fibre& f = l.fibres[reverse ? threads - 1 - n : n];
      if (f.state == State::runnable) {
        l.running = &f;
        place = &f.where;
        Context::swap(l.scheduler, f.context);
      }
      all_done &= f.state == State::done;
    }
    l.running = nullptr;
    place = nullptr;
    if (all_done) return;
    if (!release(l, threads))
      throw RuntimeError(str("CUDA emulator: deadlock in block (", block_idx.x, ", ", block_idx.y, ", ", block_idx.z,
                             "): its threads wait at different barriers"));
  }
}

}  // namespace

void run(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const std::function<void()>& body) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535 || dynamic_shared_bytes > kMaxDynamicShared) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  std::lock_guard<std::mutex> lock(one_launch_at_a_time);
  static thread_local Launch l;
  l.body = &body;
  l.stacks.reserve(unsigned(threads));
  l.slots.assign((threads + 31) / 32 * 32, 0);
  l.dynamic_shared.resize(dynamic_shared_bytes);
  struct Current {
    explicit Current(Launch* l) { launch_now = l; }
    ~Current() { launch_now = nullptr; }
  } current(&l);
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) run_block(l, grid, block, dim3(x, y, z));
}

void sync_block() { yield(State::at_block_barrier); }

void sync_warp() { yield(State::at_warp_barrier); }

uint64_t* warp_slots() { return launch_now->slots.data() + place->linear / 32 * 32; }

void* dynamic_shared() { return launch_now->dynamic_shared.data(); }

void check_aligned(const void* p, size_t bytes) {
  if (reinterpret_cast<uintptr_t>(p) % bytes != 0) last_error = cudaErrorMisalignedAddress;
}

}  // namespace nnc::sim

using nnc::sim::last_error;

cudaError_t cudaGetLastError() {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error (CUDA emulator)";
    case cudaErrorInvalidValue: return "invalid argument (CUDA emulator)";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (CUDA emulator)";
    case cudaErrorMisalignedAddress: return "misaligned address (CUDA emulator)";
    default: return "unspecified launch failure (CUDA emulator)";
  }
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  *value = attr == cudaDevAttrComputeCapabilityMajor ? 9 : 0;
  return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr) {
  *attr = cudaPointerAttributes{cudaMemoryTypeDevice, 0, const_cast<void*>(ptr), nullptr};
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) {
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
