// Front door of gemm / batched matmul: validates every argument, then runs the
// CPU twin (cpu/gemm*.cpp) or the CUDA kernel (cuda/gemm.cu).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/array.h"
#include "core/check.h"
#include "cpu/gemm.h"
#include "ops/activation_arg.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/gemm.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

struct MatrixArg {
  int64_t batch, rows, cols, ld, batch_stride;
};

// A 2-D matrix or a 3-D stack of them, contiguous along its last axis.
MatrixArg matrix_arg(const Array& x, const char* arg) {
  NNC_CHECK(x.ndim() == 2 || x.ndim() == 3, "gemm: ", arg, " must be 2-D (rows, cols) or 3-D (batch, rows, cols), got ",
            x.ndim(), "-D of shape ", x.shape_str());
  int d = x.ndim();
  MatrixArg m{d == 3 ? x.shape[0] : 1, x.shape[d - 2], x.shape[d - 1], 0, 0};
  NNC_CHECK(m.cols <= 1 || m.rows == 0 || m.batch == 0 || x.strides[d - 1] == 1, "gemm: ", arg,
            " must be contiguous along its last axis, got strides ", shape_str(x.strides), " (in elements)");
  m.ld = (m.rows <= 1 || m.cols == 0) ? std::max<int64_t>(m.cols, 1) : x.strides[d - 2];
  NNC_CHECK(m.ld >= m.cols && m.ld > 0, "gemm: ", arg, " has overlapping or reversed rows (row stride ", x.strides[d - 2],
            " for ", m.cols, " columns); pass a contiguous copy");
  m.batch_stride = d == 3 ? x.strides[0] : 0;
  NNC_CHECK(d == 2 || m.batch <= 1 || m.batch_stride >= 0, "gemm: ", arg, " has a negative batch stride");
  return m;
}

// out = act(alpha op(a) @ op(b) + beta out + bias), bias (N,) one per column or None.
void gemm(py::handle a_obj, py::handle b_obj, py::handle out_obj, bool trans_a, bool trans_b, double alpha,
          double beta, [[maybe_unused]] uintptr_t stream, py::handle bias_obj, int activation, double act_alpha,
          double act_beta) {
  Array a = as_array(a_obj, "gemm", "a");
  Array b = as_array(b_obj, "gemm", "b");
  Array out = as_array(out_obj, "gemm", "out");
  check_float(a, "gemm", "a");
  check_same_dtype(a, b, "gemm", "a", "b");
  check_same_dtype(a, out, "gemm", "a", "out");
  check_same_device(a, b, "gemm", "a", "b");
  check_same_device(a, out, "gemm", "a", "out");
  check_writeable(out, "gemm", "out");
  MatrixArg ma = matrix_arg(a, "a"), mb = matrix_arg(b, "b"), mc = matrix_arg(out, "out");
  int64_t M = trans_a ? ma.cols : ma.rows, K = trans_a ? ma.rows : ma.cols;
  int64_t Kb = trans_b ? mb.cols : mb.rows, N = trans_b ? mb.rows : mb.cols;
  NNC_CHECK(K == Kb, "gemm: inner dimensions differ: op(a) is (", M, ", ", K, ") and op(b) is (", Kb, ", ", N,
            ") (trans_a=", trans_a, ", trans_b=", trans_b, ")");
  bool batched = a.ndim() == 3 || b.ndim() == 3;
  int64_t batch = std::max(ma.batch, mb.batch);
  NNC_CHECK(a.ndim() == 2 || b.ndim() == 2 || ma.batch == mb.batch, "gemm: batch sizes of a (", ma.batch,
            ") and b (", mb.batch, ") differ");
  std::vector<int64_t> want = batched ? std::vector<int64_t>{batch, M, N} : std::vector<int64_t>{M, N};
  check_shape(out, want, "gemm", "out");
  NNC_CHECK(mc.batch <= 1 || M == 0 || N == 0 || mc.batch_stride >= (M - 1) * mc.ld + N,
            "gemm: out's matrices overlap each other (batch stride ", mc.batch_stride, " for (", M, ", ", N,
            ") matrices with row stride ", mc.ld, "); pass an out whose batches are apart, such as a contiguous one");
  NNC_CHECK(std::isfinite(alpha), "gemm: alpha must be finite, got ", alpha);
  NNC_CHECK(std::isfinite(beta), "gemm: beta must be finite, got ", beta);
  check_no_overlap(out, a, "gemm", "out", "a");
  check_no_overlap(out, b, "gemm", "out", "b");
  activation_arg<double>("gemm", activation, act_alpha, act_beta);
  Array bias;
  const bool has_bias = !bias_obj.is_none();
  if (has_bias) {
    bias = as_array(bias_obj, "gemm", "bias");
    check_same_dtype(a, bias, "gemm", "a", "bias");
    check_same_device(a, bias, "gemm", "a", "bias");
    NNC_CHECK(bias.ndim() == 1 && bias.shape[0] == N, "gemm: bias must have shape (", N,
              ",) (one per output column), got ", bias.shape_str());
    check_contiguous(bias, "gemm", "bias");
    check_no_overlap(out, bias, "gemm", "out", "bias");
  }
  if (out.numel() == 0) return;
  auto epilogue = [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    return cpu::Epilogue<T>{activation_arg<T>("gemm", activation, act_alpha, act_beta),
                            has_bias ? bias.ptr<const T>() : nullptr, false};
  };

  if (a.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    auto run = [&](auto* pa, auto* pb, auto* pc) {
      using T = std::remove_pointer_t<decltype(pc)>;
      nnc::cuda::gemm<T>(trans_a, trans_b, batch, M, N, K, T(alpha), pa, ma.ld, ma.batch_stride, pb, mb.ld,
                         mb.batch_stride, T(beta), pc, mc.ld, mc.batch_stride, epilogue(pc),
                         reinterpret_cast<void*>(stream));
    };
    if (a.dtype == DType::float32) run(a.ptr<const float>(), b.ptr<const float>(), out.ptr<float>());
    else run(a.ptr<const double>(), b.ptr<const double>(), out.ptr<double>());
    return;
#endif
  }
  py::gil_scoped_release no_gil;
  auto run = [&](auto* pa, auto* pb, auto* pc) {
    using T = std::remove_pointer_t<decltype(pc)>;
    const cpu::Epilogue<T> ep = epilogue(pc);
    for (int64_t i = 0; i < batch; ++i)
      nnc::cpu::gemm<T>(trans_a, trans_b, M, N, K, T(alpha), pa + i * ma.batch_stride, ma.ld,
                        pb + i * mb.batch_stride, mb.ld, T(beta), pc + i * mc.batch_stride, mc.ld, ep);
  };
  if (a.dtype == DType::float32) run(a.ptr<const float>(), b.ptr<const float>(), out.ptr<float>());
  else run(a.ptr<const double>(), b.ptr<const double>(), out.ptr<double>());
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("trans_a"), py::arg("trans_b"),
        py::arg("alpha"), py::arg("beta"), py::arg("stream") = 0, py::arg("bias") = py::none(),
        py::arg("activation") = 0, py::arg("act_alpha") = 0.0, py::arg("act_beta") = 0.0,
        "out = act(alpha * op(a) @ op(b) + beta * out + bias), 2-D or batched 3-D; float32 or float64; CPU or "
        "CUDA. bias (N,) or None; activation a code of nncore.ops.activation_kinds, applied to each output tile "
        "in cache.");
}

}  // namespace nnc::ops
