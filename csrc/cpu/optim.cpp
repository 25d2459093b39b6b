// Fused SGD, Adam / AdamW, RMSprop and Adagrad updates, portable twin (the
// oracle): optim_math::*_at per element; and the dispatch to the AVX2 /
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

void rmsprop_range_portable(const optim_math::RmspropArgs& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) optim_math::rmsprop_at(a, i);
}

void adagrad_range_portable(const optim_math::AdagradArgs& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) optim_math::adagrad_at(a, i);
}

namespace {

// The twin of the active ISA (portable for scalar) over the threads' ranges.
template <typename Args>
void run_ranges(const Args& a, void (*portable)(const Args&, int64_t, int64_t),
                [[maybe_unused]] void (*avx2)(const Args&, int64_t, int64_t),
                [[maybe_unused]] void (*avx512)(const Args&, int64_t, int64_t)) {
  auto twin = portable;
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: twin = avx512; break;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: twin = avx2; break;
#endif
    default: break;
  }
  eltwise_ranges(a.n, [&](int64_t i0, int64_t i1) { twin(a, i0, i1); });
}

}  // namespace

#if defined(NNCORE_HAVE_AVX2) && defined(NNCORE_HAVE_AVX512)
#define NNC_TWINS(op) op##_range_portable, op##_range_avx2, op##_range_avx512
#else
#define NNC_TWINS(op) op##_range_portable, op##_range_portable, op##_range_portable
#endif

void sgd_step(const optim_math::SgdArgs& a) { run_ranges(a, NNC_TWINS(sgd)); }
void adam_step(const optim_math::AdamArgs& a) { run_ranges(a, NNC_TWINS(adam)); }
void rmsprop_step(const optim_math::RmspropArgs& a) { run_ranges(a, NNC_TWINS(rmsprop)); }
void adagrad_step(const optim_math::AdagradArgs& a) { run_ranges(a, NNC_TWINS(adagrad)); }

#undef NNC_TWINS

}  // namespace nnc::cpu
