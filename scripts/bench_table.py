"""Turns a pytest-benchmark JSON file into the Markdown tables of BENCHMARKS.md:
one row per group (op, shape, threads), nncore's time and rate, each peer's,
and the peer/nncore time ratio (> 1 means nncore is faster).

    pytest bench/bench_gemm.py --benchmark-only --benchmark-json=gemm.json
    python scripts/bench_table.py gemm.json
"""

import json
import sys
from collections import defaultdict


def rate(bench):
    extra = bench.get("extra_info", {})
    for key in ("GFLOP/s", "GB/s"):
        if key in extra:
            return f"{extra[key]} {key}"
    return ""


def main(paths):
    groups = defaultdict(dict)
    for path in paths:
        for bench in json.load(open(path))["benchmarks"]:
            impl = (bench["params"] or {}).get("impl", bench["name"])
            groups[bench["group"] or bench["name"]][impl] = bench
    peers = sorted({impl for g in groups.values() for impl in g if impl != "nncore"})
    head = ["group", "nncore ms", "nncore rate", "faults/call"]
    for p in peers:
        head += [f"{p} ms", f"{p} rate", f"{p}/nncore"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in sorted(groups):
        g = groups[name]
        ours = g.get("nncore")
        row = [name]
        row += [f"{ours['stats']['min'] * 1e3:.3f}", rate(ours),
                str(ours.get("extra_info", {}).get("faults_per_call", ""))] if ours else ["", "", ""]
        for p in peers:
            b = g.get(p)
            if b is None:
                row += ["", "", ""]
                continue
            ratio = f"{b['stats']['min'] / ours['stats']['min']:.2f}" if ours else ""
            row += [f"{b['stats']['min'] * 1e3:.3f}", rate(b), ratio]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
