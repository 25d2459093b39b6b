// AVX2+FMA twin of the fused SGD, Adam / AdamW, RMSprop and Adagrad updates: the bodies of
// optim_simd.h over 8 float lanes, the tail masked.
#include "cpu/optim_simd.h"
#include "cpu/vec_avx2.h"

NNC_DEFINE_OPTIM_TWIN(avx2, Avx2)
