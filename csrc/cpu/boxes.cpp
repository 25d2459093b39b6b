// Portable twin of the box kernels (float and double): value checks, area,
// pairwise IoU, and greedy NMS (sort by score, split by class, then a sweep that
// compares each candidate only with kept boxes in nearby cells of a grid).
#include "cpu/boxes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/boxes_math.h"
#include "core/host_cache.h"
#include "core/isa.h"
#include "core/threading.h"

namespace nnc::cpu {

// ---- value checks, area, IoU -------------------------------------------------

template <typename T>
int64_t first_invalid_box(const T* boxes, int64_t n, bool area_fits) {
  constexpr int64_t kBlock = 256;  // rows checked without branches, then re-scanned if one is bad
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    int64_t i1 = std::min(n, i0 + kBlock);
    bool ok = true;
    for (int64_t i = i0; i < i1; ++i) {
      const T* b = boxes + 4 * i;
      ok &= box_is_valid<T>(b[0], b[1], b[2], b[3], area_fits);
    }
    if (ok) continue;
    for (int64_t i = i0; i < i1; ++i) {
      const T* b = boxes + 4 * i;
      if (!box_is_valid<T>(b[0], b[1], b[2], b[3], area_fits)) return i;
    }
  }
  return -1;
}

template <typename T>
int64_t first_non_finite(const T* x, int64_t n) {
  constexpr int64_t kBlock = 1024;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    int64_t i1 = std::min(n, i0 + kBlock);
    T sum = 0;  // x - x is NaN exactly when x is inf or NaN
    for (int64_t i = i0; i < i1; ++i) sum += x[i] - x[i];
    if (sum == T(0)) continue;
    for (int64_t i = i0; i < i1; ++i)
      if (!(x[i] - x[i] == T(0))) return i;
  }
  return -1;
}

template <typename T>
void box_area(const T* boxes, int64_t n, T* out) {
  for (int64_t i = 0; i < n; ++i) {
    const T* b = boxes + 4 * i;
    out[i] = nnc::box_area<T>(b[0], b[1], b[2], b[3]);
  }
}

// Plain reference: one pair at a time.
template <typename T>
void box_iou_scalar(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out) {
  Workspace area2_ws(sizeof(T) * m);
  T* area2 = area2_ws.as<T>();
  box_area<T>(boxes2, m, area2);
  int nt = n * m >= (int64_t(1) << 18) ? num_threads() : 1;  // below ~0.1 ms a fork costs more
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T* a = boxes1 + 4 * i;
    T area1 = nnc::box_area<T>(a[0], a[1], a[2], a[3]);
    T* row = out + i * m;
    for (int64_t j = 0; j < m; ++j) {
      const T* b = boxes2 + 4 * j;
      row[j] = nnc::box_iou<T>(a[0], a[1], a[2], a[3], area1, b[0], b[1], b[2], b[3], area2[j]);
    }
  }
}

template <typename T>
void box_iou(const T* boxes1, int64_t n, const T* boxes2, int64_t m, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    Isa isa = active_isa();
    if (isa != Isa::scalar) {
      // boxes2 (m, 4) -> columns x1, y1, x2, y2, area, each padded to a multiple of 16
      int64_t stride = (m + 15) / 16 * 16;
      Workspace ws(sizeof(float) * 5 * stride);
      float* col = ws.as<float>();
      BoxColumnsF cols{col, col + stride, col + 2 * stride, col + 3 * stride, col + 4 * stride};
      for (int64_t j = 0; j < m; ++j) {
        const float* b = boxes2 + 4 * j;
        col[j] = b[0];
        col[stride + j] = b[1];
        col[2 * stride + j] = b[2];
        col[3 * stride + j] = b[3];
        col[4 * stride + j] = nnc::box_area<float>(b[0], b[1], b[2], b[3]);
      }
      switch (isa) {
#ifdef NNCORE_HAVE_AVX512
        case Isa::avx512: return box_iou_avx512(boxes1, n, cols, m, out);
#endif
#ifdef NNCORE_HAVE_AVX2
        case Isa::avx2: return box_iou_avx2(boxes1, n, cols, m, out);
#endif
        default: break;
      }
    }
  }
  box_iou_scalar<T>(boxes1, n, boxes2, m, out);
}

// ---- NMS -------------------------------------------------------------------------

bool any_overlap_scalar(const KeptBoxes& kept, int64_t begin, int64_t count, const double* q, double threshold) {
  for (int64_t k = begin; k < begin + count; ++k) {
    double iou = nnc::box_iou<double>(q[0], q[1], q[2], q[3], q[4], kept.x1[k], kept.y1[k], kept.x2[k], kept.y2[k],
                                      kept.area[k]);
    if (iou > threshold) return true;
  }
  return false;
}

namespace {

using AnyOverlap = bool (*)(const KeptBoxes&, int64_t, int64_t, const double*, double);

AnyOverlap pick_any_overlap() {
  switch (active_isa()) {
#ifdef NNCORE_HAVE_AVX512
    case Isa::avx512: return any_overlap_avx512;
#endif
#ifdef NNCORE_HAVE_AVX2
    case Isa::avx2: return any_overlap_avx2;
#endif
    default: return any_overlap_scalar;
  }
}

// Keys whose ascending order is decreasing score; -0 and +0 get the same key.
inline uint32_t descending_key(float s) {
  s += 0.0f;
  uint32_t u;
  std::memcpy(&u, &s, sizeof u);
  uint32_t ascending = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~ascending;
}
inline uint64_t descending_key(double s) {
  s += 0.0;
  uint64_t u;
  std::memcpy(&u, &s, sizeof u);
  uint64_t ascending = (u >> 63) ? ~u : (u | (uint64_t(1) << 63));
  return ~ascending;
}

// Sorts (keys, vals) by key, ties in their input order: LSD radix, 11-bit digits.
template <typename K>
void radix_sort(K* keys, int64_t* vals, K* keys_tmp, int64_t* vals_tmp, int64_t n) {
  constexpr int kBits = 11, kBuckets = 1 << kBits;
  constexpr int kPasses = (int(sizeof(K)) * 8 + kBits - 1) / kBits;
  K* src_k = keys;
  int64_t* src_v = vals;
  K* dst_k = keys_tmp;
  int64_t* dst_v = vals_tmp;
  std::vector<int64_t> start(kBuckets);
  for (int pass = 0; pass < kPasses; ++pass) {
    int shift = pass * kBits;
    std::fill(start.begin(), start.end(), 0);
    for (int64_t i = 0; i < n; ++i) ++start[(src_k[i] >> shift) & (kBuckets - 1)];
    if (*std::max_element(start.begin(), start.end()) == n) continue;  // every key has this digit
    int64_t sum = 0;
    for (int b = 0; b < kBuckets; ++b) {
      int64_t c = start[b];
      start[b] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; ++i) {
      int64_t at = start[(src_k[i] >> shift) & (kBuckets - 1)]++;
      dst_k[at] = src_k[i];
      dst_v[at] = src_v[i];
    }
    std::swap(src_k, dst_k);
    std::swap(src_v, dst_v);
  }
  if (src_k != keys) {
    std::memcpy(keys, src_k, sizeof(K) * n);
    std::memcpy(vals, src_v, sizeof(int64_t) * n);
  }
}

// Candidate indices (ascending) -> the same indices by decreasing score, equal
// scores by increasing index.
template <typename T>
void sort_by_score(const T* scores, int64_t* order, int64_t m) {
  using K = std::conditional_t<std::is_same_v<T, float>, uint32_t, uint64_t>;
  if (m < 256) {
    std::sort(order, order + m, [&](int64_t a, int64_t b) {
      K ka = descending_key(scores[a]), kb = descending_key(scores[b]);
      return ka < kb || (ka == kb && a < b);
    });
    return;
  }
  Workspace ws((2 * sizeof(K) + sizeof(int64_t)) * m);
  K* keys = ws.as<K>();
  K* keys_tmp = keys + m;
  int64_t* vals_tmp = reinterpret_cast<int64_t*>(keys_tmp + m);
  for (int64_t i = 0; i < m; ++i) keys[i] = descending_key(scores[order[i]]);
  radix_sort<K>(keys, order, keys_tmp, vals_tmp, m);
}

// Splits `sorted` (m,) into runs of one class each, keeping the score order
// inside a run: writes the grouped indices to grouped, returns the runs.
std::vector<std::pair<int64_t, int64_t>> split_by_class(const int64_t* idxs, const int64_t* sorted, int64_t m,
                                                        int64_t* grouped) {
  std::vector<std::pair<int64_t, int64_t>> runs;
  if (m == 0) return runs;
  int64_t lo = idxs[sorted[0]], hi = lo;
  for (int64_t p = 1; p < m; ++p) {
    lo = std::min(lo, idxs[sorted[p]]);
    hi = std::max(hi, idxs[sorted[p]]);
  }
  uint64_t span = uint64_t(hi) - uint64_t(lo);
  if (span < uint64_t(4 * m + 1024)) {  // dense labels: counting sort
    std::vector<int64_t> start(span + 2, 0);
    for (int64_t p = 0; p < m; ++p) ++start[uint64_t(idxs[sorted[p]]) - uint64_t(lo) + 1];
    for (uint64_t c = 0; c <= span; ++c) {
      if (start[c + 1]) runs.emplace_back(start[c], start[c + 1]);
      start[c + 1] += start[c];
    }
    for (int64_t p = 0; p < m; ++p) grouped[start[uint64_t(idxs[sorted[p]]) - uint64_t(lo)]++] = sorted[p];
  } else {
    std::copy(sorted, sorted + m, grouped);
    std::stable_sort(grouped, grouped + m, [&](int64_t a, int64_t b) { return idxs[a] < idxs[b]; });
    int64_t begin = 0;
    for (int64_t p = 1; p <= m; ++p)
      if (p == m || idxs[grouped[p]] != idxs[grouped[begin]]) {
        runs.emplace_back(begin, p - begin);
        begin = p;
      }
  }
  return runs;
}

// A hierarchy of uniform grids over the candidates of one run. Level l takes
// boxes with max(w, h) <= bound0 * 2^l (the top level takes the rest) in cells of
// half that side; a box lives in the cell holding its centre. A level whose boxes
// span at most 2 * count + 16 cells stores its cells in a row-major table;
// a sparser one hashes cells into 2^k >= 2 * count buckets (a bucket shared by
// several cells only costs extra exact checks), so memory stays O(len) however
// far apart boxes are. IoU > t needs an overlap wider than t * max(w_q, w_k) (and
// taller than t * max(h_q, h_k)); so a query visits, per level, only the cells
// within reach(...) of its centre, given the widest and tallest box kept there.
struct Grid {
  static constexpr int kMaxLevels = 64;
  int levels = 1;
  double inv[kMaxLevels];    // 1 / cell side
  double bound[kMaxLevels];  // boxes with max(w, h) <= bound[l] fit level l
  int64_t offset[kMaxLevels + 1];
  bool dense[kMaxLevels];
  int64_t cx_min[kMaxLevels], cy_min[kMaxLevels], gx[kMaxLevels], gy[kMaxLevels];  // dense: the cell range
  uint64_t mask[kMaxLevels];  // hashed: buckets - 1
  double max_w[kMaxLevels], max_h[kMaxLevels];  // over kept boxes, rounded up
  int64_t kept[kMaxLevels];

  // Cell coordinate of v: non-decreasing in v (so windows are exact), clamped far
  // beyond any useful range. inv == 0 is one infinite cell.
  static int64_t coord(double v, double inv) {
    if (!(inv > 0)) return 0;
    double t = v * inv;                                   // +-inf when it overflows
    if (!(t < 0x1p52)) return int64_t(1) << 52;           // also NaN: v == 0 with inv == inf
    if (!(t > -0x1p52)) return -(int64_t(1) << 52);
    int64_t c = int64_t(t);                               // floor without a libm call
    return c - (double(c) > t);
  }
  // Bucket of cell (cx, cy) at level l; dense levels take cells inside their range.
  int64_t bucket(int l, int64_t cx, int64_t cy) const {
    if (dense[l]) return offset[l] + (cy - cy_min[l]) * gx[l] + (cx - cx_min[l]);
    uint64_t h = uint64_t(cx) * 0x9E3779B97F4A7C15ull ^ uint64_t(cy) * 0xC2B2AE3D27D4EB4Full;
    return offset[l] + int64_t((h ^ (h >> 31)) & mask[l]);
  }
  int64_t bucket_of(int l, double x, double y) const { return bucket(l, coord(x, inv[l]), coord(y, inv[l])); }
  int level_of(double w, double h) const {
    double s = std::max(w, h);
    int l = 0;
    while (l < levels - 1 && !(s <= bound[l])) ++l;
    return l;
  }

  // Levels from bound0 up to the largest side (the top one unbounded).
  void plan_levels(double bound0, double largest) {
    levels = 1;
    bound[0] = bound0;
    while (levels < kMaxLevels && !(largest <= bound[levels - 1]) && std::isfinite(2 * bound[levels - 1])) {
      bound[levels] = 2 * bound[levels - 1];
      ++levels;
    }
    for (int l = 0; l < levels; ++l) {
      inv[l] = 2 / bound[l];  // 0 when bound is infinite: one cell
      max_w[l] = max_h[l] = 0;
      kept[l] = 0;
    }
    bound[levels - 1] = std::numeric_limits<double>::infinity();
  }
  // Tables from count[l] (boxes at level l) and the cell range of their centres.
  void plan_buckets(const int64_t* count, const int64_t* cx_max, const int64_t* cy_max) {
    offset[0] = 0;
    for (int l = 0; l < levels; ++l) {
      double cells = count[l] ? (double(cx_max[l]) - double(cx_min[l]) + 1) *
                                    (double(cy_max[l]) - double(cy_min[l]) + 1)
                              : 1;
      dense[l] = cells <= double(2 * count[l] + 16);
      int64_t size = 1;
      if (dense[l]) {
        gx[l] = count[l] ? cx_max[l] - cx_min[l] + 1 : 1;
        gy[l] = count[l] ? cy_max[l] - cy_min[l] + 1 : 1;
        if (!count[l]) cx_min[l] = cy_min[l] = 0;
        size = gx[l] * gy[l];
      } else {
        while (size < 2 * count[l]) size *= 2;
        mask[l] = uint64_t(size) - 1;
      }
      offset[l + 1] = offset[l] + size;
    }
  }
};

// The largest centre distance, along one axis, at which a box of extent
// w_k <= w_max can have IoU > t with a query of extent w_q. Their overlap o is at
// most (w_q + w_k) / 2 - |c_q - c_k| and at most min(w_q, w_k), and IoU > t needs
// o > t * max(w_q, w_k) (inter > t * area of either box) and
// o > t / (1 + t) * (w_q + w_k) (inter > t / (1 + t) * (area_q + area_k)).
// The bound is piecewise linear in w_k with corners at t w_q, w_q and w_q / t.
inline double reach(double w_q, double w_max, double t) {
  double s = t / (1 + t);
  double w_top = t > 0 ? std::min(w_max, w_q / t) : w_max;
  auto slack = [&](double w_k) { return 0.5 * (w_q + w_k) - std::max(t * std::max(w_q, w_k), s * (w_q + w_k)); };
  double r = std::max(std::max(slack(0), slack(std::min(w_top, t * w_q))), std::max(slack(std::min(w_top, w_q)),
                                                                                     slack(w_top)));
  return r == r ? r : std::numeric_limits<double>::infinity();  // inf - inf from huge boxes
}

inline double centre(double lo, double hi) { return 0.5 * lo + 0.5 * hi; }  // never overflows

inline int64_t cell_budget(int64_t len) { return 4 * len + 17 * Grid::kMaxLevels; }  // >= sum of buckets

// Greedy NMS over one run of candidates (box indices in priority order); sets
// keep_flag[i] for the kept ones. `scratch` holds this run's candidate columns
// (11 arrays of len: query boxes, kept boxes, bucket of each candidate) and
// `cells` room for 2 * cell_budget(len) counters.
template <typename T>
void nms_run(const T* boxes, const int64_t* run, int64_t len, double threshold, int64_t max_kept,
             AnyOverlap any_overlap, double* scratch, int64_t* cells, uint8_t* keep_flag) {
  if (len == 0 || max_kept == 0) return;
  if (threshold < 0) {  // every IoU (>= 0) exceeds it: the best box suppresses the rest
    keep_flag[run[0]] = 1;
    return;
  }
  double *qx1 = scratch, *qy1 = qx1 + len, *qx2 = qy1 + len, *qy2 = qx2 + len, *qa = qy2 + len;
  KeptBoxes kept{qa + len, qa + 2 * len, qa + 3 * len, qa + 4 * len, qa + 5 * len};
  int64_t* cell_of = reinterpret_cast<int64_t*>(qa + 6 * len);

  // A box of zero area has IoU 0 with every box: it is kept and suppresses nothing,
  // so it stays out of the grid (cell_of = -1).
  double* sides = kept.x1;  // scratch until the first box is kept
  int64_t with_area = 0;
  double largest = 0;
  for (int64_t p = 0; p < len; ++p) {
    const T* b = boxes + 4 * run[p];
    qx1[p] = b[0], qy1[p] = b[1], qx2[p] = b[2], qy2[p] = b[3];
    qa[p] = nnc::box_area<double>(qx1[p], qy1[p], qx2[p], qy2[p]);
    if (qa[p] > 0) {
      sides[with_area++] = std::max(qx2[p] - qx1[p], qy2[p] - qy1[p]);
      largest = std::max(largest, sides[with_area - 1]);
    }
  }
  Grid grid;
  if (len <= 32 || with_area == 0) {
    grid.plan_levels(std::numeric_limits<double>::infinity(), 0);  // one bucket: the plain greedy loop
  } else {
    std::nth_element(sides, sides + with_area / 2, sides + with_area);
    double bound0 = 1.5 * sides[with_area / 2];  // tuned on uniform boxes, threshold 0.5
    grid.plan_levels(bound0 > 0 && std::isfinite(bound0) ? bound0 : largest, largest);
  }
  int64_t count[Grid::kMaxLevels] = {}, cx_max[Grid::kMaxLevels], cy_max[Grid::kMaxLevels];
  for (int64_t p = 0; p < len; ++p) {
    cell_of[p] = -1;
    if (qa[p] > 0) {
      int l = grid.level_of(qx2[p] - qx1[p], qy2[p] - qy1[p]);
      cell_of[p] = l;  // the level for now
      int64_t cx = Grid::coord(centre(qx1[p], qx2[p]), grid.inv[l]);
      int64_t cy = Grid::coord(centre(qy1[p], qy2[p]), grid.inv[l]);
      if (count[l]++ == 0) grid.cx_min[l] = cx_max[l] = cx, grid.cy_min[l] = cy_max[l] = cy;
      grid.cx_min[l] = std::min(grid.cx_min[l], cx), cx_max[l] = std::max(cx_max[l], cx);
      grid.cy_min[l] = std::min(grid.cy_min[l], cy), cy_max[l] = std::max(cy_max[l], cy);
    }
  }
  grid.plan_buckets(count, cx_max, cy_max);
  int64_t nbuckets = grid.offset[grid.levels];
  int64_t *bucket_start = cells, *bucket_fill = cells + nbuckets;
  std::fill(bucket_start, bucket_start + 2 * nbuckets, 0);
  for (int64_t p = 0; p < len; ++p) {
    if (cell_of[p] < 0) continue;
    cell_of[p] = grid.bucket_of(int(cell_of[p]), centre(qx1[p], qx2[p]), centre(qy1[p], qy2[p]));
    ++bucket_fill[cell_of[p]];
  }
  for (int64_t c = 0, sum = 0; c < nbuckets; ++c) {
    bucket_start[c] = sum;
    sum += bucket_fill[c];
    bucket_fill[c] = 0;
  }

  // t is lowered a little and every window widened by more than the rounding of
  // centres and extents, so the windows never miss a suppressor.
  const double t = threshold * (1 - 0x1p-40);
  auto bucket_overlaps = [&](int64_t c, const double* q) {
    return bucket_fill[c] && any_overlap(kept, bucket_start[c], bucket_fill[c], q, threshold);
  };
  int64_t nkept = 0;
  for (int64_t p = 0; p < len; ++p) {
    const double q[5] = {qx1[p], qy1[p], qx2[p], qy2[p], qa[p]};
    bool suppressed = false;
    if (cell_of[p] >= 0) {
      const double wq = q[2] - q[0], hq = q[3] - q[1];
      const double cqx = centre(q[0], q[2]), cqy = centre(q[1], q[3]);
      for (int l = 0; l < grid.levels && !suppressed; ++l) {
        if (grid.kept[l] == 0) continue;
        double rx = reach(wq, grid.max_w[l], t), ry = reach(hq, grid.max_h[l], t);
        rx += 0x1p-44 * (std::fabs(cqx) + wq + grid.max_w[l]) + 1e-300;
        ry += 0x1p-44 * (std::fabs(cqy) + hq + grid.max_h[l]) + 1e-300;
        int64_t cx0 = Grid::coord(cqx - rx, grid.inv[l]), cx1 = Grid::coord(cqx + rx, grid.inv[l]);
        int64_t cy0 = Grid::coord(cqy - ry, grid.inv[l]), cy1 = Grid::coord(cqy + ry, grid.inv[l]);
        if (grid.dense[l]) {  // no box lies outside the level's cell range
          cx0 = std::max(cx0, grid.cx_min[l]), cx1 = std::min(cx1, grid.cx_min[l] + grid.gx[l] - 1);
          cy0 = std::max(cy0, grid.cy_min[l]), cy1 = std::min(cy1, grid.cy_min[l] + grid.gy[l] - 1);
        }
        double window_cells = (double(cx1) - double(cx0) + 1) * (double(cy1) - double(cy0) + 1);
        if (!grid.dense[l] && window_cells > double(grid.mask[l] + 1)) {  // wider than the table: each bucket once
          for (int64_t c = grid.offset[l]; c < grid.offset[l + 1] && !suppressed; ++c) suppressed = bucket_overlaps(c, q);
          continue;
        }
        for (int64_t cy = cy0; cy <= cy1 && !suppressed; ++cy)
          for (int64_t cx = cx0; cx <= cx1 && !suppressed; ++cx) suppressed = bucket_overlaps(grid.bucket(l, cx, cy), q);
      }
    }
    if (suppressed) continue;
    keep_flag[run[p]] = 1;
    if (++nkept == max_kept) break;
    int64_t c = cell_of[p];
    if (c < 0) continue;
    int64_t slot = bucket_start[c] + bucket_fill[c]++;
    kept.x1[slot] = q[0], kept.y1[slot] = q[1], kept.x2[slot] = q[2], kept.y2[slot] = q[3], kept.area[slot] = q[4];
    double w = q[2] - q[0], h = q[3] - q[1];
    int l = grid.level_of(w, h);
    // rounded up, so a window never falls short of a kept box's true reach
    grid.max_w[l] = std::max(grid.max_w[l], std::nextafter(w, std::numeric_limits<double>::infinity()));
    grid.max_h[l] = std::max(grid.max_h[l], std::nextafter(h, std::numeric_limits<double>::infinity()));
    ++grid.kept[l];
  }
}

}  // namespace

template <typename T>
int64_t nms(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, const NmsOptions& opt, int64_t* keep) {
  if (n == 0 || opt.max_output == 0 || opt.top_k == 0) return 0;
  // candidates: sorted (m,) by score, grouped (m,) by class then score; keep_flag (n,)
  Workspace ws(sizeof(int64_t) * 2 * n + n);
  int64_t* sorted = ws.as<int64_t>();
  int64_t* grouped = sorted + n;
  uint8_t* keep_flag = reinterpret_cast<uint8_t*>(grouped + n);
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) {  // branch-free: scores near the threshold mispredict
    sorted[m] = i;
    m += !opt.use_score_threshold || double(scores[i]) > opt.score_threshold;
  }
  sort_by_score<T>(scores, sorted, m);
  std::vector<std::pair<int64_t, int64_t>> runs;
  const int64_t* by_class = sorted;
  if (idxs) {
    runs = split_by_class(idxs, sorted, m, grouped);
    by_class = grouped;
  } else if (m > 0) {
    runs.emplace_back(0, m);
  }
  int64_t longest = 0, entering = 0;
  for (auto& r : runs) {
    if (opt.top_k >= 0) r.second = std::min(r.second, opt.top_k);
    longest = std::max(longest, r.second);
    entering += r.second;
  }

  std::memset(keep_flag, 0, n);
  // classes run in parallel when there is enough work to pay for waking threads
  int nt = runs.size() > 1 && entering >= 8192 ? std::min<int>(num_threads(), int(runs.size())) : 1;
  Workspace columns_ws(sizeof(double) * 11 * m);
  Workspace cells_ws(sizeof(int64_t) * 2 * cell_budget(longest) * nt);
  AnyOverlap any_overlap = pick_any_overlap();
  int64_t max_kept = opt.max_output >= 0 ? opt.max_output : n;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int64_t r = 0; r < int64_t(runs.size()); ++r) {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    int64_t begin = runs[r].first, len = runs[r].second;
    nms_run<T>(boxes, by_class + begin, len, opt.iou_threshold, max_kept, any_overlap,
               columns_ws.as<double>() + 11 * begin, cells_ws.as<int64_t>() + 2 * cell_budget(longest) * t,
               keep_flag);
  }
  int64_t count = 0;
  for (int64_t p = 0; p < m && count < max_kept; ++p)
    if (keep_flag[sorted[p]]) keep[count++] = sorted[p];
  return count;
}

template int64_t first_invalid_box<float>(const float*, int64_t, bool);
template int64_t first_invalid_box<double>(const double*, int64_t, bool);
template int64_t first_non_finite<float>(const float*, int64_t);
template int64_t first_non_finite<double>(const double*, int64_t);
template void box_area<float>(const float*, int64_t, float*);
template void box_area<double>(const double*, int64_t, double*);
template void box_iou_scalar<float>(const float*, int64_t, const float*, int64_t, float*);
template void box_iou_scalar<double>(const double*, int64_t, const double*, int64_t, double*);
template void box_iou<float>(const float*, int64_t, const float*, int64_t, float*);
template void box_iou<double>(const double*, int64_t, const double*, int64_t, double*);
template int64_t nms<float>(const float*, const float*, const int64_t*, int64_t, const NmsOptions&, int64_t*);
template int64_t nms<double>(const double*, const double*, const int64_t*, int64_t, const NmsOptions&, int64_t*);

}  // namespace nnc::cpu
