// AVX-512 twin of the fused SGD, Adam / AdamW, RMSprop and Adagrad updates: the bodies of
// optim_simd.h over 16 float lanes, the tail masked.
#include "cpu/optim_simd.h"
#include "cpu/vec_avx512.h"

NNC_DEFINE_OPTIM_TWIN(avx512, Avx512)
