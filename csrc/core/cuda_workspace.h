// Registers the Python callable that CUDA workspaces (core/cuda_buffer.h) come
// from: allocator(nbytes) returns an object whose .ptr is device memory, kept
// alive while the workspace is in use (cupy.cuda.alloc's MemoryPointer).
#pragma once
#include <pybind11/pybind11.h>

namespace nnc::cuda {

void set_workspace_allocator(pybind11::object allocator);

}  // namespace nnc::cuda
