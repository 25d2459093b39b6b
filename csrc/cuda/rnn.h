// Recurrent sequences (LSTM, GRU, Elman; a cell is a sequence of one step) on
// the GPU, forward and backward, on `stream` (a cudaStream_t as void*). Same
// arguments and layouts as the CPU twin (cpu/rnn.h).
#pragma once
#include "cpu/rnn.h"

namespace nnc::cuda {

template <typename T> void lstm_forward(const cpu::LstmForward<T>& a, void* stream);
template <typename T> void lstm_backward(const cpu::LstmBackward<T>& a, void* stream);
template <typename T> void gru_forward(const cpu::GruForward<T>& a, void* stream);
template <typename T> void gru_backward(const cpu::GruBackward<T>& a, void* stream);
template <typename T> void rnn_forward(const cpu::RnnForward<T>& a, void* stream);
template <typename T> void rnn_backward(const cpu::RnnBackward<T>& a, void* stream);

}  // namespace nnc::cuda
