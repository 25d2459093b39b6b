"""nncore.recipes: one recipe per experiment of the notebook (data, model,
optimiser, epochs, metric, pictures). `nncore train MODEL` and the tests call the
same functions:

    result = nncore.recipes.train("mlp", epochs=5, out="runs")
    result.value                      # the headline metric (digits test accuracy)
    nncore.recipes.evaluate("mlp", "runs/mlp.npz").value

A recipe is a function `train(run) -> Trained` registered with @recipe; its
evaluator, registered with @evaluator, rebuilds the model from saved state and
measures the same metric."""

import contextlib
import dataclasses
import os
import time
from typing import Any, Callable, Dict, Optional

from ._run import RecipeError, Run, user_input

__all__ = ["Option", "RECIPES", "Recipe", "RecipeError", "Result", "Run", "Trained", "evaluate", "evaluator",
           "get", "recipe", "sample", "sampler", "train", "user_input"]


@dataclasses.dataclass(frozen=True)
class Option:
    """A recipe's own setting (`nncore train resnet --shortcut A`)."""

    default: Any
    help: str
    choices: Optional[tuple] = None


@dataclasses.dataclass
class Trained:
    """What a recipe's train function returns: the headline metric, the state to
    save (nested dicts of arrays) and details for reports (per-gate epochs, ...)."""

    value: float
    state: Dict[str, Any]
    details: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Recipe:
    name: str
    summary: str
    metric: str
    train: Callable
    epochs: int
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    options: Dict[str, Option] = dataclasses.field(default_factory=dict)
    evaluate: Optional[Callable] = None
    higher_is_better: bool = True
    sample: Optional[Callable] = None
    distributed: bool = False


@dataclasses.dataclass
class Result:
    model: str
    metric: str
    value: float
    seconds: float
    history: Dict[str, list]
    details: Dict[str, Any]
    weights: Optional[str]
    pictures: list

    def summary(self):
        """The `--json` line's fields."""
        return {"model": self.model, "metric": self.metric, "value": self.value, "seconds": round(self.seconds, 3)}


RECIPES: Dict[str, Recipe] = {}


def recipe(name, summary, metric, epochs, batch_size=None, lr=None, options=None, higher_is_better=True,
           distributed=False):
    """Registers `train(run) -> Trained` as the recipe `name`. distributed=True
    says it trains data-parallel under MPI when asked (it draws its batches from
    run.loader and wraps its model with run.parallel)."""

    def register(fn):
        RECIPES[name] = Recipe(name, summary, metric, fn, epochs, batch_size, lr, dict(options or {}),
                               higher_is_better=higher_is_better, distributed=distributed)
        return fn

    return register


def evaluator(name):
    """Registers `evaluate(run, state) -> float` for the recipe `name`."""

    def register(fn):
        RECIPES[name].evaluate = fn
        return fn

    return register


def sampler(name):
    """Registers `sample(run, state, temperature, length, prime) -> str` for the
    recipe `name` (a generative model: `nncore sample MODEL --weights W`)."""

    def register(fn):
        RECIPES[name].sample = fn
        return fn

    return register


def get(name):
    if name not in RECIPES:
        raise RecipeError(f"unknown model {name!r}; choose one of: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def _options(rec, given):
    unknown = sorted(set(given) - set(rec.options))
    if unknown:
        known = ", ".join(sorted(rec.options)) or "none"
        raise RecipeError(f"recipe {rec.name!r}: unknown option(s) {', '.join(unknown)} (its options: {known})")
    opts = {k: o.default for k, o in rec.options.items()}
    for key, value in given.items():
        choices = rec.options[key].choices
        if choices is not None and value not in choices:
            raise RecipeError(f"recipe {rec.name!r}: {key} must be one of {choices}, got {value!r}")
        opts[key] = value
    return opts


@contextlib.contextmanager
def _settings(threads, seed):
    import nncore

    before = nncore.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise RecipeError(f"threads must be at least 1, got {threads}")
        nncore.set_num_threads(threads)
    nncore.manual_seed(seed)
    try:
        yield
    finally:
        nncore.set_num_threads(before)


def _check_device(device):
    import nncore

    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise RecipeError(f"--device must be 'cpu' or 'cuda', got {device!r}")
    if device != "cpu" and not nncore.cuda.is_available():
        raise RecipeError("--device cuda needs a CUDA build of nncore, CuPy (pip install 'nncore[cuda]') and a GPU; "
                          "none is usable here")


def _run(rec, epochs, batch_size, lr, seed, device, out, data, quiet, options, stream, distributed=False,
         sync_batchnorm=False):
    if epochs is not None and epochs < 1:
        raise RecipeError(f"epochs must be at least 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise RecipeError(f"batch size must be at least 1, got {batch_size}")
    if lr is not None and not lr > 0:
        raise RecipeError(f"learning rate must be positive, got {lr}")
    if data is not None and not os.path.exists(data):
        raise RecipeError(f"--data {data}: no such file or folder")
    _check_device(device)
    if distributed:
        if not rec.distributed:
            supported = ", ".join(sorted(n for n, r in RECIPES.items() if r.distributed))
            raise RecipeError(f"model {rec.name!r} does not train data-parallel; --distributed works with: "
                              f"{supported}")
        from .. import distributed as dist

        dist.init()
    elif sync_batchnorm:
        raise RecipeError("--sync-batchnorm needs --distributed")
    return Run(rec.name, epochs or rec.epochs, batch_size or rec.batch_size, lr or rec.lr, seed, device, out, data,
               quiet, options, stream, distributed, sync_batchnorm)


def train(name, *, epochs=None, batch_size=None, lr=None, seed=0, threads=None, device="cpu", out=None, data=None,
          quiet=True, stream=None, distributed=False, sync_batchnorm=False, **options):
    """Runs recipe `name`; with `out`, writes OUT/name.npz (atomically) and pictures.
    distributed=True trains data-parallel over the MPI job this process is in
    (same global batch; rank 0 alone prints and writes)."""
    rec = get(name)
    run = _run(rec, epochs, batch_size, lr, seed, device, out, data, quiet, _options(rec, options), stream,
               distributed, sync_batchnorm)
    with _settings(threads, seed):
        trained = rec.train(run)
    weights = None
    if run.out is not None:
        import nncore

        weights = run.output_path(f"{name}.npz")
        nncore.save({"nncore_model": name, "options": run.options, "metric": rec.metric,
                     "value": float(trained.value), "state": trained.state}, weights)
        run.log(f"weights: {weights}")
    return Result(name, rec.metric, float(trained.value), run.seconds, dict(run.history), trained.details, weights,
                  run.pictures)


def load_weights(name, weights):
    """The saved state of recipe `name` from a file written by `train`; a clear
    RecipeError for a missing file, a foreign file or another model's weights."""
    import nncore

    if not os.path.isfile(weights):
        raise RecipeError(f"--weights {weights}: no such file")
    try:
        saved = nncore.load(weights, as_tensors=False)
    except Exception as e:  # any unreadable file is the user's input, reported in one line
        raise RecipeError(f"--weights {weights}: not an nncore weights file ({e})") from None
    model = saved.get("nncore_model") if isinstance(saved, dict) else None
    if model is None:
        raise RecipeError(f"--weights {weights}: not written by `nncore train` (no model name inside)")
    if model != name:
        raise RecipeError(f"--weights {weights} holds weights of model {model!r}, not {name!r}")
    return saved


def evaluate(name, weights, *, batch_size=None, seed=0, threads=None, device="cpu", data=None, quiet=True,
             stream=None):
    """Reloads weights saved by `train(name, out=...)` and measures the recipe's metric."""
    rec = get(name)
    if rec.evaluate is None:
        raise RecipeError(f"model {name!r} has no evaluation")
    saved = load_weights(name, weights)
    run = _run(rec, None, batch_size, None, seed, device, None, data, quiet, saved.get("options", {}), stream)
    start = time.perf_counter()
    with _settings(threads, seed):
        try:
            value = rec.evaluate(run, saved["state"])
        except (KeyError, ValueError, RuntimeError) as e:
            raise RecipeError(f"--weights {weights}: does not fit model {name!r} ({e})") from None
    return Result(name, rec.metric, float(value), time.perf_counter() - start, {}, {}, weights, [])


def sample(name, weights, *, temperature=1.0, length=400, prime=None, seed=0, threads=None, device="cpu"):
    """Generates from weights saved by `train(name, out=...)`: the text (prime
    included) drawn at `temperature`."""
    rec = get(name)
    if rec.sample is None:
        raise RecipeError(f"model {name!r} does not generate; models that do: "
                          f"{', '.join(sorted(n for n, r in RECIPES.items() if r.sample)) or 'none'}")
    if not temperature > 0:
        raise RecipeError(f"--temperature must be positive, got {temperature}")
    if length < 0:
        raise RecipeError(f"--length must be at least 0, got {length}")
    saved = load_weights(name, weights)
    run = _run(rec, None, None, None, seed, device, None, None, True, saved.get("options", {}), None)
    with _settings(threads, seed):
        try:
            return rec.sample(run, saved["state"], temperature, length, prime)
        except (KeyError, ValueError) as e:
            raise RecipeError(f"--weights {weights}: does not fit model {name!r} ({e})") from None


from . import perceptron, mlp, hopfield, cnn, ssd  # noqa: E402,F401  (each registers its recipes)
from . import elman, adding, birnn, charlm, seq2seq  # noqa: E402,F401
from . import resnet, vgg, transfer  # noqa: E402,F401
from . import gan, dcgan, vae  # noqa: E402,F401
