#!/usr/bin/env bash
# The CUDA twins without a GPU: installs nncore into the active environment
# built with NNCORE_CUDA=SIM (every kernel runs on the CPU emulator, csrc/sim)
# and AddressSanitizer (every device access bounds-checked), then runs the
# `cuda` tests twice: threads between two barriers in order, then last-first,
# so a result that depends on thread order (a race on a GPU) fails a run.
set -euo pipefail
cd "$(dirname "$0")/.."
NNCORE_CUDA=SIM python -m pip install -q . -C build-dir=build/emulator-{wheel_tag} \
  -C cmake.build-type=RelWithDebInfo \
  -C cmake.define.CMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer" \
  -C cmake.define.CMAKE_MODULE_LINKER_FLAGS=-fsanitize=address
# Python itself is not instrumented: the runtime, and the C++ library whose throws it intercepts, load first.
export LD_PRELOAD="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS=detect_leaks=0
python -c 'import nncore, sys; sys.exit(0 if nncore._C.build_info()["cuda_emulator"] else "not an emulator build")'
for order in forward reverse; do
  echo "+ NNCORE_CUDA_SIM_ORDER=$order pytest tests -m cuda"
  NNCORE_CUDA_SIM_ORDER=$order python -m pytest tests -m cuda -q -p no:cacheprovider
done
