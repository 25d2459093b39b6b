// Per-element optimiser updates (PyTorch's rules for SGD, Adam / AdamW, RMSprop, Adagrad), shared by the CPU twins and
// the CUDA kernels: one pass reads a parameter, its gradient and its state and
// writes the parameter and the state back. Float32 throughout.
#pragma once
#include <math.h>

#include <cstdint>

#include "core/hd.h"

namespace nnc::optim_math {

// SGD: d = g (-g when maximising) + weight_decay w; with momentum,
// buf = d on the first step, else momentum buf + (1 - dampening) d, and
// d = d + momentum buf (nesterov) or buf; then w -= lr d.
struct SgdArgs {
  float* w;          // (n,)
  const float* g;    // (n,)
  float* buf;        // (n,) momentum buffer, null without momentum
  int64_t n;
  float lr, momentum, dampening, weight_decay;
  bool nesterov, maximize, first_step;
};

NNC_HD void sgd_at(const SgdArgs& a, int64_t i) {
  float w = a.w[i];
  float d = a.maximize ? -a.g[i] : a.g[i];
  if (a.weight_decay != 0.0f) d = fmaf(a.weight_decay, w, d);
  if (a.buf) {
    float b = a.first_step ? d : fmaf(a.momentum, a.buf[i], (1.0f - a.dampening) * d);
    a.buf[i] = b;
    d = a.nesterov ? fmaf(a.momentum, b, d) : b;
  }
  a.w[i] = fmaf(-a.lr, d, w);
}

// Adam / AdamW: w *= param_scale (AdamW's 1 - lr weight_decay, else 1);
// d = g (-g when maximising) + grad_decay w (Adam's L2 weight_decay, else 0);
// m += (1 - beta1) (d - m); v = beta2 v + (1 - beta2) d^2; vmax = max(vmax, v)
// (amsgrad, vmax not null); w -= step_size m / (sqrt(vmax or v) / bias2_sqrt + eps),
// step_size = lr / (1 - beta1^t) and bias2_sqrt = sqrt(1 - beta2^t) from the caller.
struct AdamArgs {
  float* w;           // (n,)
  const float* g;     // (n,)
  float* m;           // (n,) exp_avg
  float* v;           // (n,) exp_avg_sq
  float* vmax;        // (n,) max_exp_avg_sq, null without amsgrad
  int64_t n;
  float beta1, beta2, eps, grad_decay, param_scale, step_size, bias2_sqrt;
  bool maximize;
};

NNC_HD void adam_at(const AdamArgs& a, int64_t i) {
  float w = a.w[i] * a.param_scale;
  float d = a.maximize ? -a.g[i] : a.g[i];
  if (a.grad_decay != 0.0f) d = fmaf(a.grad_decay, w, d);
  float m = fmaf(1.0f - a.beta1, d - a.m[i], a.m[i]);
  float v = fmaf(1.0f - a.beta2, d * d, a.beta2 * a.v[i]);
  a.m[i] = m;
  a.v[i] = v;
  if (a.vmax) {
    v = fmaxf(a.vmax[i], v);
    a.vmax[i] = v;
  }
  float denom = sqrtf(v) / a.bias2_sqrt + a.eps;
  a.w[i] = fmaf(-a.step_size, m / denom, w);
}

// RMSprop: d = g (-g when maximising) + weight_decay w; sq = alpha sq + (1 - alpha) d^2;
// centred (ga not null): ga += (1 - alpha) (d - ga), avg = sqrt(sq - ga^2) + eps, else
// avg = sqrt(sq) + eps; with momentum (buf not null) buf = momentum buf + d / avg and
// w -= lr buf, else w -= lr d / avg.
struct RmspropArgs {
  float* w;          // (n,)
  const float* g;    // (n,)
  float* sq;         // (n,) square_avg
  float* ga;         // (n,) grad_avg, null unless centred
  float* buf;        // (n,) momentum_buffer, null without momentum
  int64_t n;
  float lr, alpha, eps, weight_decay, momentum;
  bool maximize;
};

NNC_HD void rmsprop_at(const RmspropArgs& a, int64_t i) {
  float w = a.w[i];
  float d = a.maximize ? -a.g[i] : a.g[i];
  if (a.weight_decay != 0.0f) d = fmaf(a.weight_decay, w, d);
  float sq = fmaf(1.0f - a.alpha, d * d, a.alpha * a.sq[i]);
  a.sq[i] = sq;
  if (a.ga) {
    float ga = fmaf(1.0f - a.alpha, d - a.ga[i], a.ga[i]);
    a.ga[i] = ga;
    sq = fmaf(-ga, ga, sq);
  }
  float step = d / (sqrtf(sq) + a.eps);
  if (a.buf) {
    step = fmaf(a.momentum, a.buf[i], step);
    a.buf[i] = step;
  }
  a.w[i] = fmaf(-a.lr, step, w);
}

// Adagrad: d = g (-g when maximising) + weight_decay w; sum += d^2;
// w -= clr d / (sqrt(sum) + eps), clr = lr / (1 + (t - 1) lr_decay) from the caller.
struct AdagradArgs {
  float* w;          // (n,)
  const float* g;    // (n,)
  float* sum;        // (n,)
  int64_t n;
  float clr, eps, weight_decay;
  bool maximize;
};

NNC_HD void adagrad_at(const AdagradArgs& a, int64_t i) {
  float w = a.w[i];
  float d = a.maximize ? -a.g[i] : a.g[i];
  if (a.weight_decay != 0.0f) d = fmaf(a.weight_decay, w, d);
  float s = fmaf(d, d, a.sum[i]);
  a.sum[i] = s;
  a.w[i] = fmaf(-a.clr, d / (sqrtf(s) + a.eps), w);
}

}  // namespace nnc::optim_math
