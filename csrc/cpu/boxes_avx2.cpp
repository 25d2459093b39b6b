// AVX2 twin of the box kernels: pairwise IoU in float32, 8 boxes of boxes2 per
// vector (bit-identical to the portable twin: no FMA, exact division), and the
// NMS question "does a kept box overlap this one?" in float64, 4 per vector.
#include <immintrin.h>

#include "core/boxes_math.h"
#include "core/threading.h"
#include "cpu/boxes.h"

namespace nnc::cpu {
namespace {

// Keeps the compiler from fusing a product into a later add (the portable twin rounds it).
inline __m256 rounded(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}
inline __m256d rounded(__m256d v) {
  __asm__("" : "+x"(v));
  return v;
}

}  // namespace

void box_iou_avx2(const float* boxes1, int64_t n, const BoxColumnsF& b, int64_t m, float* out) {
  int nt = n * m >= (int64_t(1) << 18) ? num_threads() : 1;  // below ~0.1 ms a fork costs more
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* a = boxes1 + 4 * i;
    const __m256 ax1 = _mm256_set1_ps(a[0]), ay1 = _mm256_set1_ps(a[1]);
    const __m256 ax2 = _mm256_set1_ps(a[2]), ay2 = _mm256_set1_ps(a[3]);
    const __m256 area1 = _mm256_set1_ps(nnc::box_area<float>(a[0], a[1], a[2], a[3]));
    const __m256 zero = _mm256_setzero_ps();
    float* row = out + i * m;
    for (int64_t j = 0; j < m; j += 8) {
      // columns are padded to a multiple of 16, so full loads stay inside them
      __m256 w = _mm256_sub_ps(_mm256_min_ps(ax2, _mm256_load_ps(b.x2 + j)), _mm256_max_ps(ax1, _mm256_load_ps(b.x1 + j)));
      __m256 h = _mm256_sub_ps(_mm256_min_ps(ay2, _mm256_load_ps(b.y2 + j)), _mm256_max_ps(ay1, _mm256_load_ps(b.y1 + j)));
      __m256 inter = rounded(_mm256_mul_ps(_mm256_max_ps(w, zero), _mm256_max_ps(h, zero)));
      __m256 uni = _mm256_sub_ps(_mm256_add_ps(area1, _mm256_load_ps(b.area + j)), inter);
      __m256 positive = _mm256_cmp_ps(uni, zero, _CMP_GT_OQ);
      __m256 iou = _mm256_and_ps(positive, _mm256_div_ps(inter, _mm256_blendv_ps(_mm256_set1_ps(1.f), uni, positive)));
      if (j + 8 <= m) {
        _mm256_storeu_ps(row + j, iou);
      } else {
        alignas(32) float tail[8];
        _mm256_store_ps(tail, iou);
        for (int64_t t = 0; t < m - j; ++t) row[j + t] = tail[t];
      }
    }
  }
}

bool any_overlap_avx2(const KeptBoxes& kept, int64_t begin, int64_t count, const double* q, double threshold) {
  const __m256d qx1 = _mm256_set1_pd(q[0]), qy1 = _mm256_set1_pd(q[1]);
  const __m256d qx2 = _mm256_set1_pd(q[2]), qy2 = _mm256_set1_pd(q[3]);
  const __m256d qa = _mm256_set1_pd(q[4]), thr = _mm256_set1_pd(threshold), zero = _mm256_setzero_pd();
  int64_t end = begin + count, k = begin;
  for (; k + 4 <= end; k += 4) {
    __m256d w = _mm256_sub_pd(_mm256_min_pd(qx2, _mm256_loadu_pd(kept.x2 + k)), _mm256_max_pd(qx1, _mm256_loadu_pd(kept.x1 + k)));
    __m256d h = _mm256_sub_pd(_mm256_min_pd(qy2, _mm256_loadu_pd(kept.y2 + k)), _mm256_max_pd(qy1, _mm256_loadu_pd(kept.y1 + k)));
    // IoU is 0 unless both overlaps are positive, and 0 never exceeds threshold >= 0
    __m256d overlap = _mm256_and_pd(_mm256_cmp_pd(w, zero, _CMP_GT_OQ), _mm256_cmp_pd(h, zero, _CMP_GT_OQ));
    if (_mm256_testz_pd(overlap, overlap)) continue;
    __m256d inter = rounded(_mm256_mul_pd(w, h));
    __m256d uni = _mm256_sub_pd(_mm256_add_pd(qa, _mm256_loadu_pd(kept.area + k)), inter);
    __m256d positive = _mm256_and_pd(overlap, _mm256_cmp_pd(uni, zero, _CMP_GT_OQ));
    __m256d iou = _mm256_div_pd(inter, _mm256_blendv_pd(_mm256_set1_pd(1.0), uni, positive));
    __m256d over = _mm256_and_pd(positive, _mm256_cmp_pd(iou, thr, _CMP_GT_OQ));
    if (!_mm256_testz_pd(over, over)) return true;
  }
  return k < end && any_overlap_scalar(kept, k, end - k, q, threshold);
}

}  // namespace nnc::cpu
