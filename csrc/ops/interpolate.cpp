// Front door of interpolate2d (bilinear, bicubic; forward and backward):
// validates every argument, then runs the CPU twin (cpu/interpolate.cpp) or the
// CUDA kernel (cuda/interpolate.cu). The output size is the out array's.
#include <cmath>
#include <cstdint>
#include <string>

#include "core/array.h"
#include "core/check.h"
#include "cpu/interpolate.h"
#include "cuda/interpolate.h"
#include "ops/ops.h"
#include "ops/run_twin.h"

namespace py = pybind11;

namespace nnc::ops {
namespace {

constexpr int64_t kMaxSize = int64_t(1) << 31;  // per spatial axis: keeps o * scale and the tables inside int64

bool parse_mode(const std::string& mode, const char* op) {
  NNC_CHECK(mode == "bilinear" || mode == "bicubic", op, ": mode must be 'bilinear' or 'bicubic', got '", mode, "'");
  return mode == "bicubic";
}

// A (N, C, H, W) or (C, H, W) float array, contiguous, C, H, W > 0.
void check_image(const Array& a, const char* op, const char* arg) {
  check_float(a, op, arg);
  NNC_CHECK(a.ndim() == 3 || a.ndim() == 4, op, ": ", arg, " must be 4-D (N, C, H, W) or 3-D (C, H, W), got ",
            a.ndim(), "-D of shape ", a.shape_str());
  int d = a.ndim();
  NNC_CHECK(a.shape[d - 3] > 0 && a.shape[d - 2] > 0 && a.shape[d - 1] > 0, op, ": ", arg,
            " must have non-zero C, H and W (only the batch N may be 0), got shape ", a.shape_str());
  NNC_CHECK(a.shape[d - 2] < kMaxSize && a.shape[d - 1] < kMaxSize, op, ": ", arg,
            " spatial sizes must be < 2**31, got shape ", a.shape_str());
  check_contiguous(a, op, arg);
}

// small (the input, or grad_input) and big (the output, or grad_output) agree but for H and W.
cpu::Interp2dShape geometry(const char* op, const Array& in, const char* in_arg, const Array& out, const char* out_arg,
                            bool cubic, bool align_corners, double scale_h, double scale_w) {
  check_image(in, op, in_arg);
  check_image(out, op, out_arg);
  check_same_dtype(in, out, op, in_arg, out_arg);
  check_same_device(in, out, op, in_arg, out_arg);
  int d = in.ndim();
  NNC_CHECK(out.ndim() == d && (d == 3 || out.shape[0] == in.shape[0]) && out.shape[d - 3] == in.shape[d - 3], op,
            ": ", out_arg, " must have the batch and channels of ", in_arg, " ", in.shape_str(), ", got ",
            out.shape_str());
  for (double s : {scale_h, scale_w})
    NNC_CHECK(std::isfinite(s) && s >= 0, op, ": scale factors must be finite and >= 0 (0: none), got (", scale_h,
              ", ", scale_w, ")");
  cpu::Interp2dShape s{};
  s.planes = in.shape[d - 3] * (d == 4 ? in.shape[0] : 1);
  s.H = in.shape[d - 2], s.W = in.shape[d - 1], s.OH = out.shape[d - 2], s.OW = out.shape[d - 1];
  s.cubic = cubic, s.align_corners = align_corners, s.scale_h = scale_h, s.scale_w = scale_w;
  return s;
}


void interpolate2d(py::handle x_obj, py::handle out_obj, const std::string& mode, bool align_corners, double scale_h,
                   double scale_w, uintptr_t stream) {
  const char* op = "interpolate2d";
  bool cubic = parse_mode(mode, op);
  Array x = as_array(x_obj, op, "input"), out = as_array(out_obj, op, "out");
  cpu::Interp2dShape s = geometry(op, x, "input", out, "out", cubic, align_corners, scale_h, scale_w);
  check_writeable(out, op, "out");
  check_no_overlap(out, x, op, "out", "input");
  if (out.numel() == 0) return;
  run_twin(
      x, stream,
      [&](auto zero, [[maybe_unused]] void* st) {
        using T = decltype(zero);
        nnc::cuda::interpolate2d_forward<T>(s, x.ptr<const T>(), out.ptr<T>(), st);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::interpolate2d_forward<T>(s, x.ptr<const T>(), out.ptr<T>());
      });
}

void interpolate2d_backward(py::handle gy_obj, py::handle gx_obj, const std::string& mode, bool align_corners,
                            double scale_h, double scale_w, uintptr_t stream) {
  const char* op = "interpolate2d_backward";
  bool cubic = parse_mode(mode, op);
  Array gy = as_array(gy_obj, op, "grad_output"), gx = as_array(gx_obj, op, "out");
  cpu::Interp2dShape s = geometry(op, gx, "out", gy, "grad_output", cubic, align_corners, scale_h, scale_w);
  check_writeable(gx, op, "out");
  check_no_overlap(gx, gy, op, "out", "grad_output");
  if (gx.numel() == 0) return;
  run_twin(
      gy, stream,
      [&](auto zero, [[maybe_unused]] void* st) {
        using T = decltype(zero);
        nnc::cuda::interpolate2d_backward<T>(s, gy.ptr<const T>(), gx.ptr<T>(), st);
      },
      [&](auto zero) {
        using T = decltype(zero);
        cpu::interpolate2d_backward<T>(s, gy.ptr<const T>(), gx.ptr<T>());
      });
}

}  // namespace

void bind_interpolate(py::module_& m) {
  m.def("interpolate2d", &interpolate2d, py::arg("input"), py::arg("out"), py::arg("mode"), py::arg("align_corners"),
        py::arg("scale_h"), py::arg("scale_w"), py::arg("stream") = 0,
        "Resizes input (N, C, H, W) into out (N, C, OH, OW), bilinear or bicubic (PyTorch's rules).");
  m.def("interpolate2d_backward", &interpolate2d_backward, py::arg("grad_output"), py::arg("out"), py::arg("mode"),
        py::arg("align_corners"), py::arg("scale_h"), py::arg("scale_w"), py::arg("stream") = 0,
        "Gradient of interpolate2d with respect to its input, into out (N, C, H, W).");
}

}  // namespace nnc::ops
