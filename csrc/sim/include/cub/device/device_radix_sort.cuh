// The CUDA emulator's stand-in for CUB's DeviceRadixSort: the same calls, done
// on the host. Like the radix sort, it is stable and orders by bits
// [begin_bit, end_bit) of the unsigned keys, ascending.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace cub {

struct DeviceRadixSort {
  template <typename Key, typename Value, typename Count>
  static cudaError_t SortPairs(void* temp, size_t& temp_bytes, const Key* keys_in, Key* keys_out,
                               const Value* values_in, Value* values_out, Count n, int begin_bit = 0,
                               int end_bit = int(sizeof(Key) * 8), cudaStream_t = nullptr) {
    static_assert(std::is_unsigned_v<Key>, "the emulator sorts unsigned keys");
    if (!temp) {
      temp_bytes = 1;
      return cudaSuccess;
    }
    const int width = end_bit - begin_bit;
    const Key field = width >= int(sizeof(Key) * 8) ? Key(~Key(0)) : Key((Key(1) << width) - 1);
    auto bits = [&](Key k) { return Key(k >> begin_bit) & field; };
    std::vector<size_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return bits(keys_in[a]) < bits(keys_in[b]); });
    std::vector<Key> keys(order.size());
    std::vector<Value> values(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      keys[i] = keys_in[order[i]];
      values[i] = values_in[order[i]];
    }
    std::copy(keys.begin(), keys.end(), keys_out);
    std::copy(values.begin(), values.end(), values_out);
    return cudaSuccess;
  }
};

}  // namespace cub
