// Front door of conv2d / conv_transpose2d, forward and backward: validates every
// argument, then runs the CPU twin (cpu/conv2d*.cpp) or the CUDA kernel
// (cuda/conv2d.cu). A transposed convolution is run as conv2d's input gradient
// (forward) and as conv2d forward + weight gradient (backward).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "core/array.h"
#include "core/check.h"
#include "core/conv_math.h"
#include "cpu/conv2d.h"
#include "ops/activation_arg.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/conv2d.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

using Pair = std::array<int64_t, 2>;
constexpr int64_t kMaxOption = int64_t(1) << 31;  // keeps every index product inside int64

struct Options {
  Pair stride, padding, dilation, output_padding;
  int64_t groups;
  bool transposed;
};

std::string pair_str(const Pair& p) { return str("(", p[0], ", ", p[1], ")"); }

void check_options(const char* op, const Options& o) {
  for (int i = 0; i < 2; ++i) {
    NNC_CHECK(o.stride[i] >= 1 && o.stride[i] < kMaxOption, op, ": stride must be >= 1 and < 2**31, got ",
              pair_str(o.stride));
    NNC_CHECK(o.dilation[i] >= 1 && o.dilation[i] < kMaxOption, op, ": dilation must be >= 1 and < 2**31, got ",
              pair_str(o.dilation));
    NNC_CHECK(o.padding[i] >= 0 && o.padding[i] < kMaxOption, op, ": padding must be >= 0 and < 2**31, got ",
              pair_str(o.padding));
    if (o.transposed) {
      NNC_CHECK(o.output_padding[i] >= 0 && o.output_padding[i] < kMaxOption, op,
                ": output_padding must be >= 0 and < 2**31, got ", pair_str(o.output_padding));
      NNC_CHECK(o.output_padding[i] < o.stride[i] || o.output_padding[i] < o.dilation[i], op,
                ": output_padding must be smaller than either stride or dilation, got output_padding ",
                pair_str(o.output_padding), " with stride ", pair_str(o.stride), " and dilation ",
                pair_str(o.dilation));
    }
  }
  NNC_CHECK(o.groups >= 1 && o.groups < kMaxOption, op, ": groups must be >= 1, got ", o.groups);
}

// x and weight: float, same dtype and device, 4-D, contiguous; channels agree with groups.
// Returns the conv2d that relates them: for conv2d x is its input; for
// conv_transpose2d x is its output gradient's shape, i.e. conv2d's output.
cpu::ConvShape conv_shape(const char* op, const Array& x, const Array& w, const Options& o) {
  check_float(x, op, "input");
  check_same_dtype(x, w, op, "input", "weight");
  check_same_device(x, w, op, "input", "weight");
  check_ndim(x, 4, op, "input", "(N, C, H, W)");
  check_ndim(w, 4, op, "weight",
             o.transposed ? "(in_channels, out_channels/groups, kH, kW)" : "(out_channels, in_channels/groups, kH, kW)");
  check_contiguous(x, op, "input");
  check_contiguous(w, op, "weight");
  check_options(op, o);
  const int64_t g = o.groups, C_in = x.shape[1], R = w.shape[2], S = w.shape[3];
  NNC_CHECK(R >= 1 && S >= 1, op, ": kernel size must be >= 1, got weight of shape ", w.shape_str());
  NNC_CHECK(w.shape[1] < kMaxOption && w.shape[0] < kMaxOption, op,
            ": weight channel counts must be < 2**31, got weight of shape ", w.shape_str());
  NNC_CHECK(C_in % g == 0, op, ": in_channels (", C_in, ") must be divisible by groups (", g, ")");
  cpu::ConvShape s{};
  s.R = R, s.S = S, s.groups = g;
  s.stride_h = o.stride[0], s.stride_w = o.stride[1], s.pad_h = o.padding[0], s.pad_w = o.padding[1];
  s.dil_h = o.dilation[0], s.dil_w = o.dilation[1];
  s.N = x.shape[0];
  if (!o.transposed) {
    NNC_CHECK(w.shape[0] % g == 0, op, ": out_channels (weight.shape[0] = ", w.shape[0],
              ") must be divisible by groups (", g, ")");
    NNC_CHECK(w.shape[1] * g == C_in, op, ": weight of shape ", w.shape_str(), " expects ", w.shape[1] * g,
              " input channels (weight.shape[1] * groups), got input with ", C_in, " channels");
    for (int i = 0; i < 2; ++i) {
      int64_t in = x.shape[2 + i], k = w.shape[2 + i];
      NNC_CHECK(conv_fits(in, k, o.padding[i], o.dilation[i]), op, ": kernel (", R, ", ", S, ") with dilation ",
                pair_str(o.dilation), " spans (", (long double)o.dilation[0] * (R - 1) + 1, ", ",
                (long double)o.dilation[1] * (S - 1) + 1, ") pixels, larger than the padded input (",
                x.shape[2] + 2 * o.padding[0], ", ", x.shape[3] + 2 * o.padding[1], ")");
    }
    s.C = C_in, s.H = x.shape[2], s.W = x.shape[3], s.K = w.shape[0];
    s.P = conv_out_size(s.H, R, s.stride_h, s.pad_h, s.dil_h);
    s.Q = conv_out_size(s.W, S, s.stride_w, s.pad_w, s.dil_w);
  } else {
    NNC_CHECK(w.shape[0] == C_in, op, ": weight of shape ", w.shape_str(), " expects ", w.shape[0],
              " input channels (weight.shape[0]), got input with ", C_in, " channels");
    s.K = C_in, s.P = x.shape[2], s.Q = x.shape[3], s.C = w.shape[1] * g;
    // sizes of zero-size arrays may be anything: keep (in - 1) stride + dil (k - 1) inside int64
    for (int64_t v : {s.P, s.Q, R, S, s.C})
      NNC_CHECK(v < kMaxOption, op, ": input spatial sizes, kernel size and out_channels must be < 2**31 for a "
                "transposed convolution, got input ", x.shape_str(), " and weight ", w.shape_str());
    s.H = conv_transpose_out_size(s.P, R, s.stride_h, s.pad_h, s.dil_h, o.output_padding[0]);
    s.W = conv_transpose_out_size(s.Q, S, s.stride_w, s.pad_w, s.dil_w, o.output_padding[1]);
    NNC_CHECK(s.H >= 1 && s.W >= 1, op, ": output size (", s.H, ", ", s.W, ") must be >= 1; the padding ",
              pair_str(o.padding), " trims more than the input (", s.P, ", ", s.Q, ") and kernel (", R, ", ", S,
              ") produce");
  }
  return s;
}

std::vector<int64_t> output_shape(const cpu::ConvShape& s, bool transposed) {
  return transposed ? std::vector<int64_t>{s.N, s.C, s.H, s.W} : std::vector<int64_t>{s.N, s.K, s.P, s.Q};
}

Options make_options(Pair stride, Pair padding, Pair dilation, Pair output_padding, int64_t groups, bool transposed) {
  return Options{stride, padding, dilation, output_padding, groups, transposed};
}

// An optional output: absent (None) or a writeable contiguous array of the given shape.
bool optional_output(const char* op, py::handle obj, const char* arg, const Array& like,
                     const std::vector<int64_t>& shape, Array* out) {
  if (obj.is_none()) return false;
  *out = as_array(obj, op, arg);
  check_same_dtype(like, *out, op, "input", arg);
  check_same_device(like, *out, op, "input", arg);
  check_shape(*out, shape, op, arg);
  check_contiguous(*out, op, arg);
  check_writeable(*out, op, arg);
  return true;
}

void check_cpu(const char* op, const Array& x) {
#ifndef NNCORE_HAVE_CUDA
  NNC_CHECK(x.device == Device::cpu, op, ": input is a CUDA array but nncore was built without CUDA");
#else
  (void)op, (void)x;
#endif
}

std::vector<int64_t> conv2d_output_shape(py::handle x_obj, py::handle w_obj, Pair stride, Pair padding,
                                         Pair dilation, int64_t groups, Pair output_padding, bool transposed) {
  const char* op = transposed ? "conv_transpose2d" : "conv2d";
  Array x = as_array(x_obj, op, "input"), w = as_array(w_obj, op, "weight");
  return output_shape(conv_shape(op, x, w, make_options(stride, padding, dilation, output_padding, groups, transposed)),
                      transposed);
}

// y = act(conv2d(x, w) + bias), or y = conv_transpose2d(x, w) + bias (no activation).
void forward(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle out_obj, Pair stride, Pair padding,
             Pair dilation, int64_t groups, Pair output_padding, bool transposed, uintptr_t stream, int activation,
             double act_alpha, double act_beta) {
  const char* op = transposed ? "conv_transpose2d" : "conv2d";
  Array x = as_array(x_obj, op, "input"), w = as_array(w_obj, op, "weight"), out = as_array(out_obj, op, "out");
  cpu::ConvShape s = conv_shape(op, x, w, make_options(stride, padding, dilation, output_padding, groups, transposed));
  check_cpu(op, x);
  activation_arg<double>(op, activation, act_alpha, act_beta);
  NNC_CHECK(!transposed || activation == act::kNone, op, ": takes no activation epilogue, got activation ", activation);
  int64_t out_channels = transposed ? s.C : s.K;
  Array bias;
  bool has_bias = !bias_obj.is_none();
  if (has_bias) {
    bias = as_array(bias_obj, op, "bias");
    check_same_dtype(x, bias, op, "input", "bias");
    check_same_device(x, bias, op, "input", "bias");
    NNC_CHECK(bias.ndim() == 1 && bias.shape[0] == out_channels, op, ": bias must have shape (", out_channels,
              ",) (one per output channel), got ", bias.shape_str());
    check_contiguous(bias, op, "bias");
  }
  check_same_dtype(x, out, op, "input", "out");
  check_same_device(x, out, op, "input", "out");
  check_shape(out, output_shape(s, transposed), op, "out");
  check_contiguous(out, op, "out");
  check_writeable(out, op, "out");
  check_no_overlap(out, x, op, "out", "input");
  check_no_overlap(out, w, op, "out", "weight");
  if (has_bias) check_no_overlap(out, bias, op, "out", "bias");
  if (out.numel() == 0) return;

  auto run = [&](auto* y) {
    using T = std::remove_pointer_t<decltype(y)>;
    const T* b = has_bias ? bias.ptr<const T>() : nullptr;
    const cpu::Activation<T> act = activation_arg<T>(op, activation, act_alpha, act_beta);
#ifdef NNCORE_HAVE_CUDA
    if (x.device == Device::cuda) {
      void* st = reinterpret_cast<void*>(stream);
      if (!transposed) return nnc::cuda::conv2d_forward<T>(s, x.ptr<const T>(), w.ptr<const T>(), b, y, act, st);
      nnc::cuda::conv2d_backward_input<T>(s, x.ptr<const T>(), w.ptr<const T>(), y, st);
      if (b) nnc::cuda::add_channel_bias<T>(s.N, s.C, s.H * s.W, b, y, st);
      return;
    }
#endif
    (void)stream;
    py::gil_scoped_release no_gil;
    if (!transposed) return cpu::conv2d_forward<T>(s, x.ptr<const T>(), w.ptr<const T>(), b, y, act);
    cpu::conv2d_backward_input<T>(s, x.ptr<const T>(), w.ptr<const T>(), y);
    if (b) cpu::add_channel_bias<T>(s.N, s.C, s.H * s.W, b, y);
  };
  if (x.dtype == DType::float32) run(out.ptr<float>());
  else run(out.ptr<double>());
}

// Gradients of conv2d / conv_transpose2d with respect to input, weight and bias;
// each output is None (not wanted) or an array to overwrite.
void backward(py::handle gy_obj, py::handle x_obj, py::handle w_obj, py::handle gx_obj, py::handle gw_obj,
              py::handle gb_obj, Pair stride, Pair padding, Pair dilation, int64_t groups, Pair output_padding,
              bool transposed, uintptr_t stream) {
  const char* op = transposed ? "conv_transpose2d_backward" : "conv2d_backward";
  Array gy = as_array(gy_obj, op, "grad_output"), x = as_array(x_obj, op, "input"),
        w = as_array(w_obj, op, "weight");
  cpu::ConvShape s = conv_shape(op, x, w, make_options(stride, padding, dilation, output_padding, groups, transposed));
  check_cpu(op, x);
  check_same_dtype(x, gy, op, "input", "grad_output");
  check_same_device(x, gy, op, "input", "grad_output");
  check_shape(gy, output_shape(s, transposed), op, "grad_output");
  check_contiguous(gy, op, "grad_output");
  Array gx, gw, gb;
  bool want_gx = optional_output(op, gx_obj, "grad_input", x, x.shape, &gx);
  bool want_gw = optional_output(op, gw_obj, "grad_weight", x, w.shape, &gw);
  bool want_gb = optional_output(op, gb_obj, "grad_bias", x, {transposed ? s.C : s.K}, &gb);
  std::vector<std::pair<const Array*, const char*>> ins{{&gy, "grad_output"}, {&x, "input"}, {&w, "weight"}};
  std::vector<std::pair<const Array*, const char*>> outs;
  if (want_gx) outs.push_back({&gx, "grad_input"});
  if (want_gw) outs.push_back({&gw, "grad_weight"});
  if (want_gb) outs.push_back({&gb, "grad_bias"});
  for (size_t i = 0; i < outs.size(); ++i) {
    for (auto& in : ins) check_no_overlap(*outs[i].first, *in.first, op, outs[i].second, in.second);
    for (size_t j = 0; j < i; ++j) check_no_overlap(*outs[i].first, *outs[j].first, op, outs[i].second, outs[j].second);
  }

  auto run = [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    const T *pgy = gy.ptr<const T>(), *px = x.ptr<const T>(), *pw = w.ptr<const T>();
    // In conv2d terms: the conv input is x (conv2d) or grad_output (transposed); the conv output is the other.
    const T* conv_in = transposed ? pgy : px;
    const T* conv_out_grad = transposed ? px : pgy;
#ifdef NNCORE_HAVE_CUDA
    if (x.device == Device::cuda) {
      void* st = reinterpret_cast<void*>(stream);
      if (want_gx && gx.numel()) {
        if (!transposed) nnc::cuda::conv2d_backward_input<T>(s, pgy, pw, gx.ptr<T>(), st);
        else nnc::cuda::conv2d_forward<T>(s, pgy, pw, nullptr, gx.ptr<T>(), {}, st);
      }
      if (want_gw && gw.numel()) nnc::cuda::conv2d_backward_weight<T>(s, conv_out_grad, conv_in, gw.ptr<T>(), st);
      if (want_gb && gb.numel()) {
        if (!transposed) nnc::cuda::channel_sum<T>(s.N, s.K, s.P * s.Q, pgy, gb.ptr<T>(), st);
        else nnc::cuda::channel_sum<T>(s.N, s.C, s.H * s.W, pgy, gb.ptr<T>(), st);
      }
      return;
    }
#endif
    (void)stream;
    py::gil_scoped_release no_gil;
    if (want_gx && gx.numel()) {
      if (!transposed) cpu::conv2d_backward_input<T>(s, pgy, pw, gx.ptr<T>());
      else cpu::conv2d_forward<T>(s, pgy, pw, nullptr, gx.ptr<T>());
    }
    if (want_gw && gw.numel()) cpu::conv2d_backward_weight<T>(s, conv_out_grad, conv_in, gw.ptr<T>());
    if (want_gb && gb.numel()) {
      if (!transposed) cpu::channel_sum<T>(s.N, s.K, s.P * s.Q, pgy, gb.ptr<T>());
      else cpu::channel_sum<T>(s.N, s.C, s.H * s.W, pgy, gb.ptr<T>());
    }
  };
  if (x.dtype == DType::float32) run(static_cast<float*>(nullptr));
  else run(static_cast<double*>(nullptr));
}

}  // namespace

void bind_conv2d(py::module_& m) {
  m.def("conv2d_output_shape", &conv2d_output_shape, py::arg("input"), py::arg("weight"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("output_padding"), py::arg("transposed"),
        "Validates input and weight of conv2d / conv_transpose2d and returns the output shape.");
  m.def("conv2d_forward", &forward, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("out"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("output_padding"),
        py::arg("transposed"), py::arg("stream") = 0, py::arg("activation") = 0, py::arg("act_alpha") = 0.0,
        py::arg("act_beta") = 0.0,
        "out = act(conv2d(input, weight) + bias) (activation: a code of nncore.ops.activation_kinds, applied "
        "to each output tile in cache), or conv_transpose2d + bias when transposed; NCHW, float32 or float64.");
  m.def("conv2d_backward", &backward, py::arg("grad_output"), py::arg("input"), py::arg("weight"),
        py::arg("grad_input"), py::arg("grad_weight"), py::arg("grad_bias"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("output_padding"), py::arg("transposed"),
        py::arg("stream") = 0,
        "Gradients of conv2d / conv_transpose2d into the given arrays (None skips one).");
}

}  // namespace nnc::ops
