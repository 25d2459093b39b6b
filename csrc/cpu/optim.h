// Fused optimiser updates on the CPU: one pass over each parameter (float32,
// n elements) for SGD, Adam / AdamW, RMSprop and Adagrad; the rules in core/optim_math.h.
#pragma once
#include <cstdint>

#include "core/optim_math.h"

namespace nnc::cpu {

void sgd_step(const optim_math::SgdArgs& a);
void adam_step(const optim_math::AdamArgs& a);
void rmsprop_step(const optim_math::RmspropArgs& a);
void adagrad_step(const optim_math::AdagradArgs& a);

// ---- what the twins implement: elements [i0, i1) ----
void sgd_range_portable(const optim_math::SgdArgs& a, int64_t i0, int64_t i1);
void adam_range_portable(const optim_math::AdamArgs& a, int64_t i0, int64_t i1);
void rmsprop_range_portable(const optim_math::RmspropArgs& a, int64_t i0, int64_t i1);
void adagrad_range_portable(const optim_math::AdagradArgs& a, int64_t i0, int64_t i1);

#define NNC_OPTIM_TWIN(isa)                                                           \
  void sgd_range_##isa(const optim_math::SgdArgs& a, int64_t i0, int64_t i1);         \
  void adam_range_##isa(const optim_math::AdamArgs& a, int64_t i0, int64_t i1);       \
  void rmsprop_range_##isa(const optim_math::RmspropArgs& a, int64_t i0, int64_t i1); \
  void adagrad_range_##isa(const optim_math::AdagradArgs& a, int64_t i0, int64_t i1);
NNC_OPTIM_TWIN(avx2)
NNC_OPTIM_TWIN(avx512)
#undef NNC_OPTIM_TWIN

}  // namespace nnc::cpu
