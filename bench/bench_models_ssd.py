"""SSD: the post-processing of one image's SSD300 head outputs (8732 x 21: softmax, decode,
threshold 0.01, top 200 per class, NMS 0.45, best 200), nncore.models.ssd.detect against
torchvision's path (bench/ssd_postprocess_torchvision.py; skipped where torchvision is not
installed: run that script in an environment that has it); and one training step of the small
SSD (batch 32 of 64 x 64 synthetic shapes: forward, MultiBoxLoss, backward, Adam), nncore against
the same model and loss in PyTorch (bench/twins_ssd.py), 1 and 2 threads. Allocator mode: nncore's
outputs come from its host cache; PyTorch allocates as usual."""

import numpy as np
import pytest

import nncore
from nncore.models import ssd

from benchutil import need_peer, run
from ssd_postprocess_torchvision import KINDS, make_head_outputs, torchvision_postprocess
from twins_ssd import torch_multibox_loss, torch_ssd_small


@pytest.mark.parametrize("impl", ["nncore", "torchvision"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_postprocess(benchmark, threads, kind, impl):
    benchmark.group = f"ssd postprocess 8732x21 {kind} threads={threads}"
    loc, conf = make_head_outputs(kind)
    priors = ssd.prior_boxes("ssd300")
    if impl == "nncore":
        (found,) = run(benchmark, lambda: ssd.detect(loc, conf, priors))
        benchmark.extra_info["kept"] = len(found["scores"])
    else:
        torch = need_peer("torch")
        torchvision = pytest.importorskip("torchvision")
        tloc, tconf, tpriors = torch.from_numpy(loc), torch.from_numpy(conf), torch.from_numpy(priors)
        boxes, scores, labels = run(benchmark, lambda: torchvision_postprocess(torch, torchvision, tloc, tconf,
                                                                             tpriors))
        (found,) = ssd.detect(loc, conf, priors)
        np.testing.assert_array_equal(found["labels"], labels.numpy())
        np.testing.assert_allclose(found["scores"], scores.numpy(), rtol=1e-5)


def training_batch():
    from nncore.data.detection import ShapesDetection, detection_collate

    data = ShapesDetection(32, 64, seed=0)
    return detection_collate([data[i] for i in range(32)])


@pytest.mark.parametrize("impl", ["nncore", "torch"])
def test_small_ssd_train_step(benchmark, threads, impl):
    benchmark.group = f"ssd_small train step batch 32 64x64 threads={threads}"
    nncore.manual_seed(0)
    images, targets = training_batch()
    model = ssd.ssd_small(4)
    if impl == "nncore":
        criterion = ssd.MultiBoxLoss(4, model.priors)
        opt = nncore.optim.Adam(model.parameters(), lr=1e-4)
        x = nncore.tensor(images)

        def step():
            loss_l, loss_c = criterion(model(x), targets)
            loss = loss_l + loss_c
            opt.zero_grad()
            loss.backward()
            opt.step()
            return float(loss.item())
    else:
        torch = need_peer("torch")
        twin = torch_ssd_small(torch, model)
        opt = torch.optim.Adam(twin.parameters(), lr=1e-4)
        x = torch.from_numpy(images)

        def step():
            loc, conf = twin(x)
            loss_l, loss_c = torch_multibox_loss(torch, loc, conf, targets, model.priors)
            loss = loss_l + loss_c
            opt.zero_grad()
            loss.backward()
            opt.step()
            return float(loss.item())
    loss = run(benchmark, step)
    assert np.isfinite(loss)
