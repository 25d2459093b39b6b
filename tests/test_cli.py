"""The `nncore` command: info and the GEMM table."""

import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "nncore", *args], capture_output=True, text=True, check=True).stdout


def test_info_lists_build_facts():
    out = run("info")
    for key in ("isa_active", "num_threads", "cuda_built", "version"):
        assert key in out
    assert '"isa_active"' in run("info", "--json")


def test_bench_gemm_prints_a_row_per_size_and_thread_count():
    out = run("bench", "gemm", "--sizes", "32", "48", "--threads", "1", "--min-time", "0.01")
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert [(r[0], r[1]) for r in rows] == [("1", "32"), ("1", "48")]
    assert all(float(r[4]) > 0 for r in rows)
