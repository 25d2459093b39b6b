// Front door of batch normalisation (float32, input (N, C, *) contiguous):
// validates every argument, then runs the CPU twin (cpu/batch_norm*.cpp) or the
// CUDA kernels (cuda/batch_norm.cu) on the array's device.
#include <cmath>
#include <cstdint>

#include "core/array.h"
#include "core/check.h"
#include "cpu/batch_norm.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/batch_norm.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

// (N, C, L) of a contiguous float32 (N, C, *) input.
cpu::BnShape input_shape(const Array& x, const char* op, const char* arg) {
  check_dtype(x, DType::float32, op, arg);
  NNC_CHECK(x.ndim() >= 2, op, ": ", arg, " must be (N, C, *), got ", x.ndim(), "-D of shape ", x.shape_str());
  check_contiguous(x, op, arg);
  cpu::BnShape s{x.shape[0], x.shape[1], 1};
  for (int d = 2; d < x.ndim(); ++d) s.L *= x.shape[d];
  return s;
}

// A (C,) float32 contiguous array on x's device.
Array per_channel(py::handle obj, const Array& x, int64_t C, const char* op, const char* arg, bool written) {
  Array a = as_array(obj, op, arg);
  check_dtype(a, DType::float32, op, arg);
  check_same_device(x, a, op, "input", arg);
  check_shape(a, {C}, op, arg);
  check_contiguous(a, op, arg);
  if (written) check_writeable(a, op, arg);
  return a;
}

template <typename T>
T* data_or_null(const py::object& obj, const Array& a) {
  return obj.is_none() ? nullptr : a.ptr<T>();
}

void batch_norm_forward(py::handle x_obj, py::handle out_obj, py::object weight_obj, py::object bias_obj,
                        py::object running_mean_obj, py::object running_var_obj, py::handle save_mean_obj,
                        py::handle save_invstd_obj, bool training, double momentum, double eps, uintptr_t stream) {
  const char* op = "batch_norm";
  Array x = as_array(x_obj, op, "input");
  cpu::BnShape s = input_shape(x, op, "input");
  Array out = as_array(out_obj, op, "out");
  check_dtype(out, DType::float32, op, "out");
  check_same_device(x, out, op, "input", "out");
  check_shape(out, x.shape, op, "out");
  check_contiguous(out, op, "out");
  check_writeable(out, op, "out");
  check_no_overlap(out, x, op, "out", "input");
  NNC_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a finite number > 0, got ", eps);
  NNC_CHECK(std::isfinite(momentum), op, ": momentum must be finite, got ", momentum);
  NNC_CHECK(running_mean_obj.is_none() == running_var_obj.is_none(), op,
            ": running_mean and running_var must both be arrays or both be None");
  NNC_CHECK(training || !running_mean_obj.is_none(), op,
            ": running_mean and running_var are needed when not training");
  if (training)
    NNC_CHECK(s.N * s.L > 1, op, ": expected more than 1 value per channel when training, got input of shape ",
              x.shape_str());
  Array w, b, rm, rv;
  if (!weight_obj.is_none()) w = per_channel(weight_obj, x, s.C, op, "weight", false);
  if (!bias_obj.is_none()) b = per_channel(bias_obj, x, s.C, op, "bias", false);
  if (!running_mean_obj.is_none()) {
    rm = per_channel(running_mean_obj, x, s.C, op, "running_mean", training);
    rv = per_channel(running_var_obj, x, s.C, op, "running_var", training);
    if (training) check_no_overlap(rm, rv, op, "running_mean", "running_var");
  }
  Array sm = per_channel(save_mean_obj, x, s.C, op, "save_mean", true);
  Array si = per_channel(save_invstd_obj, x, s.C, op, "save_invstd", true);
  check_no_overlap(sm, si, op, "save_mean", "save_invstd");
  for (const Array* a : {&x, &w, &b, &rm, &rv}) {
    if (!a->data) continue;
    check_no_overlap(out, *a, op, "out", "an input");
    check_no_overlap(sm, *a, op, "save_mean", "an input");
    check_no_overlap(si, *a, op, "save_invstd", "an input");
  }
  const float* wp = data_or_null<const float>(weight_obj, w);
  const float* bp = data_or_null<const float>(bias_obj, b);
  float* rmp = data_or_null<float>(running_mean_obj, rm);
  float* rvp = data_or_null<float>(running_var_obj, rv);
  if (x.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::batch_norm_forward(x.ptr<const float>(), out.ptr<float>(), s, wp, bp, rmp, rvp, training, momentum, eps,
                                  sm.ptr<float>(), si.ptr<float>(), reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  cpu::batch_norm_forward(x.ptr<const float>(), out.ptr<float>(), s, wp, bp, rmp, rvp, training, momentum, eps,
                          sm.ptr<float>(), si.ptr<float>());
}

void batch_norm_backward(py::handle g_obj, py::handle x_obj, py::object weight_obj, py::handle save_mean_obj,
                         py::handle save_invstd_obj, bool training, py::object grad_input_obj,
                         py::handle grad_weight_obj, py::handle grad_bias_obj, uintptr_t stream) {
  const char* op = "batch_norm_backward";
  Array x = as_array(x_obj, op, "input");
  cpu::BnShape s = input_shape(x, op, "input");
  Array g = as_array(g_obj, op, "grad_output");
  check_dtype(g, DType::float32, op, "grad_output");
  check_same_device(x, g, op, "input", "grad_output");
  check_shape(g, x.shape, op, "grad_output");
  check_contiguous(g, op, "grad_output");
  Array w;
  if (!weight_obj.is_none()) w = per_channel(weight_obj, x, s.C, op, "weight", false);
  Array sm = per_channel(save_mean_obj, x, s.C, op, "save_mean", false);
  Array si = per_channel(save_invstd_obj, x, s.C, op, "save_invstd", false);
  Array gw = per_channel(grad_weight_obj, x, s.C, op, "grad_weight", true);
  Array gb = per_channel(grad_bias_obj, x, s.C, op, "grad_bias", true);
  check_no_overlap(gw, gb, op, "grad_weight", "grad_bias");
  Array gi;
  if (!grad_input_obj.is_none()) {
    gi = as_array(grad_input_obj, op, "grad_input");
    check_dtype(gi, DType::float32, op, "grad_input");
    check_same_device(x, gi, op, "input", "grad_input");
    check_shape(gi, x.shape, op, "grad_input");
    check_contiguous(gi, op, "grad_input");
    check_writeable(gi, op, "grad_input");
    check_no_overlap(gi, gw, op, "grad_input", "grad_weight");
    check_no_overlap(gi, gb, op, "grad_input", "grad_bias");
  }
  for (const Array* a : {&g, &x, &w, &sm, &si}) {
    if (!a->data) continue;
    if (gi.data) check_no_overlap(gi, *a, op, "grad_input", "an input");
    check_no_overlap(gw, *a, op, "grad_weight", "an input");
    check_no_overlap(gb, *a, op, "grad_bias", "an input");
  }
  const float* wp = data_or_null<const float>(weight_obj, w);
  float* gip = data_or_null<float>(grad_input_obj, gi);
  if (x.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::batch_norm_backward(g.ptr<const float>(), x.ptr<const float>(), s, wp, sm.ptr<const float>(),
                                   si.ptr<const float>(), training, gip, gw.ptr<float>(), gb.ptr<float>(),
                                   reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  cpu::batch_norm_backward(g.ptr<const float>(), x.ptr<const float>(), s, wp, sm.ptr<const float>(),
                           si.ptr<const float>(), training, gip, gw.ptr<float>(), gb.ptr<float>());
}

}  // namespace

void bind_batch_norm(py::module_& m) {
  m.def("batch_norm_forward", &batch_norm_forward, py::arg("input"), py::arg("out"), py::arg("weight"),
        py::arg("bias"), py::arg("running_mean"), py::arg("running_var"), py::arg("save_mean"),
        py::arg("save_invstd"), py::arg("training"), py::arg("momentum"), py::arg("eps"), py::arg("stream") = 0,
        "out = (input - mean) / sqrt(var + eps) * weight + bias per channel of (N, C, *) float32; batch statistics "
        "when training (running ones updated in place), running ones otherwise; writes save_mean, save_invstd.");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("grad_output"), py::arg("input"), py::arg("weight"),
        py::arg("save_mean"), py::arg("save_invstd"), py::arg("training"), py::arg("grad_input"),
        py::arg("grad_weight"), py::arg("grad_bias"), py::arg("stream") = 0,
        "Gradients of batch_norm_forward: grad_weight, grad_bias and (unless None) grad_input.");
}

}  // namespace nnc::ops
