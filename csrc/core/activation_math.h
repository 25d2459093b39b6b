// Per-element activations and their derivatives, shared by the element-wise
// kernels, the convolution / linear epilogues and the CUDA twins. The codes are
// the ones python/nncore/ops/activation_kinds.py names.
#pragma once
#include <math.h>

#include "core/hd.h"

namespace nnc::act {

enum Kind : int {
  kNone = 0,
  kRelu = 1,
  kRelu6 = 2,
  kLeakyRelu = 3,  // alpha = negative slope
  kElu = 4,        // alpha
  kSoftplus = 5,   // alpha = beta, beta = threshold (x*beta > threshold: identity)
  kSoftsign = 6,
  kSigmoid = 7,
  kTanh = 8,
  kCount = 9,
};

NNC_HD float exp_(float x) { return expf(x); }
NNC_HD double exp_(double x) { return exp(x); }
NNC_HD float expm1_(float x) { return expm1f(x); }
NNC_HD double expm1_(double x) { return expm1(x); }
NNC_HD float log1p_(float x) { return log1pf(x); }
NNC_HD double log1p_(double x) { return log1p(x); }
NNC_HD float tanh_(float x) { return tanhf(x); }
NNC_HD double tanh_(double x) { return tanh(x); }
NNC_HD float fabs_(float x) { return fabsf(x); }
NNC_HD double fabs_(double x) { return fabs(x); }

// y = f(x)
template <typename T>
NNC_HD T forward(int kind, T x, T alpha, T beta) {
  switch (kind) {
    case kRelu: return x > T(0) ? x : T(0);
    case kRelu6: return x > T(0) ? (x < T(6) ? x : T(6)) : T(0);
    case kLeakyRelu: return x > T(0) ? x : alpha * x;
    case kElu: return x > T(0) ? x : alpha * expm1_(x);
    case kSoftplus: return x * alpha > beta ? x : log1p_(exp_(x * alpha)) / alpha;
    case kSoftsign: return x / (T(1) + fabs_(x));
    case kSigmoid: return T(1) / (T(1) + exp_(-x));
    case kTanh: return tanh_(x);
    default: return x;
  }
}

// dL/dx = g * f'(x). relu, relu6, leaky relu, elu, sigmoid and tanh need only
// the output y (from_output); softplus and softsign read x. Both are passed;
// the one the kind does not need may be anything.
template <typename T>
NNC_HD T backward(int kind, T g, T x, T y, T alpha, T beta) {
  switch (kind) {
    case kRelu: return y > T(0) ? g : T(0);
    case kRelu6: return (y > T(0) && y < T(6)) ? g : T(0);
    case kLeakyRelu: return y > T(0) ? g : g * alpha;
    case kElu: return y > T(0) ? g : g * (y + alpha);
    case kSoftplus: {
      if (x * alpha > beta) return g;
      T e = exp_(-x * alpha);
      return g / (T(1) + e);
    }
    case kSoftsign: {
      T d = T(1) + fabs_(x);
      return g / (d * d);
    }
    case kSigmoid: return g * y * (T(1) - y);
    case kTanh: return g * (T(1) - y * y);
    default: return g;
  }
}

// True where backward needs x (softplus, softsign); otherwise the output y suffices.
NNC_HD bool backward_needs_input(int kind) { return kind == kSoftplus || kind == kSoftsign; }

}  // namespace nnc::act
