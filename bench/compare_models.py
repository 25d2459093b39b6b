"""Trains each model of the notebook with its nncore recipe and with its PyTorch
twin (bench/twins_*.py: same model, data, split, optimiser, schedule and epochs),
one after the other in this process, and prints the MODELS.md table rows:

    python bench/compare_models.py --threads 1 [--models mlp cnn ...] [--seeds 0 1 2]

Both sides get the same thread count. Without PyTorch the twin columns say so."""

import argparse
import glob
import importlib.util
import os
import platform
import statistics
import sys
import time

import nncore
from nncore import recipes


def load_twins():
    twins = {}
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "twins_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        twins.update(module.TWINS)
    return twins


def machine():
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} vCPU, nncore ISA {nncore.get_isa()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", help="recipes to run (default: every recipe with a twin)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    twins = load_twins()
    names = args.models or sorted(n for n in recipes.RECIPES if n in twins)
    try:
        import torch

        torch.set_num_threads(args.threads)
        peer = f"PyTorch {torch.__version__}"
    except ImportError:
        torch = None
        peer = "PyTorch (not installed)"
    print(f"<!-- {machine()}; {args.threads} thread(s); seeds {args.seeds}; {time.strftime('%Y-%m-%d')} -->")
    print(f"| model | metric | nncore | epochs | nncore s | {peer} | PyTorch s | time ratio (PyTorch / nncore) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        rec = recipes.get(name)
        ours, ours_s, theirs, theirs_s = [], [], [], []
        for seed in args.seeds:
            result = recipes.train(name, seed=seed, threads=args.threads)
            ours.append(result.value)
            ours_s.append(result.seconds)
            if torch is not None and name in twins:
                t0 = time.perf_counter()
                twin = twins[name](seed=seed, threads=args.threads)
                theirs.append(twin["value"])
                theirs_s.append(twin.get("seconds", time.perf_counter() - t0))
        epochs = result.history.get("epoch", [None])[-1] or rec.epochs
        fmt = (lambda v: f"{v:.4f}")
        ours_txt = " / ".join(fmt(v) for v in ours)
        theirs_txt = " / ".join(fmt(v) for v in theirs) if theirs else "–"
        t_ours = statistics.median(ours_s)
        t_theirs = f"{statistics.median(theirs_s):.1f}" if theirs_s else "–"
        ratio = f"{statistics.median(theirs_s) / t_ours:.2f}" if theirs_s else "–"
        print(f"| {name} | {rec.metric} | {ours_txt} | {epochs} | {t_ours:.1f} | {theirs_txt} | {t_theirs} | {ratio} |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
