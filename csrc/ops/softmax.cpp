// Front door of softmax, log_softmax, their backwards and cross_entropy
// (loss, gradient, or both in one pass): validates every argument, then runs
// the CPU twin (cpu/softmax*.cpp) or the CUDA kernels (cuda/softmax.cu).
#include <cmath>
#include <cstdint>
#include <string>

#include "core/array.h"
#include "core/check.h"
#include "cpu/softmax.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/softmax.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

struct Axis {
  int64_t outer = 1, size = 1, inner = 1;
};

Axis split_at(const Array& x, int64_t dim, const char* op) {
  int nd = x.ndim();
  int lo = nd == 0 ? -1 : -nd, hi = nd == 0 ? 0 : nd - 1;
  NNC_CHECK(dim >= lo && dim <= hi, op, ": dim must be in [", lo, ", ", hi, "] for a ", nd, "-D input, got ", dim);
  Axis a;
  if (nd == 0) return a;
  int d = int(dim < 0 ? dim + nd : dim);
  for (int i = 0; i < d; ++i) a.outer *= x.shape[i];
  a.size = x.shape[d];
  for (int i = d + 1; i < nd; ++i) a.inner *= x.shape[i];
  return a;
}

void softmax(py::handle x_obj, py::handle out_obj, int64_t dim, bool log, uintptr_t stream) {
  const char* op = log ? "log_softmax" : "softmax";
  Array x = as_array(x_obj, op, "input");
  Array out = as_array(out_obj, op, "out");
  check_float(x, op, "input");
  check_same_dtype(x, out, op, "input", "out");
  check_same_device(x, out, op, "input", "out");
  check_writeable(out, op, "out");
  check_contiguous(x, op, "input");
  check_contiguous(out, op, "out");
  check_shape(out, x.shape, op, "out");
  check_alias_or_disjoint(out, x, op, "out", "input");
  Axis ax = split_at(x, dim, op);
  if (x.numel() == 0) return;
  if (x.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    if (x.dtype == DType::float32)
      nnc::cuda::softmax<float>(x.ptr<const float>(), out.ptr<float>(), ax.outer, ax.size, ax.inner, log,
                                reinterpret_cast<void*>(stream));
    else
      nnc::cuda::softmax<double>(x.ptr<const double>(), out.ptr<double>(), ax.outer, ax.size, ax.inner, log,
                                 reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  if (x.dtype == DType::float32)
    nnc::cpu::softmax<float>(x.ptr<const float>(), out.ptr<float>(), ax.outer, ax.size, ax.inner, log);
  else
    nnc::cpu::softmax<double>(x.ptr<const double>(), out.ptr<double>(), ax.outer, ax.size, ax.inner, log);
}

void softmax_backward(py::handle grad_obj, py::handle y_obj, py::handle out_obj, int64_t dim, bool log,
                      uintptr_t stream) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  Array g = as_array(grad_obj, op, "grad_output");
  Array y = as_array(y_obj, op, "output");
  Array out = as_array(out_obj, op, "out");
  check_float(g, op, "grad_output");
  check_same_dtype(g, y, op, "grad_output", "output");
  check_same_dtype(g, out, op, "grad_output", "out");
  check_same_device(g, y, op, "grad_output", "output");
  check_same_device(g, out, op, "grad_output", "out");
  check_writeable(out, op, "out");
  check_contiguous(g, op, "grad_output");
  check_contiguous(y, op, "output");
  check_contiguous(out, op, "out");
  check_shape(y, g.shape, op, "output");
  check_shape(out, g.shape, op, "out");
  check_alias_or_disjoint(out, g, op, "out", "grad_output");
  check_no_overlap(out, y, op, "out", "output");
  Axis ax = split_at(g, dim, op);
  if (g.numel() == 0) return;
  if (g.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    if (g.dtype == DType::float32)
      nnc::cuda::softmax_backward<float>(g.ptr<const float>(), y.ptr<const float>(), out.ptr<float>(), ax.outer,
                                         ax.size, ax.inner, log, reinterpret_cast<void*>(stream));
    else
      nnc::cuda::softmax_backward<double>(g.ptr<const double>(), y.ptr<const double>(), out.ptr<double>(),
                                          ax.outer, ax.size, ax.inner, log, reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  if (g.dtype == DType::float32)
    nnc::cpu::softmax_backward<float>(g.ptr<const float>(), y.ptr<const float>(), out.ptr<float>(), ax.outer,
                                      ax.size, ax.inner, log);
  else
    nnc::cpu::softmax_backward<double>(g.ptr<const double>(), y.ptr<const double>(), out.ptr<double>(), ax.outer,
                                       ax.size, ax.inner, log);
}

cpu::Reduction parse_reduction(const std::string& r) {
  if (r == "none") return cpu::Reduction::none;
  if (r == "mean") return cpu::Reduction::mean;
  if (r == "sum") return cpu::Reduction::sum;
  throw ValueError(str("cross_entropy: reduction must be 'none', 'mean' or 'sum', got '", r, "'"));
}

// loss: where to write the loss (None: not wanted); grad: where to write
// grad_scale * grad_output * d loss / d input (None: not wanted); grad_output:
// None (ones), a 1-element array, or (reduction 'none') the loss's shape.
void cross_entropy(py::handle input_obj, py::handle target_obj, py::object weight_obj, py::object loss_obj,
                   py::object grad_obj, py::object grad_output_obj, double grad_scale, int64_t ignore_index,
                   const std::string& reduction_name, double label_smoothing, uintptr_t stream) {
  const char* op = "cross_entropy";
  Array x = as_array(input_obj, op, "input");
  Array t = as_array(target_obj, op, "target");
  check_float(x, op, "input");
  check_same_device(x, t, op, "input", "target");
  cpu::Reduction reduction = parse_reduction(reduction_name);
  NNC_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op, ": label_smoothing must be in [0, 1], got ",
            label_smoothing);
  NNC_CHECK(std::isfinite(grad_scale), op, ": grad_scale must be finite, got ", grad_scale);
  NNC_CHECK(x.ndim() >= 1, op, ": input must be (C,) or (N, C, d1, ...), got a 0-D array");
  check_contiguous(x, op, "input");
  check_contiguous(t, op, "target");

  // input is (C,) or (N, C, d1, ...); positions are () or (N, d1, ...)
  int64_t N = 1, C = x.shape[0], S = 1;
  std::vector<int64_t> positions;
  if (x.ndim() >= 2) {
    N = x.shape[0];
    C = x.shape[1];
    positions.push_back(N);
    for (int i = 2; i < x.ndim(); ++i) {
      S *= x.shape[i];
      positions.push_back(x.shape[i]);
    }
  }
  bool prob = t.dtype == DType::float32 || t.dtype == DType::float64;
  if (prob) {
    check_same_dtype(x, t, op, "input", "target");
    NNC_CHECK(ignore_index < 0, op, ": ignore_index is not supported for class-probability targets (as in torch), got ",
              ignore_index);
    NNC_CHECK(t.shape == x.shape, op, ": target of class probabilities must have the shape of input ",
              x.shape_str(), ", got ", t.shape_str(), " (class indices must be int64 of shape ",
              shape_str(positions), ")");
  } else {
    NNC_CHECK_TYPE(t.dtype == DType::int64, op, ": target must be int64 class indices or ", x.dtype_str,
                   " class probabilities, got ", t.dtype_str);
    NNC_CHECK(t.shape == positions, op, ": target of class indices must have shape ", shape_str(positions),
              " for input of shape ", x.shape_str(), ", got ", t.shape_str());
  }

  Array weight, loss, grad, grad_output;
  bool has_weight = !weight_obj.is_none(), has_loss = !loss_obj.is_none(), has_grad = !grad_obj.is_none();
  bool has_grad_output = !grad_output_obj.is_none();
  if (has_weight) {
    weight = as_array(weight_obj, op, "weight");
    check_same_dtype(x, weight, op, "input", "weight");
    check_same_device(x, weight, op, "input", "weight");
    check_contiguous(weight, op, "weight");
    NNC_CHECK(weight.ndim() == 1 && weight.shape[0] == C, op, ": weight must have shape (", C, ",) (one per class), got ",
              weight.shape_str());
  }
  if (has_loss) {
    loss = as_array(loss_obj, op, "loss");
    check_same_dtype(x, loss, op, "input", "loss");
    check_same_device(x, loss, op, "input", "loss");
    check_writeable(loss, op, "loss");
    check_contiguous(loss, op, "loss");
    check_shape(loss, reduction == cpu::Reduction::none ? positions : std::vector<int64_t>{}, op, "loss");
    check_no_overlap(loss, x, op, "loss", "input");
    check_no_overlap(loss, t, op, "loss", "target");
    if (has_weight) check_no_overlap(loss, weight, op, "loss", "weight");
  }
  if (has_grad) {
    grad = as_array(grad_obj, op, "grad_input");
    check_same_dtype(x, grad, op, "input", "grad_input");
    check_same_device(x, grad, op, "input", "grad_input");
    check_writeable(grad, op, "grad_input");
    check_contiguous(grad, op, "grad_input");
    check_shape(grad, x.shape, op, "grad_input");
    check_alias_or_disjoint(grad, x, op, "grad_input", "input");
    check_no_overlap(grad, t, op, "grad_input", "target");
    if (has_weight) check_no_overlap(grad, weight, op, "grad_input", "weight");
    if (has_loss) check_no_overlap(grad, loss, op, "grad_input", "loss");
  }
  int64_t grad_output_stride = 0;
  if (has_grad_output) {
    grad_output = as_array(grad_output_obj, op, "grad_output");
    check_same_dtype(x, grad_output, op, "input", "grad_output");
    check_same_device(x, grad_output, op, "input", "grad_output");
    check_contiguous(grad_output, op, "grad_output");
    bool full = reduction == cpu::Reduction::none && grad_output.shape == positions;
    NNC_CHECK(full || grad_output.numel() == 1, op, ": grad_output must have one element",
              reduction == cpu::Reduction::none ? str(" or the loss's shape ", shape_str(positions)) : std::string(),
              ", got shape ", grad_output.shape_str());
    grad_output_stride = full ? 1 : 0;
    if (has_grad) check_no_overlap(grad, grad_output, op, "grad_input", "grad_output");
    if (has_loss) check_no_overlap(loss, grad_output, op, "loss", "grad_output");
  }

  auto run = [&](auto* type_tag) -> cpu::CeStatus {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    cpu::CeArgs<T> a{x.ptr<const T>(),
                     prob ? nullptr : t.ptr<const int64_t>(),
                     prob ? t.ptr<const T>() : nullptr,
                     has_weight ? weight.ptr<const T>() : nullptr,
                     has_loss ? loss.ptr<T>() : nullptr,
                     has_grad ? grad.ptr<T>() : nullptr,
                     has_grad_output ? grad_output.ptr<const T>() : nullptr,
                     grad_output_stride,
                     grad_scale,
                     N,
                     C,
                     S,
                     ignore_index,
                     reduction,
                     label_smoothing};
    if (x.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
      return nnc::cuda::cross_entropy<T>(a, reinterpret_cast<void*>(stream));
#endif
    }
    py::gil_scoped_release no_gil;
    return cpu::cross_entropy<T>(a);
  };
  (void)stream;
  cpu::CeStatus status = x.dtype == DType::float32 ? run(static_cast<float*>(nullptr)) : run(static_cast<double*>(nullptr));
  NNC_CHECK(status.bad_position < 0, op, ": target ", status.bad_target, " (at flat position ", status.bad_position,
            ") is out of bounds: class indices must be in [0, ", C, ") or equal ignore_index (", ignore_index, ")");
  NNC_CHECK(!status.nonfinite_target, op, ": target probabilities must be finite, found NaN or inf");
}

}  // namespace

void bind_softmax(py::module_& m) {
  m.def("softmax", &softmax, py::arg("input"), py::arg("out"), py::arg("dim"), py::arg("log"), py::arg("stream") = 0,
        "out = softmax(input) (log=False) or log_softmax(input) along dim; out may be input.");
  m.def("softmax_backward", &softmax_backward, py::arg("grad_output"), py::arg("output"), py::arg("out"),
        py::arg("dim"), py::arg("log"), py::arg("stream") = 0,
        "Gradient of softmax (log=False) or log_softmax along dim from its output.");
  m.def("cross_entropy", &cross_entropy, py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("loss"),
        py::arg("grad_input"), py::arg("grad_output"), py::arg("grad_scale"), py::arg("ignore_index"),
        py::arg("reduction"), py::arg("label_smoothing"), py::arg("stream") = 0,
        "Cross-entropy of logits (torch semantics): writes the loss and/or grad_scale * grad_output * "
        "d loss / d input in one pass over input.");
}

}  // namespace nnc::ops
