// The activation epilogue arguments of conv2d_forward, gemm and epilogue_grad:
// a code of core/activation_math.h and its parameters, checked once here.
#pragma once
#include <cmath>

#include "core/activation_math.h"
#include "core/check.h"
#include "cpu/epilogue.h"

namespace nnc::ops {

// activation: 0 (none) .. act::kCount - 1; act_alpha (leaky relu slope, elu alpha, softplus beta) and
// act_beta (softplus threshold) finite.
template <typename T>
cpu::Activation<T> activation_arg(const char* op, int activation, double act_alpha, double act_beta) {
  NNC_CHECK(activation >= 0 && activation < act::kCount, op, ": activation must be a code in [0, ", int(act::kCount),
            ") (nncore.ops.activation_kinds), got ", activation);
  NNC_CHECK(std::isfinite(act_alpha), op, ": act_alpha must be finite, got ", act_alpha);
  NNC_CHECK(std::isfinite(act_beta), op, ": act_beta must be finite, got ", act_beta);
  NNC_CHECK(activation != act::kSoftplus || act_alpha != 0.0, op, ": softplus needs act_alpha (beta) != 0");
  return cpu::Activation<T>{activation, T(act_alpha), T(act_beta)};
}

}  // namespace nnc::ops
