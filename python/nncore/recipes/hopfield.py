"""`nncore train hopfield`: associative memory. N = 100 neurons store P random
patterns; probes with 10 % of their bits flipped are recalled asynchronously.
The capacity curve (fraction recalled exactly against P/N) is measured against
the 0.138 N theory; 10x10 letters show a noisy pattern settling as the energy falls."""

import numpy as np

from ..models.hopfield import HopfieldNetwork, flip_bits, random_patterns
from . import Option, Trained, evaluator, recipe

LETTERS = {
    "T": ["##########", "##########", "....##....", "....##....", "....##....",
          "....##....", "....##....", "....##....", "....##....", "....##...."],
    "L": ["##........", "##........", "##........", "##........", "##........",
          "##........", "##........", "##........", "##########", "##########"],
    "X": ["##......##", ".##....##.", "..##..##..", "...####...", "....##....",
          "...####...", "..##..##..", ".##....##.", "##......##", "#........#"],
    "O": ["..######..", ".##....##.", "##......##", "##......##", "##......##",
          "##......##", "##......##", "##......##", ".##....##.", "..######.."],
}


def letter_patterns():
    return np.array([[1 if c == "#" else -1 for row in LETTERS[k] for c in row] for k in LETTERS], np.int8)


def recall_trials(n, count, trials, noise, seed, max_iter=100):
    """Stores `count` random patterns in a fresh network per trial and recalls each
    from a copy with `noise` of its bits flipped. Returns (fraction recalled exactly,
    mean overlap m = x.p / N, the trials' networks)."""
    exact, overlaps, nets = [], [], []
    for trial in range(trials):
        rng = np.random.default_rng([seed, count, trial])
        net = HopfieldNetwork(n).store(random_patterns(count, n, rng))
        out = net.recall(flip_bits(net.patterns, noise, rng), max_iter=max_iter, generator=rng)
        exact.append((out == net.patterns).all(1))
        overlaps.append((out.astype(np.float64) * net.patterns).sum(1) / n)
        nets.append(net)
    return float(np.concatenate(exact).mean()), float(np.concatenate(overlaps).mean()), nets


@recipe("hopfield", "Hebbian associative memory: recall from 10 % noise, the capacity curve against 0.138 N, "
        "letters settling as the energy falls",
        metric="fraction of patterns recalled exactly (N=100, P=10, 10% noise)", epochs=1,
        options={"trials": Option(100, "random networks per load P/N"),
                 "noise": Option(0.1, "fraction of bits flipped in each probe")})
def train(run):
    n, trials, noise = 100, run.options["trials"], run.options["noise"]
    curve = []
    nets10 = None
    for count in run.progress(range(1, 21), desc="capacity"):
        exact, overlap, nets = recall_trials(n, count, trials, noise, run.seed)
        curve.append((count / n, exact, overlap))
        if count == 10:
            value, overlap10, nets10 = exact, overlap, nets
        if count in (5, 10, 14, 20):
            run.log(f"P = {count:2d} (P/N = {count / n:.2f}): {exact:.3f} recalled exactly, mean overlap {overlap:.4f}")
    curve = np.array(curve)

    letters = HopfieldNetwork(n).store(letter_patterns())
    rng = run.rng(7)
    probe = flip_bits(letters.patterns[0], 0.2, rng)[0]
    settled, trace = letters.recall(probe, generator=rng, trace=True)
    recovered = [bool((letters.recall(flip_bits(p, noise, rng)[0], generator=rng) == p).all())
                 for p in letters.patterns]
    run.log(f"letters {''.join(LETTERS)}: {sum(recovered)}/{len(recovered)} recovered from {noise:.0%} noise")
    run.picture("hopfield_settling", _draw_settling, probe, trace, letters.patterns[0])
    run.picture("hopfield_capacity", _draw_capacity, curve, trials, noise)
    state = {"weights10": np.stack([net.weight for net in nets10]).astype(np.float32),
             "patterns10": np.stack([net.patterns for net in nets10]), "letters": letters.state_dict(),
             "noise": np.asarray(noise)}
    details = {"capacity_curve": curve.tolist(), "overlap_p10": overlap10, "letters_recovered": recovered,
               "energy_sweeps": [float(e[0]) for _, e in trace["sweeps"]]}
    return Trained(value, state, details)


@evaluator("hopfield")
def evaluate(run, state):
    weights, patterns = np.asarray(state["weights10"], np.float64), np.asarray(state["patterns10"])
    noise = float(np.asarray(state["noise"]))
    hits = []
    for trial, (w, p) in enumerate(zip(weights, patterns)):
        net = HopfieldNetwork(w.shape[0])
        net.load_state_dict({"weight": w, "patterns": p})
        rng = np.random.default_rng([run.seed, len(p), trial])
        random_patterns(len(p), net.n, rng)  # replays the training run's draws, so the probes are the same
        hits.append((net.recall(flip_bits(p, noise, rng), generator=rng) == p).all(1))
    return float(np.concatenate(hits).mean())


def _draw_settling(fig, probe, trace, target):
    steps = trace["steps"]
    picks = [0] + [int(round(f * (len(steps) - 1))) for f in (0.1, 0.2, 0.35, 0.5, 1.0)]
    fig.set_size_inches(14, 4.5)
    grid = fig.add_gridspec(2, len(picks) + 1)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(probe.reshape(10, 10), cmap="gray_r", vmin=-1, vmax=1)
    ax.set_title("noisy probe", fontsize=9)
    ax.axis("off")
    for k, idx in enumerate(picks):
        ax = fig.add_subplot(grid[0, k + 1])
        ax.imshow(steps[idx][1][0].reshape(10, 10), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title(f"after {idx + 1} updates", fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    ax.plot(np.arange(1, len(steps) + 1), [e[0] for _, _, e in steps])
    ax.set_xlabel("single-neuron updates (asynchronous)")
    ax.set_ylabel("energy")
    ax.grid(alpha=0.3)
    exact = bool((steps[-1][1][0] == target).all())
    fig.suptitle(f"A noisy 'T' settles into a stored pattern ({'exactly the T' if exact else 'not the T'}); "
                 "the energy never rises")


def _draw_capacity(fig, curve, trials, noise):
    fig.set_size_inches(6.5, 4)
    ax = fig.add_subplot()
    ax.plot(curve[:, 0], curve[:, 1], "o-", label="recalled exactly")
    ax.plot(curve[:, 0], curve[:, 2], "s--", label="mean overlap")
    ax.axvline(0.138, color="k", ls=":", label="0.138 (Amit, Gutfreund, Sompolinsky)")
    ax.set_xlabel("load P/N (N = 100)")
    ax.set_ylabel("fraction")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(f"Capacity: {trials} networks per load, probes with {noise:.0%} of bits flipped")
