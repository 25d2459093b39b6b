"""`nncore train charlm`: a character-level language model, a 2-layer LSTM on
the bundled text (Shakespeare's Hamlet, public domain; nncore.data.text). The
first 90 % of the text trains, the last 10 % validates. Training runs the text
as 32 parallel streams in windows of `--bptt` characters, the state carried
from window to window (truncated BPTT). The metric is validation bits per
character, against the unigram model's (character frequencies of the training
part). `nncore sample charlm --weights W --temperature 0.8` writes new text."""

import math

import numpy as np

import nncore
from .. import functional as F
from .. import optim
from ..data.text import CharVocabulary, load_text
from ..models.rnn import CharLM
from . import Option, RecipeError, Trained, evaluator, recipe, sampler
from ._rnn import CLIP, cpu_only, step

STREAMS_VALID = 8
PRIME = "HAMLET.\n"


def split_text(text, valid_fraction=0.1):
    cut = int(len(text) * (1 - valid_fraction))
    return text[:cut], text[cut:]


def streams(ids, count):
    """ids (L,) -> (L // count, count): `count` contiguous streams side by side."""
    per = len(ids) // count
    return np.ascontiguousarray(ids[:per * count].reshape(count, per).T)


def unigram_bits(train_ids, valid_ids, vocab_size):
    """Cross-entropy in bits per character of the add-one-smoothed character
    frequencies of train_ids, measured on valid_ids."""
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    p = counts / counts.sum()
    return float(-np.mean(np.log2(p[valid_ids])))


def bits_per_char(model, valid_ids, bptt=200):
    """Validation cross-entropy in bits per character: the text as STREAMS_VALID
    streams, run window by window with the state carried."""
    data = streams(valid_ids, STREAMS_VALID)
    model.eval()
    total, count, state = 0.0, 0, None
    with nncore.no_grad():
        for t0 in range(0, data.shape[0] - 1, bptt):
            x = data[t0:t0 + bptt]
            y = data[t0 + 1:t0 + bptt + 1]
            x = x[:len(y)]
            logits, state = model(nncore.tensor(x), state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), nncore.tensor(y.reshape(-1)))
            total += float(loss.item()) * y.size
            count += y.size
    model.train()
    return total / count / math.log(2)


def _model(run, vocab_size):
    return CharLM(vocab_size, embedding_dim=64, hidden_size=run.options["hidden"], num_layers=2,
                  dropout=run.options["dropout"])


@recipe("charlm", "2-layer LSTM character language model on Shakespeare's Hamlet; sample it with `nncore sample`",
        metric="validation bits per character (lower is better)", epochs=10, batch_size=32, lr=4e-3,
        higher_is_better=False,
        options={"hidden": Option(256, "hidden units of each LSTM layer"),
                 "bptt": Option(50, "characters per truncated-BPTT window"),
                 "dropout": Option(0.2, "dropout between the two LSTM layers"),
                 "clip": CLIP})
def train(run):
    cpu_only(run)
    text = load_text()
    vocab = CharVocabulary.from_text(text)
    train_text, valid_text = split_text(text)
    train_ids, valid_ids = vocab.encode(train_text), vocab.encode(valid_text)
    unigram = unigram_bits(train_ids, valid_ids, len(vocab))
    run.log(f"text: {len(text)} characters, {len(vocab)} distinct; unigram model {unigram:.3f} bits/char on validation")
    data = streams(train_ids, run.batch_size)
    bptt = run.options["bptt"]
    if bptt < 1:
        raise RecipeError(f"--bptt must be at least 1, got {bptt}")
    model = _model(run, len(vocab))
    opt = optim.Adam(model.parameters(), lr=run.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, run.epochs)
    bpc = float("nan")
    for epoch in range(1, run.epochs + 1):
        offset = int(run.rng(epoch).integers(0, bptt))  # windows start elsewhere each epoch
        starts = range(offset, data.shape[0] - 1, bptt)
        state, total, count = None, 0.0, 0
        for t0 in run.progress(starts, desc=f"epoch {epoch}/{run.epochs}"):
            y = data[t0 + 1:t0 + bptt + 1]
            x = data[t0:t0 + len(y)]
            logits, state = model(nncore.tensor(x), state)
            state = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), nncore.tensor(y.reshape(-1)))
            value, _ = step(model, loss, opt, run.options["clip"])
            total += value * y.size
            count += y.size
        sched.step()
        bpc = bits_per_char(model, valid_ids)
        run.epoch(epoch, train_bpc=total / count / math.log(2), valid_bpc=bpc)
    sample = vocab.decode(model.sample(vocab.encode(PRIME), 400, 0.8, generator=run.rng(5)))
    run.log(f"validation {bpc:.3f} bits/char (unigram {unigram:.3f}); a sample at temperature 0.8:\n{PRIME}{sample}")
    run.picture("charlm_bits_per_char", _draw, run.history, unigram)
    state = {"model": model.state_dict(), "vocab": vocab.state_dict()}
    return Trained(bpc, state, {"unigram_bpc": unigram, "sample": PRIME + sample})


def _load(run, state):
    vocab = CharVocabulary.from_state_dict(state["vocab"])
    model = _model(run, len(vocab))
    model.load_state_dict(state["model"])
    return model, vocab


@evaluator("charlm")
def evaluate(run, state):
    cpu_only(run)
    model, vocab = _load(run, state)
    _, valid_text = split_text(load_text())
    return bits_per_char(model, vocab.encode(valid_text))


@sampler("charlm")
def sample(run, state, temperature, length, prime):
    cpu_only(run)
    model, vocab = _load(run, state)
    prime = prime or PRIME
    unknown = sorted(set(prime) - set(vocab.itos))
    if unknown:
        raise RecipeError(f"--prime holds characters the model never saw: {''.join(unknown)!r}")
    ids = model.sample(vocab.encode(prime), length, temperature, generator=run.rng(5))
    return prime + vocab.decode(ids)


def _draw(fig, history, unigram):
    fig.set_size_inches(7, 4)
    ax = fig.subplots()
    ax.plot(history["epoch"], history["train_bpc"], "o-", label="training")
    ax.plot(history["epoch"], history["valid_bpc"], "s-", label="validation")
    ax.axhline(unigram, color="k", ls="--", lw=1, label="unigram model (validation)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits per character")
    ax.set_title("Character-level 2-layer LSTM on Hamlet")
    ax.legend()
    ax.grid(alpha=0.3)
