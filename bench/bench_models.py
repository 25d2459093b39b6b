"""Whole models: one training step (forward, loss, backward, optimiser) and one inference
forward (eval mode, no graph), nncore against the same model in PyTorch with the same
initial weights and the same batch, 1 and 2 threads. The models of issue 13:

    mlp        digits MLP 64-512-256-10, ReLU, dropout 0.4, batch 32, Adam
    lenet      LeNet-5 on (64, 1, 32, 32) (nncore's LeNet takes padded 32x32 digits), SGD momentum
    allconv    All-CNN-C full width (96, 192) on (16, 3, 32, 32), SGD momentum
    resnet18   torchvision's ResNet-18 layout, 10 classes, on (32, 3, 32, 32), SGD momentum
    vgg11      VGG-11 with BatchNorm at half width, 1x1 pool, 512-wide classifier, (32, 3, 32, 32)
    dcgan      DCGAN G + D iteration at 32x32, ngf = ndf = 64, 3 channels, batch 64, Adam
    gan_mlp    the `gan` recipe's MLPs (G 16-128-128-2, PacGAN D pack 2), batch 512, Adam
    lstm_lm    LSTM language model, vocabulary 64, embedding 64, hidden 256, batch 32, T 50, Adam
    gru_s2s    GRU encoder-decoder (teacher forcing), vocabulary 32, embedding 64, hidden 256,
               batch 32, source and target length 20, Adam
    ssd_small  the `ssd` recipe's small SSD + MultiBoxLoss, batch 32 of 64x64 shapes, Adam

Under pytest (`pytest bench/bench_models.py --benchmark-only`) each is a pytest-benchmark group.
As a script it interleaves the two sides round by round, prints a table (ratio = PyTorch time /
nncore time, so > 1 means nncore is faster; minor page faults per step) and, with --profile,
where nncore's step goes (its C++ kernels by op, NumPy, and the Python layer):

    python bench/bench_models.py [--models lenet resnet18] [--threads 1 2] [--rounds 7] [--profile]

Allocator mode: nncore's outputs come from its host cache; PyTorch allocates as usual."""

import argparse
import cProfile
import os
import platform
import pstats
import resource
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nncore  # noqa: E402
from nncore import functional as F  # noqa: E402
from nncore import nn, optim  # noqa: E402
from nncore import models  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


# ------------------------------------------------------------------ PyTorch mirrors of nncore modules
def _leaf_twin(m):
    tnn = torch.nn
    if isinstance(m, nn.ConvTranspose2d):
        return tnn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                   bias=m.bias is not None)
    if isinstance(m, nn.Conv2d):
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                          bias=m.bias is not None)
    if isinstance(m, nn.Linear):
        return tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if isinstance(m, nn.BatchNorm2d):
        return tnn.BatchNorm2d(m.num_features)
    if isinstance(m, nn.BatchNorm1d):
        return tnn.BatchNorm1d(m.num_features)
    if isinstance(m, nn.LeakyReLU):
        return tnn.LeakyReLU(m.negative_slope)
    simple = {nn.ReLU: tnn.ReLU, nn.Tanh: tnn.Tanh, nn.Sigmoid: tnn.Sigmoid, nn.Flatten: tnn.Flatten,
              nn.Identity: tnn.Identity}
    for ours, theirs in simple.items():
        if type(m) is ours:
            return theirs()
    if isinstance(m, nn.Dropout):
        return tnn.Dropout(m.p)
    if isinstance(m, nn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return tnn.AdaptiveAvgPool2d(m.output_size)
    return None


def _forward_of(m):
    """PyTorch forward for the nncore container classes bench_models uses."""
    if isinstance(m, models.LeNet):
        return lambda self, x: self.classifier(self.features(x).flatten(1))
    if isinstance(m, models.AllConvNet):
        return lambda self, x: torch.nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
    if isinstance(m, models.VGG):
        return lambda self, x: self.classifier(self.avgpool(self.features(x)).flatten(1))
    if isinstance(m, models.ResNet):
        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return self.fc(self.avgpool(self.layer4(self.layer3(self.layer2(self.layer1(x))))).flatten(1))
        return forward
    if type(m).__name__ == "BasicBlock":
        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))
        return forward
    if isinstance(m, models.MLPDiscriminator):
        return lambda self, x: self.main(x.reshape(x.shape[0] // m.pack, -1)).reshape(-1)
    if isinstance(m, (models.DCGANGenerator, models.DCGANDiscriminator)):
        flat = isinstance(m, models.DCGANDiscriminator)
        return lambda self, x: self.main(x).reshape(-1) if flat else self.main(x)
    raise TypeError(f"bench_models: no PyTorch twin for {type(m).__name__}")


def twin(m):
    """A PyTorch module with the structure, parameter names and weights of nncore module m."""

    def build(m):
        leaf = _leaf_twin(m)
        if leaf is not None:
            return leaf
        if isinstance(m, nn.Sequential):
            return torch.nn.Sequential(*[build(c) for c in m])
        cls = type("Twin" + type(m).__name__, (torch.nn.Module,), {"forward": _forward_of(m)})
        out = cls()
        for name, child in m.named_children():
            setattr(out, name, build(child))
        for name in ("downsample",):
            if hasattr(m, name) and getattr(m, name) is None:
                setattr(out, name, None)
        return out

    out = build(m)
    out.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in m.state_dict().items()})
    return out


# ------------------------------------------------------------------ the cases
class Case:
    """Step and inference callables of both sides; each returns a float (the loss or a checksum)."""

    def __init__(self, name, flops_step=None):
        self.name, self.flops_step = name, flops_step
        self.nncore_step = self.nncore_infer = self.torch_step = self.torch_infer = None


def _train_step(model, opt, loss_of, clip=None):
    """One training step in either framework: loss_of() gives the loss tensor; clip(params)
    clips the gradients before the update. Returns the loss as a float."""

    def step():
        model.train()
        loss = loss_of()
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            clip(model.parameters(), 1.0)
        opt.step()
        return float(loss.item())

    return step


def _inference(model, no_grad, output_sum):
    """One eval-mode forward in either framework without a graph: output_sum() gives the
    sum of the outputs (a checksum)."""

    def infer():
        model.eval()
        with no_grad():
            return float(output_sum())

    return infer


def _classifier_case(name, build, shape, classes, lr=0.01, adam=False):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, classes, shape[0])
    nncore.manual_seed(0)
    model = build()
    case = Case(name)
    make_opt = (lambda p: optim.Adam(p, lr=1e-3)) if adam else (
        lambda p: optim.SGD(p, lr=lr, momentum=0.9, weight_decay=5e-4))
    opt, xt, yt = make_opt(model.parameters()), nncore.tensor(x), nncore.tensor(y)
    case.nncore_step = _train_step(model, opt, lambda: F.cross_entropy(model(xt), yt))
    case.nncore_infer = _inference(model, nncore.no_grad, lambda: model(xt).sum().item())
    if torch is not None:
        tmodel = twin(model)
        topt = (torch.optim.Adam(tmodel.parameters(), lr=1e-3) if adam else
                torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4))
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        case.torch_step = _train_step(tmodel, topt, lambda: torch.nn.functional.cross_entropy(tmodel(tx), ty))
        case.torch_infer = _inference(tmodel, torch.no_grad, lambda: tmodel(tx).sum().item())
    return case


def _adversarial_case(name, G, D, real, z, lr):
    from nncore.recipes._generative import adversarial_step

    case = Case(name)
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    x, noise = nncore.tensor(real), nncore.tensor(z)

    def step():
        return float(adversarial_step(G, D, opt_g, opt_d, x, noise)["d_loss"])

    def infer():
        G.eval()
        with nncore.no_grad():
            out = float(G(noise).sum().item())
        G.train()
        return out

    case.nncore_step, case.nncore_infer = step, infer
    if torch is not None:
        from twins_gan import torch_adversarial_step

        tG, tD = twin(G), twin(D)
        topt_g = torch.optim.Adam(tG.parameters(), lr=lr, betas=(0.5, 0.999))
        topt_d = torch.optim.Adam(tD.parameters(), lr=lr, betas=(0.5, 0.999))
        tx, tz = torch.from_numpy(real), torch.from_numpy(z)

        def tstep():
            return torch_adversarial_step(torch, tG, tD, topt_g, topt_d, tx, tz)[0]

        def tinfer():
            tG.eval()
            with torch.no_grad():
                out = float(tG(tz).sum().item())
            tG.train()
            return out

        case.torch_step, case.torch_infer = tstep, tinfer
    return case


def case_mlp():
    return _classifier_case("mlp", lambda: models.MLP(64, [512, 256], 10, activation="relu", dropout=0.4),
                            (32, 64), 10, adam=True)


def case_lenet():
    return _classifier_case("lenet", lambda: models.LeNet(10, 1), (64, 1, 32, 32), 10)


def case_allconv():
    return _classifier_case("allconv", lambda: models.all_cnn_c(10, 3), (16, 3, 32, 32), 10)


def case_resnet18():
    return _classifier_case("resnet18", lambda: models.resnet18(10), (32, 3, 32, 32), 10)


def case_vgg11():
    return _classifier_case("vgg11", lambda: models.vgg11_bn(10, 3, 0.5, hidden=512, pool_size=1),
                            (32, 3, 32, 32), 10)


def case_dcgan():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (64, 3, 32, 32)).astype(np.float32)
    z = rng.standard_normal((64, 100, 1, 1)).astype(np.float32)
    nncore.manual_seed(0)
    return _adversarial_case("dcgan", models.dcgan_generator(100, 64, 3, 32), models.dcgan_discriminator(64, 3, 32),
                             real, z, 2e-4)


def case_gan_mlp():
    from nncore.recipes.gan import DEPTH, HIDDEN, NZ

    rng = np.random.default_rng(0)
    real = rng.standard_normal((512, 2)).astype(np.float32)
    z = rng.standard_normal((512, NZ)).astype(np.float32)
    nncore.manual_seed(0)
    return _adversarial_case("gan_mlp", models.mlp_generator(NZ, HIDDEN, 2, DEPTH),
                             models.mlp_discriminator(2, HIDDEN, DEPTH, 2), real, z, 1e-3)


def _sequence_case(name, model, tmodel, forward, tforward, tokens, targets, vocab):
    case = Case(name)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xs = [nncore.tensor(t) for t in tokens]
    y = nncore.tensor(targets.reshape(-1))
    case.nncore_step = _train_step(model, opt, lambda: F.cross_entropy(forward(*xs).reshape(-1, vocab), y),
                                   nn.utils.clip_grad_norm_)
    case.nncore_infer = _inference(model, nncore.no_grad, lambda: forward(*xs).sum().item())
    if tmodel is not None:
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        txs = [torch.from_numpy(t) for t in tokens]
        ty = torch.from_numpy(targets.reshape(-1))
        case.torch_step = _train_step(
            tmodel, topt, lambda: torch.nn.functional.cross_entropy(tforward(*txs).reshape(-1, vocab), ty),
            torch.nn.utils.clip_grad_norm_)
        case.torch_infer = _inference(tmodel, torch.no_grad, lambda: tforward(*txs).sum().item())
    return case


def case_lstm_lm():
    vocab, steps, batch = 64, 50, 32
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, vocab, (steps, batch)), rng.integers(0, vocab, (steps, batch))
    nncore.manual_seed(0)
    model = models.CharLM(vocab, 64, 256, 1)
    tmodel = tforward = None
    if torch is not None:
        from twins_rnn import charlm_forward, torch_charlm

        tmodel = torch_charlm(torch, model)

        def tforward(x):
            return charlm_forward(tmodel, x)[0]
    return _sequence_case("lstm_lm", model, tmodel, lambda x: model(x)[0], tforward, [x], y, vocab)


class GRUSeq2Seq(nn.Module):
    """Embedding -> GRU encoder; its last state starts a GRU decoder fed the shifted
    target (teacher forcing); a linear head gives (T, N, vocab) logits."""

    def __init__(self, vocab, embedding, hidden):
        super().__init__()
        self.src_embedding = nn.Embedding(vocab, embedding)
        self.tgt_embedding = nn.Embedding(vocab, embedding)
        self.encoder = nn.GRU(embedding, hidden)
        self.decoder = nn.GRU(embedding, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, src, tgt):
        _, h = self.encoder(self.src_embedding(src))
        out, _ = self.decoder(self.tgt_embedding(tgt), h)
        return self.head(out)


def case_gru_s2s():
    vocab, steps, batch = 32, 20, 32
    rng = np.random.default_rng(0)
    src, tgt, y = (rng.integers(0, vocab, (steps, batch)) for _ in range(3))
    nncore.manual_seed(0)
    model = GRUSeq2Seq(vocab, 64, 256)
    tmodel = tforward = None
    if torch is not None:
        tnn = torch.nn

        class Twin(tnn.Module):
            def __init__(self):
                super().__init__()
                self.src_embedding, self.tgt_embedding = tnn.Embedding(vocab, 64), tnn.Embedding(vocab, 64)
                self.encoder, self.decoder = tnn.GRU(64, 256), tnn.GRU(64, 256)
                self.head = tnn.Linear(256, vocab)

            def forward(self, src, tgt):
                _, h = self.encoder(self.src_embedding(src))
                out, _ = self.decoder(self.tgt_embedding(tgt), h)
                return self.head(out)

        tmodel = Twin()
        tmodel.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()})
        tforward = tmodel
    return _sequence_case("gru_s2s", model, tmodel, model, tforward, [src, tgt], y, vocab)


def case_ssd_small():
    from nncore.data.detection import ShapesDetection, detection_collate
    from nncore.models import ssd

    data = ShapesDetection(32, 64, seed=0)
    images, targets = detection_collate([data[i] for i in range(32)])
    nncore.manual_seed(0)
    model = ssd.ssd_small(4)
    criterion = ssd.MultiBoxLoss(4, model.priors)
    opt = optim.Adam(model.parameters(), lr=1e-4)
    x = nncore.tensor(images)
    case = Case("ssd_small")

    def loss_of():
        loss_l, loss_c = criterion(model(x), targets)
        return loss_l + loss_c

    def output_sum():
        loc, conf = model(x)
        return loc.sum().item() + conf.sum().item()

    case.nncore_step = _train_step(model, opt, loss_of)
    case.nncore_infer = _inference(model, nncore.no_grad, output_sum)
    if torch is not None:
        from twins_ssd import torch_multibox_loss, torch_ssd_small

        tmodel = torch_ssd_small(torch, model)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-4)
        tx = torch.from_numpy(images)

        def torch_loss_of():
            loss_l, loss_c = torch_multibox_loss(torch, *tmodel(tx), targets, model.priors)
            return loss_l + loss_c

        def torch_output_sum():
            loc, conf = tmodel(tx)
            return loc.sum().item() + conf.sum().item()

        case.torch_step = _train_step(tmodel, topt, torch_loss_of)
        case.torch_infer = _inference(tmodel, torch.no_grad, torch_output_sum)
    return case


CASES = {"mlp": case_mlp, "lenet": case_lenet, "allconv": case_allconv, "resnet18": case_resnet18,
         "vgg11": case_vgg11, "dcgan": case_dcgan, "gan_mlp": case_gan_mlp, "lstm_lm": case_lstm_lm,
         "gru_s2s": case_gru_s2s, "ssd_small": case_ssd_small}
SMALL = ("mlp", "lenet", "lstm_lm", "gan_mlp")


def set_threads(n):
    nncore.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


# ------------------------------------------------------------------ pytest-benchmark
try:
    import pytest
except ImportError:
    pytest = None

if pytest is not None:
    from benchutil import need_peer, run

    @pytest.fixture(scope="module")
    def built_cases():
        return {}

    @pytest.mark.parametrize("impl", ["nncore", "torch"])
    @pytest.mark.parametrize("mode", ["train", "infer"])
    @pytest.mark.parametrize("name", list(CASES))
    def test_model(benchmark, threads, built_cases, name, mode, impl):
        benchmark.group = f"model {name} {mode} threads={threads}"
        if impl == "torch":
            need_peer("torch")
        if name not in built_cases:
            built_cases[name] = CASES[name]()
        case = built_cases[name]
        fn = {("nncore", "train"): case.nncore_step, ("nncore", "infer"): case.nncore_infer,
              ("torch", "train"): case.torch_step, ("torch", "infer"): case.torch_infer}[impl, mode]
        assert np.isfinite(run(benchmark, fn))


# ------------------------------------------------------------------ the script: interleaved table and profile
def _faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def interleaved(fa, fb, rounds, min_seconds=0.3):
    """Alternates fa and fb round by round; each round times a batch of calls of each
    and keeps its median; returns (best round median of a, of b, faults per call of a)."""
    fa(), fb(), fa(), fb()  # warm-up: caches, first-touch of the workspaces
    t0 = time.perf_counter()
    fa()
    per_call = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, min(50, int(min_seconds / per_call)))
    best_a = best_b = float("inf")
    faults_a = calls_a = 0
    for _ in range(rounds):
        times = []
        f0 = _faults()
        for _ in range(calls):
            s = time.perf_counter()
            fa()
            times.append(time.perf_counter() - s)
        faults_a += _faults() - f0
        calls_a += calls
        best_a = min(best_a, float(np.median(times)))
        times = []
        for _ in range(calls):
            s = time.perf_counter()
            fb()
            times.append(time.perf_counter() - s)
        best_b = min(best_b, float(np.median(times)))
    return best_a, best_b, faults_a / calls_a


def kernel_times(fn, calls):
    """Runs fn `calls` times with every nncore._C function wrapped by a timer; returns
    ({function: seconds per call of fn}, wall seconds per call of fn)."""
    from nncore import _C

    spent = defaultdict(float)
    originals = {}
    for name in dir(_C):
        f = getattr(_C, name)
        if callable(f) and not name.startswith("_") and type(f).__name__ == "builtin_function_or_method":
            originals[name] = f

            def timed(*args, _f=f, _name=name, **kwargs):
                s = time.perf_counter()
                try:
                    return _f(*args, **kwargs)
                finally:
                    spent[_name] += time.perf_counter() - s

            setattr(_C, name, timed)
    try:
        s = time.perf_counter()
        for _ in range(calls):
            fn()
        wall = (time.perf_counter() - s) / calls
    finally:
        for name, f in originals.items():
            setattr(_C, name, f)
    return {k: v / calls for k, v in spent.items()}, wall


def numpy_share(fn, calls):
    """cProfile's view of fn: the seconds per call spent inside NumPy's C functions and
    array methods (element-wise reductions, copies, concatenation) and the total; the
    element-wise operators written as `a * b` run inside the Python layer's own lines and
    are counted there."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = numpy = 0.0
    for (filename, _, func), (_, _, tottime, _, _) in stats.items():
        total += tottime
        if filename == "~" and ("numpy" in func or "ndarray" in func or "ufunc" in func):
            numpy += tottime
        elif "numpy" in filename:
            numpy += tottime
    return numpy / calls, total / calls


def _family(name):
    for stem in ("conv", "gemm", "lstm", "gru", "rnn", "pool", "softmax", "cross_entropy", "batch_norm", "activation",
                 "sgd", "adam", "box", "nms", "empty", "interp"):
        if stem in name:
            return {"lstm": "rnn", "gru": "rnn", "cross_entropy": "softmax", "nms": "box", "sgd": "optim",
                    "adam": "optim", "empty": "alloc"}.get(stem, stem)
    return "other"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} vCPU, ISA {nncore.build_info()['isa_active']}, {platform.python_version()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print where nncore's training step goes")
    args = parser.parse_args(argv)
    if torch is None:
        parser.error("the table compares with PyTorch: pip install torch")
    print(f"# {machine()}; torch {torch.__version__}; ratio = PyTorch time / nncore time")
    print("| model | threads | mode | nncore ms | PyTorch ms | ratio | nncore faults/step |")
    print("|---|---|---|---|---|---|---|")
    profiles = []
    for name in args.models:
        case = CASES[name]()
        for threads in args.threads:
            set_threads(threads)
            for mode, a, b in (("train", case.nncore_step, case.torch_step),
                               ("infer", case.nncore_infer, case.torch_infer)):
                ta, tb, faults = interleaved(a, b, args.rounds)
                print(f"| {name} | {threads} | {mode} | {ta * 1e3:.2f} | {tb * 1e3:.2f} | {tb / ta:.2f} | "
                      f"{faults:.0f} |", flush=True)
            if args.profile and threads == args.threads[0]:
                calls = max(3, int(0.5 / max(ta, 1e-4)))
                kernels, wall = kernel_times(case.nncore_step, calls)
                numpy_s, _ = numpy_share(case.nncore_step, calls)
                profiles.append((name, threads, wall, kernels, numpy_s))
    if profiles:
        print("\n| model | threads | step ms | nncore kernels | NumPy calls | Python layer (incl. inline NumPy operators) "
              "| kernels by family |")
        print("|---|---|---|---|---|---|---|")
        for name, threads, wall, kernels, numpy_s in profiles:
            families = defaultdict(float)
            for k, v in kernels.items():
                families[_family(k)] += v
            ksum = sum(families.values())
            rest = max(wall - ksum - numpy_s, 0.0)
            top = ", ".join(f"{f} {v / wall:.0%}" for f, v in sorted(families.items(), key=lambda kv: -kv[1])
                            if v / wall >= 0.01)
            print(f"| {name} | {threads} | {wall * 1e3:.2f} | {ksum / wall:.0%} | {numpy_s / wall:.0%} | "
                  f"{rest / wall:.0%} | {top} |")


if __name__ == "__main__":
    main()
