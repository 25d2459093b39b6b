"""`nncore train elman` and `nncore train teacher`: the notebook's first two
recurrent architectures on time series.

elman: a hidden-recurrent (Elman) network forecasts a noisy sum of two sines one
step ahead, trained by backpropagation through time over the whole training
stretch, or truncated BPTT (`--tbptt K`: windows of K steps, the state carried
from window to window and the gradient cut by detach). Its test MSE is compared
with predicting the last value; a free-running forecast feeds its own outputs.

teacher: an output-recurrent network (the recurrence runs only through the
previous output) identifies Narendra & Parthasarathy's nonlinear plant
y_t = y_{t-1} / (1 + y_{t-1}^2) + u_t^3. Teacher forcing feeds the true y_{t-1},
so training needs no backpropagation through time (full batch, Adam with a
cosine schedule); at test time it runs free on its own outputs, and the gap
between the two errors is the exposure gap.
`--scheduled-sampling` feeds its own outputs with a probability that grows
over training (Bengio et al., 2015)."""

import numpy as np

import nncore
from .. import functional as F
from .. import optim
from ..models.rnn import ElmanRNN, OutputRecurrentNet
from . import Option, RecipeError, Trained, evaluator, recipe
from ._rnn import CLIP, cpu_only, mse, step

SERIES_LENGTH, TRAIN_STEPS, STREAMS = 3000, 2000, 16
FREE_STEPS = 200


def noisy_sines(length=SERIES_LENGTH, noise=0.05, seed=0):
    """sin(0.3 t) + 0.5 sin(0.71 t + 1) + N(0, noise^2), t = 0..length-1 (float32)."""
    t = np.arange(length, dtype=np.float64)
    clean = np.sin(0.3 * t) + 0.5 * np.sin(0.71 * t + 1.0)
    return (clean + noise * np.random.default_rng([seed, 7]).standard_normal(length)).astype(np.float32), clean


def _streams(series):
    """The training stretch cut into STREAMS contiguous pieces: inputs and next-step
    targets, each (T, STREAMS, 1)."""
    train = series[:TRAIN_STEPS + 1]
    per = TRAIN_STEPS // STREAMS
    x = np.stack([train[i * per:(i + 1) * per] for i in range(STREAMS)], 1)[:, :, None]
    y = np.stack([train[i * per + 1:(i + 1) * per + 1] for i in range(STREAMS)], 1)[:, :, None]
    return nncore.tensor(np.ascontiguousarray(x)), nncore.tensor(np.ascontiguousarray(y))


def one_step_forecast(model, series):
    """Predictions of series[t + 1] from series[:t + 1] for every t, one pass
    from a zero state; returns (predictions (len - 1,), final hidden state)."""
    with nncore.no_grad():
        y, h = model(nncore.tensor(series[:-1, None, None]))
    return y.numpy()[:, 0, 0], h


def free_run(model, series, start, steps):
    """Warms the state on series[:start], then feeds the model its own outputs for
    `steps` steps; returns the forecasts of series[start:start + steps]."""
    with nncore.no_grad():
        y, h = model(nncore.tensor(series[:start, None, None]))
        prev, out = y.numpy()[-1:, :, :], []
        for _ in range(steps):
            out.append(float(prev[0, 0, 0]))
            y, h = model(nncore.tensor(prev), h)
            prev = y.numpy()
    return np.array(out)


def _elman_model(run):
    return ElmanRNN(1, run.options["hidden"], 1)


@recipe("elman", "Elman RNN, BPTT (or truncated BPTT, --tbptt K): one-step forecast of a noisy sum of two sines",
        metric="test MSE of the one-step forecast (lower is better)", epochs=1000, lr=0.01, higher_is_better=False,
        options={"hidden": Option(32, "hidden units"),
                 "tbptt": Option(0, "truncated BPTT window in steps (0: full BPTT over each 125-step stream)"),
                 "noise": Option(0.05, "std of the noise added to the series"),
                 "clip": CLIP})
def train_elman(run):
    cpu_only(run)
    series, _ = noisy_sines(noise=run.options["noise"], seed=run.seed)
    x, y = _streams(series)
    model = _elman_model(run)
    opt = optim.Adam(model.parameters(), lr=run.lr)
    window = run.options["tbptt"] or x.shape[0]
    if window < 1:
        raise RecipeError(f"--tbptt must be 0 (full BPTT) or a window of at least 1 step, got {window}")
    clip = run.options["clip"]
    for epoch in run.progress(range(1, run.epochs + 1), desc="elman"):
        h, total = None, 0.0
        for t0 in range(0, x.shape[0], window):
            out, h = model(x[t0:t0 + window], h)
            h = h.detach()  # truncated BPTT: the state goes on, its gradient stops here
            loss, _ = step(model, F.mse_loss(out, y[t0:t0 + window]), opt, clip)
            total += loss * out.shape[0]
        if epoch % 25 == 0 or epoch == run.epochs:
            run.epoch(epoch, train_mse=total / x.shape[0])
    pred, _ = one_step_forecast(model, series)
    test_mse = mse(pred[TRAIN_STEPS:], series[TRAIN_STEPS + 1:])
    last_value = mse(series[TRAIN_STEPS:-1], series[TRAIN_STEPS + 1:])
    forecast = free_run(model, series, TRAIN_STEPS, FREE_STEPS)
    free_mse = mse(forecast[:50], series[TRAIN_STEPS:TRAIN_STEPS + 50])
    run.log(f"test MSE {test_mse:.5f}; predicting the last value {last_value:.5f} "
            f"({last_value / test_mse:.1f}x worse); free-running MSE over 50 steps {free_mse:.5f}; noise variance {run.options['noise'] ** 2:.5f}")
    run.picture("elman_forecast", _draw_forecast, series, pred, forecast)
    details = {"last_value_mse": last_value, "ratio_to_last_value": last_value / test_mse, "free_run_mse_50": free_mse,
               "window": window}
    return Trained(test_mse, {"model": model.state_dict()}, details)


@evaluator("elman")
def evaluate_elman(run, state):
    cpu_only(run)
    model = _elman_model(run)
    model.load_state_dict(state["model"])
    series, _ = noisy_sines(noise=run.options["noise"], seed=run.seed)
    pred, _ = one_step_forecast(model, series)
    return mse(pred[TRAIN_STEPS:], series[TRAIN_STEPS + 1:])


def _draw_forecast(fig, series, pred, forecast):
    fig.set_size_inches(11, 6)
    top, bottom = fig.subplots(2, 1)
    t = np.arange(TRAIN_STEPS + 1, TRAIN_STEPS + 151)
    top.plot(t, series[t], "k.", ms=3, label="series (noisy)")
    top.plot(t, pred[t - 1], "-", color="tab:blue", label="one-step forecast")
    top.set_title("Elman RNN: one-step-ahead forecast on the test stretch")
    top.legend(loc="upper right")
    t = np.arange(TRAIN_STEPS, TRAIN_STEPS + len(forecast))
    bottom.plot(t, series[t], "k.", ms=3, label="series (noisy)")
    bottom.plot(t, forecast, "-", color="tab:red", label="free-running forecast (own outputs fed back)")
    bottom.set_title(f"free-running {len(forecast)}-step forecast from the end of the training stretch")
    bottom.set_xlabel("t")
    bottom.legend(loc="upper right")
    fig.tight_layout()


# ------------------------------------------------------------------ teacher forcing
TEACHER_SEQUENCES, TEACHER_STEPS = 32, 200


def narendra_plant(u, y0=0.0):
    """y_t = y_{t-1} / (1 + y_{t-1}^2) + u_t^3 for u (T, N); returns y (T, N) (float32)."""
    y = np.empty(u.shape, np.float64)
    prev = np.full(u.shape[1], y0)
    for t in range(u.shape[0]):
        prev = prev / (1.0 + prev ** 2) + u[t].astype(np.float64) ** 3
        y[t] = prev
    return y.astype(np.float32)


def teacher_data(seed):
    """Training: random inputs u ~ U(-1, 1), (T, N); test: two sines (the
    notebook's kind of test input) at 8 phases. Returns ((u, y), (u_test, y_test))."""
    rng = np.random.default_rng([seed, 11])
    u = rng.uniform(-1, 1, (TEACHER_STEPS, TEACHER_SEQUENCES)).astype(np.float32)
    t = np.arange(500)[:, None] + 37 * np.arange(8)[None, :]
    u_test = (0.6 * np.sin(2 * np.pi * t / 25) + 0.4 * np.sin(2 * np.pi * t / 10)).astype(np.float32)
    return (u, narendra_plant(u)), (u_test, narendra_plant(u_test))


def _fed_back(y):
    """y_prev for teacher forcing: the true previous outputs (0 before the first)."""
    return np.concatenate([np.zeros_like(y[:1]), y[:-1]], 0)


def teacher_errors(model, u, y):
    """(teacher-forced one-step MSE, free-running MSE, free-running outputs) on (u, y) (T, N)."""
    with nncore.no_grad():
        forced = model(nncore.tensor(u[:, :, None]), nncore.tensor(_fed_back(y)[:, :, None])).numpy()[:, :, 0]
        free = model.generate(nncore.tensor(u[:, :, None]), nncore.zeros(u.shape[1], 1)).numpy()[:, :, 0]
    return mse(forced, y), mse(free, y), forced, free


def _teacher_model(run):
    return OutputRecurrentNet(1, run.options["hidden"], 1)


@recipe("teacher", "output-recurrent network with teacher forcing (optionally scheduled sampling), run free at test",
        metric="free-running test MSE (lower is better)", epochs=2000, lr=0.03, higher_is_better=False,
        options={"hidden": Option(32, "hidden units"),
                 "scheduled_sampling": Option(False, "feed the model's own outputs with a probability rising "
                                                     "linearly from 0 to --sampling-max over training"),
                 "sampling_max": Option(0.5, "largest probability of feeding the model's own output"),
                 "clip": CLIP})
def train_teacher(run):
    cpu_only(run)
    (u, y), (u_test, y_test) = teacher_data(run.seed)
    model = _teacher_model(run)
    opt = optim.Adam(model.parameters(), lr=run.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, run.epochs)
    ut, yt, prev = (nncore.tensor(a[:, :, None]) for a in (u, y, _fed_back(y)))
    sampling, rng = run.options["scheduled_sampling"], run.rng(3)
    for epoch in run.progress(range(1, run.epochs + 1), desc="teacher"):
        own = run.options["sampling_max"] * (epoch - 1) / max(run.epochs - 1, 1) if sampling else 0.0
        if own > 0:
            out = model.generate(ut, nncore.zeros(u.shape[1], 1), truth=yt, teacher_prob=1.0 - own, generator=rng)
        else:
            out = model(ut, prev)  # teacher forcing: every step at once
        loss, _ = step(model, F.mse_loss(out, yt), opt, run.options["clip"])
        sched.step()
        if epoch % 100 == 0 or epoch == run.epochs:
            forced, free, _, _ = teacher_errors(model, u_test, y_test)
            run.epoch(epoch, train_mse=loss, own_output_prob=own, test_forced_mse=forced, test_free_mse=free)
    forced, free, forced_out, free_out = teacher_errors(model, u_test, y_test)
    run.log(f"test MSE teacher-forced {forced:.5f}, free-running {free:.5f} (exposure gap x{free / forced:.1f})")
    run.picture("teacher_exposure_gap", _draw_exposure, y_test, forced_out, free_out, run.history)
    details = {"test_forced_mse": forced, "test_free_mse": free, "exposure_gap": free / forced,
               "scheduled_sampling": sampling}
    return Trained(free, {"model": model.state_dict()}, details)


@evaluator("teacher")
def evaluate_teacher(run, state):
    cpu_only(run)
    model = _teacher_model(run)
    model.load_state_dict(state["model"])
    _, (u_test, y_test) = teacher_data(run.seed)
    return teacher_errors(model, u_test, y_test)[1]


def _draw_exposure(fig, y, forced, free, history):
    fig.set_size_inches(11, 6.5)
    grid = fig.add_gridspec(2, 2)
    top, left, right = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    t = np.arange(200)
    top.plot(t, y[:200, 0], "k-", lw=2, label="plant output")
    top.plot(t, forced[:200, 0], "--", color="tab:blue", label="teacher-forced (true y_{t-1} fed back)")
    top.plot(t, free[:200, 0], "-", color="tab:red", lw=1, label="free-running (own y_{t-1} fed back)")
    top.set_title("Output-recurrent network on the test input")
    top.legend(loc="upper right", fontsize=8)
    err_forced = np.sqrt(np.mean((forced - y) ** 2, 1))
    err_free = np.sqrt(np.mean((free - y) ** 2, 1))
    left.plot(err_forced, color="tab:blue", label="teacher-forced")
    left.plot(err_free, color="tab:red", label="free-running")
    left.set_xlabel("test step")
    left.set_ylabel("RMS error over 8 sequences")
    left.set_title("the exposure gap, step by step", fontsize=10)
    left.legend(fontsize=8)
    right.plot(history["epoch"], history["test_forced_mse"], color="tab:blue", label="teacher-forced")
    right.plot(history["epoch"], history["test_free_mse"], color="tab:red", label="free-running")
    right.set_yscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("test MSE")
    right.set_title("test errors during training", fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
