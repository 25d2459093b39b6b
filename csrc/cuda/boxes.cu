// CUDA box kernels: value checks, area, pairwise IoU (one thread per output), and
// NMS: candidates sorted on the device (score descending, index ascending), a
// kernel comparing 64-box tiles in shared memory writes for each box the 64-bit
// masks of later boxes it suppresses, and one block runs the greedy pass over the
// masks. IoU is core/boxes_math.h's float64 box_iou, so indices equal the CPU's.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "core/boxes_math.h"
#include "core/cuda_buffer.h"
#include "core/cuda_check.h"
#include "cuda/boxes.h"
#include "cuda/launch.cuh"

namespace nnc::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 64;  // boxes per mask word

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 4096)); }


template <typename T>
T copy_to_host(const T* device_value, cudaStream_t stream) {
  T value;
  NNC_CUDA_CHECK(cudaMemcpyAsync(&value, device_value, sizeof(T), cudaMemcpyDeviceToHost, stream));
  NNC_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

// ---- value checks, area, IoU ----

template <typename T>
__global__ void first_invalid_box_kernel(const T* boxes, int64_t n, bool area_fits, unsigned long long* first) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T* b = boxes + 4 * i;
    if (!box_is_valid<T>(b[0], b[1], b[2], b[3], area_fits)) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

template <typename T>
__global__ void first_non_finite_kernel(const T* x, int64_t n, unsigned long long* first) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (!(x[i] - x[i] == T(0))) atomicMin(first, static_cast<unsigned long long>(i));
}

template <typename T>
__global__ void box_area_kernel(const T* boxes, int64_t n, T* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T* b = boxes + 4 * i;
    out[i] = nnc::box_area<T>(b[0], b[1], b[2], b[3]);
  }
}

// out (n, m): threadIdx.x walks boxes2 (coalesced stores), blockIdx.y walks rows.
template <typename T>
__global__ void box_iou_kernel(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const T* b = boxes2 + 4 * j;
  T bx1 = b[0], by1 = b[1], bx2 = b[2], by2 = b[3];
  T area_b = nnc::box_area<T>(bx1, by1, bx2, by2);
  for (int64_t i = blockIdx.y; i < n; i += gridDim.y) {
    const T* a = boxes1 + 4 * i;
    T ax1 = a[0], ay1 = a[1], ax2 = a[2], ay2 = a[3];
    T area_a = nnc::box_area<T>(ax1, ay1, ax2, ay2);
    out[i * m + j] = nnc::box_iou<T>(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b);
  }
}

// ---- NMS ----

// Keys whose ascending order is decreasing score (-0 and +0 alike); boxes at or
// below the score threshold get the largest key and count as not candidates.
__device__ uint32_t descending_key(float s) {
  uint32_t u = __float_as_uint(s == 0.0f ? 0.0f : s);
  return ~((u & 0x80000000u) ? ~u : (u | 0x80000000u));
}
__device__ uint64_t descending_key(double s) {
  uint64_t u = static_cast<uint64_t>(__double_as_longlong(s == 0.0 ? 0.0 : s));
  return ~((u >> 63) ? ~u : (u | (uint64_t(1) << 63)));
}

template <typename T, typename K>
__global__ void score_keys_kernel(const T* scores, int64_t n, bool use_threshold, double threshold, K* keys,
                                  int64_t* order, unsigned long long* candidates) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    bool candidate = !use_threshold || double(scores[i]) > threshold;
    keys[i] = candidate ? descending_key(scores[i]) : ~K(0);
    order[i] = i;
    if (candidate) atomicAdd(candidates, 1ull);
  }
}

// Sorted candidates -> their labels, and (label, position) pairs to group them by label.
__global__ void label_keys_kernel(const int64_t* idxs, const int64_t* sorted, int64_t m, int64_t* labels,
                                  uint64_t* label_keys, int64_t* positions) {
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < m; p += int64_t(gridDim.x) * blockDim.x) {
    int64_t label = idxs[sorted[p]];
    labels[p] = label;
    label_keys[p] = static_cast<uint64_t>(label) ^ (uint64_t(1) << 63);  // signed order as unsigned
    positions[p] = p;
  }
}

// In label-grouped order q: where q's group starts (scanned by max afterwards).
__global__ void group_heads_kernel(const uint64_t* grouped_keys, int64_t m, int64_t* head) {
  for (int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; q < m; q += int64_t(gridDim.x) * blockDim.x)
    head[q] = (q == 0 || grouped_keys[q] != grouped_keys[q - 1]) ? q : 0;
}

struct MaxOp {
  __device__ int64_t operator()(int64_t a, int64_t b) const { return a > b ? a : b; }
};

// Candidates beyond the top_k best of their class take no part in NMS.
__global__ void mark_beyond_top_k_kernel(const int64_t* group_start, const int64_t* grouped_positions, int64_t m,
                                         int64_t top_k, uint8_t* excluded) {
  for (int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; q < m; q += int64_t(gridDim.x) * blockDim.x)
    excluded[grouped_positions[q]] = (q - group_start[q]) >= top_k;
}

// mask[i * words + w] bit b: candidate i (in score order) suppresses candidate
// 64 w + b > i (same label, IoU > threshold). Block (w, r) compares rows 64 r..
// with columns 64 w.. held in shared memory; tiles left of the diagonal are never read.
template <typename T>
__global__ void nms_mask_kernel(const T* boxes, const int64_t* sorted, const int64_t* labels, int64_t m,
                                double threshold, int64_t words, unsigned long long* mask) {
  const int64_t row_block = blockIdx.y, col_block = blockIdx.x;
  if (col_block < row_block) return;
  __shared__ double col_box[kTile][5];
  __shared__ int64_t col_label[kTile];
  const int64_t col0 = col_block * kTile;
  const int cols = static_cast<int>(m - col0 < kTile ? m - col0 : kTile);
  if (int(threadIdx.x) < cols) {
    const T* b = boxes + 4 * sorted[col0 + threadIdx.x];
    double x1 = b[0], y1 = b[1], x2 = b[2], y2 = b[3];
    col_box[threadIdx.x][0] = x1, col_box[threadIdx.x][1] = y1;
    col_box[threadIdx.x][2] = x2, col_box[threadIdx.x][3] = y2;
    col_box[threadIdx.x][4] = nnc::box_area<double>(x1, y1, x2, y2);
    col_label[threadIdx.x] = labels ? labels[col0 + threadIdx.x] : 0;
  }
  __syncthreads();
  const int64_t i = row_block * kTile + threadIdx.x;
  if (i >= m) return;
  const T* a = boxes + 4 * sorted[i];
  const double x1 = a[0], y1 = a[1], x2 = a[2], y2 = a[3];
  const double area = nnc::box_area<double>(x1, y1, x2, y2);
  const int64_t label = labels ? labels[i] : 0;
  unsigned long long bits = 0;
  for (int j = row_block == col_block ? threadIdx.x + 1 : 0; j < cols; ++j) {
    if (col_label[j] != label) continue;
    double iou = nnc::box_iou<double>(x1, y1, x2, y2, area, col_box[j][0], col_box[j][1], col_box[j][2], col_box[j][3],
                                 col_box[j][4]);
    if (iou > threshold) bits |= 1ull << j;
  }
  mask[i * words + col_block] = bits;
}

// The greedy pass, one block: walk candidates in score order, keep each one not
// yet removed (nor excluded), and remove what its mask row suppresses.
__global__ void nms_greedy_kernel(const unsigned long long* mask, int64_t words, const int64_t* sorted,
                                  const uint8_t* excluded, int64_t m, int64_t max_kept,
                                  unsigned long long* removed_global, int64_t* keep, int64_t* count) {
  unsigned long long* removed = removed_global ? removed_global : dynamic_shared<unsigned long long>();
  for (int64_t w = threadIdx.x; w < words; w += blockDim.x) removed[w] = 0;
  __syncthreads();
  int64_t kept = 0;  // the same in every thread
  for (int64_t i = 0; i < m && kept < max_kept; ++i) {
    if ((removed[i / kTile] >> (i % kTile)) & 1ull) continue;
    if (excluded && excluded[i]) continue;
    if (threadIdx.x == 0) keep[kept] = sorted[i];
    ++kept;
    __syncthreads();  // every thread has read removed[i / 64] before anyone updates it
    const unsigned long long* row = mask + i * words;
    for (int64_t w = i / kTile + threadIdx.x; w < words; w += blockDim.x) removed[w] |= row[w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *count = kept;
}

}  // namespace

template <typename T>
int64_t first_invalid_box(const T* boxes, int64_t n, double row[4], void* stream, bool area_fits) {
  if (n == 0) return -1;
  cudaStream_t s = as_stream(stream);
  DeviceBuffer first(sizeof(unsigned long long));
  NNC_CUDA_CHECK(cudaMemsetAsync(first.as<void>(), 0xFF, sizeof(unsigned long long), s));
  NNC_LAUNCH(first_invalid_box_kernel<T>, blocks_for(n), kThreads, 0, s, boxes, n, area_fits,
             first.as<unsigned long long>());
  unsigned long long bad = copy_to_host(first.as<unsigned long long>(), s);
  if (bad == ~0ull) return -1;
  T values[4];
  NNC_CUDA_CHECK(cudaMemcpyAsync(values, boxes + 4 * bad, sizeof values, cudaMemcpyDeviceToHost, s));
  NNC_CUDA_CHECK(cudaStreamSynchronize(s));
  for (int k = 0; k < 4; ++k) row[k] = double(values[k]);
  return static_cast<int64_t>(bad);
}

template <typename T>
int64_t first_non_finite(const T* x, int64_t n, double* value, void* stream) {
  if (n == 0) return -1;
  cudaStream_t s = as_stream(stream);
  DeviceBuffer first(sizeof(unsigned long long));
  NNC_CUDA_CHECK(cudaMemsetAsync(first.as<void>(), 0xFF, sizeof(unsigned long long), s));
  NNC_LAUNCH(first_non_finite_kernel<T>, blocks_for(n), kThreads, 0, s, x, n, first.as<unsigned long long>());
  unsigned long long bad = copy_to_host(first.as<unsigned long long>(), s);
  if (bad == ~0ull) return -1;
  *value = double(copy_to_host(x + bad, s));
  return static_cast<int64_t>(bad);
}

template <typename T>
void box_area(const T* boxes, int64_t n, T* out, void* stream) {
  if (n == 0) return;
  NNC_LAUNCH(box_area_kernel<T>, blocks_for(n), kThreads, 0, as_stream(stream), boxes, n, out);
}

template <typename T>
void box_iou(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out, void* stream) {
  if (n == 0 || m == 0) return;
  NNC_CHECK((m + kThreads - 1) / kThreads <= INT32_MAX, "box_iou: boxes2 has too many rows for CUDA (", m, ")");
  dim3 grid(static_cast<unsigned>((m + kThreads - 1) / kThreads), static_cast<unsigned>(std::min<int64_t>(n, 65535)));
  NNC_LAUNCH(box_iou_kernel<T>, grid, kThreads, 0, as_stream(stream), boxes1, n, boxes2, m, out);
}

template <typename T>
int64_t nms(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, const cpu::NmsOptions& opt,
            int64_t* keep, void* stream) {
  if (n == 0 || opt.max_output == 0 || opt.top_k == 0) return 0;
  using K = std::conditional_t<std::is_same_v<T, float>, uint32_t, uint64_t>;
  cudaStream_t s = as_stream(stream);

  // 1. candidates sorted by (score descending, index ascending): a stable radix sort
  DeviceBuffer keys(2 * n * sizeof(K)), order(2 * n * sizeof(int64_t)), counter(sizeof(unsigned long long));
  K *keys_in = keys.as<K>(), *keys_out = keys_in + n;
  int64_t *order_in = order.as<int64_t>(), *sorted = order_in + n;
  NNC_CUDA_CHECK(cudaMemsetAsync(counter.as<void>(), 0, sizeof(unsigned long long), s));
  NNC_LAUNCH(score_keys_kernel<T, K>, blocks_for(n), kThreads, 0, s, scores, n, opt.use_score_threshold,
             opt.score_threshold, keys_in, order_in, counter.as<unsigned long long>());
  size_t temp_bytes = 0;
  NNC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, order_in, sorted, n, 0,
                                                 int(sizeof(K) * 8), s));
  DeviceBuffer temp(temp_bytes);
  NNC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.as<void>(), temp_bytes, keys_in, keys_out, order_in, sorted, n,
                                                 0, int(sizeof(K) * 8), s));
  int64_t m = static_cast<int64_t>(copy_to_host(counter.as<unsigned long long>(), s));
  if (!idxs && opt.top_k >= 0) m = std::min(m, opt.top_k);
  if (m == 0) return 0;
  NNC_CHECK((m + kTile - 1) / kTile <= 65535, "nms: at most ", int64_t(65535) * kTile,
            " candidates on CUDA, got ", m);

  // 2. labels in score order; with top_k, the candidates beyond each class's top_k
  DeviceBuffer labels_buf(idxs ? m * sizeof(int64_t) : 0), excluded_buf(idxs && opt.top_k >= 0 ? m : 0);
  int64_t* labels = labels_buf.as<int64_t>();
  uint8_t* excluded = excluded_buf.as<uint8_t>();
  if (idxs) {
    DeviceBuffer group(4 * m * sizeof(int64_t));
    uint64_t* label_keys = group.as<uint64_t>();
    uint64_t* grouped_keys = label_keys + m;
    int64_t* positions = reinterpret_cast<int64_t*>(grouped_keys + m);
    int64_t* grouped_positions = positions + m;
    NNC_LAUNCH(label_keys_kernel, blocks_for(m), kThreads, 0, s, idxs, sorted, m, labels, label_keys, positions);
    if (excluded) {
      size_t group_temp_bytes = 0, scan_temp_bytes = 0;
      NNC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, group_temp_bytes, label_keys, grouped_keys, positions,
                                                     grouped_positions, m, 0, 64, s));
      DeviceBuffer heads(2 * m * sizeof(int64_t));
      int64_t *head = heads.as<int64_t>(), *group_start = head + m;
      NNC_CUDA_CHECK(cub::DeviceScan::InclusiveScan(nullptr, scan_temp_bytes, head, group_start, MaxOp(), m, s));
      DeviceBuffer group_temp(std::max(group_temp_bytes, scan_temp_bytes));
      NNC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(group_temp.as<void>(), group_temp_bytes, label_keys,
                                                     grouped_keys, positions, grouped_positions, m, 0, 64, s));
      NNC_LAUNCH(group_heads_kernel, blocks_for(m), kThreads, 0, s, grouped_keys, m, head);
      NNC_CUDA_CHECK(cub::DeviceScan::InclusiveScan(group_temp.as<void>(), scan_temp_bytes, head, group_start,
                                                    MaxOp(), m, s));
      NNC_LAUNCH(mark_beyond_top_k_kernel, blocks_for(m), kThreads, 0, s, group_start, grouped_positions, m, opt.top_k,
                 excluded);
    }
  }

  // 3. suppression masks, then the greedy pass
  const int64_t words = (m + kTile - 1) / kTile;
  DeviceBuffer mask(size_t(m) * size_t(words) * sizeof(unsigned long long));
  dim3 grid(static_cast<unsigned>(words), static_cast<unsigned>(words));
  NNC_LAUNCH(nms_mask_kernel<T>, grid, kTile, 0, s, boxes, sorted, labels, m, opt.iou_threshold, words,
             mask.as<unsigned long long>());
  const size_t removed_bytes = size_t(words) * sizeof(unsigned long long);
  const bool in_shared = removed_bytes <= 48 * 1024;
  DeviceBuffer removed(in_shared ? 0 : removed_bytes), count(sizeof(int64_t));
  int64_t max_kept = opt.max_output >= 0 ? std::min(opt.max_output, m) : m;
  // About two mask words per thread, whole warps, at most 1024: each kept box costs two barriers
  // of the block, so a small input waits on few warps.
  const auto greedy_threads = static_cast<unsigned>(std::min<int64_t>(1024, (words + 63) / 64 * 32));
  NNC_LAUNCH(nms_greedy_kernel, 1, greedy_threads, in_shared ? removed_bytes : 0, s, mask.as<unsigned long long>(),
             words, sorted, excluded, m, max_kept, removed.as<unsigned long long>(), keep, count.as<int64_t>());
  return copy_to_host(count.as<int64_t>(), s);
}

template int64_t first_invalid_box<float>(const float*, int64_t, double*, void*, bool);
template int64_t first_invalid_box<double>(const double*, int64_t, double*, void*, bool);
template int64_t first_non_finite<float>(const float*, int64_t, double*, void*);
template int64_t first_non_finite<double>(const double*, int64_t, double*, void*);
template void box_area<float>(const float*, int64_t, float*, void*);
template void box_area<double>(const double*, int64_t, double*, void*);
template void box_iou<float>(const float*, int64_t, const float*, int64_t, float*, void*);
template void box_iou<double>(const double*, int64_t, const double*, int64_t, double*, void*);
template int64_t nms<float>(const float*, const float*, const int64_t*, int64_t, const cpu::NmsOptions&, int64_t*,
                            void*);
template int64_t nms<double>(const double*, const double*, const int64_t*, int64_t, const cpu::NmsOptions&, int64_t*,
                             void*);

}  // namespace nnc::cuda
