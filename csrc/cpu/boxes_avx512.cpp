// AVX-512 twin of the box kernels: pairwise IoU in float32, 16 boxes of boxes2
// per vector (bit-identical to the portable twin: no FMA, exact division), and
// the NMS question "does a kept box overlap this one?" in float64, 8 per vector.
#include <immintrin.h>

#include "core/boxes_math.h"
#include "core/threading.h"
#include "cpu/boxes.h"

namespace nnc::cpu {
namespace {

// Keeps the compiler from fusing a product into a later add (the portable twin rounds it).
inline __m512 rounded(__m512 v) {
  __asm__("" : "+v"(v));
  return v;
}
inline __m512d rounded(__m512d v) {
  __asm__("" : "+v"(v));
  return v;
}

}  // namespace

void box_iou_avx512(const float* boxes1, int64_t n, const BoxColumnsF& b, int64_t m, float* out) {
  int nt = n * m >= (int64_t(1) << 18) ? num_threads() : 1;  // below ~0.1 ms a fork costs more
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* a = boxes1 + 4 * i;
    const __m512 ax1 = _mm512_set1_ps(a[0]), ay1 = _mm512_set1_ps(a[1]);
    const __m512 ax2 = _mm512_set1_ps(a[2]), ay2 = _mm512_set1_ps(a[3]);
    const __m512 area1 = _mm512_set1_ps(nnc::box_area<float>(a[0], a[1], a[2], a[3]));
    const __m512 zero = _mm512_setzero_ps();
    float* row = out + i * m;
    for (int64_t j = 0; j < m; j += 16) {
      // columns are padded to a multiple of 16, so full loads stay inside them
      __m512 w = _mm512_sub_ps(_mm512_min_ps(ax2, _mm512_load_ps(b.x2 + j)), _mm512_max_ps(ax1, _mm512_load_ps(b.x1 + j)));
      __m512 h = _mm512_sub_ps(_mm512_min_ps(ay2, _mm512_load_ps(b.y2 + j)), _mm512_max_ps(ay1, _mm512_load_ps(b.y1 + j)));
      __m512 inter = rounded(_mm512_mul_ps(_mm512_max_ps(w, zero), _mm512_max_ps(h, zero)));
      __m512 uni = _mm512_sub_ps(_mm512_add_ps(area1, _mm512_load_ps(b.area + j)), inter);
      __mmask16 positive = _mm512_cmp_ps_mask(uni, zero, _CMP_GT_OQ);
      __m512 iou = _mm512_maskz_div_ps(positive, inter, uni);
      if (j + 16 <= m) {
        _mm512_storeu_ps(row + j, iou);
      } else {
        _mm512_mask_storeu_ps(row + j, __mmask16((1u << (m - j)) - 1), iou);
      }
    }
  }
}

bool any_overlap_avx512(const KeptBoxes& kept, int64_t begin, int64_t count, const double* q, double threshold) {
  const __m512d qx1 = _mm512_set1_pd(q[0]), qy1 = _mm512_set1_pd(q[1]);
  const __m512d qx2 = _mm512_set1_pd(q[2]), qy2 = _mm512_set1_pd(q[3]);
  const __m512d qa = _mm512_set1_pd(q[4]), thr = _mm512_set1_pd(threshold), zero = _mm512_setzero_pd();
  for (int64_t k = begin; k < begin + count; k += 8) {
    int64_t left = begin + count - k;
    __mmask8 live = left >= 8 ? __mmask8(0xFF) : __mmask8((1u << left) - 1);
    __m512d w = _mm512_sub_pd(_mm512_min_pd(qx2, _mm512_maskz_loadu_pd(live, kept.x2 + k)),
                              _mm512_max_pd(qx1, _mm512_maskz_loadu_pd(live, kept.x1 + k)));
    __m512d h = _mm512_sub_pd(_mm512_min_pd(qy2, _mm512_maskz_loadu_pd(live, kept.y2 + k)),
                              _mm512_max_pd(qy1, _mm512_maskz_loadu_pd(live, kept.y1 + k)));
    // IoU is 0 unless both overlaps are positive, and 0 never exceeds threshold >= 0
    __mmask8 overlap = _mm512_mask_cmp_pd_mask(_mm512_mask_cmp_pd_mask(live, w, zero, _CMP_GT_OQ), h, zero,
                                               _CMP_GT_OQ);
    if (!overlap) continue;
    __m512d inter = rounded(_mm512_mul_pd(w, h));
    __m512d uni = _mm512_sub_pd(_mm512_add_pd(qa, _mm512_maskz_loadu_pd(live, kept.area + k)), inter);
    __mmask8 positive = _mm512_mask_cmp_pd_mask(overlap, uni, zero, _CMP_GT_OQ);
    __m512d iou = _mm512_maskz_div_pd(positive, inter, uni);
    if (_mm512_mask_cmp_pd_mask(positive, iou, thr, _CMP_GT_OQ)) return true;
  }
  return false;
}

}  // namespace nnc::cpu
