// Backward of the activation epilogue from the output y, AVX2 twin: the
// per-kind loops of cpu/epilogue.h compiled for this ISA (out = grad * act'(y)).
#include "cpu/epilogue.h"

namespace nnc::cpu {

void epilogue_grad_avx2(int64_t n, const float* grad, const float* y, float* out, const Activation<float>& act) {
  epilogue_grad_parallel(n, grad, y, out, act);
}

}  // namespace nnc::cpu
