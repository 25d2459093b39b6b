// Box kernels on the CPU: area, pairwise IoU, and greedy non-maximum suppression
// (plain and per class). Boxes are (N, 4) rows (x1, y1, x2, y2), C-contiguous;
// the callers (ops/boxes.cpp) have already checked every value.
#pragma once
#include <cstdint>

namespace nnc::cpu {

// Index of the first row of boxes (n, 4) that is not finite with x1 <= x2 and
// y1 <= y2, or -1.
template <typename T>
int64_t first_invalid_box(const T* boxes, int64_t n, bool area_fits = false);

// Index of the first non-finite element of x (n,), or -1.
template <typename T>
int64_t first_non_finite(const T* x, int64_t n);

// out (n,) = (x2 - x1) * (y2 - y1)
template <typename T>
void box_area(const T* boxes, int64_t n, T* out);

// out (n, m) = IoU(boxes1[i], boxes2[j]); boxes1 is (n, 4), boxes2 is (m, 4).
// float goes to the best SIMD twin active_isa() allows, double to the portable one.
template <typename T>
void box_iou(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out);

template <typename T>
void box_iou_scalar(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out);

// The SIMD twins read boxes2 as structure-of-arrays (x1, y1, x2, y2, area), m each.
struct BoxColumnsF {
  const float *x1, *y1, *x2, *y2, *area;
};
void box_iou_avx2(const float* boxes1, int64_t n, const BoxColumnsF& boxes2, int64_t m, float* out);
void box_iou_avx512(const float* boxes1, int64_t n, const BoxColumnsF& boxes2, int64_t m, float* out);

// Kept boxes of the NMS sweep, structure-of-arrays in float64, and the question
// the sweep asks of them: does any of kept[begin, begin + count) have IoU > threshold
// with the query (x1, y1, x2, y2, area)? threshold >= 0.
struct KeptBoxes {
  double *x1, *y1, *x2, *y2, *area;
};
bool any_overlap_scalar(const KeptBoxes& kept, int64_t begin, int64_t count, const double* query, double threshold);
bool any_overlap_avx2(const KeptBoxes& kept, int64_t begin, int64_t count, const double* query, double threshold);
bool any_overlap_avx512(const KeptBoxes& kept, int64_t begin, int64_t count, const double* query, double threshold);

struct NmsOptions {
  double iou_threshold = 0.5;       // suppress when IoU > iou_threshold; finite
  bool use_score_threshold = false;
  double score_threshold = 0;       // keep only scores > score_threshold
  int64_t top_k = -1;               // per class, the top_k best candidates enter NMS; -1: all
  int64_t max_output = -1;          // at most this many results; -1: all
};

// Greedy NMS: candidates in decreasing score order (equal scores: lower index
// first); a candidate is kept unless a kept box of its class has IoU > threshold
// with it. idxs (n,) holds class labels (nullptr: one class). Writes the kept
// indices into keep (room for n) in decreasing score order, returns how many.
// The result equals the O(n * kept) greedy loop, computed in float64.
template <typename T>
int64_t nms(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, const NmsOptions& options,
            int64_t* keep);

}  // namespace nnc::cpu
