// AVX2+FMA twin of the element-wise activations: the bodies of activation_simd.h
// over 8 float lanes, the tail masked; 2^n built in the exponent bits.
#include "cpu/activation_simd.h"
#include "cpu/vec_avx2.h"

NNC_DEFINE_ACTIVATION_TWIN(avx2, Avx2)
