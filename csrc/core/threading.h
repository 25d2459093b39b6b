// Thread count used by every parallel kernel (OpenMP). Set from
// NNCORE_NUM_THREADS at start-up, or nncore.set_num_threads().
#pragma once

namespace nnc {

int num_threads();
void set_num_threads(int n);
bool openmp_enabled();

// Inside an OpenMP parallel region: this thread's index in its team, and the
// team's size (0 and 1 outside any region).
struct TeamSlot {
  int index;
  int size;
};
TeamSlot team_slot();
bool in_parallel_region();

}  // namespace nnc
