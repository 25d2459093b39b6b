// Front door of the element-wise activations and their backwards: validates
// every argument, then runs the CPU twin (cpu/activation*.cpp) or the CUDA
// kernel (cuda/activation.cu). float32, any contiguous shape.
#include <cmath>
#include <cstdint>

#include "core/activation_math.h"
#include "core/array.h"
#include "core/check.h"
#include "cpu/activation.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/activation.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

void check_kind(int64_t kind, double alpha, double beta, const char* op) {
  NNC_CHECK(kind >= 0 && kind < act::kCount, op, ": kind must be an activation code in [0, ", int(act::kCount),
            ") (nncore.ops.activation_kinds), got ", kind);
  NNC_CHECK(std::isfinite(alpha) && std::isfinite(beta), op, ": alpha and beta must be finite, got alpha=", alpha,
            ", beta=", beta);
  NNC_CHECK(kind != act::kSoftplus || alpha != 0.0, op, ": alpha (softplus's beta) must be non-zero, got 0");
}

void activation(py::handle x_obj, py::handle out_obj, int64_t kind, double alpha, double beta, uintptr_t stream) {
  const char* op = "activation";
  Array x = as_array(x_obj, op, "input");
  Array out = as_array(out_obj, op, "out");
  check_dtype(x, DType::float32, op, "input");
  check_contiguous(x, op, "input");
  check_like(out, x, op, "out", "input");
  check_writeable(out, op, "out");
  check_alias_or_disjoint(out, x, op, "out", "input");
  check_kind(kind, alpha, beta, op);
  const int64_t n = x.numel();
  if (n == 0) return;
  if (x.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::activation(x.ptr<const float>(), out.ptr<float>(), n, int(kind), float(alpha), float(beta),
                          reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  nnc::cpu::activation(x.ptr<const float>(), out.ptr<float>(), n, int(kind), float(alpha), float(beta));
}

// input is read by the kinds whose backward needs x (softplus, softsign), output
// by the others; the one the kind does not read may be None.
void activation_backward(py::handle grad_obj, py::object x_obj, py::object y_obj, py::handle out_obj, int64_t kind,
                         double alpha, double beta, uintptr_t stream) {
  const char* op = "activation_backward";
  Array g = as_array(grad_obj, op, "grad_output");
  Array out = as_array(out_obj, op, "out");
  check_dtype(g, DType::float32, op, "grad_output");
  check_contiguous(g, op, "grad_output");
  check_like(out, g, op, "out", "grad_output");
  check_writeable(out, op, "out");
  check_alias_or_disjoint(out, g, op, "out", "grad_output");
  check_kind(kind, alpha, beta, op);
  const bool needs_x = act::backward_needs_input(int(kind));
  py::object& saved_obj = needs_x ? x_obj : y_obj;
  const char* saved_name = needs_x ? "input" : "output";
  NNC_CHECK_TYPE(!saved_obj.is_none(), op, ": this activation's backward reads its ", saved_name, ", got None");
  Array saved = as_array(saved_obj, op, saved_name);
  check_like(saved, g, op, saved_name, "grad_output");
  check_alias_or_disjoint(out, saved, op, "out", saved_name);
  const int64_t n = g.numel();
  if (n == 0) return;
  const float* x = needs_x ? saved.ptr<const float>() : nullptr;
  const float* y = needs_x ? nullptr : saved.ptr<const float>();
  if (g.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::activation_backward(g.ptr<const float>(), x, y, out.ptr<float>(), n, int(kind), float(alpha),
                                   float(beta), reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  nnc::cpu::activation_backward(g.ptr<const float>(), x, y, out.ptr<float>(), n, int(kind), float(alpha),
                                float(beta));
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("activation", &activation, py::arg("input"), py::arg("out"), py::arg("kind"), py::arg("alpha"),
        py::arg("beta"), py::arg("stream") = 0,
        "out = f(input) element-wise for the activation code kind (core/activation_math.h); out may be input.");
  m.def("activation_backward", &activation_backward, py::arg("grad_output"), py::arg("input"), py::arg("output"),
        py::arg("out"), py::arg("kind"), py::arg("alpha"), py::arg("beta"), py::arg("stream") = 0,
        "out = grad_output * f'(.) from the output (or, for softplus and softsign, the input); out may be "
        "grad_output.");
}

}  // namespace nnc::ops
