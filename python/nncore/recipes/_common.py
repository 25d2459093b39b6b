"""Pieces the classifier recipes share: moving batches to the run's device, one
training epoch, evaluation, and the learning-curve picture."""

import numpy as np

import nncore
from .. import functional as F
from ..data import DataLoader


def to_device(array, run):
    t = nncore.tensor(np.ascontiguousarray(array))
    return t if run.device == "cpu" else t.to(run.device)


def train_epoch(run, model, loader, optimizer, desc, augment=None, scheduler=None, label_smoothing=0.0):
    """One pass of softmax cross-entropy training (augment(x) maps each NumPy batch
    first); returns (mean loss, accuracy)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in run.progress(loader, desc=desc, total=len(loader)):
        if augment is not None:
            x = augment(x)
        xb, yb = to_device(x, run), to_device(y, run)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += float(loss.item()) * n
        correct += int((logits.detach().argmax(1).cpu().numpy() == y).sum())
        seen += n
    if scheduler is not None:
        scheduler.step()
    if run.distributed:
        from .. import distributed

        totals = np.array([total_loss, correct, seen], np.float64)
        distributed.all_reduce_([totals], op="sum")
        total_loss, correct, seen = totals
    return total_loss / max(seen, 1), correct / max(seen, 1)


def predict(model, dataset, run, batch_size=256):
    """(logits (N, classes) as a NumPy array, labels (N,)) over a whole dataset, in eval mode."""
    model.eval()
    outs, labels = [], []
    with nncore.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size):
            outs.append(model(to_device(x, run)).cpu().numpy())
            labels.append(np.asarray(y))
    return np.concatenate(outs), np.concatenate(labels)


def evaluate_classifier(model, dataset, run, batch_size=256):
    """(mean cross-entropy, accuracy) of model on dataset."""
    logits, labels = predict(model, dataset, run, batch_size)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = float(-log_probs[np.arange(len(labels)), labels].mean())
    return loss, float((logits.argmax(1) == labels).mean())


def fit_classifier(run, model, train_set, test_set, optimizer, scheduler=None, augment=None, epochs=None,
                   label_smoothing=0.0):
    """Trains for run.epochs (or epochs) with a seeded shuffle, evaluating on
    test_set after each epoch (recorded in run.history); returns the final
    test accuracy. Data parallel when the run is (pass run.parallel(model))."""
    loader = run.loader(train_set)
    epochs = epochs or run.epochs
    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        train_loss, train_acc = train_epoch(run, model, loader, optimizer, f"epoch {epoch}/{epochs}", augment,
                                            scheduler, label_smoothing)
        test_loss, accuracy = evaluate_classifier(model, test_set, run)
        run.epoch(epoch, epochs, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss, test_acc=accuracy)
    return accuracy


def draw_learning_curves(fig, history, title):
    """Train/test loss and accuracy against epoch, side by side."""
    fig.set_size_inches(10, 3.8)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = history["epoch"]
    for key, style in (("train", "-"), ("test", "--")):
        if f"{key}_loss" in history:
            ax_loss.plot(epochs, history[f"{key}_loss"], style, label=key)
        if f"{key}_acc" in history:
            ax_acc.plot(epochs, history[f"{key}_acc"], style, label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_yscale("log")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
