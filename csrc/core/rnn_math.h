// Per-element gate equations of the recurrent cells (LSTM i,f,g,o with optional
// peepholes; GRU r,z,n in PyTorch's form; Elman tanh/relu), forward and
// backward. Shared by the portable CPU twin and the CUDA kernels.
#pragma once
#include <math.h>

#include "core/hd.h"

namespace nnc::rnn {

NNC_HD float exp_(float x) { return expf(x); }
NNC_HD double exp_(double x) { return exp(x); }
NNC_HD float tanh_(float x) { return tanhf(x); }
NNC_HD double tanh_(double x) { return tanh(x); }

template <typename T>
NNC_HD T sigmoid(T x) {
  return T(1) / (T(1) + exp_(-x));
}

// LSTM, one hidden unit of one sample. a_* are the gate pre-activations
// (W_ih x + b_ih + W_hh h + b_hh); p_i, p_f, p_o the peephole weights (0 without).
//   i = σ(a_i + p_i c), f = σ(a_f + p_f c), g = tanh(a_g),
//   c' = f c + i g,     o = σ(a_o + p_o c'), h' = o tanh(c')
template <typename T>
struct LstmGates {
  T i, f, g, o, c_new, h_new;
};

template <typename T>
NNC_HD LstmGates<T> lstm_forward(T a_i, T a_f, T a_g, T a_o, T c, T p_i, T p_f, T p_o) {
  LstmGates<T> s;
  s.i = sigmoid(a_i + p_i * c);
  s.f = sigmoid(a_f + p_f * c);
  s.g = tanh_(a_g);
  s.c_new = s.f * c + s.i * s.g;
  s.o = sigmoid(a_o + p_o * s.c_new);
  s.h_new = s.o * tanh_(s.c_new);
  return s;
}

// Gradients of the LSTM unit: dh, dc are dL/dh' and dL/dc' from above; returns
// dL/da_* (the gate pre-activations) and dL/dc (through f and the peepholes).
template <typename T>
struct LstmGrads {
  T da_i, da_f, da_g, da_o, dc_prev;
};

template <typename T>
NNC_HD LstmGrads<T> lstm_backward(T dh, T dc, T i, T f, T g, T o, T c, T c_new, T p_i, T p_f, T p_o) {
  LstmGrads<T> d;
  T tc = tanh_(c_new);
  d.da_o = dh * tc * o * (T(1) - o);
  T dcn = dc + dh * o * (T(1) - tc * tc) + d.da_o * p_o;
  d.da_i = dcn * g * i * (T(1) - i);
  d.da_f = dcn * c * f * (T(1) - f);
  d.da_g = dcn * i * (T(1) - g * g);
  d.dc_prev = dcn * f + d.da_i * p_i + d.da_f * p_f;
  return d;
}

// GRU (PyTorch): x_* = (W_i* x + b_i*), h_* = (W_h* h + b_h*),
//   r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r h_n), h' = (1 - z) n + z h
template <typename T>
struct GruGates {
  T r, z, n, h_new;
};

template <typename T>
NNC_HD GruGates<T> gru_forward(T x_r, T x_z, T x_n, T h_r, T h_z, T h_n, T h) {
  GruGates<T> s;
  s.r = sigmoid(x_r + h_r);
  s.z = sigmoid(x_z + h_z);
  s.n = tanh_(x_n + s.r * h_n);
  s.h_new = (T(1) - s.z) * s.n + s.z * h;
  return s;
}

// Gradients of the GRU unit from dh = dL/dh': dL/dx_{r,z,n} (input side; the
// hidden side's r and z grads are the same), dL/dh_n, and the direct part of
// dL/dh (z dh; the rest flows through W_hh).
template <typename T>
struct GruGrads {
  T dx_r, dx_z, dx_n, dh_n, dh_prev;
};

template <typename T>
NNC_HD GruGrads<T> gru_backward(T dh, T r, T z, T n, T h_n, T h) {
  GruGrads<T> d;
  d.dx_n = dh * (T(1) - z) * (T(1) - n * n);
  d.dx_z = dh * (h - n) * z * (T(1) - z);
  d.dx_r = d.dx_n * h_n * r * (T(1) - r);
  d.dh_n = d.dx_n * r;
  d.dh_prev = dh * z;
  return d;
}

// Elman: h' = act(a); the derivative is written in terms of h'.
template <typename T>
NNC_HD T rnn_forward(T a, bool relu) {
  return relu ? (a > T(0) ? a : T(0)) : tanh_(a);
}

template <typename T>
NNC_HD T rnn_backward(T dh, T h_new, bool relu) {
  return relu ? (h_new > T(0) ? dh : T(0)) : dh * (T(1) - h_new * h_new);
}

}  // namespace nnc::rnn
