#!/usr/bin/env bash
# The one prepared GPU run (DESIGN.md): build with CUDA, run the CUDA tests,
# then the GPU benchmarks against PyTorch/cuDNN/cuBLAS (TF32 off), and print a
# short table last. Logs go to $OUT (or ./gpu_check_out). Budget: < 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NVIDIA_TF32_OVERRIDE=0
status=0

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/gpu.txt"
echo "== build" | tee "$OUT/build.log"
NNCORE_CUDA=ON timeout 300 python3 -m pip install --no-build-isolation --no-deps -v . >>"$OUT/build.log" 2>&1 \
  || { echo "build failed (see build.log)"; tail -40 "$OUT/build.log"; exit 1; }
python3 -m nncore info | tee "$OUT/info.txt"

echo "== CUDA tests"
timeout 180 python3 -m pytest tests -m cuda -q -p no:cacheprovider 2>&1 | tee "$OUT/tests.log" | tail -25
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== GPU benchmarks"
timeout 150 python3 -m pytest bench -m cuda -q -p no:cacheprovider --benchmark-only \
  --benchmark-json="$OUT/bench.json" --benchmark-columns=min,median,rounds >"$OUT/bench.log" 2>&1 || status=1
python3 - "$OUT/bench.json" <<'PY' | tee "$OUT/table.txt"
import json, sys
try:
    data = json.load(open(sys.argv[1]))
except Exception as exc:
    print(f"no benchmark results: {exc}")
    raise SystemExit(0)
print(f"{'group':<44} {'impl':<8} {'min ms':>9} {'extra'}")
for b in sorted(data["benchmarks"], key=lambda b: (b["group"] or "", b["name"])):
    impl = b["params"].get("impl", "")
    print(f"{(b['group'] or '')[:44]:<44} {impl:<8} {b['stats']['min'] * 1e3:>9.3f} {b.get('extra_info', {})}")
PY
exit $status
