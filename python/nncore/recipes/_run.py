"""Run: what a recipe is given (the settings of one `nncore train`, or of a test)
and the means to report what it does: progress bars, a line per epoch, pictures
and the saved weights. Recipes hold the training logic; Run only reports."""

import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np


class RecipeError(Exception):
    """Bad input to a recipe that a user can fix (missing data, wrong weights):
    the command prints its message as one line and exits with status 2."""


@contextlib.contextmanager
def user_input(what):
    """Reading what a user gave (--data, --weights): a missing or malformed file
    becomes a RecipeError naming it, not a traceback."""
    try:
        yield
    except (OSError, ValueError, EOFError) as e:
        raise RecipeError(f"{what}: {e}") from None


class Run:
    def __init__(self, model, epochs, batch_size, lr, seed=0, device="cpu", out=None, data=None, quiet=True,
                 options=None, stream=None, distributed=False, sync_batchnorm=False):
        from .. import distributed as dist

        self.distributed = distributed
        self.sync_batchnorm = sync_batchnorm
        self.rank = dist.rank() if distributed else 0
        self.world_size = dist.world_size() if distributed else 1
        if self.rank != 0:  # rank 0 alone prints and writes
            quiet, out = True, None
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.out = os.fspath(out) if out is not None else None
        self.data = os.fspath(data) if data is not None else None
        self.quiet = quiet
        self.options = dict(options or {})
        self.stream = stream or sys.stdout
        self.history = defaultdict(list)
        self.pictures = []
        self._warned = set()
        self.start = time.perf_counter()

    # ---- randomness ----
    def rng(self, salt=0):
        """A NumPy Generator derived from the run's seed (salt picks an independent stream)."""
        return np.random.default_rng([self.seed, salt])

    # ---- data parallel (`nncore train MODEL --distributed` under mpirun) ----
    def loader(self, dataset, shuffle=True, drop_last=False, batch_size=None, salt=1):
        """A DataLoader over this rank's shard of dataset, in batches of
        (batch_size or run.batch_size) / world_size, so that a global batch holds
        the same samples whatever the number of processes; a new seeded order
        each pass."""
        from .. import distributed as dist
        from ..data import DataLoader

        batch = batch_size or self.batch_size
        if batch % self.world_size:
            raise RecipeError(f"batch size {batch} does not divide among {self.world_size} processes; use a "
                              f"multiple of {self.world_size}")
        sampler = dist.DistributedSampler(dataset, self.world_size, self.rank, shuffle=shuffle,
                                          seed=int(self.rng(salt).integers(2 ** 31)), drop_last=drop_last)
        return _EpochLoader(DataLoader(dataset, batch // self.world_size, drop_last=drop_last, sampler=sampler))

    def parallel(self, module):
        """module wrapped for data-parallel training when the run is distributed
        (gradients averaged over ranks during backward; BatchNorm synchronised
        with --sync-batchnorm), else module itself."""
        if not self.distributed:
            return module
        from .. import distributed as dist

        if self.sync_batchnorm:
            dist.convert_sync_batchnorm(module)
        return dist.DistributedDataParallel(module)

    # ---- reporting ----
    def log(self, message):
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def note_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            self.log(message)

    def progress(self, iterable, desc=None, total=None):
        """Iterates, drawing a tqdm bar when tqdm is installed and the run is not quiet."""
        if self.quiet:
            return iterable
        try:
            from tqdm import tqdm
        except ImportError:
            self.note_once("tqdm", "(progress bars need tqdm: pip install 'nncore[progress]')")
            return iterable
        return tqdm(iterable, desc=desc, total=total, leave=False, file=self.stream, dynamic_ncols=True)

    def epoch(self, epoch, total=None, **metrics):
        """Records metrics of one epoch in history and prints them on one line."""
        self.history["epoch"].append(epoch)
        for key, value in metrics.items():
            self.history[key].append(float(value))
        total = total or self.epochs
        parts = [f"epoch {epoch}/{total}" if total else f"epoch {epoch}"]
        parts += [f"{k} {_fmt(v)}" for k, v in metrics.items()]
        parts.append(f"{time.perf_counter() - self.start:.1f} s")
        self.log("  ".join(parts))

    def picture(self, name, draw, *args, **kwargs):
        """Saves a picture to OUT/name.png: draw(figure, *args, **kwargs) fills a
        matplotlib figure. Skipped without --out; without matplotlib, says how to
        get it (once) and goes on."""
        if self.out is None:
            return None
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            self.note_once("viz", "(pictures need matplotlib: pip install 'nncore[viz]'; training goes on without)")
            return None
        fig = plt.figure()
        try:
            draw(fig, *args, **kwargs)
            path = os.path.join(self.out, name + ".png")
            with _atomic(path) as tmp:
                fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
        finally:
            plt.close(fig)
        self.pictures.append(path)
        self.log(f"picture: {path}")
        return path

    def output_path(self, name):
        """OUT/name (the folder is made on demand), or None without --out."""
        if self.out is None:
            return None
        os.makedirs(self.out, exist_ok=True)
        return os.path.join(self.out, name)

    @property
    def seconds(self):
        return time.perf_counter() - self.start


class _EpochLoader:
    """A DataLoader whose sampler moves to the next epoch at every pass."""

    def __init__(self, loader):
        self.loader = loader
        self.epoch = 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.loader.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return iter(self.loader)


def _fmt(v):
    v = float(v)
    return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"


@contextlib.contextmanager
def _atomic(path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".nncore-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
