// The only PYBIND11_MODULE: error translation, run-time settings, the caching
// host allocator behind nncore's CPU outputs, build facts, and every op.
#include <string>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/check.h"
#include "core/cuda_runtime.h"
#include "core/cuda_workspace.h"
#include "core/host_cache.h"
#include "core/isa.h"
#include "core/threading.h"
#include "ops/ops.h"

namespace py = pybind11;

namespace {

// numpy.empty, but the memory comes from nncore's host cache (see host_cache.h).
py::array empty(const std::vector<py::ssize_t>& shape, const py::dtype& dtype) {
  std::size_t count = 1;
  for (py::ssize_t s : shape) {
    NNC_CHECK(s >= 0, "empty: sizes must be >= 0, got ", s);
    NNC_CHECK(s == 0 || count <= (std::size_t(1) << 46) / std::size_t(s), "empty: shape is too large");
    count *= std::size_t(s);
  }
  std::size_t bytes = count * std::size_t(dtype.itemsize());
  void* p = nnc::host_alloc(bytes);
  py::capsule owner(p, [](void* q) { nnc::host_free(q); });
  return py::array(dtype, shape, p, owner);
}

py::dict build_info() {
  py::dict info;
  info["version"] = NNCORE_VERSION;
#if defined(__clang__)
  info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info["compiler"] = std::string("gcc ") + __VERSION__;
#else
  info["compiler"] = "unknown";
#endif
  py::list compiled;
  for (nnc::Isa isa : {nnc::Isa::scalar, nnc::Isa::avx2, nnc::Isa::avx512})
    if (nnc::isa_compiled(isa)) compiled.append(nnc::isa_name(isa));
  info["isa_compiled"] = compiled;
  info["isa_supported"] = nnc::isa_name(nnc::best_isa_supported());
  info["isa_active"] = nnc::isa_name(nnc::active_isa());
  info["openmp"] = nnc::openmp_enabled();
  info["num_threads"] = nnc::num_threads();
  info["cuda_built"] = nnc::cuda_built();
  info["cuda_emulator"] = nnc::cuda_emulated();
  info["cuda_architectures"] = nnc::cuda_architectures();
  info["cuda_runtime"] = nnc::cuda_runtime_version();
  std::string why;
  info["cuda_devices"] = nnc::cuda_device_count(&why);
  info["cuda_unavailable_reason"] = why;
  info["host_cache_limit_bytes"] = nnc::host_cache_limit();
  return info;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "nncore kernels: argument checks, then CPU (portable / AVX2 / AVX-512) or CUDA twins.";
  py::register_exception<nnc::RuntimeError>(m, "KernelError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nnc::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const nnc::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });

  m.def("build_info", &build_info, "What was built and what the running machine offers.");
  m.def("set_num_threads", &nnc::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &nnc::num_threads);
  m.def("set_isa", &nnc::set_active_isa, py::arg("name"),
        "Pick the CPU kernel twin: 'auto', 'scalar', 'avx2' or 'avx512' (at most what the processor has).");
  m.def("get_isa", [] { return std::string(nnc::isa_name(nnc::active_isa())); });
  m.def("empty", &empty, py::arg("shape"), py::arg("dtype"));
  m.def("set_cuda_tf32_enabled", &nnc::set_cuda_tf32_enabled, py::arg("enabled"));
  m.def("cuda_tf32_enabled", &nnc::cuda_tf32_enabled);
  m.def("set_cuda_workspace_allocator", &nnc::cuda::set_workspace_allocator, py::arg("allocator"),
        "allocator(nbytes) -> an object whose .ptr is device memory (cupy.cuda.alloc): CUDA workspaces.");
  m.def("host_cache_cached_bytes", &nnc::host_cache_cached_bytes);
  m.def("set_host_cache_limit", &nnc::set_host_cache_limit, py::arg("bytes"));
  m.def("host_cache_clear", &nnc::host_cache_clear);

  nnc::ops::bind_gemm(m);
  nnc::ops::bind_conv2d(m);
  nnc::ops::bind_softmax(m);
  nnc::ops::bind_batch_norm(m);
  nnc::ops::bind_pool2d(m);
  nnc::ops::bind_boxes(m);
  nnc::ops::bind_rnn(m);
  nnc::ops::bind_interpolate(m);
  nnc::ops::bind_epilogue(m);
  nnc::ops::bind_activation(m);
  nnc::ops::bind_optim(m);
}
