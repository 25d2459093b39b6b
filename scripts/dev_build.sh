#!/usr/bin/env bash
# Incremental developer build: compiles nncore._C into build/dev and links it
# into python/nncore, so `PYTHONPATH=python pytest` runs against this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PYBIND11_DIR=$("$PY" -c 'import pybind11; print(pybind11.get_cmake_dir())')
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$PYBIND11_DIR" \
  -DPython_EXECUTABLE="$(command -v "$PY")" -DNNCORE_CUDA="${NNCORE_CUDA:-AUTO}" >/dev/null
cmake --build build/dev
so=$(ls build/dev/_C*.so)
ln -sf "$PWD/$so" python/nncore/
