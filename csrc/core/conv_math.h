// Index arithmetic of 2-D convolution shared by the front door, the CPU twins
// and the CUDA kernel: output sizes, and which output positions of one kernel
// tap read inside the (unpadded) input.
#pragma once
#include <cstdint>

#include "core/hd.h"

namespace nnc {

// Output length of a convolution along one axis: (in + 2 pad - dil (k - 1) - 1) / stride + 1.
// Meaningful only when in + 2 pad >= dil (k - 1) + 1 (conv_fits).
NNC_HD int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// Does the dilated kernel fit inside the padded input along one axis? Written so
// that no product overflows: dil (k - 1) <= in + 2 pad - 1 as (k - 1) <= (in + 2 pad - 1) / dil,
// for in, pad < 2^62 and dil >= 1 (a kernel size of a zero-size weight may be anything).
NNC_HD bool conv_fits(int64_t in, int64_t k, int64_t pad, int64_t dil) {
  int64_t span = in + 2 * pad - 1;
  return span >= 0 && k - 1 <= span / dil;
}

// Output length of a transposed convolution: (in - 1) stride - 2 pad + dil (k - 1) + out_pad + 1.
NNC_HD int64_t conv_transpose_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                                       int64_t out_pad) {
  return (in - 1) * stride - 2 * pad + dil * (k - 1) + out_pad + 1;
}

// Input coordinate read by output position o through kernel tap t: o stride - pad + t dil.
NNC_HD int64_t conv_in_index(int64_t o, int64_t t, int64_t stride, int64_t pad, int64_t dil) {
  return o * stride - pad + t * dil;
}

// For kernel tap t, the output positions [lo, hi) whose input coordinate lies in [0, in);
// positions outside read zero padding. Clipped to [0, out); lo <= hi.
NNC_HD void conv_valid_range(int64_t t, int64_t stride, int64_t pad, int64_t dil, int64_t in, int64_t out,
                             int64_t* lo, int64_t* hi) {
  int64_t offset = t * dil - pad;  // input coordinate of output 0
  // smallest o with o stride + offset >= 0
  int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // smallest o with o stride + offset >= in
  int64_t end = in - offset <= 0 ? 0 : (in - offset + stride - 1) / stride;
  if (first > out) first = out;
  if (end > out) end = out;
  if (end < first) end = first;
  *lo = first;
  *hi = end;
}

}  // namespace nnc
