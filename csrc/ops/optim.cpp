// Front door of the fused optimiser updates (SGD, Adam / AdamW, RMSprop,
// Adagrad): validates the
// parameter, its gradient, its state arrays and the scalars, then runs the CPU
// twin (cpu/optim*.cpp) or the CUDA kernel (cuda/optim.cu). Everything float32,
// contiguous, of the parameter's shape; updated in place.
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/array.h"
#include "core/check.h"
#include "core/optim_math.h"
#include "cpu/optim.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/optim.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

struct Named {
  Array a;
  const char* name;
};

// The parameter (written), then its gradient (read) and its state (written):
// one dtype, device and shape, contiguous, no two overlapping.
void check_group(const std::vector<Named>& arrays, const char* op) {
  const Array& p = arrays[0].a;
  check_dtype(p, DType::float32, op, arrays[0].name);
  for (size_t i = 0; i < arrays.size(); ++i) {
    const Named& x = arrays[i];
    if (i > 0) {
      check_same_dtype(p, x.a, op, arrays[0].name, x.name);
      check_same_device(p, x.a, op, arrays[0].name, x.name);
      check_shape(x.a, p.shape, op, x.name);
    }
    check_contiguous(x.a, op, x.name);
    if (i != 1) check_writeable(x.a, op, x.name);
    for (size_t j = 0; j < i; ++j) check_no_overlap(x.a, arrays[j].a, op, x.name, arrays[j].name);
  }
}

void check_finite(double v, const char* op, const char* name) {
  NNC_CHECK(std::isfinite(v), op, ": ", name, " must be finite, got ", v);
}

void sgd_step(py::handle param_obj, py::handle grad_obj, py::object buf_obj, double lr, double momentum,
              double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step,
              uintptr_t stream) {
  const char* op = "sgd_step";
  std::vector<Named> arrays{{as_array(param_obj, op, "param"), "param"}, {as_array(grad_obj, op, "grad"), "grad"}};
  const bool has_buf = !buf_obj.is_none();
  NNC_CHECK(has_buf == (momentum != 0.0), op, ": momentum_buffer must be given exactly when momentum is non-zero, got ",
            has_buf ? "a buffer" : "None", " with momentum=", momentum);
  if (has_buf) arrays.push_back({as_array(buf_obj, op, "momentum_buffer"), "momentum_buffer"});
  check_group(arrays, op);
  check_finite(lr, op, "lr");
  check_finite(momentum, op, "momentum");
  check_finite(dampening, op, "dampening");
  check_finite(weight_decay, op, "weight_decay");
  NNC_CHECK(!nesterov || (momentum > 0.0 && dampening == 0.0), op,
            ": nesterov needs a positive momentum and zero dampening, got momentum=", momentum,
            ", dampening=", dampening);
  optim_math::SgdArgs a{arrays[0].a.ptr<float>(), arrays[1].a.ptr<const float>(),
                        has_buf ? arrays[2].a.ptr<float>() : nullptr, arrays[0].a.numel(), float(lr), float(momentum),
                        float(dampening), float(weight_decay), nesterov, maximize, first_step};
  if (a.n == 0) return;
  if (arrays[0].a.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::sgd_step(a, reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  nnc::cpu::sgd_step(a);
}

void adam_step(py::handle param_obj, py::handle grad_obj, py::handle exp_avg_obj, py::handle exp_avg_sq_obj,
               py::object max_exp_avg_sq_obj, double beta1, double beta2, double eps, double grad_decay,
               double param_scale, double step_size, double bias2_sqrt, bool maximize, uintptr_t stream) {
  const char* op = "adam_step";
  std::vector<Named> arrays{{as_array(param_obj, op, "param"), "param"},
                            {as_array(grad_obj, op, "grad"), "grad"},
                            {as_array(exp_avg_obj, op, "exp_avg"), "exp_avg"},
                            {as_array(exp_avg_sq_obj, op, "exp_avg_sq"), "exp_avg_sq"}};
  const bool amsgrad = !max_exp_avg_sq_obj.is_none();
  if (amsgrad) arrays.push_back({as_array(max_exp_avg_sq_obj, op, "max_exp_avg_sq"), "max_exp_avg_sq"});
  check_group(arrays, op);
  NNC_CHECK(beta1 >= 0.0 && beta1 < 1.0, op, ": beta1 must be in [0, 1), got ", beta1);
  NNC_CHECK(beta2 >= 0.0 && beta2 < 1.0, op, ": beta2 must be in [0, 1), got ", beta2);
  check_finite(eps, op, "eps");
  check_finite(grad_decay, op, "grad_decay");
  check_finite(param_scale, op, "param_scale");
  check_finite(step_size, op, "step_size");
  NNC_CHECK(bias2_sqrt > 0.0 && bias2_sqrt <= 1.0, op, ": bias2_sqrt (sqrt(1 - beta2^t)) must be in (0, 1], got ",
            bias2_sqrt);
  optim_math::AdamArgs a{arrays[0].a.ptr<float>(),
                         arrays[1].a.ptr<const float>(),
                         arrays[2].a.ptr<float>(),
                         arrays[3].a.ptr<float>(),
                         amsgrad ? arrays[4].a.ptr<float>() : nullptr,
                         arrays[0].a.numel(),
                         float(beta1),
                         float(beta2),
                         float(eps),
                         float(grad_decay),
                         float(param_scale),
                         float(step_size),
                         float(bias2_sqrt),
                         maximize};
  if (a.n == 0) return;
  if (arrays[0].a.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::adam_step(a, reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  nnc::cpu::adam_step(a);
}

void rmsprop_step(py::handle param_obj, py::handle grad_obj, py::handle square_avg_obj, py::object grad_avg_obj,
                  py::object buf_obj, double lr, double alpha, double eps, double weight_decay, double momentum,
                  bool maximize, uintptr_t stream) {
  const char* op = "rmsprop_step";
  std::vector<Named> arrays{{as_array(param_obj, op, "param"), "param"},
                            {as_array(grad_obj, op, "grad"), "grad"},
                            {as_array(square_avg_obj, op, "square_avg"), "square_avg"}};
  const bool centered = !grad_avg_obj.is_none(), has_buf = !buf_obj.is_none();
  NNC_CHECK(has_buf == (momentum != 0.0), op, ": momentum_buffer must be given exactly when momentum is non-zero, got ",
            has_buf ? "a buffer" : "None", " with momentum=", momentum);
  if (centered) arrays.push_back({as_array(grad_avg_obj, op, "grad_avg"), "grad_avg"});
  if (has_buf) arrays.push_back({as_array(buf_obj, op, "momentum_buffer"), "momentum_buffer"});
  check_group(arrays, op);
  check_finite(lr, op, "lr");
  check_finite(alpha, op, "alpha");
  check_finite(eps, op, "eps");
  check_finite(weight_decay, op, "weight_decay");
  check_finite(momentum, op, "momentum");
  optim_math::RmspropArgs a{arrays[0].a.ptr<float>(),
                            arrays[1].a.ptr<const float>(),
                            arrays[2].a.ptr<float>(),
                            centered ? arrays[3].a.ptr<float>() : nullptr,
                            has_buf ? arrays.back().a.ptr<float>() : nullptr,
                            arrays[0].a.numel(),
                            float(lr),
                            float(alpha),
                            float(eps),
                            float(weight_decay),
                            float(momentum),
                            maximize};
  if (a.n == 0) return;
  if (arrays[0].a.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::rmsprop_step(a, reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  nnc::cpu::rmsprop_step(a);
}

void adagrad_step(py::handle param_obj, py::handle grad_obj, py::handle sum_obj, double clr, double eps,
                  double weight_decay, bool maximize, uintptr_t stream) {
  const char* op = "adagrad_step";
  std::vector<Named> arrays{{as_array(param_obj, op, "param"), "param"},
                            {as_array(grad_obj, op, "grad"), "grad"},
                            {as_array(sum_obj, op, "sum"), "sum"}};
  check_group(arrays, op);
  check_finite(clr, op, "clr");
  check_finite(eps, op, "eps");
  check_finite(weight_decay, op, "weight_decay");
  optim_math::AdagradArgs a{arrays[0].a.ptr<float>(), arrays[1].a.ptr<const float>(), arrays[2].a.ptr<float>(),
                            arrays[0].a.numel(),      float(clr),                    float(eps),
                            float(weight_decay),      maximize};
  if (a.n == 0) return;
  if (arrays[0].a.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    nnc::cuda::adagrad_step(a, reinterpret_cast<void*>(stream));
#endif
    return;
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  nnc::cpu::adagrad_step(a);
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("sgd_step", &sgd_step, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("lr"),
        py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"),
        py::arg("first_step"), py::arg("stream") = 0,
        "One SGD step (torch.optim.SGD's rule) in place on param and momentum_buffer, in one pass.");
  m.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
        py::arg("max_exp_avg_sq"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("grad_decay"),
        py::arg("param_scale"), py::arg("step_size"), py::arg("bias2_sqrt"), py::arg("maximize"),
        py::arg("stream") = 0,
        "One Adam / AdamW step (torch.optim's rule) in place on param and its state, in one pass.");
  m.def("rmsprop_step", &rmsprop_step, py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("grad_avg"),
        py::arg("momentum_buffer"), py::arg("lr"), py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("momentum"), py::arg("maximize"), py::arg("stream") = 0,
        "One RMSprop step (torch.optim's rule) in place on param and its state, in one pass.");
  m.def("adagrad_step", &adagrad_step, py::arg("param"), py::arg("grad"), py::arg("sum"), py::arg("clr"),
        py::arg("eps"), py::arg("weight_decay"), py::arg("maximize"), py::arg("stream") = 0,
        "One Adagrad step (torch.optim's rule, clr the decayed learning rate) in place on param and sum.");
}

}  // namespace nnc::ops
