// AVX-512 twin of the element-wise activations: the bodies of activation_simd.h
// over 16 float lanes, the tail masked; 2^n by scalef.
#include "cpu/activation_simd.h"
#include "cpu/vec_avx512.h"

NNC_DEFINE_ACTIVATION_TWIN(avx512, Avx512)
