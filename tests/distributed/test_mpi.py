"""Data parallel on MPI with real processes (mpirun -n 2 and 3 on this machine,
loopback): all-reduce, identical parameters on every rank, K processes equal to
one with the same global batch, SyncBatchNorm, broadcasts, failing ranks, and
`nncore train --distributed`."""

import glob
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py")
MPIRUN = shutil.which("mpirun") or shutil.which("mpirun", path=os.path.dirname(sys.executable))
if MPIRUN is None:
    pytest.skip("no mpirun (pip install 'nncore[mpi]')", allow_module_level=True)

WORKER = os.path.join(os.path.dirname(__file__), "mpi_worker.py")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", NNCORE_NUM_THREADS="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")


def mpirun(n, *args, timeout=120):
    return subprocess.run([MPIRUN, "-n", str(n), "--oversubscribe", sys.executable, *args], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def scenario(name, n, tmp_path):
    proc = mpirun(n, WORKER, name, str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize("n", [2, 3])
def test_all_reduce_sums_and_averages_across_buckets(n, tmp_path):
    scenario("all_reduce", n, tmp_path)
    files = [np.load(tmp_path / f"{r}.npz") for r in range(n)]
    k = 4
    for i in range(k):
        total = sum(f[f"arr_{i}"].astype(np.float64) for f in files)
        for f in files:
            np.testing.assert_allclose(f[f"arr_{k + i}"], total, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(f[f"arr_{2 * k + i}"], total / n, rtol=1e-5, atol=1e-5)
    for f in files:
        assert f[f"arr_{3 * k}"].tolist() == (np.arange(6) * sum(range(1, n + 1))).tolist()


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "syncbn"])
def test_k_processes_match_one_with_the_same_global_batch(n, batchnorm, tmp_path):
    name = "ddp_bn" if batchnorm else "ddp"
    single = tmp_path / "single"
    single.mkdir()
    scenario(name, 1, single)
    scenario(name, n, tmp_path)
    ranks = [np.load(tmp_path / f"{r}.npy") for r in range(n)]
    for r in range(1, n):
        assert np.array_equal(ranks[r], ranks[0]), f"rank {r} differs from rank 0 after some step"
    one = np.load(single / "0.npy")
    assert one.shape == ranks[0].shape == (6, one.shape[1])
    np.testing.assert_allclose(ranks[0], one, rtol=2e-4, atol=2e-5)
    assert not np.allclose(one[0], one[-1])


def test_broadcast_parameters_and_optimizer_state(tmp_path):
    scenario("broadcast", 3, tmp_path)
    files = [np.load(tmp_path / f"{r}.npz") for r in range(3)]
    for key in files[0].files:
        for f in files[1:]:
            assert np.array_equal(f[key], files[0][key]), key
    assert files[0][files[0].files[-1]].tolist()[0] == 1


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_ends_the_job_quickly(how, tmp_path):
    start = time.perf_counter()
    proc = mpirun(3, WORKER, how, str(tmp_path), timeout=60)
    assert proc.returncode != 0
    assert time.perf_counter() - start < 30
    if how == "raise":
        assert "fails on purpose" in proc.stderr and "aborting the job" in proc.stderr


def test_nncore_train_distributed_prints_once_and_matches_one_process(tmp_path):
    args = ["-m", "nncore", "train", "mlp", "--epochs", "2", "--json", "--quiet", "--distributed", "--noise", "0"]
    proc = mpirun(2, *args, "--out", str(tmp_path / "two"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    two = json.loads(lines[0])
    one = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one")], env=ENV, capture_output=True,
                         text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    assert abs(json.loads(one.stdout.strip().splitlines()[-1])["value"] - two["value"]) < 0.03
    assert glob.glob(str(tmp_path / "two" / "*.npz")) == [str(tmp_path / "two" / "mlp.npz")]
