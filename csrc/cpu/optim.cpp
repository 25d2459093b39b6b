// Fused SGD and Adam / AdamW updates, portable twin (the oracle):
// optim_math::sgd_at / adam_at per element; and the dispatch to the AVX2 /
// AVX-512 twins over threads.
#include "cpu/optim.h"

#include "core/isa.h"
#include "cpu/eltwise_parallel.h"

namespace nnc::cpu {

void sgd_range_portable(const optim_math::SgdArgs& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) optim_math::sgd_at(a, i);
}

void adam_range_portable(const optim_math::AdamArgs& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) optim_math::adam_at(a, i);
}

void sgd_step(const optim_math::SgdArgs& a) {
  auto twin = sgd_range_portable;
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: twin = sgd_range_avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: twin = sgd_range_avx2; break;
#endif
    default: break;
  }
  eltwise_ranges(a.n, [&](int64_t i0, int64_t i1) { twin(a, i0, i1); });
}

void adam_step(const optim_math::AdamArgs& a) {
  auto twin = adam_range_portable;
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: twin = adam_range_avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: twin = adam_range_avx2; break;
#endif
    default: break;
  }
  eltwise_ranges(a.n, [&](int64_t i0, int64_t i1) { twin(a, i0, i1); });
}

}  // namespace nnc::cpu
