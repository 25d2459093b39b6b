// Each op's front door registers itself here; bindings/module.cpp calls them all.
#pragma once
#include <pybind11/pybind11.h>

namespace nnc::ops {

void bind_gemm(pybind11::module_& m);
void bind_conv2d(pybind11::module_& m);
void bind_softmax(pybind11::module_& m);
void bind_pool2d(pybind11::module_& m);
void bind_boxes(pybind11::module_& m);
void bind_rnn(pybind11::module_& m);
void bind_interpolate(pybind11::module_& m);
void bind_epilogue(pybind11::module_& m);
void bind_batch_norm(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_optim(pybind11::module_& m);

}  // namespace nnc::ops
