// Run-time choice of the CPU kernel twin: the best ISA the processor offers,
// unless NNCORE_ISA (or nncore.set_isa) asks for a lower one.
#pragma once
#include <string>

namespace nnc {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
Isa best_isa_supported();    // what this processor and this build can run
Isa active_isa();            // what kernels dispatch to now
void set_active_isa(const std::string& name);  // "auto", "scalar", "avx2", "avx512"
bool isa_compiled(Isa isa);  // was the twin for this ISA built into the module

}  // namespace nnc
