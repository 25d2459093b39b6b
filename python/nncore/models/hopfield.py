"""The Hopfield network: N binary (+-1) neurons, symmetric weights stored by the
Hebbian rule W = (1/N) sum_p x_p x_p^T with a zero diagonal, recall by
repeated threshold updates x_i <- sign(sum_j W_ij x_j). The energy
E(x) = -1/2 x^T W x never rises under asynchronous (one neuron at a time)
updates, so recall settles in a local minimum: ideally the stored pattern
nearest the probe. Plain NumPy: the rule is not gradient-based."""

import numpy as np


class HopfieldNetwork:
    def __init__(self, n):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"HopfieldNetwork: n must be a positive int, got {n!r}")
        self.n = int(n)
        self.weight = np.zeros((self.n, self.n), np.float64)
        self.patterns = np.zeros((0, self.n), np.int8)

    def _states(self, x, op, name="x"):
        x = np.asarray(x)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"HopfieldNetwork.{op}: {name} must be ({self.n},) or (batch, {self.n}), "
                             f"got shape {np.shape(x)}")
        if not np.isin(x, (-1, 1)).all():
            raise ValueError(f"HopfieldNetwork.{op}: {name} must hold only -1 and +1")
        return x.astype(np.float64), single

    def store(self, patterns, append=False):
        """Hebbian storage of (P, N) +-1 patterns; replaces what was stored unless append."""
        p, _ = self._states(patterns, "store", "patterns")
        stored = np.concatenate([self.patterns, p.astype(np.int8)]) if append else p.astype(np.int8)
        s = stored.astype(np.float64)
        self.weight = s.T @ s / self.n
        np.fill_diagonal(self.weight, 0.0)
        self.patterns = stored
        return self

    def energy(self, x):
        """-1/2 x^T W x for one state (a float) or each row of a batch (an array)."""
        s, single = self._states(x, "energy")
        e = -0.5 * np.einsum("bi,ij,bj->b", s, self.weight, s)
        return float(e[0]) if single else e

    def recall(self, x, mode="async", max_iter=100, generator=None, trace=False):
        """Updates probe(s) x until nothing changes for a whole sweep (or max_iter
        sweeps). async: neurons one at a time in a fresh random order per sweep (a
        batch shares the order); sync: all at once (may end in a 2-cycle, then
        stops). A neuron whose input is exactly 0 keeps its state. With trace,
        returns (states, trace) where trace lists (states, energies) after each
        sweep (async: after each single update too, under 'steps')."""
        s, single = self._states(x, "recall")
        if mode not in ("async", "sync"):
            raise ValueError(f"HopfieldNetwork.recall: mode must be 'async' or 'sync', got {mode!r}")
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ValueError(f"HopfieldNetwork.recall: max_iter must be a positive int, got {max_iter!r}")
        rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
        s = s.copy()
        sweeps = [(s.copy(), self._energy(s))]
        steps = []
        previous = None
        for _ in range(max_iter):
            before = s.copy()
            if mode == "async":
                for i in rng.permutation(self.n):
                    s[:, i] = _threshold(s @ self.weight[i], s[:, i])
                    if trace:
                        steps.append((i, s.copy(), self._energy(s)))
            else:
                s = _threshold(s @ self.weight, s)
            sweeps.append((s.copy(), self._energy(s)))
            if np.array_equal(s, before) or (mode == "sync" and previous is not None and np.array_equal(s, previous)):
                break
            previous = before
        out = s.astype(np.int8)
        out = out[0] if single else out
        if trace:
            return out, {"sweeps": sweeps, "steps": steps}
        return out

    def _energy(self, s):
        return -0.5 * np.einsum("bi,ij,bj->b", s, self.weight, s)

    def state_dict(self):
        return {"weight": self.weight.copy(), "patterns": self.patterns.copy()}

    def load_state_dict(self, state):
        weight = np.asarray(state["weight"], np.float64)
        if weight.shape != (self.n, self.n):
            raise ValueError(f"HopfieldNetwork.load_state_dict: weight has shape {weight.shape}, expected "
                             f"({self.n}, {self.n})")
        self.weight = weight.copy()
        self.patterns = np.asarray(state["patterns"], np.int8).reshape(-1, self.n)

    def __repr__(self):
        return f"HopfieldNetwork(n={self.n}, patterns={len(self.patterns)})"


def _threshold(h, keep):
    """sign(h), keeping the old state where h is zero up to rounding (the Hebbian
    weights are multiples of 1/N, so a true zero may come out as +-1e-17)."""
    return np.where(h > 1e-9, 1.0, np.where(h < -1e-9, -1.0, keep))


def flip_bits(patterns, fraction, generator=None):
    """Copies of +-1 patterns with round(fraction * N) distinct bits flipped in each."""
    rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
    patterns = np.atleast_2d(np.asarray(patterns))
    k = int(round(fraction * patterns.shape[1]))
    out = patterns.copy()
    for row in out:
        idx = rng.choice(len(row), k, replace=False)
        row[idx] = -row[idx]
    return out


def random_patterns(count, n, generator=None):
    rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
    return rng.choice(np.array([-1, 1], np.int8), size=(count, n))
