"""`nncore train birnn`: sequence labelling where each label depends on the
future. Sequences of 8 to 24 words over a 20-word vocabulary; each word is
tagged 1 if the same word occurs again later in the sequence, else 0. Every
epoch draws fresh training sentences (6000 by default); the 1000 test
sentences are fixed. A bidirectional LSTM sees the rest of the sequence at
every step; a
unidirectional LSTM of the same output width (twice the hidden units) can only
guess from the past. Batches are padded (lengths kept), the loss and the
accuracy count real tokens only."""

import numpy as np

import nncore
from .. import optim
from ..data.text import Vocabulary, pad_sequences
from ..models.rnn import SequenceTagger, masked_cross_entropy
from . import Option, Trained, evaluator, recipe
from ._rnn import CLIP, cpu_only, step

WORDS = ("ash", "birch", "cedar", "elm", "fir", "hazel", "holly", "larch", "lime", "maple",
         "oak", "pine", "plum", "poplar", "rowan", "spruce", "walnut", "willow", "yew", "alder")
MIN_LENGTH, MAX_LENGTH = 8, 24
TEST_SIZE = 1000


def occurs_later(words):
    """Tags: 1 where the word occurs again after this position."""
    tags = np.zeros(len(words), np.int64)
    seen = set()
    for i in range(len(words) - 1, -1, -1):
        tags[i] = words[i] in seen
        seen.add(words[i])
    return tags


def make_sentences(count, rng):
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, count)
    return [[WORDS[i] for i in rng.integers(0, len(WORDS), n)] for n in lengths]


def length_buckets(sentences, batch_size, rng):
    """Batches of indices of sentences of similar lengths (shuffled, then sorted
    by length, cut into batches, and the batches shuffled): little padding and
    few distinct lengths per batch, which keeps forward_padded's segments few."""
    order = rng.permutation(len(sentences))
    order = order[np.argsort([len(sentences[i]) for i in order], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def vocabulary():
    return Vocabulary(WORDS)


def encode_batch(vocab, sentences):
    """(tokens (T, N) int64, tags (T, N) int64, lengths (N,)) padded with vocab.pad_index."""
    tokens, lengths = pad_sequences([vocab.encode(s) for s in sentences], padding_value=vocab.pad_index)
    tags, _ = pad_sequences([occurs_later(s) for s in sentences], padding_value=0)
    return tokens, tags, lengths


def token_accuracy(model, vocab, sentences, batch_size=500):
    """Accuracy over real (unpadded) tokens."""
    model.eval()
    correct = total = 0
    with nncore.no_grad():
        for i in range(0, len(sentences), batch_size):
            tokens, tags, lengths = encode_batch(vocab, sentences[i:i + batch_size])
            pred = model(nncore.tensor(tokens), lengths).numpy().argmax(-1)
            mask = np.arange(tokens.shape[0])[:, None] < lengths[None, :]
            correct += int(((pred == tags) & mask).sum())
            total += int(mask.sum())
    model.train()
    return correct / total


def _model(run, bidirectional, vocab):
    hidden = run.options["hidden"]
    return SequenceTagger(len(vocab), 2, embedding_dim=32, hidden_size=hidden if bidirectional else 2 * hidden,
                          bidirectional=bidirectional, padding_idx=vocab.pad_index)


@recipe("birnn", "bidirectional LSTM tags each word with whether it occurs again later; unidirectional for contrast",
        metric="per-token test accuracy of the bidirectional LSTM", epochs=12, batch_size=64, lr=3e-3,
        options={"hidden": Option(64, "hidden units per direction (the unidirectional LSTM gets twice as many)"),
                 "sentences_per_epoch": Option(6000, "fresh training sentences per epoch"),
                 "clip": CLIP})
def train(run):
    cpu_only(run)
    vocab = vocabulary()
    test_set = make_sentences(TEST_SIZE, run.rng(2))
    results, state = {}, {}
    for name, bidirectional in (("bidirectional", True), ("unidirectional", False)):
        model = _model(run, bidirectional, vocab)
        opt = optim.Adam(model.parameters(), lr=run.lr)
        data_rng = run.rng(1)  # the same fresh sentences for both models
        for epoch in range(1, run.epochs + 1):
            train_set = make_sentences(run.options["sentences_per_epoch"], data_rng)
            batches = length_buckets(train_set, run.batch_size, data_rng)
            total = 0.0
            for batch in run.progress(batches, desc=f"{name} {epoch}/{run.epochs}"):
                tokens, tags, lengths = encode_batch(vocab, [train_set[j] for j in batch])
                logits = model(nncore.tensor(tokens), lengths)
                loss, _ = step(model, masked_cross_entropy(logits, tags, lengths), opt, run.options["clip"])
                total += loss
            acc = token_accuracy(model, vocab, test_set)
            run.history[f"{name}_acc"].append(acc)
            run.log(f"{name:>14} epoch {epoch}/{run.epochs}  train_loss {total / len(batches):.4f}  test_acc {acc:.4f}")
        results[name] = acc
        state[name] = model.state_dict()
    majority = _majority_accuracy(test_set)
    run.log(f"per-token test accuracy: bidirectional {results['bidirectional']:.4f}, unidirectional "
            f"{results['unidirectional']:.4f}, always the majority tag {majority:.4f}")
    run.picture("birnn_accuracy", _draw, run.history, majority)
    return Trained(results["bidirectional"], state, {"accuracy": results, "majority_tag_accuracy": majority})


def _majority_accuracy(sentences):
    tags = np.concatenate([occurs_later(s) for s in sentences])
    return float(max(tags.mean(), 1 - tags.mean()))


@evaluator("birnn")
def evaluate(run, state):
    cpu_only(run)
    vocab = vocabulary()
    model = _model(run, True, vocab)
    model.load_state_dict(state["bidirectional"])
    return token_accuracy(model, vocab, make_sentences(TEST_SIZE, run.rng(2)))


def _draw(fig, history, majority):
    fig.set_size_inches(7, 4)
    ax = fig.subplots()
    for name in ("bidirectional", "unidirectional"):
        acc = history[f"{name}_acc"]
        ax.plot(range(1, len(acc) + 1), acc, "o-", label=f"{name} LSTM")
    ax.axhline(majority, color="k", ls="--", lw=1, label="always the majority tag")
    ax.set_xlabel("epoch")
    ax.set_ylabel("per-token test accuracy")
    ax.set_title("Does this word occur again later? (needs the future)")
    ax.legend()
    ax.grid(alpha=0.3)
