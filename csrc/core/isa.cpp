#include "core/isa.h"

#include <atomic>
#include <cstdlib>

#include "core/check.h"

namespace nnc {
namespace {

Isa parse_isa(const std::string& name, const char* source) {
  if (name == "scalar") return Isa::scalar;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  if (name == "auto" || name.empty()) return best_isa_supported();
  throw ValueError(str(source, ": expected one of 'auto', 'scalar', 'avx2', 'avx512', got '", name, "'"));
}

Isa initial_isa() {
  const char* env = std::getenv("NNCORE_ISA");
  if (!env) return best_isa_supported();
  try {
    Isa wanted = parse_isa(env, "NNCORE_ISA");
    return wanted < best_isa_supported() ? wanted : best_isa_supported();
  } catch (const ValueError&) {
    return best_isa_supported();
  }
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

bool isa_compiled(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: return true;
#endif
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: return true;
#endif
    default: return false;
  }
}

Isa best_isa_supported() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const Isa best = [] {
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    if (avx512 && isa_compiled(Isa::avx512)) return Isa::avx512;
    if (avx2 && isa_compiled(Isa::avx2)) return Isa::avx2;
    return Isa::scalar;
  }();
  return best;
#else
  return Isa::scalar;
#endif
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(const std::string& name) {
  Isa wanted = parse_isa(name, "set_isa");
  NNC_CHECK(wanted <= best_isa_supported(), "set_isa: '", name, "' is not available here (best is '",
            isa_name(best_isa_supported()), "')");
  active_slot().store(static_cast<int>(wanted));
}

}  // namespace nnc
