// Backward of the activation epilogue from the output y, portable twin (float
// and double; the oracle): out = grad * act'(y), one pass. float32 goes to the
// AVX2 / AVX-512 twins when active_isa() allows.
#include <type_traits>

#include "core/isa.h"
#include "cpu/epilogue.h"

namespace nnc::cpu {

template <typename T>
void epilogue_grad(int64_t n, const T* grad, const T* y, T* out, const Activation<T>& act) {
  if constexpr (std::is_same_v<T, float>) {
#ifdef NNCORE_HAVE_AVX512
    if (active_isa() == Isa::avx512) return epilogue_grad_avx512(n, grad, y, out, act);
#endif
#ifdef NNCORE_HAVE_AVX2
    if (active_isa() == Isa::avx2) return epilogue_grad_avx2(n, grad, y, out, act);
#endif
  }
  epilogue_grad_parallel(n, grad, y, out, act);
}

template void epilogue_grad<float>(int64_t, const float*, const float*, float*, const Activation<float>&);
template void epilogue_grad<double>(int64_t, const double*, const double*, double*, const Activation<double>&);

}  // namespace nnc::cpu
