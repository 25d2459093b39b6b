"""The `nncore` command: `nncore list` names the models of the notebook,
`nncore train MODEL` runs its recipe (progress, a line per epoch, pictures and
weights in --out), `nncore eval MODEL --weights W` measures saved weights again,
`nncore detect IMAGE... --weights W` draws what a trained SSD finds, `nncore info` prints what was built, `nncore bench gemm` a GEMM table."""

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


class _Parser(argparse.ArgumentParser):
    """Wrong usage is one line on stderr and exit status 2, never a traceback."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _add_run_flags(p, rec, train):
    if train:
        p.add_argument("--epochs", type=int, help=f"epochs (default {rec.epochs})")
        p.add_argument("--lr", type=float, help=f"learning rate (default {rec.lr})" if rec.lr else "learning rate")
        p.add_argument("--out", default="runs", help="folder for weights (MODEL.npz) and pictures (default: runs)")
    else:
        p.add_argument("--weights", required=True, help="a MODEL.npz written by `nncore train MODEL`")
    p.add_argument("--batch-size", type=int, help=f"batch size (default {rec.batch_size})" if rec.batch_size else
                   "batch size")
    p.add_argument("--threads", type=int, help="kernel threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (needs CuPy and a GPU)")
    p.add_argument("--data", help="a data file or folder the recipe reads instead of its bundled data")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors (and the --json line)")
    p.add_argument("--json", action="store_true",
                   help='finish with one line {"model", "metric", "value", "seconds"}')
    if train:
        p.add_argument("--distributed", action="store_true",
                       help="train data-parallel over the MPI job (run under mpirun / srun; the `mpi` extra)")
        p.add_argument("--sync-batchnorm", action="store_true",
                       help="with --distributed: BatchNorm statistics over the global batch")
        for name, opt in rec.options.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(opt.default, bool):
                p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=opt.default,
                               help=opt.help)
            else:
                kind = type(opt.default) if opt.default is not None else str
                p.add_argument(flag, dest=name, type=kind, default=opt.default, choices=opt.choices,
                               help=f"{opt.help} (default {opt.default})")


def _cmd_list(args):
    from . import recipes

    width = max(len(n) for n in recipes.RECIPES)
    for name in sorted(recipes.RECIPES):
        print(f"{name:<{width}}  {recipes.RECIPES[name].summary}")
    return 0


def _cmd_train(args):
    from . import recipes

    rec = recipes.get(args.model)
    options = {k: getattr(args, k) for k in rec.options}
    result = recipes.train(args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                           threads=args.threads, device=args.device, out=args.out, data=args.data,
                           quiet=args.quiet, distributed=args.distributed, sync_batchnorm=args.sync_batchnorm,
                           **options)
    if args.distributed:
        from . import distributed

        if distributed.rank() != 0:
            return 0
    return _report(result, args)


def _cmd_eval(args):
    from . import recipes

    result = recipes.evaluate(args.model, args.weights, batch_size=args.batch_size, seed=args.seed,
                              threads=args.threads, device=args.device, data=args.data, quiet=args.quiet)
    return _report(result, args)


def _cmd_sample(args):
    from . import recipes

    print(recipes.sample(args.model, args.weights, temperature=args.temperature, length=args.length,
                         prime=args.prime, seed=args.seed, threads=args.threads, device=args.device))
    return 0


def _cmd_detect(args):
    from .recipes import ssd

    report = ssd.detect_images(args.images, args.weights, args.out, args.threshold, args.threads, args.device)
    for item in report:
        found = [f"{d['label']} {d['score']:.2f}" for d in item["detections"]]
        listed = ", ".join(found[:8]) + (f", ... ({len(found)} in all)" if len(found) > 8 else "")
        print(f"{item['image']}: {listed or 'nothing'} -> {item['picture']}")
    print(f"detections: {os.path.join(args.out, 'detections.json')}")
    return 0


def _report(result, args):
    if not args.quiet:
        print(f"{result.model}: {result.metric} = {result.value:.4f} ({result.seconds:.1f} s)")
    if args.json:
        print(json.dumps(result.summary()))
    return 0


def _build_parser():
    from . import recipes

    parser = _Parser(prog="nncore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the models and what each shows").set_defaults(func=_cmd_list)
    for command, func, train in (("train", _cmd_train, True), ("eval", _cmd_eval, False)):
        p = sub.add_parser(command, help="train a model of the notebook" if train else "measure saved weights")
        models = p.add_subparsers(dest="model", metavar="MODEL", required=True, parser_class=_Parser)
        for name in sorted(recipes.RECIPES):
            rec = recipes.RECIPES[name]
            if not train and rec.evaluate is None:
                continue
            mp = models.add_parser(name, help=rec.summary, description=f"{name}: {rec.summary}. "
                                   f"Metric: {rec.metric}.")
            _add_run_flags(mp, rec, train)
            mp.set_defaults(func=func)
    p_sample = sub.add_parser("sample", help="generate from a trained generative model (charlm)")
    samplers = p_sample.add_subparsers(dest="model", metavar="MODEL", required=True, parser_class=_Parser)
    for name in sorted(n for n, r in recipes.RECIPES.items() if r.sample is not None):
        sp = samplers.add_parser(name, help=recipes.RECIPES[name].summary)
        sp.add_argument("--weights", required=True, help=f"a {name}.npz written by `nncore train {name}`")
        sp.add_argument("--temperature", type=float, default=1.0,
                        help="divides the logits before sampling: below 1 safer, above 1 wilder (default 1.0)")
        sp.add_argument("--length", type=int, default=400, help="how many symbols to generate (default 400)")
        sp.add_argument("--prime", help="text to start from (default: the model's own)")
        sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        sp.add_argument("--threads", type=int, help="kernel threads (default: all cores)")
        sp.add_argument("--device", default="cpu", help="cpu or cuda (needs CuPy and a GPU)")
        sp.set_defaults(func=_cmd_sample)
    p_detect = sub.add_parser("detect", help="find objects in images with SSD weights from `nncore train ssd`")
    p_detect.add_argument("images", nargs="+", metavar="IMAGE", help="image files (Pillow reads them)")
    p_detect.add_argument("--weights", required=True, help="an ssd.npz written by `nncore train ssd`")
    p_detect.add_argument("--out", default="detections",
                          help="folder for IMAGE_detections.png and detections.json (default: detections)")
    p_detect.add_argument("--threshold", type=float, default=0.5, help="lowest score drawn (default 0.5)")
    p_detect.add_argument("--threads", type=int, help="kernel threads (default: all cores)")
    p_detect.add_argument("--device", default="cpu", help="cpu or cuda (needs CuPy and a GPU)")
    p_detect.set_defaults(func=_cmd_detect)
    p_info = sub.add_parser("info", help="print build and machine facts")
    p_info.add_argument("--json", action="store_true", help="print JSON")
    p_info.set_defaults(func=_cmd_info)
    p_bench = sub.add_parser("bench", help="quick kernel benchmarks against NumPy")
    bench_sub = p_bench.add_subparsers(dest="op", required=True, parser_class=_Parser)
    p_gemm = bench_sub.add_parser("gemm", help="square SGEMM, GFLOP/s")
    p_gemm.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p_gemm.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p_gemm.add_argument("--min-time", type=float, default=0.2, help="seconds per timing round")
    p_gemm.set_defaults(func=_cmd_bench_gemm)
    return parser


def main(argv=None):
    from .recipes import RecipeError

    args = _build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RecipeError, ImportError) as e:
        print(f"nncore {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nncore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
