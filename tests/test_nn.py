"""nncore.nn: every layer against PyTorch's (same state_dict keys and shapes,
loaded by name; same outputs and gradients to float32 tolerance), the Module
machinery, containers, state dicts, initialisation and gradient clipping."""

import math

import numpy as np
import pytest

import nncore
from nncore import nn, ops


pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def needs(*names):
    missing = [n for n in names if not hasattr(ops, n)]
    return pytest.mark.skipif(bool(missing), reason=f"nncore.ops lacks {missing} (kernel branch not merged)")


K_CONV = needs("conv2d", "conv_transpose2d")
K_POOL = needs("max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d")
K_SOFTMAX = needs("softmax", "log_softmax", "cross_entropy_with_grad")
K_RNN = needs("lstm", "gru", "rnn", "lstm_cell", "gru_cell", "rnn_cell")

TARGET = np.array([1, 0, 3, 2])
INDICES = np.array([[0, 2, 4], [4, 1, 1]])

# (name, build(nn), input shapes or a callable making inputs from (rng, T), train mode, marks)
LAYERS = [
    ("Linear", lambda nn: nn.Linear(5, 4), [(3, 5)], True, []),
    ("Linear_nobias_3d", lambda nn: nn.Linear(5, 4, bias=False), [(2, 3, 5)], True, []),
    ("Conv2d", lambda nn: nn.Conv2d(3, 4, 3, stride=2, padding=1), [(2, 3, 7, 6)], True, [K_CONV]),
    ("Conv2d_groups_dilation", lambda nn: nn.Conv2d(4, 6, (3, 2), groups=2, dilation=(1, 2), bias=False),
     [(2, 4, 7, 8)], True, [K_CONV]),
    ("Conv2d_reflect", lambda nn: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), [(1, 3, 5, 6)], True,
     [K_CONV]),
    ("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
     [(2, 3, 4, 5)], True, [K_CONV]),
    ("ConvTranspose2d_groups", lambda nn: nn.ConvTranspose2d(4, 6, 2, groups=2, bias=False), [(1, 4, 3, 3)], True,
     [K_CONV]),
    ("MaxPool2d", lambda nn: nn.MaxPool2d(2), [(2, 3, 6, 7)], True, [K_POOL]),
    ("MaxPool2d_pad", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), [(2, 3, 6, 7)], True, [K_POOL]),
    ("AvgPool2d", lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False), [(2, 3, 6, 7)], True, [K_POOL]),
    ("LPPool2d", lambda nn: nn.LPPool2d(2, 2), [(2, 3, 6, 7)], True, [K_POOL]),
    ("AdaptiveAvgPool2d", lambda nn: nn.AdaptiveAvgPool2d((2, 3)), [(2, 3, 7, 5)], True, [K_POOL]),
    ("BatchNorm1d_2d_input", lambda nn: nn.BatchNorm1d(3), [(4, 3)], True, []),
    ("BatchNorm1d_3d_input", lambda nn: nn.BatchNorm1d(3, momentum=None), [(4, 3, 5)], True, []),
    ("BatchNorm2d_train", lambda nn: nn.BatchNorm2d(3), [(4, 3, 2, 3)], True, []),
    ("BatchNorm2d_eval", lambda nn: nn.BatchNorm2d(3), [(4, 3, 2, 3)], False, []),
    ("BatchNorm2d_noaffine", lambda nn: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
     [(4, 3, 2, 3)], True, []),
    ("LayerNorm", lambda nn: nn.LayerNorm(4), [(3, 4)], True, []),
    ("LayerNorm_2d", lambda nn: nn.LayerNorm((3, 4), eps=1e-3), [(2, 3, 4)], True, []),
    ("Dropout_eval", lambda nn: nn.Dropout(0.3), [(3, 4)], False, []),
    ("Flatten", lambda nn: nn.Flatten(), [(2, 3, 4)], True, []),
    ("Upsample", lambda nn: nn.Upsample(scale_factor=2), [(1, 2, 3, 4)], True, []),
    ("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [(4, 6)], True, []),
    ("Identity", lambda nn: nn.Identity(), [(2, 3)], True, []),
    ("Embedding", lambda nn: nn.Embedding(5, 3, padding_idx=1), lambda rng, T: [T(INDICES)], True, []),
    ("ReLU", lambda nn: nn.ReLU(), [(3, 4)], True, []),
    ("ReLU6", lambda nn: nn.ReLU6(), [(3, 4)], True, []),
    ("Sigmoid", lambda nn: nn.Sigmoid(), [(3, 4)], True, []),
    ("Tanh", lambda nn: nn.Tanh(), [(3, 4)], True, []),
    ("Softsign", lambda nn: nn.Softsign(), [(3, 4)], True, []),
    ("Softplus", lambda nn: nn.Softplus(2.0, 1.0), [(3, 4)], True, []),
    ("ELU", lambda nn: nn.ELU(0.5), [(3, 4)], True, []),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), [(3, 4)], True, []),
    ("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.5), [(3, 4)], True, []),
    ("SiLU", lambda nn: nn.SiLU(), [(3, 4)], True, []),
    ("LogSigmoid", lambda nn: nn.LogSigmoid(), [(3, 4)], True, []),
    ("Softmax", lambda nn: nn.Softmax(dim=1), [(3, 4)], True, [K_SOFTMAX]),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(1), [(3, 4)], True, [K_SOFTMAX]),
    ("RNNCell", lambda nn: nn.RNNCell(3, 4), [(2, 3), (2, 4)], True, [K_RNN]),
    ("RNNCell_relu_nohx", lambda nn: nn.RNNCell(3, 4, nonlinearity="relu"), [(2, 3)], True, [K_RNN]),
    ("LSTMCell", lambda nn: nn.LSTMCell(3, 4), lambda rng, T: [T(rng.standard_normal((2, 3)), True),
                                                             (T(rng.standard_normal((2, 4)), True),
                                                              T(rng.standard_normal((2, 4)), True))], True, [K_RNN]),
    ("LSTMCell_nohx_nobias", lambda nn: nn.LSTMCell(3, 4, bias=False), [(2, 3)], True, [K_RNN]),
    ("GRUCell", lambda nn: nn.GRUCell(3, 4), [(2, 3), (2, 4)], True, [K_RNN]),
    ("GRUCell_unbatched", lambda nn: nn.GRUCell(3, 4), [(3,)], True, [K_RNN]),
    ("RNN", lambda nn: nn.RNN(3, 4, num_layers=2), [(5, 2, 3)], True, [K_RNN]),
    ("RNN_relu_bidir_hx", lambda nn: nn.RNN(3, 4, nonlinearity="relu", bidirectional=True),
     [(5, 2, 3), (2, 2, 4)], True, [K_RNN]),
    ("LSTM", lambda nn: nn.LSTM(3, 4), [(5, 2, 3)], True, [K_RNN]),
    ("LSTM_2layer_bidir_batch_first", lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
     [(2, 5, 3)], True, [K_RNN]),
    ("LSTM_hx_nobias_dropout_eval", lambda nn: nn.LSTM(3, 4, num_layers=2, bias=False, dropout=0.5),
     lambda rng, T: [T(rng.standard_normal((5, 2, 3)), True),
                     (T(rng.standard_normal((2, 2, 4)), True), T(rng.standard_normal((2, 2, 4)), True))],
     False, [K_RNN]),
    ("LSTM_unbatched", lambda nn: nn.LSTM(3, 4), [(5, 3)], True, [K_RNN]),
    ("GRU", lambda nn: nn.GRU(3, 4, num_layers=2, bidirectional=True), [(5, 2, 3), (4, 2, 4)], True, [K_RNN]),
    ("GRU_batch_first", lambda nn: nn.GRU(3, 4, batch_first=True), [(2, 5, 3)], True, [K_RNN]),
    ("Sequential_mlp", lambda nn: nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.BatchNorm1d(5), nn.Linear(5, 2)),
     [(4, 6)], True, []),
    ("MSELoss", lambda nn: nn.MSELoss(), [(3, 4), (3, 4)], True, []),
    ("L1Loss_sum", lambda nn: nn.L1Loss(reduction="sum"), [(3, 4), (3, 4)], True, []),
    ("SmoothL1Loss", lambda nn: nn.SmoothL1Loss(beta=0.5), [(3, 4), (3, 4)], True, []),
    ("HingeEmbeddingLoss", lambda nn: nn.HingeEmbeddingLoss(margin=0.5),
     lambda rng, T: [T(rng.standard_normal((3, 4)), True), T(np.sign(rng.standard_normal((3, 4))))], True, []),
    ("MultiMarginLoss", lambda nn: nn.MultiMarginLoss(margin=0.8), lambda rng, T: [
        T(rng.standard_normal((4, 5)), True), T(TARGET)], True, []),
    ("BCELoss", lambda nn: nn.BCELoss(), lambda rng, T: [T(rng.uniform(0.1, 0.9, (3, 4)), True),
                                                         T(rng.uniform(0, 1, (3, 4)))], True, []),
    ("BCEWithLogitsLoss", lambda nn: nn.BCEWithLogitsLoss(), lambda rng, T: [
        T(rng.standard_normal((3, 4)), True), T(rng.uniform(0, 1, (3, 4)))], True, []),
    ("NLLLoss", lambda nn: nn.NLLLoss(), lambda rng, T: [T(rng.standard_normal((4, 5)), True), T(TARGET)], True, []),
    ("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1), lambda rng, T: [
        T(rng.standard_normal((4, 5)), True), T(TARGET)], True, [K_SOFTMAX]),
]


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _inputs(spec, rng, T):
    if callable(spec):
        return spec(rng, T)
    return [T(rng.standard_normal(s), True) for s in spec]


def _leaves(inputs):
    return [t for t in _flat(inputs) if getattr(t, "requires_grad", False)]


@pytest.mark.parametrize("build,spec,train", [pytest.param(b, s, t, id=n, marks=m) for n, b, s, t, m in LAYERS])
def test_layer_matches_torch(rng, build, spec, train):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = build(torch.nn)
    ours = build(nn)
    sd = theirs.state_dict()
    assert list(ours.state_dict().keys()) == list(sd.keys())
    for key, value in ours.state_dict().items():
        assert tuple(value.shape) == tuple(sd[key].shape), key
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()}, strict=True)
    ours.train(train)
    theirs.train(train)

    seed = int(rng.integers(2**31))

    def torch_T(a, grad=False):
        a = np.asarray(a)
        return torch.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a, requires_grad=grad)

    def ours_T(a, grad=False):
        a = np.asarray(a)
        return nncore.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a, requires_grad=grad)

    t_in = _inputs(spec, np.random.default_rng(seed), torch_T)
    o_in = _inputs(spec, np.random.default_rng(seed), ours_T)
    t_out = _flat(theirs(*t_in))
    o_out = _flat(ours(*o_in))
    assert len(t_out) == len(o_out)
    loss_t = 0
    loss_o = 0
    weights = np.random.default_rng(1)
    for a, b in zip(o_out, t_out):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)
        w = weights.standard_normal(tuple(b.shape)).astype(np.float32)
        loss_t = loss_t + (b * torch.tensor(w)).sum()
        loss_o = loss_o + (a * nncore.tensor(w)).sum()
    if not getattr(loss_t, "requires_grad", False):
        return
    loss_t.backward()
    loss_o.backward()
    for a, b in zip(_leaves(o_in), _leaves(t_in)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        tg = t_params[name].grad
        if tg is None:
            assert p.grad is None or not p.grad.numpy().any(), name
        else:
            np.testing.assert_allclose(p.grad.numpy(), tg.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    for name, b in theirs.named_buffers():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


@K_RNN
def test_lstm_peephole_gradcheck_and_zero_peepholes_match_plain_lstm(rng):
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, peephole=True).double()
    names = [n for n, _ in m.named_parameters()]
    assert "weight_peephole_l0" in names and "weight_peephole_l1_reverse" in names
    assert m.weight_peephole_l0.shape == (3, 4)
    x = nncore.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    assert nncore.gradcheck(lambda x: m(x)[0], [x])
    plain = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if "peephole" not in k})
    for name, p in m.named_parameters():
        if "peephole" in name:
            nn.init.zeros_(p)
    np.testing.assert_allclose(m(x)[0].numpy(), plain(x)[0].numpy(), rtol=1e-12)
    cell = nn.LSTMCell(3, 4, peephole=True).double()
    h = nncore.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    c = nncore.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    xc = nncore.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert nncore.gradcheck(lambda x, h, c: cell(x, (h, c)), [xc, h, c])


@K_RNN
def test_rnn_layers_gradcheck(rng):
    for module in (nn.GRU(2, 3, num_layers=2, bidirectional=True), nn.RNN(2, 3, batch_first=True),
                   nn.GRUCell(2, 3), nn.RNNCell(2, 3, nonlinearity="relu")):
        module.double()
        shape = (3, 2) if "Cell" in type(module).__name__ else (4, 3, 2)
        x = nncore.tensor(rng.standard_normal(shape), requires_grad=True)
        assert nncore.gradcheck(lambda x: module(x), [x])


@K_RNN
def test_rnn_dropout_between_layers_only_in_training():
    nncore.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.9)
    x = nncore.randn(5, 2, 3)
    a, b = m(x)[0].numpy().copy(), m(x)[0].numpy().copy()
    assert not np.allclose(a, b)
    m.eval()
    np.testing.assert_array_equal(m(x)[0].numpy(), m(x)[0].numpy())


def test_state_dict_names_follow_pytorch():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                    "1.num_batches_tracked"]
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    assert list(lstm.state_dict())[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                           "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                           "bias_hh_l0_reverse"]
    assert lstm.weight_ih_l1.shape == (12, 6)


def test_load_state_dict_names_every_problem():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    del sd["0.bias"]
    sd["extra.weight"] = np.zeros(1)
    sd["1.weight"] = np.zeros((2, 3))
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(sd)
    text = str(err.value)
    assert "0.bias" in text and "extra.weight" in text and "1.weight" in text and "(2, 3)" in text
    del sd["1.weight"]
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight"] and result.unexpected_keys == ["extra.weight"]


def test_load_state_dict_copies_in_place_and_accepts_torch_tensors():
    m = nn.Linear(2, 3)
    w = m.weight
    m.load_state_dict({"weight": np.ones((3, 2)), "bias": np.zeros(3)})
    assert m.weight is w and w.numpy().sum() == 6
    torch = pytest.importorskip("torch")
    m.load_state_dict(torch.nn.Linear(2, 3).state_dict())


def test_module_registration_and_traversal():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            self.head = nn.Linear(3, 1)
            self.shared = self.head
            self.scale = nn.Parameter(nncore.ones(1))
            self.register_buffer("steps", nncore.zeros(1))
            self.register_buffer("cache", nncore.zeros(1), persistent=False)

        def forward(self, x):
            return self.head(self.body(x)) * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "head.weight", "head.bias"]
    assert len(list(net.parameters())) == 5
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert "cache" not in net.state_dict() and "steps" in net.state_dict()
    assert [n for n, _ in net.named_children()] == ["body", "head"]
    assert len(list(net.modules())) == 5
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(nncore.randn(4, 2)).sum().backward()
    assert net.head.weight.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(TypeError):
        net.head = "not a module"
    with pytest.raises(AttributeError):
        net.missing


def test_module_to_dtype_keeps_parameter_identity():
    m = nn.Linear(2, 3)
    w = m.weight
    m.double()
    assert m.weight is w and w.dtype == np.float64 and isinstance(w, nn.Parameter)
    m.to(nncore.float32)
    assert w.dtype == np.float32


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    lst = nn.ModuleList([nn.Linear(2, 2)])
    lst.append(nn.Linear(2, 2)).extend([nn.ReLU()])
    assert len(lst) == 3 and len(list(lst.parameters())) == 4
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    d["b"] = nn.ReLU()
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    assert [n for n, _ in nn.Sequential(nn.ModuleList([nn.Linear(1, 1)])).named_parameters()] == \
        ["0.0.weight", "0.0.bias"]


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")

    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 10, bias=False), nn.Dropout(0.25))

    assert repr(build(nn)) == repr(build(torch.nn))


def test_default_initialisation_bounds():
    nncore.manual_seed(0)
    lin = nn.Linear(400, 50)
    bound = 1 / math.sqrt(400)
    assert np.abs(lin.weight.numpy()).max() <= bound and np.abs(lin.weight.numpy()).max() > 0.9 * bound
    assert np.abs(lin.bias.numpy()).max() <= bound
    conv = nn.Conv2d(8, 16, 3)
    cb = 1 / math.sqrt(8 * 9)
    assert np.abs(conv.weight.numpy()).max() <= cb and np.abs(conv.weight.numpy()).max() > 0.9 * cb
    emb = nn.Embedding(1000, 20, padding_idx=0)
    assert abs(emb.weight.numpy()[1:].std() - 1) < 0.05 and not emb.weight.numpy()[0].any()
    gru = nn.GRU(10, 64)
    assert np.abs(gru.weight_hh_l0.numpy()).max() <= 1 / 8
    bn = nn.BatchNorm2d(3)
    assert bn.weight.numpy().tolist() == [1, 1, 1] and bn.bias.numpy().tolist() == [0, 0, 0]
    assert bn.num_batches_tracked.dtype == np.int64


def test_init_functions():
    nncore.manual_seed(1)
    w = nncore.empty(300, 200)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 500)
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() - 2 * math.sqrt(2 / 500)) < 0.005
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.005
    nn.init.kaiming_uniform_(w, a=0.1)
    assert np.abs(w.numpy()).max() <= math.sqrt(3) * nn.init.calculate_gain("leaky_relu", 0.1) / math.sqrt(200)
    nn.init.uniform_(w, -0.5, 0.25)
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 0.25
    nn.init.normal_(w, 3.0, 0.1)
    assert abs(w.numpy().mean() - 3) < 0.01
    nn.init.constant_(w, 0.7)
    assert np.all(w.numpy() == np.float32(0.7))
    q = nncore.empty(4, 6)
    nn.init.orthogonal_(q, gain=1.5)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, 2.25 * np.eye(4), atol=1e-5)
    q = nncore.empty(6, 4)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(4), atol=1e-5)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(ValueError):
        nn.init.xavier_uniform_(nncore.empty(3))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_matches_torch(rng, norm_type):
    torch = pytest.importorskip("torch")
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    ours = [nn.Parameter(nncore.zeros(*g.shape)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = nncore.tensor(g)
        q.grad = torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, 0.5, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type)
    assert total.item() == pytest.approx(ref.item(), rel=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="non-finite"):
        ours[0].grad.data[0, 0] = np.nan
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)


def test_batchnorm_running_statistics_over_steps_match_torch(rng):
    torch = pytest.importorskip("torch")
    for momentum in (0.1, None):
        ours, theirs = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
        for _ in range(3):
            x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
            ours(nncore.tensor(x))
            theirs(torch.tensor(x))
        for k, v in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
        ours.eval()
        theirs.eval()
        x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
        np.testing.assert_allclose(ours(nncore.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_layers_reject_bad_input():
    with pytest.raises(ValueError):
        nn.BatchNorm2d(3)(nncore.randn(2, 3))
    with pytest.raises(ValueError):
        nn.BatchNorm1d(3)(nncore.randn(2, 4))
    with pytest.raises(ValueError):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError):
        nn.LSTM(3, 4)(nncore.randn(5, 2, 2))
    with pytest.raises(ValueError):
        nn.MSELoss(reduction="avg")
