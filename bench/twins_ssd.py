"""PyTorch twin of the `ssd` recipe for MODELS.md: the same small SSD (layers, initial weights copied
from nncore's model, BatchNorm), the same synthetic shapes, augmentation stream, batch order,
MultiBoxLoss (matching by nncore.models.ssd.match, 3:1 hard negatives ranked by their cross-entropy),
Adam with cosine annealing and epochs, scored by the same post-processing and VOC07 mAP@0.5 on the
same 300 held-out images. bench_models_ssd.py times one training step of both."""

import time

import numpy as np


def torch_ssd_small(torch, reference):
    """A PyTorch module with the layers of nncore's ssd_small `reference`, its weights copied."""
    nn = torch.nn

    def conv(layer):
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                         layer.dilation, bias=layer.bias is not None)

    def twin(layer):
        name = type(layer).__name__
        if name == "Conv2d":
            return conv(layer)
        if name == "BatchNorm2d":
            return nn.BatchNorm2d(layer.num_features)
        if name == "ReLU":
            return nn.ReLU()
        if name == "MaxPool2d":
            return nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding, ceil_mode=layer.ceil_mode)
        raise TypeError(f"no twin for {name}")

    class L2Norm(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.weight = nn.Parameter(torch.full((channels,), 20.0))

        def forward(self, x):
            return x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) * self.weight.view(1, -1, 1, 1)

    class SSD(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_classes = reference.num_classes
            self.source_layer = reference.source_layer
            self.vgg = nn.ModuleList([twin(m) for m in reference.vgg])
            self.L2Norm = L2Norm(reference.L2Norm.n_channels)
            self.extras = nn.ModuleList([conv(m) for m in reference.extras])
            self.loc = nn.ModuleList([conv(m) for m in reference.loc])
            self.conf = nn.ModuleList([conv(m) for m in reference.conf])

        def forward(self, x):
            sources = []
            for k in range(self.source_layer):
                x = self.vgg[k](x)
            sources.append(self.L2Norm(x))
            for k in range(self.source_layer, len(self.vgg)):
                x = self.vgg[k](x)
            sources.append(x)
            for k, layer in enumerate(self.extras):
                x = torch.relu(layer(x))
                if k % 2:
                    sources.append(x)
            n = x.shape[0]
            loc = torch.cat([h(s).permute(0, 2, 3, 1).reshape(n, -1) for s, h in zip(sources, self.loc)], 1)
            conf = torch.cat([h(s).permute(0, 2, 3, 1).reshape(n, -1) for s, h in zip(sources, self.conf)], 1)
            return loc.view(n, -1, 4), conf.view(n, -1, self.num_classes)

    model = SSD()
    model.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in reference.state_dict().items()})
    return model


def torch_multibox_loss(torch, loc, conf, targets, priors, neg_pos_ratio=3):
    """(loss_l, loss_c) as nncore's MultiBoxLoss computes them, in PyTorch ops."""
    from nncore.models.ssd import match

    loc_t, conf_t = match([t["boxes"] for t in targets], [t["labels"] for t in targets], priors,
                          num_classes=conf.shape[2])
    loc_t, conf_t = torch.from_numpy(loc_t), torch.from_numpy(conf_t)
    pos = conf_t > 0
    n = max(int(pos.sum()), 1)
    loss_l = torch.nn.functional.smooth_l1_loss(loc[pos], loc_t[pos], reduction="sum") / n
    ce = torch.nn.functional.cross_entropy(conf.reshape(-1, conf.shape[2]), conf_t.reshape(-1),
                                           reduction="none").view(pos.shape)
    with torch.no_grad():
        ranked = ce.detach().masked_fill(pos, float("-inf"))
        order = torch.sort(ranked, dim=1, descending=True, stable=True).indices
        rank = order.argsort(1)
        num_neg = (neg_pos_ratio * pos.sum(1, keepdim=True)).clamp(max=pos.shape[1] - 1)
        keep = pos | ((rank < num_neg) & ~pos)
    loss_c = ce[keep].sum() / n
    return loss_l, loss_c


def train_ssd(seed, threads, epochs=None):
    """The `ssd` recipe with its defaults, in PyTorch."""
    import torch

    import nncore
    from nncore import recipes
    from nncore.data import DataLoader
    from nncore.data.detection import detection_collate
    from nncore.metrics import mean_average_precision
    from nncore.models.ssd import detect, ssd_small
    from nncore.recipes.ssd import datasets

    rec = recipes.get("ssd")
    epochs = epochs or rec.epochs
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    nncore.manual_seed(seed)
    defaults = {k: o.default for k, o in rec.options.items()}
    run = recipes.Run("ssd", epochs, rec.batch_size, rec.lr, seed, options=defaults)
    train_set, test_set, names = datasets(run)
    reference = ssd_small(len(names) + 1, width=run.options["width"])
    model = torch_ssd_small(torch, reference)
    priors = reference.priors
    opt = torch.optim.Adam(model.parameters(), lr=run.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loader = DataLoader(train_set, batch_size=run.batch_size, shuffle=True, collate_fn=detection_collate,
                        generator=run.rng(1))
    def evaluate():
        model.eval()
        found, truths = [], []
        with torch.no_grad():
            for i in range(0, len(test_set), 100):
                images, targets = detection_collate([test_set[j] for j in range(i, min(i + 100, len(test_set)))])
                loc, conf = model(torch.from_numpy(images))
                found += detect(loc.numpy(), conf.numpy(), priors)
                truths += targets
        return mean_average_precision(found, truths, classes=list(range(1, len(names) + 1)))

    start = time.perf_counter()
    for _ in range(epochs):          # evaluated every epoch, as the recipe does
        model.train()
        for images, targets in loader:
            loc, conf = model(torch.from_numpy(images))
            loss_l, loss_c = torch_multibox_loss(torch, loc, conf, targets, priors)
            opt.zero_grad()
            (loss_l + loss_c).backward()
            opt.step()
        sched.step()
        result = evaluate()
    return {"value": result["map"], "epochs": epochs, "seconds": time.perf_counter() - start,
            "ap": {names[k - 1]: v for k, v in result["ap"].items()}}


TWINS = {"ssd": train_ssd}
