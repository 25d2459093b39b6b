// Front door of epilogue_grad, the backward of the conv2d / gemm activation
// epilogue from its output: validates every argument, then runs the CPU twin
// (cpu/epilogue*.cpp) or the CUDA kernel (cuda/epilogue.cu).
#include <cstdint>

#include "core/array.h"
#include "core/check.h"
#include "cpu/epilogue.h"
#include "ops/activation_arg.h"
#include "ops/ops.h"
#include "ops/run_twin.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/epilogue.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

// out = grad_output * act'(output), output = act(pre-activation); out may be grad_output itself.
void epilogue_grad(py::handle g_obj, py::handle y_obj, py::handle out_obj, int activation, double act_alpha,
                   double act_beta, uintptr_t stream) {
  const char* op = "epilogue_grad";
  Array g = as_array(g_obj, op, "grad_output"), y = as_array(y_obj, op, "output"), out = as_array(out_obj, op, "out");
  activation_arg<double>(op, activation, act_alpha, act_beta);
  NNC_CHECK(!act::backward_needs_input(activation), op, ": activation ", activation,
            " (softplus, softsign) needs its input for the backward; only output-only kinds are fused");
  check_float(g, op, "grad_output");
  check_contiguous(g, op, "grad_output");
  check_like(y, g, op, "output", "grad_output");
  check_like(out, g, op, "out", "grad_output");
  check_writeable(out, op, "out");
  check_alias_or_disjoint(out, g, op, "out", "grad_output");
  check_no_overlap(out, y, op, "out", "output");
#ifndef NNCORE_HAVE_CUDA
  NNC_CHECK(g.device == Device::cpu, op, ": grad_output is a CUDA array but nncore was built without CUDA");
#endif
  const int64_t n = g.numel();
  if (n == 0) return;
  run_twin(
      g, stream,
      [&]([[maybe_unused]] auto zero, [[maybe_unused]] void* st) {
#ifdef NNCORE_HAVE_CUDA
        using T = decltype(zero);
        nnc::cuda::epilogue_grad<T>(n, g.ptr<const T>(), y.ptr<const T>(), out.ptr<T>(),
                                    activation_arg<T>(op, activation, act_alpha, act_beta), st);
#endif
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::epilogue_grad<T>(n, g.ptr<const T>(), y.ptr<const T>(), out.ptr<T>(),
                              activation_arg<T>(op, activation, act_alpha, act_beta));
      });
}

}  // namespace

void bind_epilogue(py::module_& m) {
  m.def("epilogue_grad", &epilogue_grad, py::arg("grad_output"), py::arg("output"), py::arg("out"),
        py::arg("activation"), py::arg("act_alpha") = 0.0, py::arg("act_beta") = 0.0, py::arg("stream") = 0,
        "out = grad_output * act'(output) for an output-only activation kind (the fused conv2d / gemm "
        "epilogue's backward); out may be grad_output.");
}

}  // namespace nnc::ops
