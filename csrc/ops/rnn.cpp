// Front door of the recurrent ops (LSTM, GRU, Elman; one cell step when x is
// 2-D (N, I), a whole sequence when x is 3-D (T, N, I)), forward and backward:
// validates every argument, then runs the CPU twin (cpu/rnn*.cpp) or the CUDA
// kernels (cuda/rnn.cu).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/array.h"
#include "core/check.h"
#include "cpu/rnn.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/rnn.h"
#endif
#include "ops/ops.h"

namespace py = pybind11;

namespace nnc::ops {
namespace {

using OptArray = std::optional<Array>;

template <typename T>
T* ptr(OptArray& a) {
  return a ? a->ptr<T>() : nullptr;
}

// Checks shared by every argument of one call: dtype, device, contiguity,
// shape; then outputs: writeable and sharing no memory with anything else.
struct Checker {
  explicit Checker(const char* op_name) : op(op_name) {}
  const char* op;
  bool cell = false;  // name arguments as the cell wrappers do (h, c, h_new, state, ...)
  const Array* ref = nullptr;

  const char* label(const char* name) const {
    if (!cell) return name;
    static const std::pair<std::string_view, const char*> cell_names[] = {
        {"h0", "h"},       {"c0", "c"},         {"y", "h_new"},           {"c_n", "c_new"}, {"saved", "state"},
        {"grad_y", "grad_h"}, {"grad_c_n", "grad_c"}, {"dh0", "dh"}, {"dc0", "dc"}};
    for (const auto& [seq_name, cell_name] : cell_names)
      if (seq_name == name) return cell_name;
    return name;
  }  // x: the dtype and device everything must match
  std::vector<std::pair<const char*, const Array*>> inputs, outputs;

  OptArray get(py::handle obj, const char* seq_name, bool required) {
    const char* name = label(seq_name);
    if (obj.is_none()) {
      NNC_CHECK(!required, op, ": ", name, " is required, got None");
      return std::nullopt;
    }
    return as_array(obj, op, name);
  }

  void check(const OptArray& a, const char* seq_name, const std::vector<int64_t>& shape, bool output) {
    if (!a) return;
    const char* name = label(seq_name);
    if (ref == nullptr) {
      check_float(*a, op, name);
    } else {
      check_same_dtype(*ref, *a, op, "x", name);
      check_same_device(*ref, *a, op, "x", name);
    }
    check_shape(*a, shape, op, name);
    check_contiguous(*a, op, name);
    if (output) {
      check_writeable(*a, op, name);
      outputs.emplace_back(name, &*a);
    } else {
      inputs.emplace_back(name, &*a);
    }
  }

  void check_overlaps() const {
    for (size_t i = 0; i < outputs.size(); ++i) {
      for (const auto& in : inputs) check_no_overlap(*outputs[i].second, *in.second, op, outputs[i].first, in.first);
      for (size_t j = i + 1; j < outputs.size(); ++j)
        check_no_overlap(*outputs[i].second, *outputs[j].second, op, outputs[i].first, outputs[j].first);
    }
  }
};

// The sizes every recurrent op reads from x (N, I) or (T, N, I) and w_hh (G*H, H).
struct Sizes {
  bool cell;
  int64_t steps, N, I, H, G;
  std::vector<int64_t> seq(int64_t f) const {  // (T, N, f) or, for a cell, (N, f)
    return cell ? std::vector<int64_t>{N, f} : std::vector<int64_t>{steps, N, f};
  }
  std::vector<int64_t> nh() const { return {N, H}; }
};

Sizes sizes_of(Checker& c, const OptArray& x_opt, const Array& w_hh, int gates) {
  const Array& x = *x_opt;
  NNC_CHECK(x.ndim() == 2 || x.ndim() == 3, c.op, ": x must be 2-D (batch, input_size) for one cell step or 3-D ",
            "(seq_len, batch, input_size) for a sequence, got ", x.ndim(), "-D of shape ", x.shape_str());
  check_float(x, c.op, "x");
  Sizes s;
  s.cell = x.ndim() == 2;
  s.steps = s.cell ? 1 : x.shape[0];
  s.N = x.size(-2);
  s.I = x.size(-1);
  s.G = gates;
  check_ndim(w_hh, 2, c.op, "w_hh", "(gates * hidden_size, hidden_size)");
  s.H = w_hh.shape[1];
  NNC_CHECK(w_hh.shape[0] == gates * s.H, c.op, ": w_hh must have shape (", gates, " * hidden_size, hidden_size) = (",
            gates * s.H, ", ", s.H, "), got ", w_hh.shape_str());
  c.check(x_opt, "x", x.shape, false);
  c.ref = &x;
  c.cell = s.cell;
  return s;
}

template <template <typename> class Args>
struct Kernels {
  void (*cpu_f)(const Args<float>&);
  void (*cpu_d)(const Args<double>&);
  void (*cuda_f)(const Args<float>&, void*);
  void (*cuda_d)(const Args<double>&, void*);
};

#ifdef NNCORE_HAVE_CUDA
#define NNC_RNN_KERNELS(Args, name) \
  Kernels<Args>{cpu::name<float>, cpu::name<double>, cuda::name<float>, cuda::name<double>}
#else
#define NNC_RNN_KERNELS(Args, name) Kernels<Args>{cpu::name<float>, cpu::name<double>, nullptr, nullptr}
#endif

// Runs the float32 or float64 kernel on x's device; make(T{}) builds the arguments.
template <template <typename> class Args, class Make>
void run(const Array& x, const char* op, uintptr_t stream, const Kernels<Args>& k, Make&& make) {
  bool f32 = x.dtype == DType::float32;
  if (x.device == Device::cuda) {
    NNC_CHECK(k.cuda_f != nullptr, op, ": this build of nncore has no CUDA kernels (rebuild with NNCORE_CUDA=ON)");
    py::gil_scoped_release no_gil;
    void* s = reinterpret_cast<void*>(stream);
    if (f32) k.cuda_f(make(0.f), s);
    else k.cuda_d(make(0.0), s);
    return;
  }
  py::gil_scoped_release no_gil;
  if (f32) k.cpu_f(make(0.f));
  else k.cpu_d(make(0.0));
}

// ---------------- LSTM ----------------

void lstm_forward(py::handle x_o, py::handle h0_o, py::handle c0_o, py::handle w_ih_o, py::handle w_hh_o,
                  py::handle b_ih_o, py::handle b_hh_o, py::handle peep_o, py::handle y_o, py::handle h_n_o,
                  py::handle c_n_o, py::handle saved_o, uintptr_t stream) {
  Checker c("lstm");
  OptArray x = c.get(x_o, "x", true), w_hh = c.get(w_hh_o, "w_hh", true);
  Sizes s = sizes_of(c, x, *w_hh, 4);
  if (s.cell) c.op = "lstm_cell";
  OptArray h0 = c.get(h0_o, "h0", true), c0 = c.get(c0_o, "c0", true);
  OptArray w_ih = c.get(w_ih_o, "w_ih", true), b_ih = c.get(b_ih_o, "b_ih", false);
  OptArray b_hh = c.get(b_hh_o, "b_hh", false), peep = c.get(peep_o, "w_peephole", false);
  OptArray y = c.get(y_o, "y", true), h_n = c.get(h_n_o, "h_n", false);
  OptArray c_n = c.get(c_n_o, "c_n", true), saved = c.get(saved_o, "saved", true);
  int64_t GH = 4 * s.H;
  c.check(h0, "h0", s.nh(), false);
  c.check(c0, "c0", s.nh(), false);
  c.check(w_ih, "w_ih", {GH, s.I}, false);
  c.check(w_hh, "w_hh", {GH, s.H}, false);
  c.check(b_ih, "b_ih", {GH}, false);
  c.check(b_hh, "b_hh", {GH}, false);
  c.check(peep, "w_peephole", {3, s.H}, false);
  c.check(y, "y", s.seq(s.H), true);
  NNC_CHECK(!(s.cell && h_n), c.op, ": h_n must be None for one cell step (the output is h_new)");
  c.check(h_n, "h_n", s.nh(), true);
  c.check(c_n, "c_n", s.nh(), true);
  c.check(saved, "saved", s.seq(5 * s.H), true);
  c.check_overlaps();
  run(*x, c.op, stream, NNC_RNN_KERNELS(cpu::LstmForward, lstm_forward), [&](auto zero) {
    using T = decltype(zero);
    return cpu::LstmForward<T>{s.steps, s.N, s.I, s.H, ptr<T>(x), ptr<T>(h0), ptr<T>(c0), ptr<T>(w_ih), ptr<T>(w_hh),
                          ptr<T>(b_ih), ptr<T>(b_hh), ptr<T>(peep), ptr<T>(y), ptr<T>(h_n), ptr<T>(c_n),
                          ptr<T>(saved)};
  });
}

void lstm_backward(py::handle grad_y_o, py::handle grad_h_n_o, py::handle grad_c_n_o, py::handle x_o,
                   py::handle h0_o, py::handle c0_o, py::handle w_ih_o, py::handle w_hh_o, py::handle peep_o,
                   py::handle y_o, py::handle saved_o, py::handle dx_o, py::handle dh0_o, py::handle dc0_o,
                   py::handle dw_ih_o, py::handle dw_hh_o, py::handle db_ih_o, py::handle db_hh_o,
                   py::handle dpeep_o, uintptr_t stream) {
  Checker c("lstm_backward");
  OptArray x = c.get(x_o, "x", true), w_hh = c.get(w_hh_o, "w_hh", true);
  Sizes s = sizes_of(c, x, *w_hh, 4);
  if (s.cell) c.op = "lstm_cell_backward";
  OptArray grad_y = c.get(grad_y_o, "grad_y", false), grad_h_n = c.get(grad_h_n_o, "grad_h_n", false);
  OptArray grad_c_n = c.get(grad_c_n_o, "grad_c_n", false);
  OptArray h0 = c.get(h0_o, "h0", true), c0 = c.get(c0_o, "c0", true);
  OptArray w_ih = c.get(w_ih_o, "w_ih", true), peep = c.get(peep_o, "w_peephole", false);
  OptArray y = c.get(y_o, "y", !s.cell), saved = c.get(saved_o, "saved", true);
  OptArray dx = c.get(dx_o, "dx", true), dh0 = c.get(dh0_o, "dh0", true);
  OptArray dc0 = c.get(dc0_o, "dc0", true), dw_ih = c.get(dw_ih_o, "dw_ih", true);
  OptArray dw_hh = c.get(dw_hh_o, "dw_hh", true), db_ih = c.get(db_ih_o, "db_ih", false);
  OptArray db_hh = c.get(db_hh_o, "db_hh", false), dpeep = c.get(dpeep_o, "dw_peephole", false);
  int64_t GH = 4 * s.H;
  c.check(grad_y, "grad_y", s.seq(s.H), false);
  NNC_CHECK(!(s.cell && grad_h_n), c.op, ": grad_h_n must be None for one cell step (pass grad_h)");
  c.check(grad_h_n, "grad_h_n", s.nh(), false);
  c.check(grad_c_n, "grad_c_n", s.nh(), false);
  c.check(h0, "h0", s.nh(), false);
  c.check(c0, "c0", s.nh(), false);
  c.check(w_ih, "w_ih", {GH, s.I}, false);
  c.check(w_hh, "w_hh", {GH, s.H}, false);
  c.check(peep, "w_peephole", {3, s.H}, false);
  c.check(y, "y", s.seq(s.H), false);
  c.check(saved, "saved", s.seq(5 * s.H), false);
  c.check(dx, "dx", x->shape, true);
  c.check(dh0, "dh0", s.nh(), true);
  c.check(dc0, "dc0", s.nh(), true);
  c.check(dw_ih, "dw_ih", {GH, s.I}, true);
  c.check(dw_hh, "dw_hh", {GH, s.H}, true);
  c.check(db_ih, "db_ih", {GH}, true);
  c.check(db_hh, "db_hh", {GH}, true);
  NNC_CHECK(!dpeep || peep, c.op, ": dw_peephole was given but w_peephole is None");
  c.check(dpeep, "dw_peephole", {3, s.H}, true);
  c.check_overlaps();
  run(*x, c.op, stream, NNC_RNN_KERNELS(cpu::LstmBackward, lstm_backward), [&](auto zero) {
    using T = decltype(zero);
    return cpu::LstmBackward<T>{s.steps, s.N, s.I, s.H, ptr<T>(grad_y), ptr<T>(grad_h_n), ptr<T>(grad_c_n), ptr<T>(x),
                           ptr<T>(h0), ptr<T>(c0), ptr<T>(w_ih), ptr<T>(w_hh), ptr<T>(peep), ptr<T>(y),
                           ptr<T>(saved), ptr<T>(dx), ptr<T>(dh0), ptr<T>(dc0), ptr<T>(dw_ih), ptr<T>(dw_hh),
                           ptr<T>(db_ih), ptr<T>(db_hh), ptr<T>(dpeep)};
  });
}

// ---------------- GRU ----------------

void gru_forward(py::handle x_o, py::handle h0_o, py::handle w_ih_o, py::handle w_hh_o, py::handle b_ih_o,
                 py::handle b_hh_o, py::handle y_o, py::handle h_n_o, py::handle saved_o, uintptr_t stream) {
  Checker c("gru");
  OptArray x = c.get(x_o, "x", true), w_hh = c.get(w_hh_o, "w_hh", true);
  Sizes s = sizes_of(c, x, *w_hh, 3);
  if (s.cell) c.op = "gru_cell";
  OptArray h0 = c.get(h0_o, "h0", true), w_ih = c.get(w_ih_o, "w_ih", true);
  OptArray b_ih = c.get(b_ih_o, "b_ih", false), b_hh = c.get(b_hh_o, "b_hh", false);
  OptArray y = c.get(y_o, "y", true), h_n = c.get(h_n_o, "h_n", false);
  OptArray saved = c.get(saved_o, "saved", true);
  int64_t GH = 3 * s.H;
  c.check(h0, "h0", s.nh(), false);
  c.check(w_ih, "w_ih", {GH, s.I}, false);
  c.check(w_hh, "w_hh", {GH, s.H}, false);
  c.check(b_ih, "b_ih", {GH}, false);
  c.check(b_hh, "b_hh", {GH}, false);
  c.check(y, "y", s.seq(s.H), true);
  NNC_CHECK(!(s.cell && h_n), c.op, ": h_n must be None for one cell step (the output is h_new)");
  c.check(h_n, "h_n", s.nh(), true);
  c.check(saved, "saved", s.seq(4 * s.H), true);
  c.check_overlaps();
  run(*x, c.op, stream, NNC_RNN_KERNELS(cpu::GruForward, gru_forward), [&](auto zero) {
    using T = decltype(zero);
    return cpu::GruForward<T>{s.steps, s.N, s.I, s.H, ptr<T>(x), ptr<T>(h0), ptr<T>(w_ih), ptr<T>(w_hh), ptr<T>(b_ih),
                         ptr<T>(b_hh), ptr<T>(y), ptr<T>(h_n), ptr<T>(saved)};
  });
}

void gru_backward(py::handle grad_y_o, py::handle grad_h_n_o, py::handle x_o, py::handle h0_o, py::handle w_ih_o,
                  py::handle w_hh_o, py::handle y_o, py::handle saved_o, py::handle dx_o, py::handle dh0_o,
                  py::handle dw_ih_o, py::handle dw_hh_o, py::handle db_ih_o, py::handle db_hh_o,
                  uintptr_t stream) {
  Checker c("gru_backward");
  OptArray x = c.get(x_o, "x", true), w_hh = c.get(w_hh_o, "w_hh", true);
  Sizes s = sizes_of(c, x, *w_hh, 3);
  if (s.cell) c.op = "gru_cell_backward";
  OptArray grad_y = c.get(grad_y_o, "grad_y", false), grad_h_n = c.get(grad_h_n_o, "grad_h_n", false);
  OptArray h0 = c.get(h0_o, "h0", true), w_ih = c.get(w_ih_o, "w_ih", true);
  OptArray y = c.get(y_o, "y", !s.cell), saved = c.get(saved_o, "saved", true);
  OptArray dx = c.get(dx_o, "dx", true), dh0 = c.get(dh0_o, "dh0", true);
  OptArray dw_ih = c.get(dw_ih_o, "dw_ih", true), dw_hh = c.get(dw_hh_o, "dw_hh", true);
  OptArray db_ih = c.get(db_ih_o, "db_ih", false), db_hh = c.get(db_hh_o, "db_hh", false);
  int64_t GH = 3 * s.H;
  c.check(grad_y, "grad_y", s.seq(s.H), false);
  NNC_CHECK(!(s.cell && grad_h_n), c.op, ": grad_h_n must be None for one cell step (pass grad_h)");
  c.check(grad_h_n, "grad_h_n", s.nh(), false);
  c.check(h0, "h0", s.nh(), false);
  c.check(w_ih, "w_ih", {GH, s.I}, false);
  c.check(w_hh, "w_hh", {GH, s.H}, false);
  c.check(y, "y", s.seq(s.H), false);
  c.check(saved, "saved", s.seq(4 * s.H), false);
  c.check(dx, "dx", x->shape, true);
  c.check(dh0, "dh0", s.nh(), true);
  c.check(dw_ih, "dw_ih", {GH, s.I}, true);
  c.check(dw_hh, "dw_hh", {GH, s.H}, true);
  c.check(db_ih, "db_ih", {GH}, true);
  c.check(db_hh, "db_hh", {GH}, true);
  c.check_overlaps();
  run(*x, c.op, stream, NNC_RNN_KERNELS(cpu::GruBackward, gru_backward), [&](auto zero) {
    using T = decltype(zero);
    return cpu::GruBackward<T>{s.steps, s.N, s.I, s.H, ptr<T>(grad_y), ptr<T>(grad_h_n), ptr<T>(x), ptr<T>(h0),
                          ptr<T>(w_ih), ptr<T>(w_hh), ptr<T>(y), ptr<T>(saved), ptr<T>(dx), ptr<T>(dh0),
                          ptr<T>(dw_ih), ptr<T>(dw_hh), ptr<T>(db_ih), ptr<T>(db_hh)};
  });
}

// ---------------- Elman ----------------

bool parse_nonlinearity(const std::string& name, const char* op) {
  NNC_CHECK(name == "tanh" || name == "relu", op, ": nonlinearity must be 'tanh' or 'relu', got '", name, "'");
  return name == "relu";
}

void rnn_forward(py::handle x_o, py::handle h0_o, py::handle w_ih_o, py::handle w_hh_o, py::handle b_ih_o,
                 py::handle b_hh_o, const std::string& nonlinearity, py::handle y_o, py::handle h_n_o,
                 uintptr_t stream) {
  Checker c("rnn");
  OptArray x = c.get(x_o, "x", true), w_hh = c.get(w_hh_o, "w_hh", true);
  Sizes s = sizes_of(c, x, *w_hh, 1);
  if (s.cell) c.op = "rnn_cell";
  bool relu = parse_nonlinearity(nonlinearity, c.op);
  OptArray h0 = c.get(h0_o, "h0", true), w_ih = c.get(w_ih_o, "w_ih", true);
  OptArray b_ih = c.get(b_ih_o, "b_ih", false), b_hh = c.get(b_hh_o, "b_hh", false);
  OptArray y = c.get(y_o, "y", true), h_n = c.get(h_n_o, "h_n", false);
  c.check(h0, "h0", s.nh(), false);
  c.check(w_ih, "w_ih", {s.H, s.I}, false);
  c.check(w_hh, "w_hh", {s.H, s.H}, false);
  c.check(b_ih, "b_ih", {s.H}, false);
  c.check(b_hh, "b_hh", {s.H}, false);
  c.check(y, "y", s.seq(s.H), true);
  NNC_CHECK(!(s.cell && h_n), c.op, ": h_n must be None for one cell step (the output is h_new)");
  c.check(h_n, "h_n", s.nh(), true);
  c.check_overlaps();
  run(*x, c.op, stream, NNC_RNN_KERNELS(cpu::RnnForward, rnn_forward), [&](auto zero) {
    using T = decltype(zero);
    return cpu::RnnForward<T>{s.steps, s.N, s.I, s.H, relu, ptr<T>(x), ptr<T>(h0), ptr<T>(w_ih), ptr<T>(w_hh),
                         ptr<T>(b_ih), ptr<T>(b_hh), ptr<T>(y), ptr<T>(h_n)};
  });
}

void rnn_backward(py::handle grad_y_o, py::handle grad_h_n_o, py::handle x_o, py::handle h0_o, py::handle w_ih_o,
                  py::handle w_hh_o, py::handle y_o, const std::string& nonlinearity, py::handle dx_o,
                  py::handle dh0_o, py::handle dw_ih_o, py::handle dw_hh_o, py::handle db_ih_o, py::handle db_hh_o,
                  uintptr_t stream) {
  Checker c("rnn_backward");
  OptArray x = c.get(x_o, "x", true), w_hh = c.get(w_hh_o, "w_hh", true);
  Sizes s = sizes_of(c, x, *w_hh, 1);
  if (s.cell) c.op = "rnn_cell_backward";
  bool relu = parse_nonlinearity(nonlinearity, c.op);
  OptArray grad_y = c.get(grad_y_o, "grad_y", false), grad_h_n = c.get(grad_h_n_o, "grad_h_n", false);
  OptArray h0 = c.get(h0_o, "h0", true), w_ih = c.get(w_ih_o, "w_ih", true);
  OptArray y = c.get(y_o, "y", true);
  OptArray dx = c.get(dx_o, "dx", true), dh0 = c.get(dh0_o, "dh0", true);
  OptArray dw_ih = c.get(dw_ih_o, "dw_ih", true), dw_hh = c.get(dw_hh_o, "dw_hh", true);
  OptArray db_ih = c.get(db_ih_o, "db_ih", false), db_hh = c.get(db_hh_o, "db_hh", false);
  c.check(grad_y, "grad_y", s.seq(s.H), false);
  NNC_CHECK(!(s.cell && grad_h_n), c.op, ": grad_h_n must be None for one cell step (pass grad_h)");
  c.check(grad_h_n, "grad_h_n", s.nh(), false);
  c.check(h0, "h0", s.nh(), false);
  c.check(w_ih, "w_ih", {s.H, s.I}, false);
  c.check(w_hh, "w_hh", {s.H, s.H}, false);
  c.check(y, "y", s.seq(s.H), false);
  c.check(dx, "dx", x->shape, true);
  c.check(dh0, "dh0", s.nh(), true);
  c.check(dw_ih, "dw_ih", {s.H, s.I}, true);
  c.check(dw_hh, "dw_hh", {s.H, s.H}, true);
  c.check(db_ih, "db_ih", {s.H}, true);
  c.check(db_hh, "db_hh", {s.H}, true);
  c.check_overlaps();
  run(*x, c.op, stream, NNC_RNN_KERNELS(cpu::RnnBackward, rnn_backward), [&](auto zero) {
    using T = decltype(zero);
    return cpu::RnnBackward<T>{s.steps, s.N, s.I, s.H, relu, ptr<T>(grad_y), ptr<T>(grad_h_n), ptr<T>(x), ptr<T>(h0),
                          ptr<T>(w_ih), ptr<T>(w_hh), ptr<T>(y), ptr<T>(dx), ptr<T>(dh0), ptr<T>(dw_ih),
                          ptr<T>(dw_hh), ptr<T>(db_ih), ptr<T>(db_hh)};
  });
}

}  // namespace

void bind_rnn(py::module_& m) {
  using py::arg;
  m.def("lstm_forward", &lstm_forward, arg("x"), arg("h0"), arg("c0"), arg("w_ih"), arg("w_hh"), arg("b_ih"),
        arg("b_hh"), arg("w_peephole"), arg("y"), arg("h_n"), arg("c_n"), arg("saved"), arg("stream") = 0,
        "LSTM cell step (x 2-D) or sequence (x 3-D) into preallocated y, h_n, c_n, saved.");
  m.def("lstm_backward", &lstm_backward, arg("grad_y"), arg("grad_h_n"), arg("grad_c_n"), arg("x"), arg("h0"),
        arg("c0"), arg("w_ih"), arg("w_hh"), arg("w_peephole"), arg("y"), arg("saved"), arg("dx"), arg("dh0"),
        arg("dc0"), arg("dw_ih"), arg("dw_hh"), arg("db_ih"), arg("db_hh"), arg("dw_peephole"), arg("stream") = 0,
        "Gradients of lstm_forward (BPTT) into preallocated outputs.");
  m.def("gru_forward", &gru_forward, arg("x"), arg("h0"), arg("w_ih"), arg("w_hh"), arg("b_ih"), arg("b_hh"),
        arg("y"), arg("h_n"), arg("saved"), arg("stream") = 0,
        "GRU cell step (x 2-D) or sequence (x 3-D) into preallocated y, h_n, saved.");
  m.def("gru_backward", &gru_backward, arg("grad_y"), arg("grad_h_n"), arg("x"), arg("h0"), arg("w_ih"),
        arg("w_hh"), arg("y"), arg("saved"), arg("dx"), arg("dh0"), arg("dw_ih"), arg("dw_hh"), arg("db_ih"),
        arg("db_hh"), arg("stream") = 0, "Gradients of gru_forward (BPTT) into preallocated outputs.");
  m.def("rnn_forward", &rnn_forward, arg("x"), arg("h0"), arg("w_ih"), arg("w_hh"), arg("b_ih"), arg("b_hh"),
        arg("nonlinearity"), arg("y"), arg("h_n"), arg("stream") = 0,
        "Elman RNN cell step (x 2-D) or sequence (x 3-D) into preallocated y, h_n.");
  m.def("rnn_backward", &rnn_backward, arg("grad_y"), arg("grad_h_n"), arg("x"), arg("h0"), arg("w_ih"),
        arg("w_hh"), arg("y"), arg("nonlinearity"), arg("dx"), arg("dh0"), arg("dw_ih"), arg("dw_hh"), arg("db_ih"),
        arg("db_hh"), arg("stream") = 0, "Gradients of rnn_forward (BPTT) into preallocated outputs.");
}

}  // namespace nnc::ops
