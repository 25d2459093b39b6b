"""The `nncore` command: `nncore info` prints what was built and what this
machine offers; `nncore bench gemm` prints a GEMM table, ours against NumPy."""

import argparse
import json
import os
import sys
import time

import numpy as np


def _best_seconds(fn, min_time=0.2, rounds=3):
    """Fastest of `rounds` medians, each over enough calls to fill min_time."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(min_time / once / 5))
    best = float("inf")
    for _ in range(rounds):
        samples = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            samples.append((time.perf_counter() - t0) / reps)
        best = min(best, sorted(samples)[2])
    return best


def _cmd_info(args):
    from . import build_info

    info = build_info()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        width = max(len(k) for k in info)
        for key in sorted(info):
            print(f"{key:<{width}}  {info[key]}")
    return 0


def _cmd_bench_gemm(args):
    from . import ops, set_num_threads

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    rng = np.random.default_rng(0)
    if threadpool_limits is None:
        print("(threadpoolctl is not installed, so NumPy's BLAS threads cannot be pinned: NumPy is "
              "only compared at the machine's full thread count; `pip install threadpoolctl` to compare all)")
    print(f"{'threads':>7} {'M':>5} {'N':>5} {'K':>5} {'nncore GF/s':>12} {'numpy GF/s':>11} {'ratio':>6}")
    for threads in args.threads:
        set_num_threads(threads)
        limiter = threadpool_limits(threads) if threadpool_limits else None
        try:
            for n in args.sizes:
                m, k = n, n
                a = rng.standard_normal((m, k), dtype=np.float32)
                b = rng.standard_normal((k, n), dtype=np.float32)
                c1 = np.empty((m, n), np.float32)
                c2 = np.empty((m, n), np.float32)
                ours = _best_seconds(lambda: ops.gemm(a, b, out=c1), args.min_time)
                gf = 2.0 * m * n * k / 1e9
                if limiter is None and threads != os.cpu_count():
                    # NumPy's BLAS would use every core: no fair peer figure
                    print(f"{threads:>7} {m:>5} {n:>5} {k:>5} {gf / ours:>12.1f} {'-':>11} {'-':>6}")
                    continue
                time.sleep(0.2)  # let OpenBLAS's spinning threads settle (PERF.md, trap 3)
                peer = _best_seconds(lambda: np.matmul(a, b, out=c2), args.min_time)
                print(f"{threads:>7} {m:>5} {n:>5} {k:>5} {gf / ours:>12.1f} {gf / peer:>11.1f} {peer / ours:>6.2f}")
        finally:
            if limiter is not None:
                limiter.restore_original_limits()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nncore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="print build and machine facts")
    p_info.add_argument("--json", action="store_true", help="print JSON")
    p_info.set_defaults(func=_cmd_info)
    p_bench = sub.add_parser("bench", help="quick kernel benchmarks against NumPy")
    bench_sub = p_bench.add_subparsers(dest="op", required=True)
    p_gemm = bench_sub.add_parser("gemm", help="square SGEMM, GFLOP/s")
    p_gemm.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p_gemm.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p_gemm.add_argument("--min-time", type=float, default=0.2, help="seconds per timing round")
    p_gemm.set_defaults(func=_cmd_bench_gemm)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
