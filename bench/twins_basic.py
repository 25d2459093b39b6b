"""PyTorch twins of the perceptron, MLP and Hopfield recipes for
bench/compare_models.py: the same algorithm, data, seeds policy, optimiser and
epochs written with torch tensors; each returns the recipe's headline metric."""

import time

import numpy as np

from nncore.data import digits_datasets
from nncore.models.perceptron import GATE_INPUTS, GATES


def perceptron(seed, threads):
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    X = torch.tensor(GATE_INPUTS)
    accuracies = []
    for k, rule in enumerate(("error-correction", "gd", "sgd")):
        lr = {"error-correction": 1.0, "gd": 0.1, "sgd": 0.05}[rule]
        for j, gate in enumerate(("AND", "OR", "NAND", "XOR")):
            y = torch.tensor(GATES[gate], dtype=torch.float64)
            w, b = torch.zeros(2, dtype=torch.float64), torch.zeros((), dtype=torch.float64)
            gen = torch.Generator().manual_seed(seed * 100 + k * 4 + j)
            for _ in range(100):
                if rule == "error-correction":
                    for x, t in zip(X, y):
                        update = lr * (t - (x @ w + b > 0).double())
                        w += update * x
                        b += update
                elif rule == "gd":
                    residual = (2 * y - 1) - (X @ w + b)
                    w += lr * residual @ X / len(X)
                    b += lr * residual.mean()
                else:
                    for i in torch.randperm(len(X), generator=gen):
                        residual = (2 * y[i] - 1) - (X[i] @ w + b)
                        w += lr * residual * X[i]
                        b += lr * residual
                if bool(((X @ w + b > 0).double() == y).all()):
                    break
            if gate != "XOR":
                accuracies.append(float(((X @ w + b > 0).double() == y).double().mean()))
    return {"value": float(np.mean(accuracies)), "epochs": 100, "seconds": time.perf_counter() - start}


def mlp(seed, threads, epochs=60):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    start = time.perf_counter()
    xor = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
    opt = torch.optim.SGD(xor.parameters(), lr=2.0, momentum=0.9)
    x = torch.tensor(GATE_INPUTS, dtype=torch.float32)
    t = torch.tensor(GATES["XOR"], dtype=torch.float32)[:, None]
    for _ in range(3000):
        loss = nn.functional.binary_cross_entropy_with_logits(xor(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()

    train_set, test_set = digits_datasets(flatten=True)
    X, Y = train_set[np.arange(len(train_set))]
    XT, YT = test_set[np.arange(len(test_set))]
    mean, scale = X.mean(0), X.std(0) + np.float32(0.1)
    X, XT = torch.tensor((X - mean) / scale), torch.tensor((XT - mean) / scale)
    Y, YT = torch.tensor(Y), torch.tensor(YT)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 256), nn.ReLU(),
                          nn.Dropout(0.4), nn.Linear(256, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    order, noise = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    for _ in range(epochs):
        model.train()
        perm = order.permutation(len(X))
        for i in range(0, len(X), 32):
            idx = torch.from_numpy(perm[i:i + 32])
            xb = X[idx] + torch.from_numpy(0.3 * noise.standard_normal((len(idx), 64), np.float32))
            loss = nn.functional.cross_entropy(model(xb), Y[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(XT).argmax(1) == YT).double().mean())
    return {"value": accuracy, "epochs": epochs, "seconds": time.perf_counter() - start}


def hopfield(seed, threads, trials=100, n=100, noise=0.1):
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    value = None
    for count in range(1, 21):
        hits = []
        for trial in range(trials):
            rng = np.random.default_rng([seed, count, trial])
            patterns = torch.tensor(rng.choice(np.array([-1, 1], np.int8), size=(count, n)), dtype=torch.float64)
            w = patterns.T @ patterns / n
            w.fill_diagonal_(0)
            s = patterns.clone()
            k = int(round(noise * n))
            for row in s:
                idx = torch.from_numpy(rng.choice(n, k, replace=False))
                row[idx] = -row[idx]
            for _ in range(100):
                before = s.clone()
                for i in torch.from_numpy(rng.permutation(n)):
                    h = s @ w[i]
                    s[:, i] = torch.where(h > 1e-9, 1.0, torch.where(h < -1e-9, -1.0, s[:, i]))
                if torch.equal(s, before):
                    break
            hits.append((s == patterns).all(1))
        if count == 10:
            value = float(torch.cat(hits).double().mean())
    return {"value": value, "epochs": 1, "seconds": time.perf_counter() - start}


TWINS = {"perceptron": perceptron, "mlp": mlp, "hopfield": hopfield}
