// CUDA box kernels on `stream` (a cudaStream_t passed as void*): value checks,
// area, pairwise IoU, and greedy NMS giving the CPU twin's indices exactly.
#pragma once
#include <cstdint>

#include "cpu/boxes.h"

namespace nnc::cuda {

// First row of boxes (n, 4) that is not finite with x1 <= x2, y1 <= y2, or -1;
// its four values go to row. Waits for the stream.
template <typename T>
int64_t first_invalid_box(const T* boxes, int64_t n, double row[4], void* stream, bool area_fits = false);

// First non-finite element of x (n,), or -1; its value goes to value. Waits for the stream.
template <typename T>
int64_t first_non_finite(const T* x, int64_t n, double* value, void* stream);

template <typename T>
void box_area(const T* boxes, int64_t n, T* out, void* stream);

// out (n, m) = IoU(boxes1[i], boxes2[j])
template <typename T>
void box_iou(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out, void* stream);

// As cpu::nms: kept indices into keep (device, room for n); returns how many
// (waits for the stream). idxs (device) may be null.
template <typename T>
int64_t nms(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, const cpu::NmsOptions& options,
            int64_t* keep, void* stream);

}  // namespace nnc::cuda
