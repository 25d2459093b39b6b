"""`nncore train perceptron`: the three learning rules on the logic gates. AND, OR
and NAND are linearly separable and are learned; XOR is not, and the
perceptron rule is shown to cycle (a repeated weight vector) instead of looping."""

import numpy as np

from ..models.perceptron import GATE_INPUTS, GATES, RULES, Perceptron
from . import Option, Trained, evaluator, recipe

LEARNABLE = ("AND", "OR", "NAND")


@recipe("perceptron", "a threshold unit learns AND/OR/NAND with the error-correction rule, GD and SGD; XOR fails",
        metric="mean accuracy on AND/OR/NAND over the three rules", epochs=100,
        options={"rule": Option("all", "which rule to run", ("all",) + RULES)})
def train(run):
    rules = RULES if run.options["rule"] == "all" else (run.options["rule"],)
    lr = run.lr
    results, state, accuracies = {}, {}, []
    for rule in rules:
        for gate, labels in GATES.items():
            p = Perceptron(2)
            fit = p.fit(GATE_INPUTS, labels, rule=rule, lr=lr, max_epochs=run.epochs, generator=run.rng(len(results)))
            accuracy = float((p.predict(GATE_INPUTS) == labels).mean())
            results[f"{rule}/{gate}"] = {"epochs": fit["epochs"], "accuracy": accuracy, "reason": fit["reason"],
                                         "errors": fit["errors"]}
            state[f"{rule}/{gate}"] = p.state_dict()
            if gate in LEARNABLE:
                accuracies.append(accuracy)
            how = (f"learned in {fit['epochs']} epoch(s)" if fit["converged"] else
                   f"NOT learned: {_why(fit)}; accuracy {accuracy:.2f}")
            run.log(f"{rule:>16}  {gate:<4}  {how}")
    value = float(np.mean(accuracies))
    run.picture("perceptron_gates", _draw_gates, results, state, rules)
    state = {rule.replace("-", "_") + "__" + gate: s for key, s in state.items() for rule, gate in [key.split("/")]}
    return Trained(value, state, {"gates": results})


def _why(fit):
    if fit["reason"] == "cycle":
        return (f"the weights repeat after {len(fit['errors'])} epochs, so the rule cycles forever "
                f"(not linearly separable)")
    return f"still {fit['errors'][-1]} error(s) after {len(fit['errors'])} epochs (not linearly separable)"


@evaluator("perceptron")
def evaluate(run, state):
    accuracies = []
    for key, s in state.items():
        rule, gate = key.split("__")
        if gate in LEARNABLE:
            p = Perceptron(2)
            p.load_state_dict(s)
            accuracies.append(float((p.predict(GATE_INPUTS) == GATES[gate]).mean()))
    if not accuracies:
        raise ValueError("no AND/OR/NAND perceptron in the saved state")
    return float(np.mean(accuracies))


def _draw_gates(fig, results, state, rules):
    fig.set_size_inches(3.0 * len(GATES), 3.0 * len(rules))
    axes = fig.subplots(len(rules), len(GATES), squeeze=False)
    xs = np.linspace(-0.5, 1.5, 2)
    for r, rule in enumerate(rules):
        for g, (gate, labels) in enumerate(GATES.items()):
            ax = axes[r][g]
            for label, marker, colour in ((0, "o", "tab:red"), (1, "s", "tab:blue")):
                pts = GATE_INPUTS[labels == label]
                ax.scatter(pts[:, 0], pts[:, 1], marker=marker, c=colour, s=80, label=f"y={label}")
            w, b = state[f"{rule}/{gate}"]["weight"], float(state[f"{rule}/{gate}"]["bias"])
            if abs(w[1]) > 1e-12:
                ax.plot(xs, -(w[0] * xs + b) / w[1], "k-")
            elif abs(w[0]) > 1e-12:
                ax.axvline(-b / w[0], color="k")
            res = results[f"{rule}/{gate}"]
            done = f"{res['epochs']} ep" if res["epochs"] else f"fails ({res['reason']})"
            ax.set_title(f"{gate}, {rule}: {done}", fontsize=9)
            ax.set_xlim(-0.5, 1.5)
            ax.set_ylim(-0.5, 1.5)
            ax.set_aspect("equal")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Perceptron: points and learned decision line w.x + b = 0 (a point on the line is class 0: step(0) = 0)")
