#include "core/array.h"

#include <cstdlib>

#include <pybind11/numpy.h>

#include "core/check.h"
#include "core/cuda_runtime.h"

namespace py = pybind11;

namespace nnc {
namespace {

constexpr int kMaxDims = 16;

DType dtype_of(char kind, int64_t itemsize) {
  switch (kind) {
    case 'f': return itemsize == 4 ? DType::float32 : itemsize == 8 ? DType::float64 : DType::other;
    case 'i': return itemsize == 8 ? DType::int64 : itemsize == 4 ? DType::int32 : DType::other;
    case 'u': return itemsize == 1 ? DType::uint8 : DType::other;
    case 'b': return itemsize == 1 ? DType::bool_ : DType::other;
    default: return DType::other;
  }
}

// typestr is <byteorder><kind><itemsize>, e.g. "<f4" (array interface spec)
DType dtype_from_typestr(const std::string& t) {
  if (t.size() < 3 || t[0] == '>') return DType::other;
  return dtype_of(t[1], std::atoll(t.c_str() + 2));
}

int64_t itemsize_of(DType d) {
  switch (d) {
    case DType::float32: case DType::int32: return 4;
    case DType::float64: case DType::int64: return 8;
    case DType::uint8: case DType::bool_: return 1;
    default: return 0;
  }
}

template <typename ByteStrides>
void set_strides(Array& a, const ByteStrides& byte_strides, int64_t itemsize, const char* op, const char* arg) {
  a.strides.resize(a.shape.size());
  for (size_t i = 0; i < a.shape.size(); ++i) {
    NNC_CHECK(byte_strides[i] % itemsize == 0, op, ": ", arg, " has a stride of ", byte_strides[i],
              " bytes, not a multiple of its item size ", itemsize, "; pass a contiguous copy");
    a.strides[i] = byte_strides[i] / itemsize;
  }
}

Array from_numpy(const py::array& arr, const char* op, const char* arg) {
  Array a;
  NNC_CHECK(arr.ndim() <= kMaxDims, op, ": ", arg, " has ", arr.ndim(), " dimensions, more than ", kMaxDims);
  // Read the descriptor's fields directly: numpy's dtype.__str__ runs Python
  // code and would cost more than a small kernel.
  auto* descr = reinterpret_cast<const py::detail::PyArrayDescr_Proxy*>(
      py::detail::array_proxy(arr.ptr())->descr);
  int64_t item = arr.itemsize();
  a.dtype = descr->byteorder == '>' ? DType::other : dtype_of(descr->kind, item);
  a.dtype_str = a.dtype != DType::other ? dtype_name(a.dtype) : py::str(arr.dtype()).cast<std::string>();
  a.data = const_cast<void*>(arr.data());
  a.writeable = arr.writeable();
  a.shape.assign(arr.shape(), arr.shape() + arr.ndim());
  if (a.dtype != DType::other) set_strides(a, arr.strides(), item, op, arg);
  else a.strides.assign(a.shape.size(), 0);
  return a;
}

Array from_cuda_interface(py::handle obj, const char* op, const char* arg) {
  py::dict iface = obj.attr("__cuda_array_interface__");
  Array a;
  a.device = Device::cuda;
  const std::string typestr = iface["typestr"].cast<std::string>();
  a.dtype = dtype_from_typestr(typestr);
  a.dtype_str = a.dtype != DType::other ? dtype_name(a.dtype) : typestr;  // "float32", as NumPy arrays say
  py::tuple data = iface["data"];
  a.data = reinterpret_cast<void*>(data[0].cast<uintptr_t>());
  a.writeable = !data[1].cast<bool>();
  for (auto s : py::tuple(iface["shape"])) a.shape.push_back(s.cast<int64_t>());
  NNC_CHECK(a.shape.size() <= size_t(kMaxDims), op, ": ", arg, " has too many dimensions");
  int64_t item = itemsize_of(a.dtype);
  if (item == 0) {
    a.strides.assign(a.shape.size(), 0);
  } else if (iface.contains("strides") && !iface["strides"].is_none()) {
    std::vector<int64_t> bs;
    for (auto s : py::tuple(iface["strides"])) bs.push_back(s.cast<int64_t>());
    set_strides(a, bs, item, op, arg);
  } else {
    a.strides.resize(a.shape.size());
    int64_t st = 1;
    for (int i = a.ndim() - 1; i >= 0; --i) {
      a.strides[i] = st;
      st *= a.shape[i];
    }
  }
  a.device_id = a.numel() > 0 && a.data ? cuda_pointer_device(a.data) : cuda_current_device();
  return a;
}

}  // namespace

const char* dtype_name(DType d) {
  switch (d) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
    case DType::int32: return "int32";
    case DType::uint8: return "uint8";
    case DType::bool_: return "bool";
    default: return "unsupported";
  }
}

int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

bool Array::is_contiguous() const {
  int64_t expected = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return numel() == 0;
    expected *= shape[i];
  }
  return true;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string Array::shape_str() const { return nnc::shape_str(shape); }

Array as_array(py::handle obj, const char* op, const char* arg) {
  // Exactly numpy.ndarray first (no attribute lookup); then CUDA arrays, which
  // may be NumPy subclasses (the CUDA emulator's); then other NumPy subclasses.
  static const PyTypeObject* ndarray_type =
      reinterpret_cast<PyTypeObject*>(py::object(py::module_::import("numpy").attr("ndarray")).release().ptr());
  if (Py_TYPE(obj.ptr()) == ndarray_type) return from_numpy(py::reinterpret_borrow<py::array>(obj), op, arg);
  if (py::hasattr(obj, "__cuda_array_interface__")) return from_cuda_interface(obj, op, arg);
  if (py::isinstance<py::array>(obj)) return from_numpy(py::reinterpret_borrow<py::array>(obj), op, arg);
  std::string type = py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
  throw TypeError(str(op, ": ", arg, " must be a numpy.ndarray or a CUDA array (CuPy), got ", type));
}

void check_dtype(const Array& a, DType dtype, const char* op, const char* arg) {
  NNC_CHECK_TYPE(a.dtype == dtype, op, ": ", arg, " must be ", dtype_name(dtype), ", got ", a.dtype_str);
}

void check_float(const Array& a, const char* op, const char* arg) {
  NNC_CHECK_TYPE(a.dtype == DType::float32 || a.dtype == DType::float64, op, ": ", arg,
                 " must be float32 or float64, got ", a.dtype_str);
}

void check_same_dtype(const Array& a, const Array& b, const char* op, const char* arg_a, const char* arg_b) {
  NNC_CHECK_TYPE(a.dtype == b.dtype, op, ": ", arg_b, " must have the dtype of ", arg_a, " (", a.dtype_str,
                 "), got ", b.dtype_str);
}

void check_ndim(const Array& a, int ndim, const char* op, const char* arg, const char* layout) {
  NNC_CHECK(a.ndim() == ndim, op, ": ", arg, " must be ", ndim, "-D ", layout, ", got ", a.ndim(), "-D of shape ",
            a.shape_str());
}

void check_contiguous(const Array& a, const char* op, const char* arg) {
  NNC_CHECK(a.is_contiguous(), op, ": ", arg, " must be C-contiguous, got strides ", shape_str(a.strides),
            " (in elements) for shape ", a.shape_str(), "; pass a contiguous copy");
}

void check_shape(const Array& a, const std::vector<int64_t>& shape, const char* op, const char* arg) {
  NNC_CHECK(a.shape == shape, op, ": ", arg, " must have shape ", shape_str(shape), ", got ", a.shape_str());
}

void check_same_device(const Array& a, const Array& b, const char* op, const char* arg_a, const char* arg_b) {
  auto where = [](const Array& x) {
    return x.device == Device::cpu ? std::string("cpu") : str("cuda:", x.device_id);
  };
  NNC_CHECK(a.device == b.device && a.device_id == b.device_id, op, ": ", arg_b, " must be on the device of ", arg_a,
            " (", where(a), "), got ", where(b));
}

void check_writeable(const Array& a, const char* op, const char* arg) {
  NNC_CHECK(a.writeable, op, ": ", arg, " is read-only");
}

void check_no_overlap(const Array& out, const Array& in, const char* op, const char* arg_out, const char* arg_in) {
  if (out.numel() == 0 || in.numel() == 0 || out.device != in.device) return;
  auto span = [](const Array& x) {
    int64_t lo = 0, hi = 0;
    for (int i = 0; i < x.ndim(); ++i) {
      int64_t reach = (x.shape[i] - 1) * x.strides[i];
      (reach < 0 ? lo : hi) += reach;
    }
    int64_t item = itemsize_of(x.dtype);
    const char* base = static_cast<const char*>(x.data);
    return std::make_pair(base + lo * item, base + (hi + 1) * item);
  };
  auto a = span(out), b = span(in);
  NNC_CHECK(a.second <= b.first || b.second <= a.first, op, ": ", arg_out, " must not share memory with ", arg_in);
}

void check_like(const Array& a, const Array& like, const char* op, const char* arg, const char* arg_like) {
  check_same_dtype(like, a, op, arg_like, arg);
  check_same_device(like, a, op, arg_like, arg);
  check_contiguous(a, op, arg);
  check_shape(a, like.shape, op, arg);
}

void check_alias_or_disjoint(const Array& out, const Array& in, const char* op, const char* arg_out,
                             const char* arg_in) {
  if (out.data == in.data && out.shape == in.shape && out.dtype == in.dtype) return;
  check_no_overlap(out, in, op, arg_out, arg_in);
}

}  // namespace nnc
