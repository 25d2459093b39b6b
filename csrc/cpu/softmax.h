// Softmax family on the CPU: softmax / log_softmax along the middle axis of a
// contiguous array seen as (outer, C, inner), their backwards, and the fused
// cross-entropy (loss and d loss / d logits in one pass over the logits).
#pragma once
#include <cstdint>

namespace nnc::cpu {

enum class Reduction { none = 0, mean = 1, sum = 2 };

template <typename T>
struct CeArgs {
  const T* logits;        // (N, C, S)
  const int64_t* target;  // (N, S) class indices, or null when target_prob is given
  const T* target_prob;   // (N, C, S) class probabilities, or null
  const T* weight;        // (C,) or null
  T* loss;                // (N, S) for reduction none, one element otherwise; null: not wanted
  T* grad;                // (N, C, S) grad_output * d loss / d logits, or null: not wanted
  const T* grad_output;   // null (all ones), or read at position * grad_output_stride
  int64_t grad_output_stride;
  double grad_scale;      // multiplies grad_output
  int64_t N, C, S;
  int64_t ignore_index;
  Reduction reduction;
  double label_smoothing;
};

struct CeStatus {
  int64_t bad_position = -1;  // first position whose class index is out of range, or -1
  int64_t bad_target = 0;     // its value
  bool nonfinite_target = false;
};

// Writes what a.loss / a.grad ask for; the caller raises on a bad status.
template <typename T>
CeStatus cross_entropy(const CeArgs<T>& a);

// y = softmax(x) or log_softmax(x); x, y are (outer, C, inner); y may be x.
template <typename T>
void softmax(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log);

// softmax: dx = y (g - sum_c g y); log_softmax: dx = g - exp(y) sum_c g. dx may be g.
template <typename T>
void softmax_backward(const T* grad_y, const T* y, T* grad_x, int64_t outer, int64_t C, int64_t inner, bool log);

// ---- what the twins implement (one "task" = a row when inner == 1, else a
// block of up to kSpatialBlock positions of one outer index) ----

constexpr int64_t kSpatialBlock = 64;

inline int64_t task_count(int64_t outer, int64_t inner) {
  return inner == 1 ? outer : outer * ((inner + kSpatialBlock - 1) / kSpatialBlock);
}

// Per-block results of the cross-entropy twins, combined in block order.
struct CePartial {
  double loss = 0;  // sum of the per-position losses
  double wsum = 0;  // sum of the weights of the non-ignored class-index targets
  int64_t bad_position = -1;
  int64_t bad_target = 0;
  bool nonfinite_target = false;
  void flag_bad(int64_t position, int64_t value) {
    if (bad_position < 0) {
      bad_position = position;
      bad_target = value;
    }
  }
};

// g_scale: the gradient of position p is g_scale * grad_output[p * stride]
// (grad_scale / total weight for reduction mean).
template <typename T>
void ce_tasks_portable(const CeArgs<T>& a, double g_scale, int64_t t0, int64_t t1, CePartial& part);
template <typename T>
void softmax_tasks_portable(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log, int64_t t0,
                            int64_t t1);
template <typename T>
void softmax_backward_tasks_portable(const T* gy, const T* y, T* gx, int64_t outer, int64_t C, int64_t inner,
                                     bool log, int64_t t0, int64_t t1);

#define NNC_SOFTMAX_TWIN(isa)                                                                                      \
  void ce_tasks_##isa(const CeArgs<float>& a, double g_scale, int64_t t0, int64_t t1, CePartial& part);           \
  void softmax_tasks_##isa(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, bool log,          \
                           int64_t t0, int64_t t1);                                                              \
  void softmax_backward_tasks_##isa(const float* gy, const float* y, float* gx, int64_t outer, int64_t C,       \
                                    int64_t inner, bool log, int64_t t0, int64_t t1);
NNC_SOFTMAX_TWIN(avx2)
NNC_SOFTMAX_TWIN(avx512)
#undef NNC_SOFTMAX_TWIN

}  // namespace nnc::cpu
