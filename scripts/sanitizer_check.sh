#!/usr/bin/env bash
# Every kernel under AddressSanitizer and UndefinedBehaviorSanitizer, from one
# build: installs SOURCE (the source folder, or an sdist) into the active
# environment with NNCORE_CUDA=SIM (the CUDA twins compiled for the CPU
# emulator, csrc/sim) and both sanitizers, then runs
#   1. the CPU kernel tests, which run every op on every CPU twin this machine
#      has (portable, AVX2, AVX-512: tests/support.py's available_isas), and the
#      hostile-input tests;
#   2. the `cuda` tests on the emulator twice, threads between two barriers in
#      order, then last-first (NNCORE_CUDA_SIM_ORDER=reverse), so a result that
#      depends on thread order (a race on a GPU) fails a run.
# Any sanitizer report stops the process, so the run fails: zero reports to pass.
#   scripts/sanitizer_check.sh [SOURCE]
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:-.}
flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
NNCORE_CUDA=SIM python -m pip install -q "$source" -C build-dir=build/sanitizers-{wheel_tag} \
  -C cmake.build-type=RelWithDebInfo \
  -C cmake.define.CMAKE_CXX_FLAGS="$flags" \
  -C cmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined"
# Python is not instrumented: the runtimes, and the C++ library whose throws ASan intercepts, load first.
export LD_PRELOAD="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libubsan.so) $(c++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
so=$(python -c 'import nncore._C as c; print(c.__file__)')
ldd "$so" | grep -q libasan || { echo "sanitizer_check: $so is not built with AddressSanitizer"; exit 1; }
python -c 'import nncore, sys; info = nncore.build_info()
print("sanitizer_check: CPU twins up to", info["isa_supported"], "and the CUDA twins on the emulator")
sys.exit(0 if info["cuda_emulator"] else "not an emulator build")'
echo "+ pytest (CPU kernel tests under ASan + UBSan)"
python -m pytest -q -p no:cacheprovider -m "not cuda and not slow" tests/test_gemm.py tests/test_conv2d.py tests/test_pool2d.py \
  tests/test_softmax.py tests/test_rnn.py tests/test_boxes.py tests/test_interpolate.py tests/test_hostile_inputs.py \
  tests/test_runtime.py tests/test_activation.py tests/test_optim_fused.py tests/test_batch_norm.py \
  tests/test_epilogue.py
for order in forward reverse; do
  echo "+ NNCORE_CUDA_SIM_ORDER=$order pytest tests -m cuda (under ASan + UBSan)"
  NNCORE_CUDA_SIM_ORDER=$order python -m pytest tests -m cuda -q -p no:cacheprovider
done
