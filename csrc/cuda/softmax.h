// CUDA softmax / log_softmax (+ backward) along the middle axis of (outer, C,
// inner), and fused cross-entropy (loss and/or gradient in one pass) on
// `stream` (a cudaStream_t passed as void* so host code needs no CUDA headers).
#pragma once
#include <cstdint>

#include "cpu/softmax.h"

namespace nnc::cuda {

template <typename T>
void softmax(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log, void* stream);

template <typename T>
void softmax_backward(const T* grad_y, const T* y, T* grad_x, int64_t outer, int64_t C, int64_t inner, bool log,
                      void* stream);

// Same arguments and results as nnc::cpu::cross_entropy (device pointers);
// waits for the stream to report bad targets.
template <typename T>
cpu::CeStatus cross_entropy(const cpu::CeArgs<T>& a, void* stream);

}  // namespace nnc::cuda
