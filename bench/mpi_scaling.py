"""Data-parallel costs on this machine, run under MPI:

    mpirun -n 2 python bench/mpi_scaling.py allreduce      # Allreduce time against message size
    mpirun -n K python bench/mpi_scaling.py step MODEL      # training-step time of a model, K = 1, 2

`allreduce` times sizes 4 B..64 MiB (fastest of 20 repeats each, the slowest rank's
time), takes the latency a from the smallest message and the per-byte cost b from a
least-squares line over 64 KiB..4 MiB (messages the size of gradient buckets), and
prints the bus bandwidth 2 (K-1)/K n / t of each size. `step` times data-parallel
training steps (global batch as the recipe's, 1 kernel thread per process) and
prints the step time, the bytes all-reduced per step and the time spent waiting
for the reductions."""

import sys
import time

import numpy as np

import nncore
from nncore import distributed as dist


def allreduce():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rows = []
    for log2 in range(2, 27, 2):
        n = 1 << log2
        buf = np.ones(n // 4, np.float32)
        best = float("inf")
        for _ in range(20 if n < 1 << 22 else 5):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            best = min(best, time.perf_counter() - t0)
        best = comm.allreduce(best, op=MPI.MAX)
        rows.append((n, best))
    if comm.rank == 0:
        k = comm.size
        sizes, times = np.array(rows, np.float64).T
        bucket = (sizes >= 1 << 16) & (sizes <= 1 << 22)
        b = np.polyfit(sizes[bucket], times[bucket], 1)[0]
        a = times[0]
        print(f"ranks {k}: latency a = {a * 1e6:.1f} us, per byte b = {b * 1e9:.3f} ns "
              f"(1/b = {1 / b / 1e9:.2f} GB/s)")
        for n, t in rows:
            print(f"  {n:>10d} B  {t * 1e6:10.1f} us  bus {2 * (k - 1) / k * n / t / 1e9:6.2f} GB/s")


def step(model_name):
    from nncore import functional as F
    from nncore import nn, optim
    from nncore.data import digits_datasets

    dist.init()
    nncore.set_num_threads(1)
    k, rank = dist.world_size(), dist.rank()
    models = {
        "mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                      nn.Linear(256, 10)), 8, 32),
        "lenet": (lambda: __import__("nncore.models.cnn", fromlist=["LeNet"]).LeNet(), 32, 64),
        "resnet18": (lambda: __import__("nncore.models.resnet", fromlist=["resnet18"]).resnet18(
            num_classes=10, in_channels=1), 32, 64),
        "resnet34": (lambda: __import__("nncore.models.resnet", fromlist=["resnet34"]).resnet34(
            num_classes=10, in_channels=1), 32, 64),
    }
    make, size, batch = models[model_name]
    nncore.manual_seed(0)
    model = dist.DistributedDataParallel(make())
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    train, _ = digits_datasets(size=size)
    x, y = train[np.arange(batch)]
    local = slice(rank * batch // k, (rank + 1) * batch // k)
    xb, yb = nncore.tensor(x[local]), nncore.tensor(y[local])
    waits = []
    finish = model._finish

    def timed_finish():
        t0 = time.perf_counter()
        finish()
        waits.append(time.perf_counter() - t0)

    model._finish = timed_finish
    times = []
    for i in range(25):
        dist.barrier()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    t = float(np.median(times[5:]))
    w = float(np.median(waits[5:]))
    if rank == 0:
        print(f"{model_name}: {k} process(es), global batch {batch}: step {t * 1e3:.2f} ms, of which waiting at "
              f"the end of backward for the all-reduce (and for the slower rank) {w * 1e3:.2f} ms; "
              f"{model.bytes_per_step / 1e6:.2f} MB all-reduced per step")


if __name__ == "__main__":
    if sys.argv[1] == "allreduce":
        allreduce()
    else:
        step(sys.argv[2])
