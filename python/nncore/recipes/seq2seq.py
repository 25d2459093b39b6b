"""`nncore train seq2seq`: an LSTM encoder-decoder learns to reverse digit
strings of 10 to 20 digits (`--min-digits`, `--max-digits`) ("40913..." -> "...31904"), a task whose alignment is
known (output step t reads input position L - 1 - t). Trained with teacher
forcing on fresh strings each epoch; tested on 1000 held-out strings (none of
them ever drawn for training) by exact-sequence accuracy, decoding greedily or
by beam search (`--beam K`). Three decoders on the same budget: no attention,
additive (Bahdanau) attention, and "attention with LSTM" (the context also fed
to the output layer; models/seq2seq.py says how they differ)."""

import time

import numpy as np

import nncore
from .. import optim
from ..data.text import PAD, UNK, Vocabulary, pad_sequences
from ..models.rnn import masked_cross_entropy
from ..models.seq2seq import ATTENTIONS, Seq2Seq, strip_after_eos
from . import Option, RecipeError, Trained, evaluator, recipe
from ._rnn import CLIP, cpu_only, step

BOS, EOS = "<bos>", "<eos>"
TEST_SIZE = 1000


def vocabulary():
    return Vocabulary("0123456789", specials=(PAD, UNK, BOS, EOS))


def digit_strings(count, rng, min_digits, max_digits, exclude=frozenset()):
    """`count` random digit strings of min_digits..max_digits digits, none in exclude."""
    out = []
    while len(out) < count:
        s = "".join(map(str, rng.integers(0, 10, rng.integers(min_digits, max_digits + 1))))
        if s not in exclude:
            out.append(s)
    return out


def encode_pairs(vocab, strings):
    """Padded batch of the reversal task: (src (S, N), src_lengths, tgt_in (T, N),
    tgt_out (T, N), tgt_lengths); tgt_in = <bos> + reversed, tgt_out = reversed + <eos>."""
    bos, eos = vocab.stoi[BOS], vocab.stoi[EOS]
    src, src_lengths = pad_sequences([vocab.encode(s) for s in strings], vocab.pad_index)
    rev = [vocab.encode(s[::-1]) for s in strings]
    tgt_in, tgt_lengths = pad_sequences([np.concatenate([[bos], r]) for r in rev], vocab.pad_index)
    tgt_out, _ = pad_sequences([np.concatenate([r, [eos]]) for r in rev], vocab.pad_index)
    return src, src_lengths, tgt_in, tgt_out, tgt_lengths


def exact_accuracy(model, vocab, strings, max_length, beam=1, batch_size=250):
    """Fraction of strings whose decoded output (at most max_length tokens, eos
    included) is exactly the reversed string."""
    model.eval()
    bos, eos = vocab.stoi[BOS], vocab.stoi[EOS]
    correct = 0
    for i in range(0, len(strings), batch_size):
        chunk = strings[i:i + batch_size]
        src, src_lengths, _, _, _ = encode_pairs(vocab, chunk)
        if beam > 1:
            tokens = model.beam_search(nncore.tensor(src), src_lengths, bos, eos, max_length, beam)
        else:
            tokens, _ = model.greedy(nncore.tensor(src), src_lengths, bos, eos, max_length)
        for s, out in zip(chunk, strip_after_eos(tokens, eos)):
            correct += "".join(vocab.decode(out)) == s[::-1]
    model.train()
    return correct / len(strings)


def _model(run, attention, vocab):
    return Seq2Seq(len(vocab), len(vocab), embedding_dim=32, hidden_size=run.options["hidden"], attention=attention,
                   padding_idx=vocab.pad_index)


def _test_set(run):
    return digit_strings(TEST_SIZE, run.rng(2), run.options["min_digits"], run.options["max_digits"])


def _attentions(run):
    choice = run.options["attention"]
    return ATTENTIONS if choice == "all" else (choice,)


@recipe("seq2seq", "LSTM encoder-decoder reverses 10-20 digit strings: no attention, additive attention, attention "
        "with LSTM; greedy or beam search (--beam K)",
        metric="held-out exact-sequence accuracy with additive attention", epochs=12, batch_size=64, lr=3e-3,
        options={"hidden": Option(64, "hidden units per encoder direction (the decoder has twice as many)"),
                 "attention": Option("all", "which decoders to train", ("all",) + ATTENTIONS),
                 "beam": Option(1, "beam width for the test decoding (1: greedy)"),
                 "strings_per_epoch": Option(4000, "fresh training strings per epoch"),
                 "min_digits": Option(10, "shortest digit string"),
                 "max_digits": Option(20, "longest digit string"),
                 "clip": CLIP})
def train(run):
    cpu_only(run)
    if run.options["beam"] < 1:
        raise RecipeError(f"--beam must be at least 1, got {run.options['beam']}")
    low, high = run.options["min_digits"], run.options["max_digits"]
    if not 1 <= low <= high:
        raise RecipeError(f"--min-digits and --max-digits must satisfy 1 <= min <= max, got {low} and {high}")
    vocab = vocabulary()
    test_set = _test_set(run)
    held_out = frozenset(test_set)
    longest = high + 1
    results, state, pictures, seconds = {}, {}, {}, {}
    for attention in _attentions(run):
        start = time.perf_counter()
        model = _model(run, attention, vocab)
        opt = optim.Adam(model.parameters(), lr=run.lr)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, run.epochs)
        data_rng = run.rng(1)  # the same training strings for every decoder
        for epoch in range(1, run.epochs + 1):
            strings = sorted(digit_strings(run.options["strings_per_epoch"], data_rng, low, high, held_out), key=len)
            batches = [strings[i:i + run.batch_size] for i in range(0, len(strings), run.batch_size)]
            total = 0.0
            for k in run.progress(data_rng.permutation(len(batches)), desc=f"{attention} {epoch}/{run.epochs}"):
                src, src_lengths, tgt_in, tgt_out, tgt_lengths = encode_pairs(vocab, batches[k])
                logits, _ = model(nncore.tensor(src), src_lengths, nncore.tensor(tgt_in))
                loss, _ = step(model, masked_cross_entropy(logits, tgt_out, tgt_lengths), opt, run.options["clip"])
                total += loss
            sched.step()
            acc = exact_accuracy(model, vocab, test_set[:200], longest)
            run.history[f"{attention}_acc"].append(acc)
            run.log(f"{attention:>9} epoch {epoch}/{run.epochs}  train_loss {total / len(batches):.4f}  "
                    f"exact (200 held-out, greedy) {acc:.3f}")
        greedy = exact_accuracy(model, vocab, test_set, longest)
        results[attention] = {"greedy": greedy}
        if run.options["beam"] > 1:
            results[attention]["beam"] = exact_accuracy(model, vocab, test_set, longest, run.options["beam"])
        run.log(f"{attention}: held-out exact-sequence accuracy " +
                ", ".join(f"{k} {v:.4f}" for k, v in results[attention].items()))
        state[attention] = model.state_dict()
        seconds[attention] = time.perf_counter() - start
        if attention != "none":
            pictures[attention] = _attention_maps(model, vocab, test_set[:4], longest)
    for attention, maps in pictures.items():
        run.picture(f"seq2seq_attention_{attention}", _draw_attention, maps, attention)
    decoding = "beam" if run.options["beam"] > 1 else "greedy"
    headline = "additive" if "additive" in results else next(iter(results))
    return Trained(results[headline][decoding], state, {"exact_accuracy": results, "decoding": decoding,
                                                        "seconds": seconds})


@evaluator("seq2seq")
def evaluate(run, state):
    cpu_only(run)
    vocab = vocabulary()
    attention = "additive" if "additive" in state else next(iter(state))
    model = _model(run, attention, vocab)
    model.load_state_dict(state[attention])
    return exact_accuracy(model, vocab, _test_set(run), run.options["max_digits"] + 1, run.options["beam"])


def _attention_maps(model, vocab, strings, max_length):
    """(source string, output string, weights (L_out, S)) for each string, greedy."""
    model.eval()
    bos, eos = vocab.stoi[BOS], vocab.stoi[EOS]
    out = []
    for s in strings:
        src, src_lengths, _, _, _ = encode_pairs(vocab, [s])
        tokens, weights = model.greedy(nncore.tensor(src), src_lengths, bos, eos, max_length)
        decoded = vocab.decode(tokens[0])
        out.append((s, decoded, weights[:len(decoded), :len(s), 0]))
    model.train()
    return out


def _draw_attention(fig, maps, attention):
    fig.set_size_inches(4 * len(maps), 4.4)
    axes = fig.subplots(1, len(maps))
    for ax, (src, decoded, weights) in zip(np.atleast_1d(axes), maps):
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)))
        ax.set_xticklabels(list(src), fontsize=7)
        ax.set_yticks(range(len(decoded)))
        ax.set_yticklabels([d if len(d) == 1 else "$" for d in decoded], fontsize=7)
        ax.set_xlabel("source digit")
        ax.set_ylabel("output step ($ = <eos>)")
    name = {"additive": "additive (Bahdanau) attention", "lstm": "attention with LSTM"}[attention]
    fig.suptitle(f"Reversing digit strings, {name}: attention weights on held-out inputs (top row: first output)")
    fig.tight_layout()
