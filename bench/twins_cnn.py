"""PyTorch twins of the cnn, allconv, resnet, vgg and transfer recipes for
bench/compare_models.py: the same networks (layers, widths, initialisation),
the same digits, split, batches (one NumPy generator shuffles and shifts both),
optimiser (Adam), cosine schedule, label smoothing and epochs,
written with torch.nn; each returns the recipe's headline metric."""

import time

import numpy as np

from nncore.data import digits_datasets, transforms


def _arrays(dataset):
    return dataset[np.arange(len(dataset))]


def _accuracy(torch, model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def _train_epoch(torch, model, x, y, opt, order, batch_size, shift, label_smoothing=0.0):
    """One pass in the order the recipe's DataLoader draws, each batch shifted as its augment does."""
    model.train()
    perm = order.permutation(len(x))
    for i in range(0, len(x), batch_size):
        idx = perm[i:i + batch_size]
        xb = torch.from_numpy(np.ascontiguousarray(shift(x[idx])))
        loss = torch.nn.functional.cross_entropy(model(xb), torch.from_numpy(y[idx]), label_smoothing=label_smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _fit_digits(torch, model, seed, epochs, lr, batch_size=32, size=32, shift=2):
    """The recipes' fit_digits: Adam + cosine over `epochs`, label smoothing 0.1,
    random shifts; test accuracy after the last epoch (evaluated every epoch, as there)."""
    train_set, test_set = digits_datasets(size=size)
    x, y = _arrays(train_set)
    xt, yt = (torch.from_numpy(a) for a in _arrays(test_set))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    order = np.random.default_rng([seed, 1])
    augment = transforms.RandomAffineShift(shift, generator=np.random.default_rng([seed, 2]))
    accuracy = 0.0
    for _ in range(epochs):
        _train_epoch(torch, model, x, y, opt, order, batch_size, augment, label_smoothing=0.1)
        sched.step()
        accuracy = _accuracy(torch, model, xt, yt)
    return accuracy


def _lenet(torch, num_classes=10):
    """LeNet-5 as (features, flatten, classifier), as models.cnn.LeNet."""
    nn = torch.nn
    features = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2))
    classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                               nn.Linear(84, num_classes))
    return nn.Sequential(features, nn.Flatten(), classifier)


def _timed(torch, seed, threads, epochs, train):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    start = time.perf_counter()
    value = train()
    return {"value": value, "epochs": epochs, "seconds": time.perf_counter() - start}


def cnn(seed, threads, epochs=30):
    import torch

    return _timed(torch, seed, threads, epochs, lambda: _fit_digits(torch, _lenet(torch), seed, epochs, 2e-3))


def allconv(seed, threads, epochs=20, widths=(24, 48)):
    import torch
    from torch import nn

    def train():
        w1, w2 = widths
        layers = []
        for a, b, k, s, p in ((1, w1, 3, 1, 1), (w1, w1, 3, 1, 1), (w1, w1, 3, 2, 1), (w1, w2, 3, 1, 1),
                              (w2, w2, 3, 1, 1), (w2, w2, 3, 2, 1), (w2, w2, 3, 1, 0), (w2, w2, 1, 1, 0)):
            layers += [nn.Conv2d(a, b, k, stride=s, padding=p), nn.ReLU()]
        layers += [nn.Conv2d(w2, 10, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        model = nn.Sequential(*layers)
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        return _fit_digits(torch, model, seed, epochs, 2e-3, size=16, shift=1)

    return _timed(torch, seed, threads, epochs, train)


def _resnet18(torch, width, num_classes=10):
    """torchvision's ResNet-18 (shortcut B) with one input channel and `width` channels in layer1."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    layers = [nn.Conv2d(1, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    inplanes = width
    for stage in range(4):
        planes = width * 2 ** stage
        for i in range(2):
            layers.append(Block(inplanes, planes, 2 if stage > 0 and i == 0 else 1))
            inplanes = planes
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inplanes, num_classes))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def resnet(seed, threads, epochs=5, width=16):
    import torch

    return _timed(torch, seed, threads, epochs,
                  lambda: _fit_digits(torch, _resnet18(torch, width), seed, epochs, 5e-3))


def vgg(seed, threads, epochs=5, channels=(8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M"), hidden=256):
    import torch
    from torch import nn

    def train():
        layers, c = [], 1
        for v in channels:  # VGG-11 (configuration A) with BatchNorm at width x0.125
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                c = v
        model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(c, hidden), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 10))
        return _fit_digits(torch, model, seed, epochs, 2e-3)

    return _timed(torch, seed, threads, epochs, train)


def transfer(seed, threads, epochs=10, source_epochs=15, shots=10):
    import copy

    import torch
    from torch import nn

    from nncore.recipes.transfer import task_datasets

    def train():
        rng = lambda salt: np.random.default_rng([seed, salt])  # noqa: E731  (the recipe's run.rng)
        source_train, _, target_train, target_test = task_datasets(shots, rng(3))
        shift = transforms.RandomAffineShift(2, generator=rng(2))
        xs, ys = _arrays(source_train)
        source = _lenet(torch, 5)
        opt = torch.optim.Adam(source.parameters(), lr=2e-3)
        order = rng(1)
        for _ in range(source_epochs):
            _train_epoch(torch, source, xs, ys, opt, order, 32, shift)
        tuned = copy.deepcopy(source)
        tuned[0].requires_grad_(False)  # the convolutional features
        tuned[2][4] = nn.Linear(84, 5)
        models = [tuned, _lenet(torch, 5)]
        x, y = _arrays(target_train)
        xt, yt = (torch.from_numpy(a) for a in _arrays(target_test))
        opts = [torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=2e-3)
                for m in models]
        orders = [rng(10), rng(11)]
        accuracy = [0.0, 0.0]
        for _ in range(epochs):
            for k, model in enumerate(models):
                _train_epoch(torch, model, x, y, opts[k], orders[k], 16, shift)
                accuracy[k] = _accuracy(torch, model, xt, yt)
        return accuracy[0]

    return _timed(torch, seed, threads, epochs, train)


TWINS = {"cnn": cnn, "allconv": allconv, "resnet": resnet, "vgg": vgg, "transfer": transfer}
