// How a front door hands one call to a twin: on_cuda(T{}, stream) for a CUDA
// array, else on_cpu(T{}) without the GIL, with T the array's float type.
// Without a CUDA build on_cuda is never instantiated, so the CUDA declarations
// need no definitions.
#pragma once
#include <cstdint>

#include <pybind11/pybind11.h>

#include "core/array.h"

namespace nnc::ops {

template <typename OnCuda, typename OnCpu>
void run_twin(const Array& like, [[maybe_unused]] uintptr_t stream, OnCuda&& on_cuda, OnCpu&& on_cpu) {
  auto with_type = [&](auto&& fn) {
    if (like.dtype == DType::float32) fn(float(0));
    else fn(double(0));
  };
#ifdef NNCORE_HAVE_CUDA
  if (like.device == Device::cuda)
    return with_type([&](auto zero) { on_cuda(zero, reinterpret_cast<void*>(stream)); });
#else
  (void)on_cuda;
#endif
  pybind11::gil_scoped_release no_gil;
  with_type(on_cpu);
}

}  // namespace nnc::ops
