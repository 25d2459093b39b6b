"""`nncore train transfer`: transfer learning. A LeNet-5 learns digits 0-4
(32x32); its convolutional features are frozen (requires_grad_(False)), its
last layer is replaced by a fresh 5-way head, and the classifier is fine-tuned
on digits 5-9 from only `--shots` training images per digit. A LeNet trained
from scratch on the same images, with the same optimiser and epochs, is the
baseline. Headline: the fine-tuned network's accuracy on the 5-9 test digits."""

import copy

import numpy as np

from .. import nn, optim
from ..data import DataLoader, Subset, digits_datasets, transforms
from ..models.cnn import LeNet
from . import Option, RecipeError, Trained, evaluator, recipe
from ._common import evaluate_classifier, train_epoch

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


class Relabelled(Subset):
    """The images of `digits` in a dataset, labelled 0..len(digits)-1 in that order."""

    def __init__(self, dataset, digits, per_digit=None, generator=None):
        labels = dataset[np.arange(len(dataset))][1]
        keep = []
        for d in digits:
            idx = np.flatnonzero(labels == d)
            if per_digit is not None:
                idx = np.sort(generator.permutation(idx)[:per_digit])
            keep.append(idx)
        super().__init__(dataset, np.sort(np.concatenate(keep)))
        self.lookup = np.full(10, -1, np.int64)
        self.lookup[list(digits)] = np.arange(len(digits))

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x, self.lookup[y]


def task_datasets(shots, generator):
    """(source train, source test, target train with `shots` images per digit, target test)."""
    train_set, test_set = digits_datasets(size=32)
    return (Relabelled(train_set, SOURCE), Relabelled(test_set, SOURCE),
            Relabelled(train_set, TARGET, shots, generator), Relabelled(test_set, TARGET))


def fine_tune_model(source, tune):
    """A copy of `source` with a fresh 5-way last layer; frozen below it are the
    convolutional features (tune="classifier") or every layer (tune="head")."""
    model = copy.deepcopy(source)
    (model if tune == "head" else model.features).requires_grad_(False)
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, len(TARGET))
    return model


@recipe("transfer", "LeNet features learned on digits 0-4, frozen, with a new head fine-tuned on a few 5-9s",
        metric="fine-tuned test accuracy on digits 5-9", epochs=10, batch_size=16, lr=2e-3,
        options={"shots": Option(10, "training images per digit 5-9 for fine-tuning and the scratch baseline"),
                 "source_epochs": Option(15, "epochs of training on digits 0-4"),
                 "tune": Option("classifier", "what fine-tuning trains: the new last layer alone, or every dense layer",
                                ("head", "classifier"))})
def train(run):
    if run.options["shots"] < 1:
        raise RecipeError(f"transfer: --shots must be at least 1, got {run.options['shots']}")
    source_train, source_test, target_train, target_test = task_datasets(run.options["shots"], run.rng(3))
    shift = transforms.RandomAffineShift(2, generator=run.rng(2))

    source = LeNet(num_classes=len(SOURCE)).to(run.device)
    opt = optim.Adam(source.parameters(), lr=2e-3)
    loader = DataLoader(source_train, batch_size=32, shuffle=True, generator=run.rng(1))
    for epoch in range(1, run.options["source_epochs"] + 1):
        train_epoch(run, source, loader, opt, f"digits 0-4, epoch {epoch}", shift)
    source_acc = evaluate_classifier(source, source_test, run)[1]
    run.log(f"source network: digits 0-4 test accuracy {source_acc:.4f}")

    tuned, scratch = fine_tune_model(source, run.options["tune"]), LeNet(num_classes=len(TARGET)).to(run.device)
    n_trainable = sum(p.numel() for p in tuned.parameters() if p.requires_grad)
    run.log(f"fine-tuning {n_trainable} of {sum(p.numel() for p in tuned.parameters())} parameters "
            f"on {len(target_train)} images of digits 5-9")
    runs = {"finetune": tuned, "scratch": scratch}
    opts = {k: optim.Adam([p for p in m.parameters() if p.requires_grad], lr=run.lr)
            for k, m in runs.items()}
    loaders = {k: DataLoader(target_train, batch_size=run.batch_size, shuffle=True, generator=run.rng(10 + i))
               for i, k in enumerate(runs)}
    accuracy = {}
    for epoch in range(1, run.epochs + 1):
        metrics = {}
        for k, model in runs.items():
            metrics[f"{k}_train_loss"] = train_epoch(run, model, loaders[k], opts[k], f"{k} {epoch}", shift)[0]
            accuracy[k] = evaluate_classifier(model, target_test, run)[1]
            metrics[f"{k}_test_acc"] = accuracy[k]
        run.epoch(epoch, **metrics)
    run.log(f"digits 5-9 from {run.options['shots']} images each: fine-tuned {accuracy['finetune']:.4f}, "
            f"from scratch {accuracy['scratch']:.4f}")
    run.picture("transfer_curves", _draw_curves, run.history, run.options["shots"])
    return Trained(accuracy["finetune"], {"model": tuned.state_dict()},
                   {"source_accuracy": source_acc, "scratch_accuracy": accuracy["scratch"],
                    "trainable_parameters": n_trainable})


@evaluator("transfer")
def evaluate(run, state):
    model = LeNet(num_classes=len(TARGET))
    model.load_state_dict(state["model"])
    _, test_set = digits_datasets(size=32)
    return evaluate_classifier(model.to(run.device), Relabelled(test_set, TARGET), run)[1]


def _draw_curves(fig, history, shots):
    fig.set_size_inches(10, 3.8)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, label in (("finetune", "fine-tuned (frozen 0-4 features)"), ("scratch", "from scratch")):
        ax_loss.plot(history["epoch"], history[f"{key}_train_loss"], label=label)
        ax_acc.plot(history["epoch"], history[f"{key}_test_acc"], label=label)
    ax_loss.set_ylabel("training cross-entropy")
    ax_loss.set_yscale("log")
    ax_acc.set_ylabel("test accuracy, digits 5-9")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"Transfer learning: digits 5-9 from {shots} training images per digit")
