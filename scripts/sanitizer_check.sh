#!/usr/bin/env bash
# The CPU kernels under AddressSanitizer and UndefinedBehaviorSanitizer:
# installs nncore into the active environment built with both (CUDA off; the
# CUDA twins get theirs from scripts/emulator_check.sh), then runs the kernel
# tests, which run every op on every CPU twin this machine has (portable, AVX2,
# AVX-512: tests/support.py's available_isas), plus the hostile-input tests.
# Any report stops the process, so the run fails: zero reports to pass.
#   scripts/sanitizer_check.sh [SOURCE]   SOURCE: the source folder (default) or an sdist
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:-.}
flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
NNCORE_CUDA=OFF python -m pip install -q "$source" -C build-dir=build/sanitizers-{wheel_tag} \
  -C cmake.build-type=RelWithDebInfo \
  -C cmake.define.CMAKE_CXX_FLAGS="$flags" \
  -C cmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined"
# Python is not instrumented: the runtimes, and the C++ library whose throws ASan intercepts, load first.
export LD_PRELOAD="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libubsan.so) $(c++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
so=$(python -c 'import nncore._C as c; print(c.__file__)')
ldd "$so" | grep -q libasan || { echo "sanitizer_check: $so is not built with AddressSanitizer"; exit 1; }
python -c 'import nncore; print("sanitizer_check: CPU twins", nncore.build_info()["isa_supported"], "and below")'
echo "+ pytest (kernel tests under ASan + UBSan)"
python -m pytest -q -p no:cacheprovider tests/test_gemm.py tests/test_conv2d.py tests/test_pool2d.py \
  tests/test_softmax.py tests/test_rnn.py tests/test_boxes.py tests/test_interpolate.py tests/test_hostile_inputs.py \
  tests/test_runtime.py
