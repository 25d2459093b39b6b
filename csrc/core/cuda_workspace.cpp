// Where CUDA workspaces come from: a Python callable registered by nncore.ops
// (cupy.cuda.alloc, CuPy's memory pool on its current device), so scratch
// memory shares the pool that holds nncore's outputs.
#include <pybind11/pybind11.h>

#include "core/check.h"
#include "core/cuda_buffer.h"
#include "core/cuda_workspace.h"

namespace py = pybind11;

namespace nnc::cuda {
namespace {

py::object* allocator = nullptr;  // never freed: it may be needed until the interpreter is gone

}  // namespace

void set_workspace_allocator(py::object alloc) {
  py::gil_scoped_acquire gil;
  if (!allocator) allocator = new py::object();
  *allocator = std::move(alloc);
}

void* workspace_acquire(size_t bytes, void** owner) {
  py::gil_scoped_acquire gil;
  if (!allocator || allocator->is_none())
    throw RuntimeError("CUDA workspace requested before nncore.ops registered its allocator");
  py::object memory = (*allocator)(bytes);
  void* ptr = reinterpret_cast<void*>(memory.attr("ptr").cast<uintptr_t>());
  *owner = new py::object(std::move(memory));
  return ptr;
}

void workspace_release(void* owner) {
  py::gil_scoped_acquire gil;
  delete static_cast<py::object*>(owner);
}

}  // namespace nnc::cuda
