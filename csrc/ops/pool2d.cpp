// Front door of 2-D pooling (max, average, Lp, adaptive average; forward and
// backward): validates every argument as PyTorch does, then runs the CPU twin
// (cpu/pool2d*.cpp) or the CUDA kernel (cuda/pool2d.cu).
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include <pybind11/stl.h>

#include "core/array.h"
#include "core/check.h"
#include "core/pool_math.h"
#include "cpu/pool2d.h"
#include "cuda/pool2d.h"
#include "ops/ops.h"
#include "ops/run_twin.h"

namespace py = pybind11;

namespace nnc::ops {
namespace {

using Pair = std::array<int64_t, 2>;
using cpu::AvgDivisor;
using cpu::Pool2dShape;

constexpr int64_t kMaxParam = int64_t(1) << 30;

std::string pair_str(Pair p) { return str("(", p[0], ", ", p[1], ")"); }

// A pooling input or gradient: 3-D (C, H, W) or 4-D (N, C, H, W), C, H, W > 0.
void check_input_shape(const char* op, const char* arg, const std::vector<int64_t>& shape) {
  NNC_CHECK(shape.size() == 3 || shape.size() == 4, op, ": ", arg,
            " must be 3-D (C, H, W) or 4-D (N, C, H, W), got ", shape.size(), "-D of shape ", shape_str(shape));
  size_t d = shape.size();
  NNC_CHECK(shape[d - 3] > 0 && shape[d - 2] > 0 && shape[d - 1] > 0, op, ": ", arg,
            " must have non-zero C, H and W (only the batch N may be 0), got shape ", shape_str(shape));
}

struct Geometry {
  Pool2dShape sh;
  std::vector<int64_t> out_shape;  // the input's rank, spatial sizes replaced
};

Geometry window_geometry(const char* op, const std::vector<int64_t>& in_shape, Pair kernel, Pair stride,
                         Pair padding, Pair dilation, bool ceil_mode) {
  check_input_shape(op, "input", in_shape);
  auto positive = [&](const char* name, Pair v) {
    NNC_CHECK(v[0] > 0 && v[1] > 0, op, ": ", name, " must be > 0, got ", pair_str(v));
    NNC_CHECK(v[0] <= kMaxParam && v[1] <= kMaxParam, op, ": ", name, " must be <= ", kMaxParam, ", got ",
              pair_str(v));
  };
  positive("kernel_size", kernel);
  positive("stride", stride);
  positive("dilation", dilation);
  NNC_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be >= 0, got ", pair_str(padding));
  NNC_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
            ": padding must be at most half the kernel size, got padding=", pair_str(padding),
            " for kernel_size=", pair_str(kernel));
  size_t d = in_shape.size();
  Geometry g;
  Pool2dShape& sh = g.sh;
  sh.H = in_shape[d - 2];
  sh.W = in_shape[d - 1];
  sh.planes = in_shape[d - 3] * (d == 4 ? in_shape[0] : 1);
  sh.kH = kernel[0], sh.kW = kernel[1], sh.sH = stride[0], sh.sW = stride[1];
  sh.pH = padding[0], sh.pW = padding[1], sh.dH = dilation[0], sh.dW = dilation[1];
  sh.OH = pool_out_size(sh.H, sh.kH, sh.sH, sh.pH, sh.dH, ceil_mode);
  sh.OW = pool_out_size(sh.W, sh.kW, sh.sW, sh.pW, sh.dW, ceil_mode);
  NNC_CHECK(sh.OH >= 1 && sh.OW >= 1, op, ": output size is too small: input (H, W) = (", sh.H, ", ", sh.W,
            ") with kernel_size=", pair_str(kernel), ", stride=", pair_str(stride), ", padding=", pair_str(padding),
            ", dilation=", pair_str(dilation), " gives (", sh.OH, ", ", sh.OW, ")");
  g.out_shape = in_shape;
  g.out_shape[d - 2] = sh.OH;
  g.out_shape[d - 1] = sh.OW;
  return g;
}

Geometry adaptive_geometry(const char* op, const std::vector<int64_t>& in_shape, Pair output_size) {
  check_input_shape(op, "input", in_shape);
  NNC_CHECK(output_size[0] >= 0 && output_size[1] >= 0, op, ": output_size must be >= 0, got ",
            pair_str(output_size));
  NNC_CHECK(output_size[0] <= kMaxParam && output_size[1] <= kMaxParam, op, ": output_size must be <= ", kMaxParam,
            ", got ", pair_str(output_size));
  size_t d = in_shape.size();
  Geometry g;
  g.sh = Pool2dShape{in_shape[d - 3] * (d == 4 ? in_shape[0] : 1), in_shape[d - 2], in_shape[d - 1],
                     output_size[0], output_size[1], 1, 1, 1, 1, 0, 0, 1, 1};
  g.out_shape = in_shape;
  g.out_shape[d - 2] = output_size[0];
  g.out_shape[d - 1] = output_size[1];
  return g;
}

std::vector<int64_t> shape_arg(const char* op, const char* arg, const std::vector<int64_t>& shape) {
  for (int64_t s : shape) NNC_CHECK(s >= 0, op, ": ", arg, " must have sizes >= 0, got ", shape_str(shape));
  return shape;
}

// A float data array: dtype and contiguity (as_array already refused CUDA
// arrays when this build has no CUDA).
void check_data(const char* op, const char* arg, const Array& a) {
  check_float(a, op, arg);
  check_contiguous(a, op, arg);
}

// An output the kernel writes: dtype and device of `ref`, exact shape, writeable, not aliasing inputs.
void check_output(const char* op, const char* arg, const Array& out, const Array& ref, const char* ref_arg,
                  const std::vector<int64_t>& shape, DType dtype) {
  if (dtype == DType::int64) check_dtype(out, DType::int64, op, arg);
  else check_same_dtype(ref, out, op, ref_arg, arg);
  check_same_device(ref, out, op, ref_arg, arg);
  check_shape(out, shape, op, arg);
  check_contiguous(out, op, arg);
  check_writeable(out, op, arg);
}


void max_pool2d(py::handle x_obj, py::handle out_obj, py::handle indices_obj, Pair kernel, Pair stride, Pair padding,
                Pair dilation, bool ceil_mode, uintptr_t stream) {
  const char* op = "max_pool2d";
  Array x = as_array(x_obj, op, "input");
  check_data(op, "input", x);
  Geometry g = window_geometry(op, x.shape, kernel, stride, padding, dilation, ceil_mode);
  Array out = as_array(out_obj, op, "out");
  check_output(op, "out", out, x, "input", g.out_shape, x.dtype);
  check_no_overlap(out, x, op, "out", "input");
  bool with_indices = !indices_obj.is_none();
  Array indices;
  if (with_indices) {
    indices = as_array(indices_obj, op, "indices");
    check_output(op, "indices", indices, x, "input", g.out_shape, DType::int64);
    check_no_overlap(indices, x, op, "indices", "input");
    check_no_overlap(indices, out, op, "indices", "out");
  }
  if (out.numel() == 0) return;
  int64_t* index_ptr = with_indices ? indices.ptr<int64_t>() : nullptr;
  run_twin(
      x, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::max_pool2d_forward<T>(g.sh, x.ptr<const T>(), out.ptr<T>(), index_ptr, stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::max_pool2d_forward<T>(g.sh, x.ptr<const T>(), out.ptr<T>(), index_ptr);
      });
}

void max_pool2d_backward(py::handle grad_out_obj, py::handle indices_obj, py::handle grad_in_obj, Pair kernel,
                         Pair stride, Pair padding, Pair dilation, bool ceil_mode, uintptr_t stream) {
  const char* op = "max_pool2d_backward";
  Array gy = as_array(grad_out_obj, op, "grad_output");
  check_data(op, "grad_output", gy);
  Array gx = as_array(grad_in_obj, op, "out");
  check_same_dtype(gy, gx, op, "grad_output", "out");
  check_same_device(gy, gx, op, "grad_output", "out");
  Geometry g = window_geometry(op, gx.shape, kernel, stride, padding, dilation, ceil_mode);
  check_shape(gy, g.out_shape, op, "grad_output");
  check_output(op, "out", gx, gy, "grad_output", gx.shape, gy.dtype);
  Array indices = as_array(indices_obj, op, "indices");
  check_dtype(indices, DType::int64, op, "indices");
  check_same_device(gy, indices, op, "grad_output", "indices");
  check_shape(indices, g.out_shape, op, "indices");
  check_contiguous(indices, op, "indices");
  check_no_overlap(gx, gy, op, "out", "grad_output");
  check_no_overlap(gx, indices, op, "out", "indices");
  if (gx.numel() == 0) return;
  bool in_range = true;
  run_twin(
      gy, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        in_range = nnc::cuda::max_pool2d_backward<T>(g.sh, gy.ptr<const T>(), indices.ptr<const int64_t>(),
                                                     gx.ptr<T>(), stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        in_range = cpu::max_pool2d_backward<T>(g.sh, gy.ptr<const T>(), indices.ptr<const int64_t>(), gx.ptr<T>());
      });
  NNC_CHECK(in_range, op, ": indices must lie in [0, H*W) = [0, ", g.sh.H * g.sh.W,
            ") within each plane; found one outside");
}

void avg_pool2d(py::handle x_obj, py::handle out_obj, Pair kernel, Pair stride, Pair padding, bool ceil_mode,
                bool count_include_pad, int64_t divisor_override, uintptr_t stream) {
  const char* op = "avg_pool2d";
  Array x = as_array(x_obj, op, "input");
  check_data(op, "input", x);
  Geometry g = window_geometry(op, x.shape, kernel, stride, padding, Pair{1, 1}, ceil_mode);
  const AvgDivisor div{count_include_pad, divisor_override};  // divisor_override 0: None
  Array out = as_array(out_obj, op, "out");
  check_output(op, "out", out, x, "input", g.out_shape, x.dtype);
  check_no_overlap(out, x, op, "out", "input");
  if (out.numel() == 0) return;
  run_twin(
      x, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::avg_pool2d_forward<T>(g.sh, div, x.ptr<const T>(), out.ptr<T>(), stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::avg_pool2d_forward<T>(g.sh, div, x.ptr<const T>(), out.ptr<T>());
      });
}

void avg_pool2d_backward(py::handle grad_out_obj, py::handle grad_in_obj, Pair kernel, Pair stride, Pair padding,
                         bool ceil_mode, bool count_include_pad, int64_t divisor_override, uintptr_t stream) {
  const char* op = "avg_pool2d_backward";
  Array gy = as_array(grad_out_obj, op, "grad_output");
  check_data(op, "grad_output", gy);
  Array gx = as_array(grad_in_obj, op, "out");
  check_same_dtype(gy, gx, op, "grad_output", "out");
  check_same_device(gy, gx, op, "grad_output", "out");
  Geometry g = window_geometry(op, gx.shape, kernel, stride, padding, Pair{1, 1}, ceil_mode);
  const AvgDivisor div{count_include_pad, divisor_override};  // divisor_override 0: None
  check_shape(gy, g.out_shape, op, "grad_output");
  check_output(op, "out", gx, gy, "grad_output", gx.shape, gy.dtype);
  check_no_overlap(gx, gy, op, "out", "grad_output");
  if (gx.numel() == 0) return;
  run_twin(
      gy, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::avg_pool2d_backward<T>(g.sh, div, gy.ptr<const T>(), gx.ptr<T>(), stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::avg_pool2d_backward<T>(g.sh, div, gy.ptr<const T>(), gx.ptr<T>());
      });
}

void check_norm(const char* op, double p) {
  NNC_CHECK(!std::isnan(p) && p != 0, op, ": norm_type must be a nonzero number (or +-inf), got ", p);
}

// A finite p must survive the data type: p itself and 1/p representable (float32: |p| <= 3.4e38),
// else x^p and t^(1/p) compute 0^0 = 1 for every window.
void check_norm_fits(const char* op, double p, const Array& like) {
  if (std::isinf(p) || like.dtype != DType::float32) return;
  NNC_CHECK(!std::isinf(float(p)) && float(1.0 / p) != 0.0f, op, ": norm_type ", p,
            " is too large for float32 data (|norm_type| <= 3.4e38); pass float('inf') for the max of |x|");
}

void lp_pool2d(py::handle x_obj, py::handle out_obj, double p, Pair kernel, Pair stride, bool ceil_mode,
               uintptr_t stream) {
  const char* op = "lp_pool2d";
  check_norm(op, p);
  Array x = as_array(x_obj, op, "input");
  check_data(op, "input", x);
  check_norm_fits(op, p, x);
  Geometry g = window_geometry(op, x.shape, kernel, stride, Pair{0, 0}, Pair{1, 1}, ceil_mode);
  Array out = as_array(out_obj, op, "out");
  check_output(op, "out", out, x, "input", g.out_shape, x.dtype);
  check_no_overlap(out, x, op, "out", "input");
  if (out.numel() == 0) return;
  run_twin(
      x, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::lp_pool2d_forward<T>(g.sh, p, x.ptr<const T>(), out.ptr<T>(), stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::lp_pool2d_forward<T>(g.sh, p, x.ptr<const T>(), out.ptr<T>());
      });
}

void lp_pool2d_backward(py::handle grad_out_obj, py::handle x_obj, py::handle y_obj, py::handle grad_in_obj, double p,
                        Pair kernel, Pair stride, bool ceil_mode, uintptr_t stream) {
  const char* op = "lp_pool2d_backward";
  check_norm(op, p);
  Array gy = as_array(grad_out_obj, op, "grad_output");
  check_data(op, "grad_output", gy);
  Array x = as_array(x_obj, op, "input");
  check_data(op, "input", x);
  check_same_dtype(gy, x, op, "grad_output", "input");
  check_same_device(gy, x, op, "grad_output", "input");
  check_norm_fits(op, p, x);
  Geometry g = window_geometry(op, x.shape, kernel, stride, Pair{0, 0}, Pair{1, 1}, ceil_mode);
  check_shape(gy, g.out_shape, op, "grad_output");
  Array y = as_array(y_obj, op, "output");
  check_data(op, "output", y);
  check_same_dtype(gy, y, op, "grad_output", "output");
  check_same_device(gy, y, op, "grad_output", "output");
  check_shape(y, g.out_shape, op, "output");
  Array gx = as_array(grad_in_obj, op, "out");
  check_output(op, "out", gx, gy, "grad_output", x.shape, gy.dtype);
  check_no_overlap(gx, gy, op, "out", "grad_output");
  check_no_overlap(gx, x, op, "out", "input");
  check_no_overlap(gx, y, op, "out", "output");
  if (gx.numel() == 0) return;
  run_twin(
      gy, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::lp_pool2d_backward<T>(g.sh, p, gy.ptr<const T>(), x.ptr<const T>(), y.ptr<const T>(), gx.ptr<T>(),
                                       stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::lp_pool2d_backward<T>(g.sh, p, gy.ptr<const T>(), x.ptr<const T>(), y.ptr<const T>(), gx.ptr<T>());
      });
}

void adaptive_avg_pool2d(py::handle x_obj, py::handle out_obj, Pair output_size, uintptr_t stream) {
  const char* op = "adaptive_avg_pool2d";
  Array x = as_array(x_obj, op, "input");
  check_data(op, "input", x);
  Geometry g = adaptive_geometry(op, x.shape, output_size);
  Array out = as_array(out_obj, op, "out");
  check_output(op, "out", out, x, "input", g.out_shape, x.dtype);
  check_no_overlap(out, x, op, "out", "input");
  if (out.numel() == 0) return;
  run_twin(
      x, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::adaptive_avg_pool2d_forward<T>(g.sh, x.ptr<const T>(), out.ptr<T>(), stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::adaptive_avg_pool2d_forward<T>(g.sh, x.ptr<const T>(), out.ptr<T>());
      });
}

void adaptive_avg_pool2d_backward(py::handle grad_out_obj, py::handle grad_in_obj, uintptr_t stream) {
  const char* op = "adaptive_avg_pool2d_backward";
  Array gy = as_array(grad_out_obj, op, "grad_output");
  check_data(op, "grad_output", gy);
  Array gx = as_array(grad_in_obj, op, "out");
  check_same_dtype(gy, gx, op, "grad_output", "out");
  check_same_device(gy, gx, op, "grad_output", "out");
  check_input_shape(op, "out", gx.shape);
  NNC_CHECK(gy.ndim() == gx.ndim(), op, ": grad_output must have the rank of out (", gx.ndim(), "-D), got ",
            gy.ndim(), "-D of shape ", gy.shape_str());
  int d = gx.ndim();
  for (int i = 0; i < d - 2; ++i)
    NNC_CHECK(gy.shape[i] == gx.shape[i], op, ": grad_output ", gy.shape_str(), " and out ", gx.shape_str(),
              " must agree in all but the last two sizes");
  Geometry g = adaptive_geometry(op, gx.shape, Pair{gy.shape[d - 2], gy.shape[d - 1]});
  check_output(op, "out", gx, gy, "grad_output", gx.shape, gy.dtype);
  check_no_overlap(gx, gy, op, "out", "grad_output");
  if (gx.numel() == 0) return;
  run_twin(
      gy, stream,
      [&](auto zero, [[maybe_unused]] void* stream_ptr) {
        using T = decltype(zero);
        nnc::cuda::adaptive_avg_pool2d_backward<T>(g.sh, gy.ptr<const T>(), gx.ptr<T>(),
                                                 stream_ptr);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::adaptive_avg_pool2d_backward<T>(g.sh, gy.ptr<const T>(), gx.ptr<T>());
      });
}

// The output shape a pooling call would produce, after the same checks.
std::vector<int64_t> pool2d_output_shape(const std::string& kind, const std::vector<int64_t>& input_shape,
                                         Pair kernel, Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  const char* op = kind == "max_pool2d" ? "max_pool2d"
                   : kind == "avg_pool2d" ? "avg_pool2d"
                   : kind == "lp_pool2d" ? "lp_pool2d"
                   : kind == "adaptive_avg_pool2d" ? "adaptive_avg_pool2d"
                                                   : nullptr;
  NNC_CHECK(op != nullptr, "pool2d_output_shape: unknown kind '", kind, "'");
  std::vector<int64_t> shape = shape_arg(op, "input_shape", input_shape);
  if (kind == "adaptive_avg_pool2d") return adaptive_geometry(op, shape, kernel).out_shape;
  return window_geometry(op, shape, kernel, stride, padding, dilation, ceil_mode).out_shape;
}

}  // namespace

void bind_pool2d(py::module_& m) {
  m.def("pool2d_output_shape", &pool2d_output_shape, py::arg("kind"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
        "Output shape of max/avg/lp/adaptive_avg_pool2d (kernel_size is output_size for adaptive), after checks.");
  m.def("max_pool2d", &max_pool2d, py::arg("input"), py::arg("out"), py::arg("indices"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("stream") = 0);
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_output"), py::arg("indices"), py::arg("out"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
        py::arg("stream") = 0);
  m.def("avg_pool2d", &avg_pool2d, py::arg("input"), py::arg("out"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"),
        py::arg("stream") = 0);
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_output"), py::arg("out"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"), py::arg("stream") = 0);
  m.def("lp_pool2d", &lp_pool2d, py::arg("input"), py::arg("out"), py::arg("norm_type"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("ceil_mode"), py::arg("stream") = 0);
  m.def("lp_pool2d_backward", &lp_pool2d_backward, py::arg("grad_output"), py::arg("input"), py::arg("output"),
        py::arg("out"), py::arg("norm_type"), py::arg("kernel_size"), py::arg("stride"), py::arg("ceil_mode"),
        py::arg("stream") = 0);
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d, py::arg("input"), py::arg("out"), py::arg("output_size"),
        py::arg("stream") = 0);
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, py::arg("grad_output"), py::arg("out"),
        py::arg("stream") = 0);
}

}  // namespace nnc::ops
