// The few CUDA runtime facts the front doors and build_info need. Without a
// CUDA build they report that CUDA is absent instead of failing to link.
#pragma once
#include <string>

namespace nnc {

bool cuda_built();
bool cuda_emulated();  // true when the CUDA twins run on the CPU emulator (NNCORE_CUDA=SIM)
int cuda_device_count(std::string* why_none);  // 0 with a reason when no device is usable
int cuda_pointer_device(const void* p);          // device that owns p (throws if p is not device memory)
int cuda_current_device();
std::string cuda_architectures();                // compiled architectures, e.g. "80-real;90"
std::string cuda_runtime_version();

// Whether float32 GEMMs and convolutions on CUDA may use TF32 tensor cores (off by
// default, as in PyTorch's matmul), and whether the current device has them (sm_80+).
bool cuda_tf32_enabled();
void set_cuda_tf32_enabled(bool enabled);
bool cuda_has_tf32();

}  // namespace nnc
