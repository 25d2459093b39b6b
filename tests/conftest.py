"""Shared fixtures: seeded generators, every CPU twin, and the `cuda` marker
(skipped unless nncore was built with CUDA and a GPU is visible, or built on
the CUDA emulator)."""

import os
import zlib

import nncore
import numpy as np
import pytest
from hypothesis import settings
from support import available_isas, isa

# CI tests the installed wheel: nncore must not come from the source tree's python/.
if os.environ.get("NNCORE_EXPECT_INSTALLED"):
    _source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
    assert not os.path.abspath(nncore.__file__).startswith(_source + os.sep), (
        f"NNCORE_EXPECT_INSTALLED is set but nncore was imported from {nncore.__file__}")

# A build whose CUDA twins run on the CPU emulator (NNCORE_CUDA=SIM) gets
# CuPy's stand-in, so the `cuda` tests run here on host memory.
if nncore._C.build_info()["cuda_emulator"]:
    import emulated_cupy

    emulated_cupy.install()

# CI replays the same examples every run; local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):
    if nncore.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU, CuPy and a CUDA build of nncore")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name: fresh inputs per test, reproducible runs.
    NNCORE_TEST_SEED shifts every seed, to try other inputs."""
    seed = zlib.crc32(request.node.nodeid.encode()) ^ int(os.environ.get("NNCORE_TEST_SEED", "0"))
    return np.random.default_rng(seed)


@pytest.fixture(params=available_isas())
def each_isa(request):
    """Parametrises a test over every CPU twin this machine can run."""
    with isa(request.param):
        yield request.param


@pytest.fixture(scope="module")
def one_kernel_thread():
    """For modules that check the Python layer, not threading: one kernel thread keeps
    them quick on a loaded machine (OpenMP teams stall when a core is busy)."""
    before = nncore.get_num_threads()
    nncore.set_num_threads(1)
    yield
    nncore.set_num_threads(before)
