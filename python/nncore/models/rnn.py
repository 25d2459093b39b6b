"""The notebook's recurrent networks: the Elman (hidden-recurrent) network
trained by backpropagation through time, the output-recurrent network trained
with teacher forcing, a sequence-to-one regressor with a choice of cell (Elman,
LSTM, peephole LSTM, GRU) for the adding problem, a (bi)directional LSTM tagger
for sequence labelling and a character-level LSTM language model.

Sequences are (T, N, F) (tokens (T, N) int64), time first as in nn.LSTM.
Variable lengths: a padded batch with `lengths` (N,), each sequence filling its
first lengths[n] steps, runs through nn.LSTM.forward_padded (padding never
enters a state) and padded steps are left out of every loss."""

import numpy as np

import nncore
from .. import functional as F
from .. import nn
from ..tensor import Tensor

CELLS = ("rnn", "lstm", "peephole", "gru")


def check_tokens(tokens, vocab_size, name="tokens"):
    """A (T, N) Tensor of int64 token ids in [0, vocab_size), non-empty; a
    ValueError/TypeError naming `name` otherwise."""
    if not isinstance(tokens, Tensor):
        raise TypeError(f"{name} must be a Tensor of token ids, got {type(tokens).__name__}")
    if tokens.ndim != 2:
        raise ValueError(f"{name} must be 2-D (seq_len, batch) token ids, got {tokens.ndim}-D of shape "
                         f"{tuple(tokens.shape)}")
    if tokens.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got {tokens.dtype}")
    if tokens.shape[0] == 0 or tokens.shape[1] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(tokens.shape)})")
    low, high = int(tokens.data.min()), int(tokens.data.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{name} holds ids in [{low}, {high}], out of range for the embedding's vocabulary of "
                         f"{vocab_size}")
    return tokens


def check_sequences(x, features, name="input"):
    """A (T, N, features) float Tensor with T, N > 0."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D (seq_len, batch, {features}), got {x.ndim}-D of shape "
                         f"{tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)})")
    if x.shape[2] != features:
        raise ValueError(f"{name} has {x.shape[2]} features per step, expected {features}")
    return x


class ElmanRNN(nn.Module):
    """h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), y_t = W_out h_t + b_out: the
    hidden-recurrent network (one nn.RNN layer and a linear read-out)."""

    def __init__(self, input_size=1, hidden_size=32, output_size=1):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x, h0=None):
        """x (T, N, input_size) -> (y (T, N, output_size), h_T (1, N, hidden))."""
        check_sequences(x, self.rnn.input_size, "x")
        hidden, h_n = self.rnn(x, h0)
        return self.head(hidden), h_n


class OutputRecurrentNet(nn.Module):
    """The network whose only recurrence is through its previous output:
    h_t = tanh(W_u u_t + W_y y_{t-1} + b), y_t = W_out h_t + b_out.
    Trained with teacher forcing (y_{t-1} the true previous output, so every
    step is computed at once) and run free at test time (its own y_{t-1})."""

    def __init__(self, input_size=1, hidden_size=32, output_size=1):
        super().__init__()
        self.input_size = input_size
        self.output_size = output_size
        self.hidden = nn.Linear(input_size + output_size, hidden_size)
        self.head = nn.Linear(hidden_size, output_size)

    def step(self, u, y_prev):
        """One step: u (N, input_size), y_prev (N, output_size) -> y (N, output_size)."""
        return self.head(nncore.tanh(self.hidden(nncore.cat([u, y_prev], -1))))

    def forward(self, u, y_prev):
        """Teacher forcing: u (T, N, input_size) and the fed-back outputs y_prev
        (T, N, output_size) (y_prev[t] = the true y_{t-1}) -> y (T, N, output_size)."""
        check_sequences(u, self.input_size, "u")
        check_sequences(y_prev, self.output_size, "y_prev")
        if tuple(y_prev.shape[:2]) != tuple(u.shape[:2]):
            raise ValueError(f"y_prev must cover the same (steps, batch) as u {tuple(u.shape[:2])}, got "
                             f"{tuple(y_prev.shape[:2])}")
        return self.step(u, y_prev)

    def generate(self, u, y0, truth=None, teacher_prob=0.0, generator=None):
        """Runs free over u (T, N, input_size) from y0 (N, output_size): each step
        is fed the previous prediction, or (scheduled sampling) with probability
        teacher_prob the true previous output truth[t - 1] (truth (T, N, output_size)).
        Fed-back predictions are detached, as sampled tokens are."""
        check_sequences(u, self.input_size, "u")
        if truth is None and teacher_prob > 0:
            raise ValueError("generate: teacher_prob > 0 needs truth")
        rng = np.random.default_rng(generator)
        outputs, prev = [], y0
        for t in range(u.shape[0]):
            y = self.step(u[t], prev)
            outputs.append(y)
            prev = y.detach()
            if teacher_prob > 0:
                use_truth = rng.random((u.shape[1], 1)) < teacher_prob
                prev = nncore.where(nncore.tensor(use_truth), truth[t], prev)
        return nncore.stack(outputs, 0)


class SequenceRegressor(nn.Module):
    """A recurrent layer read out at its last step: the adding problem's model.
    cell is "rnn" (Elman, tanh), "lstm", "peephole" (LSTM with peepholes,
    Gers & Schmidhuber) or "gru"."""

    def __init__(self, cell="lstm", input_size=2, hidden_size=64, output_size=1):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"SequenceRegressor: cell must be one of {CELLS}, got {cell!r}")
        self.cell = cell
        if cell == "rnn":
            self.rnn = nn.RNN(input_size, hidden_size)
        elif cell == "gru":
            self.rnn = nn.GRU(input_size, hidden_size)
        else:
            self.rnn = nn.LSTM(input_size, hidden_size, peephole=cell == "peephole")
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        """x (T, N, input_size) -> (N, output_size) from the last hidden state."""
        check_sequences(x, self.rnn.input_size, "x")
        _, state = self.rnn(x)
        h_n = state[0] if isinstance(state, tuple) else state
        return self.head(h_n[-1])


class SequenceTagger(nn.Module):
    """Embedding -> (bidirectional) LSTM -> a linear layer per step: one tag per
    token. With bidirectional=True each step sees the whole sequence."""

    def __init__(self, vocab_size, num_tags, embedding_dim=32, hidden_size=64, bidirectional=True, padding_idx=0):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, tokens, lengths):
        """tokens (T, N), lengths (N,) -> tag logits (T, N, num_tags) (padded steps: ignore them)."""
        check_tokens(tokens, self.vocab_size)
        hidden, _ = self.lstm.forward_padded(self.embedding(tokens), lengths)
        return self.head(hidden)


class CharLM(nn.Module):
    """A character-level language model: Embedding -> num_layers-layer LSTM ->
    a linear layer to next-character logits."""

    def __init__(self, vocab_size, embedding_dim=64, hidden_size=256, num_layers=2, dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, dropout=dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        """tokens (T, N) -> (logits (T, N, vocab_size), (h, c) each (layers, N, hidden))."""
        check_tokens(tokens, self.vocab_size)
        hidden, state = self.lstm(self.embedding(tokens), state)
        return self.head(hidden), state

    def sample(self, prime, length, temperature=1.0, generator=None):
        """Continues the ids `prime` (1-D, non-empty) by `length` ids, each drawn
        from softmax(logits / temperature); returns the new ids (length,)."""
        if not temperature > 0:
            raise ValueError(f"sample: temperature must be positive, got {temperature}")
        prime = np.asarray(prime, np.int64)
        if prime.ndim != 1 or prime.size == 0:
            raise ValueError(f"sample: prime must be a non-empty 1-D sequence of ids, got shape {prime.shape}")
        rng = np.random.default_rng(generator)
        was_training = self.training
        self.eval()
        out = np.empty(length, np.int64)
        try:
            with nncore.no_grad():
                logits, state = self(nncore.tensor(prime[:, None]))
                last = logits.numpy()[-1, 0]
                for i in range(length):
                    z = last.astype(np.float64) / temperature
                    p = np.exp(z - z.max())
                    out[i] = rng.choice(len(p), p=p / p.sum())
                    logits, state = self(nncore.tensor(out[i:i + 1, None]), state)
                    last = logits.numpy()[-1, 0]
        finally:
            self.train(was_training)
        return out


def masked_cross_entropy(logits, targets, lengths):
    """Mean cross-entropy over the real steps of a padded batch: logits (T, N, C),
    targets (T, N) int64 (values at padded steps are ignored), lengths (N,)."""
    steps, batch = targets.shape
    mask = np.arange(steps)[:, None] < np.asarray(lengths)[None, :]
    t = np.where(mask, np.asarray(targets.numpy() if isinstance(targets, Tensor) else targets), -100)
    return F.cross_entropy(logits.reshape(steps * batch, -1), nncore.tensor(t.reshape(-1)), ignore_index=-100)
