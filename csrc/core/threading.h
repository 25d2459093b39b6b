// Thread count used by every parallel kernel (OpenMP). Set from
// NNCORE_NUM_THREADS at start-up, or nncore.set_num_threads().
#pragma once

namespace nnc {

int num_threads();
void set_num_threads(int n);
bool openmp_enabled();

}  // namespace nnc
