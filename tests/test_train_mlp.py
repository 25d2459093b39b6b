"""End to end: a 64-32-10 MLP trained with SGD on offline digits reaches >= 0.95 test accuracy."""

import time

import numpy as np
import pytest

import nncore
from nncore import nn, optim
from nncore import functional as F

from digits_data import load_digits


pytestmark = pytest.mark.usefixtures("one_kernel_thread")


@pytest.mark.skipif(not hasattr(nncore.ops, "cross_entropy_with_grad"),
                    reason="nncore.ops lacks cross_entropy (softmax kernel branch not merged)")
def test_mlp_learns_digits():
    start = time.perf_counter()
    nncore.manual_seed(0)
    x, y = load_digits()
    x = x / 16.0
    split = int(0.8 * len(x))
    x_train, y_train = nncore.tensor(x[:split]), nncore.tensor(y[:split])
    x_test, y_test = nncore.tensor(x[split:]), y[split:]

    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    order = np.random.default_rng(0)
    for _ in range(30):
        perm = order.permutation(split)
        for i in range(0, split, 32):
            idx = perm[i:i + 32]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with nncore.no_grad():
        predicted = model(x_test).argmax(1).numpy()
    accuracy = float((predicted == y_test).mean())
    assert accuracy >= 0.95, accuracy
    assert time.perf_counter() - start < 30
