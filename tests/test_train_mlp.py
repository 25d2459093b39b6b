"""End to end with the plain API (no recipe): a 64-32-10 MLP trained with SGD on the
real 8x8 digits (nncore.data) reaches >= 0.95 test accuracy on the fixed split."""

import numpy as np
import pytest

import nncore
from nncore import nn, optim
from nncore import functional as F

from nncore.data import digits_datasets


pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def test_mlp_learns_digits():
    nncore.manual_seed(0)
    train_set, test_set = digits_datasets(flatten=True)
    x, y = train_set[np.arange(len(train_set))]
    xt, y_test = test_set[np.arange(len(test_set))]
    split = len(x)
    x_train, y_train = nncore.tensor(x), nncore.tensor(y)
    x_test = nncore.tensor(xt)

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
