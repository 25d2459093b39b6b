// Argument checks and error types shared by every front door and kernel.
// NNC_CHECK raises ValueError, NNC_CHECK_TYPE raises TypeError in Python
// (translated in bindings/module.cpp); kernels assume valid input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace nnc {

struct ValueError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace nnc

#define NNC_CHECK(cond, ...)                                \
  do {                                                      \
    if (!(cond)) throw ::nnc::ValueError(::nnc::str(__VA_ARGS__)); \
  } while (0)

#define NNC_CHECK_TYPE(cond, ...)                          \
  do {                                                      \
    if (!(cond)) throw ::nnc::TypeError(::nnc::str(__VA_ARGS__)); \
  } while (0)
