"""Rosenblatt's perceptron: one threshold unit y = step(w.x + b), trained by the
notebook's three rules. Not gradient-based in the autograd sense, so a plain
class on NumPy arrays:

- "error-correction": the perceptron rule, online: w += lr (t - y) x after each
  sample; converges in finitely many updates on linearly separable data
  (Novikoff), cycles forever otherwise (detected here: a weight vector seen
  before at an epoch's end means it will never converge).
- "gd": batch gradient descent on the squared error of the linear output
  (Widrow-Hoff's delta rule) with targets +-1: w += lr mean((t - w.x - b) x).
- "sgd": the same gradient, one sample at a time in a fresh random order each epoch.
"""

import numpy as np

RULES = ("error-correction", "gd", "sgd")


class Perceptron:
    def __init__(self, n_inputs):
        if not isinstance(n_inputs, (int, np.integer)) or isinstance(n_inputs, bool) or n_inputs < 1:
            raise ValueError(f"Perceptron: n_inputs must be a positive int, got {n_inputs!r}")
        self.n_inputs = int(n_inputs)
        self.weight = np.zeros(self.n_inputs, np.float64)
        self.bias = 0.0

    def _check(self, X, op):
        X = np.asarray(X, np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"Perceptron.{op}: X must be (n_samples, {self.n_inputs}), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"Perceptron.{op}: X holds NaN or infinite values")
        return X

    def net(self, X):
        """The linear output w.x + b for each row of X."""
        return self._check(X, "net") @ self.weight + self.bias

    def predict(self, X):
        """step(w.x + b): 1 where the net input is positive, else 0 (int64)."""
        return (self.net(X) > 0).astype(np.int64)

    def fit(self, X, y, rule="error-correction", lr=None, max_epochs=100, generator=None, reset=True):
        """Trains until every sample is classified correctly or max_epochs pass.
        y holds 0/1 labels. Returns a dict: converged (bool), epochs (the epoch
        after which all were correct, or None), errors per epoch, and reason
        ('separated', 'cycle' for a repeated weight vector, or 'max_epochs')."""
        X = self._check(X, "fit")
        y = np.asarray(y)
        if y.shape != (len(X),) or not np.isin(y, (0, 1)).all():
            raise ValueError(f"Perceptron.fit: y must be {len(X)} labels in {{0, 1}}, got shape {y.shape} "
                             f"with values {np.unique(y)[:5]}")
        if rule not in RULES:
            raise ValueError(f"Perceptron.fit: rule must be one of {RULES}, got {rule!r}")
        if not isinstance(max_epochs, (int, np.integer)) or max_epochs < 1:
            raise ValueError(f"Perceptron.fit: max_epochs must be a positive int, got {max_epochs!r}")
        lr = {"error-correction": 1.0, "gd": 0.1, "sgd": 0.05}[rule] if lr is None else float(lr)
        if not lr > 0:
            raise ValueError(f"Perceptron.fit: lr must be positive, got {lr}")
        rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
        if reset:
            self.weight[:] = 0.0
            self.bias = 0.0
        errors, seen = [], set()
        for epoch in range(1, max_epochs + 1):
            if rule == "error-correction":
                for x, t in zip(X, y):
                    update = lr * (t - (x @ self.weight + self.bias > 0))
                    self.weight += update * x
                    self.bias += update
            elif rule == "gd":
                residual = (2.0 * y - 1.0) - (X @ self.weight + self.bias)
                self.weight += lr * residual @ X / len(X)
                self.bias += lr * residual.mean()
            else:
                for i in rng.permutation(len(X)):
                    residual = (2.0 * y[i] - 1.0) - (X[i] @ self.weight + self.bias)
                    self.weight += lr * residual * X[i]
                    self.bias += lr * residual
            errors.append(int((self.predict(X) != y).sum()))
            if errors[-1] == 0:
                return {"converged": True, "epochs": epoch, "errors": errors, "reason": "separated"}
            if rule == "error-correction":
                key = tuple(self.weight) + (self.bias,)
                if key in seen:
                    return {"converged": False, "epochs": None, "errors": errors, "reason": "cycle"}
                seen.add(key)
        return {"converged": False, "epochs": None, "errors": errors, "reason": "max_epochs"}

    def state_dict(self):
        return {"weight": self.weight.copy(), "bias": np.asarray(self.bias)}

    def load_state_dict(self, state):
        weight = np.asarray(state["weight"], np.float64)
        if weight.shape != (self.n_inputs,):
            raise ValueError(f"Perceptron.load_state_dict: weight has shape {weight.shape}, expected "
                             f"({self.n_inputs},)")
        self.weight = weight.copy()
        self.bias = float(np.asarray(state["bias"]))

    def __repr__(self):
        return f"Perceptron(n_inputs={self.n_inputs})"


GATES = {
    "AND": np.array([0, 0, 0, 1]),
    "OR": np.array([0, 1, 1, 1]),
    "NAND": np.array([1, 1, 1, 0]),
    "XOR": np.array([0, 1, 1, 0]),
}
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
