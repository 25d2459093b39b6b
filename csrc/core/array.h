// A borrowed view of a NumPy array (buffer protocol) or a CUDA array
// (__cuda_array_interface__, e.g. CuPy), and the checks every front door
// runs on it before a kernel sees the pointer.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <pybind11/pybind11.h>

namespace nnc {

enum class DType { float32, float64, int64, int32, uint8, bool_, other };
enum class Device { cpu, cuda };

const char* dtype_name(DType d);

struct Array {
  void* data = nullptr;
  DType dtype = DType::other;
  std::string dtype_str;          // as the producer spells it, for messages
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;   // in elements
  Device device = Device::cpu;
  int device_id = -1;
  bool writeable = true;

  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t numel() const;
  int64_t size(int dim) const { return shape[dim < 0 ? dim + ndim() : dim]; }
  bool is_contiguous() const;
  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }
  std::string shape_str() const;
};

// Reads `obj` as an array; `op` and `arg` name the function and argument in errors.
Array as_array(pybind11::handle obj, const char* op, const char* arg);

std::string shape_str(const std::vector<int64_t>& shape);

void check_dtype(const Array& a, DType dtype, const char* op, const char* arg);
void check_float(const Array& a, const char* op, const char* arg);  // float32 or float64
void check_same_dtype(const Array& a, const Array& b, const char* op, const char* arg_a, const char* arg_b);
void check_ndim(const Array& a, int ndim, const char* op, const char* arg, const char* layout);
void check_contiguous(const Array& a, const char* op, const char* arg);
void check_shape(const Array& a, const std::vector<int64_t>& shape, const char* op, const char* arg);
void check_same_device(const Array& a, const Array& b, const char* op, const char* arg_a, const char* arg_b);
void check_writeable(const Array& a, const char* op, const char* arg);
void check_no_overlap(const Array& out, const Array& in, const char* op, const char* arg_out, const char* arg_in);
// a has like's dtype, device and shape, and is contiguous.
void check_like(const Array& a, const Array& like, const char* op, const char* arg, const char* arg_like);
// out may be exactly `in` (an in-place kernel reads element i before writing it) but must not partly overlap it.
void check_alias_or_disjoint(const Array& out, const Array& in, const char* op, const char* arg_out,
                             const char* arg_in);

}  // namespace nnc
