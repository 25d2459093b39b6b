// CUDA backward of the activation epilogue from its output on `stream` (a
// cudaStream_t passed as void*): out = grad * act'(y), as cpu/epilogue.h.
#pragma once
#include <cstdint>

#include "cpu/epilogue.h"

namespace nnc::cuda {

template <typename T>
void epilogue_grad(int64_t n, const T* grad, const T* y, T* out, const nnc::cpu::Activation<T>& act, void* stream);

}  // namespace nnc::cuda
