// Front door of the box ops (box_area, box_iou, nms, batched_nms): validates
// every argument and every box, then runs the CPU twin (cpu/boxes*.cpp) or the
// CUDA kernels (cuda/boxes.cu).
#include <cmath>
#include <cstdint>
#include <optional>

#include <pybind11/stl.h>

#include "core/array.h"
#include "core/check.h"
#include "cpu/boxes.h"
#include "ops/ops.h"
#ifdef NNCORE_HAVE_CUDA
#include "cuda/boxes.h"
#endif

namespace py = pybind11;

namespace nnc::ops {
namespace {

// boxes (N, 4), float32 or float64, C-contiguous.
Array boxes_arg(py::handle obj, const char* op, const char* arg) {
  Array b = as_array(obj, op, arg);
  check_float(b, op, arg);
  NNC_CHECK(b.ndim() == 2 && b.shape[1] == 4, op, ": ", arg, " must be 2-D (N, 4) with rows (x1, y1, x2, y2), got ",
            b.ndim(), "-D of shape ", b.shape_str());
  check_contiguous(b, op, arg);
  return b;
}

template <typename T>
std::string row_str(const T* row, int64_t width) {
  std::string s = "(";
  for (int64_t k = 0; k < width; ++k) s += (k ? ", " : "") + str(double(row[k]));
  return s + ")";
}

// Every row finite with x1 <= x2 and y1 <= y2 (and, with area_fits, twice its area finite).
void check_box_values(const Array& b, const char* op, const char* arg, uintptr_t stream, bool area_fits = false) {
  (void)stream;
  int64_t n = b.shape[0];
  int64_t bad = -1;
  std::string row;
  if (b.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    double values[4];
    bad = b.dtype == DType::float32 ? nnc::cuda::first_invalid_box<float>(b.ptr<const float>(), n, values, reinterpret_cast<void*>(stream), area_fits)
                                    : nnc::cuda::first_invalid_box<double>(b.ptr<const double>(), n, values,
                                                                           reinterpret_cast<void*>(stream), area_fits);
    if (bad >= 0) row = row_str(values, 4);
#endif
  } else if (b.dtype == DType::float32) {
    bad = cpu::first_invalid_box<float>(b.ptr<const float>(), n, area_fits);
    if (bad >= 0) row = row_str(b.ptr<const float>() + 4 * bad, 4);
  } else {
    bad = cpu::first_invalid_box<double>(b.ptr<const double>(), n, area_fits);
    if (bad >= 0) row = row_str(b.ptr<const double>() + 4 * bad, 4);
  }
  NNC_CHECK(bad < 0, op, ": ", arg, " row ", bad, " is ", row,
            "; every box must be finite with x1 <= x2 and y1 <= y2",
            !area_fits                   ? ""
            : b.dtype == DType::float32 ? ", and twice its area finite in float32 (pass float64 boxes for larger ones)"
                                         : ", and twice its area finite in float64");
}

void check_score_values(const Array& s, const char* op, uintptr_t stream) {
  (void)stream;
  int64_t n = s.shape[0];
  int64_t bad = -1;
  double value = 0;
  if (s.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    bad = s.dtype == DType::float32 ? nnc::cuda::first_non_finite<float>(s.ptr<const float>(), n, &value, reinterpret_cast<void*>(stream))
                                    : nnc::cuda::first_non_finite<double>(s.ptr<const double>(), n, &value,
                                                                          reinterpret_cast<void*>(stream));
#endif
  } else if (s.dtype == DType::float32) {
    bad = cpu::first_non_finite<float>(s.ptr<const float>(), n);
    if (bad >= 0) value = s.ptr<const float>()[bad];
  } else {
    bad = cpu::first_non_finite<double>(s.ptr<const double>(), n);
    if (bad >= 0) value = s.ptr<const double>()[bad];
  }
  NNC_CHECK(bad < 0, op, ": scores[", bad, "] is ", value, "; every score must be finite");
}

void box_area(py::handle boxes_obj, py::handle out_obj, uintptr_t stream) {
  Array boxes = boxes_arg(boxes_obj, "box_area", "boxes");
  Array out = as_array(out_obj, "box_area", "out");
  check_same_dtype(boxes, out, "box_area", "boxes", "out");
  check_same_device(boxes, out, "box_area", "boxes", "out");
  check_writeable(out, "box_area", "out");
  int64_t n = boxes.shape[0];
  check_shape(out, {n}, "box_area", "out");
  check_contiguous(out, "box_area", "out");
  check_no_overlap(out, boxes, "box_area", "out", "boxes");
  if (n == 0) return;
  check_box_values(boxes, "box_area", "boxes", stream);
  if (boxes.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    if (boxes.dtype == DType::float32)
      nnc::cuda::box_area<float>(boxes.ptr<const float>(), n, out.ptr<float>(), reinterpret_cast<void*>(stream));
    else
      nnc::cuda::box_area<double>(boxes.ptr<const double>(), n, out.ptr<double>(), reinterpret_cast<void*>(stream));
    return;
#endif
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  if (boxes.dtype == DType::float32) cpu::box_area<float>(boxes.ptr<const float>(), n, out.ptr<float>());
  else cpu::box_area<double>(boxes.ptr<const double>(), n, out.ptr<double>());
}

void box_iou(py::handle boxes1_obj, py::handle boxes2_obj, py::handle out_obj, uintptr_t stream) {
  Array b1 = boxes_arg(boxes1_obj, "box_iou", "boxes1");
  Array b2 = boxes_arg(boxes2_obj, "box_iou", "boxes2");
  Array out = as_array(out_obj, "box_iou", "out");
  check_same_dtype(b1, b2, "box_iou", "boxes1", "boxes2");
  check_same_dtype(b1, out, "box_iou", "boxes1", "out");
  check_same_device(b1, b2, "box_iou", "boxes1", "boxes2");
  check_same_device(b1, out, "box_iou", "boxes1", "out");
  check_writeable(out, "box_iou", "out");
  int64_t n = b1.shape[0], m = b2.shape[0];
  check_shape(out, {n, m}, "box_iou", "out");
  check_contiguous(out, "box_iou", "out");
  check_no_overlap(out, b1, "box_iou", "out", "boxes1");
  check_no_overlap(out, b2, "box_iou", "out", "boxes2");
  if (n == 0 || m == 0) return;
  check_box_values(b1, "box_iou", "boxes1", stream, true);
  check_box_values(b2, "box_iou", "boxes2", stream, true);
  if (b1.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    if (b1.dtype == DType::float32)
      nnc::cuda::box_iou<float>(b1.ptr<const float>(), n, b2.ptr<const float>(), m, out.ptr<float>(),
                                reinterpret_cast<void*>(stream));
    else
      nnc::cuda::box_iou<double>(b1.ptr<const double>(), n, b2.ptr<const double>(), m, out.ptr<double>(),
                                 reinterpret_cast<void*>(stream));
    return;
#endif
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  if (b1.dtype == DType::float32)
    cpu::box_iou<float>(b1.ptr<const float>(), n, b2.ptr<const float>(), m, out.ptr<float>());
  else
    cpu::box_iou<double>(b1.ptr<const double>(), n, b2.ptr<const double>(), m, out.ptr<double>());
}

// nms and batched_nms (idxs given); returns how many indices it wrote to out.
int64_t nms_impl(const char* op, py::handle boxes_obj, py::handle scores_obj, py::object idxs_obj,
                 py::handle out_obj, double iou_threshold, std::optional<double> score_threshold,
                 std::optional<int64_t> top_k, std::optional<int64_t> max_output, uintptr_t stream) {
  Array boxes = boxes_arg(boxes_obj, op, "boxes");
  int64_t n = boxes.shape[0];
  Array scores = as_array(scores_obj, op, "scores");
  check_same_dtype(boxes, scores, op, "boxes", "scores");
  check_same_device(boxes, scores, op, "boxes", "scores");
  check_shape(scores, {n}, op, "scores");
  check_contiguous(scores, op, "scores");
  std::optional<Array> idxs;
  if (!idxs_obj.is_none()) {
    idxs = as_array(idxs_obj, op, "idxs");
    check_dtype(*idxs, DType::int64, op, "idxs");
    check_same_device(boxes, *idxs, op, "boxes", "idxs");
    check_shape(*idxs, {n}, op, "idxs");
    check_contiguous(*idxs, op, "idxs");
  }
  Array out = as_array(out_obj, op, "out");
  check_dtype(out, DType::int64, op, "out");
  check_same_device(boxes, out, op, "boxes", "out");
  check_writeable(out, op, "out");
  check_shape(out, {n}, op, "out");
  check_contiguous(out, op, "out");
  check_no_overlap(out, boxes, op, "out", "boxes");
  check_no_overlap(out, scores, op, "out", "scores");
  if (idxs) check_no_overlap(out, *idxs, op, "out", "idxs");
  NNC_CHECK(std::isfinite(iou_threshold), op, ": iou_threshold must be a finite number, got ", iou_threshold);
  NNC_CHECK(!score_threshold || !std::isnan(*score_threshold), op, ": score_threshold must be a number or None, got nan");
  NNC_CHECK(!top_k || *top_k >= 0, op, ": top_k must be >= 0 or None, got ", top_k.value_or(0));
  NNC_CHECK(!max_output || *max_output >= 0, op, ": max_output must be >= 0 or None, got ", max_output.value_or(0));
  if (n == 0) return 0;
  check_box_values(boxes, op, "boxes", stream);
  check_score_values(scores, op, stream);

  cpu::NmsOptions options;
  options.iou_threshold = iou_threshold;
  options.use_score_threshold = score_threshold.has_value();
  options.score_threshold = score_threshold.value_or(0.0);
  options.top_k = top_k.value_or(-1);
  options.max_output = max_output.value_or(-1);
  const int64_t* labels = idxs ? idxs->ptr<const int64_t>() : nullptr;
  if (boxes.device == Device::cuda) {
#ifdef NNCORE_HAVE_CUDA
    if (boxes.dtype == DType::float32)
      return nnc::cuda::nms<float>(boxes.ptr<const float>(), scores.ptr<const float>(), labels, n, options,
                                   out.ptr<int64_t>(), reinterpret_cast<void*>(stream));
    return nnc::cuda::nms<double>(boxes.ptr<const double>(), scores.ptr<const double>(), labels, n, options,
                                  out.ptr<int64_t>(), reinterpret_cast<void*>(stream));
#endif
  }
  (void)stream;
  py::gil_scoped_release no_gil;
  if (boxes.dtype == DType::float32)
    return cpu::nms<float>(boxes.ptr<const float>(), scores.ptr<const float>(), labels, n, options, out.ptr<int64_t>());
  return cpu::nms<double>(boxes.ptr<const double>(), scores.ptr<const double>(), labels, n, options,
                          out.ptr<int64_t>());
}

}  // namespace

void bind_boxes(py::module_& m) {
  m.def("box_area", &box_area, py::arg("boxes"), py::arg("out"), py::arg("stream") = 0,
        "out (N,) = (x2 - x1) * (y2 - y1) of boxes (N, 4).");
  m.def("box_iou", &box_iou, py::arg("boxes1"), py::arg("boxes2"), py::arg("out"), py::arg("stream") = 0,
        "out (N, M) = IoU of every pair of boxes1 (N, 4) and boxes2 (M, 4).");
  m.def(
      "nms",
      [](py::handle boxes, py::handle scores, py::handle out, double iou_threshold,
         std::optional<double> score_threshold, std::optional<int64_t> top_k, std::optional<int64_t> max_output,
         uintptr_t stream) {
        return nms_impl("nms", boxes, scores, py::none(), out, iou_threshold, score_threshold, top_k, max_output,
                        stream);
      },
      py::arg("boxes"), py::arg("scores"), py::arg("out"), py::arg("iou_threshold"), py::arg("score_threshold"),
      py::arg("top_k"), py::arg("max_output"), py::arg("stream") = 0,
      "Greedy NMS; writes kept indices (decreasing score) to out (N,) int64 and returns how many.");
  m.def(
      "batched_nms",
      [](py::handle boxes, py::handle scores, py::handle idxs, py::handle out, double iou_threshold,
         std::optional<double> score_threshold, std::optional<int64_t> top_k, std::optional<int64_t> max_output,
         uintptr_t stream) {
        NNC_CHECK_TYPE(!idxs.is_none(), "batched_nms: idxs must be an int64 array (N,), got None");
        return nms_impl("batched_nms", boxes, scores, py::reinterpret_borrow<py::object>(idxs), out, iou_threshold,
                        score_threshold, top_k, max_output, stream);
      },
      py::arg("boxes"), py::arg("scores"), py::arg("idxs"), py::arg("out"), py::arg("iou_threshold"),
      py::arg("score_threshold"), py::arg("top_k"), py::arg("max_output"), py::arg("stream") = 0,
      "Greedy NMS per class idxs; writes kept indices (decreasing score) to out (N,) int64, returns how many.");
}

}  // namespace nnc::ops
