"""The Python layer on the GPU (CuPy arrays): tensors move between devices, and
a small convolutional net, an LSTM and an MLP give the same outputs, gradients
and optimizer steps on cuda as on the CPU."""

import numpy as np
import pytest

import nncore
from nncore import nn, optim
from nncore import functional as F

pytestmark = pytest.mark.cuda


def test_tensors_move_between_devices():
    a = nncore.randn(3, 4)
    g = a.to("cuda")
    assert g.device == "cuda:0" and g.is_cuda and g.device.type == "cuda"
    np.testing.assert_array_equal(g.cpu().numpy(), a.numpy())
    z = nncore.zeros(2, 3, device="cuda")
    assert z.is_cuda and z.cpu().numpy().sum() == 0
    with pytest.raises(TypeError):
        g.numpy()
    x = nncore.randn(3, requires_grad=True)
    (x.cuda() * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2)


def _compare(rng, build, make_inputs, steps=2, rtol=2e-4, atol=2e-5):
    nncore.manual_seed(int(rng.integers(2**31)))
    cpu = build()
    gpu = build().cuda()
    gpu.load_state_dict(cpu.state_dict())
    opt_c = optim.SGD(cpu.parameters(), lr=0.05, momentum=0.9)
    opt_g = optim.SGD(gpu.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        x, y = make_inputs()
        loss_c = cpu(x, y)
        loss_g = gpu(x.cuda(), y.cuda())
        np.testing.assert_allclose(loss_g.item(), loss_c.item(), rtol=rtol, atol=atol)
        for opt, loss in ((opt_c, loss_c), (opt_g, loss_g)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(q.cpu().numpy(), p.numpy(), rtol=rtol, atol=atol, err_msg=name)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 6, 3), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(6, 3)

    def forward(self, x, y):
        return F.cross_entropy(self.head(self.features(x)), y)


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.gru = nn.GRU(16, 4)
        self.out = nn.Linear(4, 1)

    def forward(self, x, y):
        h, _ = self.lstm(x)
        h, _ = self.gru(h)
        return F.mse_loss(self.out(h).squeeze(-1), y)


def test_convnet_matches_cpu(rng):
    _compare(rng, ConvNet, lambda: (nncore.tensor(rng.standard_normal((4, 1, 12, 12)).astype(np.float32)),
                                    nncore.tensor(rng.integers(0, 3, 4))))


def test_recurrent_net_matches_cpu(rng):
    _compare(rng, Recurrent, lambda: (nncore.tensor(rng.standard_normal((3, 7, 5)).astype(np.float32)),
                                      nncore.tensor(rng.standard_normal((3, 7)).astype(np.float32))))


def test_mlp_with_embedding_and_indexing_matches_cpu(rng):
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 6)
            self.net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.LayerNorm(16), nn.Linear(16, 4))

        def forward(self, idx, y):
            z = self.net(self.emb(idx))
            return F.nll_loss(F.log_softmax(z[:, [0, 1, 3, 2]], 1), y) + z.sigmoid().mean()

    _compare(rng, MLP, lambda: (nncore.tensor(rng.integers(0, 10, 8)), nncore.tensor(rng.integers(0, 4, 8))))
