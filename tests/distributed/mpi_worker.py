"""Runs under mpirun for tests/distributed/test_mpi.py: `python mpi_worker.py SCENARIO OUTDIR`.
Each scenario writes rank-tagged .npz files into OUTDIR for the test to compare."""

import os
import signal
import sys
import time

import numpy as np

import nncore
from nncore import distributed as dist
from nncore import functional as F
from nncore import nn, optim
from nncore.data import DataLoader, Subset, TensorDataset, digits_datasets


def digits_cnn(batchnorm=False):
    """A small conv net for the 8x8 digits (the data-parallel tests' model)."""
    norm = [nn.BatchNorm2d(8)] if batchnorm else []
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), *norm, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))


def train_steps(world, rank, steps, batch, batchnorm, seed=0):
    """`steps` SGD steps with global batch `batch`; returns parameters after each step."""
    nncore.manual_seed(seed + 17 * rank)  # different init per rank: DDP must broadcast rank 0's
    model = digits_cnn(batchnorm)
    if world > 1 or dist.is_initialized():
        if batchnorm:
            dist.convert_sync_batchnorm(model)
        model = dist.DistributedDataParallel(model, bucket_cap_mb=0.002)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train, _ = digits_datasets()
    train = Subset(train, np.arange(steps * batch))
    sampler = dist.DistributedSampler(train, world, rank, seed=seed)
    loader = DataLoader(train, batch // world, sampler=sampler)
    history = []
    for x, y in loader:
        loss = F.cross_entropy(model(nncore.tensor(x)), nncore.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(np.concatenate([p.data.ravel() for p in model.parameters()]))
    return np.stack(history)


def main(scenario, out):
    dist.init()
    rank, world = dist.rank(), dist.world_size()
    nncore.set_num_threads(1)
    if scenario == "all_reduce":
        rng = np.random.default_rng(rank)
        arrays = [rng.standard_normal(s).astype(np.float32) for s in [(3,), (5, 7), (1000,), (2, 2, 2)]]
        ints = np.arange(6, dtype=np.int64) * (rank + 1)
        sums = [a.copy() for a in arrays]
        dist.all_reduce_(sums + [ints], op="sum", bucket_bytes=256)
        means = [a.copy() for a in arrays]
        dist.all_reduce_([nncore.from_numpy(a) for a in means], op="mean")
        np.savez(os.path.join(out, f"{rank}.npz"), *arrays, *sums, *means, ints)
    elif scenario in ("ddp", "ddp_bn"):
        history = train_steps(world, rank, steps=6, batch=48, batchnorm=scenario == "ddp_bn")
        np.save(os.path.join(out, f"{rank}.npy"), history)
    elif scenario == "broadcast":
        nncore.manual_seed(rank)
        model = digits_cnn(batchnorm=True)
        opt = optim.Adam(model.parameters(), lr=0.01)
        if rank == 0:
            loss = model(nncore.randn(4, 1, 8, 8)).sum()
            loss.backward()
            opt.step()
        dist.broadcast_parameters(model)
        dist.broadcast_optimizer_state(opt)
        state = [opt.state[p][k] for p in model.parameters() for k in ("exp_avg", "exp_avg_sq")]
        np.savez(os.path.join(out, f"{rank}.npz"), *[t.data for t in model.state_dict().values()],
                 *[np.asarray(s.data if hasattr(s, "data") else s) for s in state],
                 np.array([opt.state[p]["step"] for p in model.parameters()], np.float64))
    elif scenario == "raise":
        if rank == world - 1:
            time.sleep(0.5)
            raise RuntimeError("this rank fails on purpose")
        dist.barrier()
    elif scenario == "kill":
        if rank == world - 1:
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGKILL)
        dist.barrier()
    else:
        raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
