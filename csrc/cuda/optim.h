// CUDA fused optimiser updates (float32) on `stream` (a cudaStream_t passed as
// void*): the rules of core/optim_math.h, the same results as cpu/optim.h.
#pragma once

#include "core/optim_math.h"

namespace nnc::cuda {

void sgd_step(const optim_math::SgdArgs& a, void* stream);
void adam_step(const optim_math::AdamArgs& a, void* stream);
void rmsprop_step(const optim_math::RmspropArgs& a, void* stream);
void adagrad_step(const optim_math::AdagradArgs& a, void* stream);

}  // namespace nnc::cuda
