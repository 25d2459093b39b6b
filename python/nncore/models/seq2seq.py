"""The encoder-decoder (sequence-to-sequence) network with LSTMs, trained with
teacher forcing, without attention or with additive (Bahdanau) attention, and
decoded greedily or by beam search.

Encoder: Embedding -> (bidirectional) LSTM over the padded source (lengths kept,
nn.LSTM.forward_padded), giving memory (S, N, K) and its final state, which
starts the decoder (directions concatenated: decoder width K).

attention="none": the decoder LSTM sees only its previous token; all the source
  reaches it through the encoder's final state.
attention="additive" (Bahdanau, Cho & Bengio 2015): before step t the previous
  decoder state s_{t-1} scores every source position, e_s = v^T tanh(W_q s_{t-1}
  + W_k m_s); the softmax over the real (unpadded) positions weighs the memory
  into a context c_t, fed with the previous token into the decoder LSTM; the
  output layer reads s_t.
attention="lstm" (the notebook's "attention with LSTM", Luong et al.'s input
  feeding with an additive score): the decoder LSTM reads the previous token and
  the previous context c_{t-1}; its new state s_t scores the memory, and the
  output layer reads [s_t; c_t]: the context goes into the LSTM and into the
  output layer.

Padding: source positions past a sequence's length get weight 0 (their scores
are set to -1e9 before the softmax) and never enter the encoder's state;
target padding is left out of the loss (models.rnn.masked_cross_entropy)."""

import numpy as np

import nncore
from .. import functional as F
from .. import nn
from ..data.text import check_lengths
from .rnn import check_tokens

ATTENTIONS = ("none", "additive", "lstm")
_MASKED = -1e9


class Encoder(nn.Module):
    def __init__(self, vocab_size, embedding_dim=32, hidden_size=64, bidirectional=True, padding_idx=0):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, bidirectional=bidirectional)
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, src, src_lengths):
        """src (S, N) ids, src_lengths (N,) -> (memory (S, N, K), (h, c) each (N, K))."""
        check_tokens(src, self.vocab_size, "src")
        lengths = check_lengths(src_lengths, src.shape[0], src.shape[1], "src_lengths")
        memory, (h, c) = self.lstm.forward_padded(self.embedding(src), lengths)
        return memory, (nncore.cat(list(h), -1), nncore.cat(list(c), -1))


class AdditiveAttention(nn.Module):
    """score(q, m_s) = v^T tanh(W_q q + W_k m_s); weights = softmax over the real
    source positions; context = sum_s weights_s m_s."""

    def __init__(self, query_size, memory_size, attention_size=None):
        super().__init__()
        attention_size = attention_size or memory_size
        self.query = nn.Linear(query_size, attention_size, bias=False)
        self.key = nn.Linear(memory_size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def keys(self, memory):
        """W_k m for every source position, computed once per sequence: (S, N, A)."""
        return self.key(memory)

    def forward(self, query, keys, memory, mask):
        """query (N, Q), keys (S, N, A), memory (S, N, K), mask (S, N) bool (True at
        real positions) -> (context (N, K), weights (S, N))."""
        scores = self.score(nncore.tanh(keys + self.query(query))).squeeze(-1)
        scores = scores.masked_fill(nncore.tensor(~mask), _MASKED)
        weights = F.softmax(scores, dim=0)
        return (weights.unsqueeze(-1) * memory).sum(0), weights


class Seq2Seq(nn.Module):
    """Encoder-decoder over token ids; attention is "none", "additive" or "lstm"
    (see the module docstring). One vocabulary size for source and target ids
    is allowed to differ: src_vocab and tgt_vocab."""

    def __init__(self, src_vocab, tgt_vocab, embedding_dim=32, hidden_size=64, attention="additive",
                 bidirectional=True, padding_idx=0):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"Seq2Seq: attention must be one of {ATTENTIONS}, got {attention!r}")
        self.attention_kind = attention
        self.tgt_vocab = tgt_vocab
        self.encoder = Encoder(src_vocab, embedding_dim, hidden_size, bidirectional, padding_idx)
        width = self.encoder.output_size
        self.embedding = nn.Embedding(tgt_vocab, embedding_dim, padding_idx=padding_idx)
        if attention == "none":
            self.decoder = nn.LSTM(embedding_dim, width)
            self.head = nn.Linear(width, tgt_vocab)
        else:
            self.decoder = nn.LSTMCell(embedding_dim + width, width)
            self.attention = AdditiveAttention(width, width)
            self.head = nn.Linear(width * (2 if attention == "lstm" else 1), tgt_vocab)

    # ---- encoder side
    def encode(self, src, src_lengths):
        """The decoder's view of the source: memory, its keys, the padding mask
        and the starting state."""
        memory, (h, c) = self.encoder(src, src_lengths)
        lengths = np.asarray(src_lengths.numpy() if hasattr(src_lengths, "numpy") else src_lengths)
        mask = np.arange(src.shape[0])[:, None] < lengths[None, :]
        if self.attention_kind == "none":
            return {"mask": mask}, (h.unsqueeze(0), c.unsqueeze(0))
        keys = self.attention.keys(memory)
        start = (h, c, nncore.zeros(*h.shape, dtype=h.dtype, device=h.device))
        return {"memory": memory, "keys": keys, "mask": mask}, start

    # ---- decoder side
    def step(self, prev, state, source):
        """One decoder step from the previous tokens prev (N,) -> (logits (N, V),
        new state, attention weights (S, N) or None)."""
        emb = self.embedding(prev)
        if self.attention_kind == "none":
            out, state = self.decoder(emb.unsqueeze(0), state)
            return self.head(out[0]), state, None
        h, c, context = state
        if self.attention_kind == "additive":
            context, weights = self.attention(h, source["keys"], source["memory"], source["mask"])
            h, c = self.decoder(nncore.cat([emb, context], -1), (h, c))
            logits = self.head(h)
        else:
            h, c = self.decoder(nncore.cat([emb, context], -1), (h, c))
            context, weights = self.attention(h, source["keys"], source["memory"], source["mask"])
            logits = self.head(nncore.cat([h, context], -1))
        return logits, (h, c, context), weights

    def forward(self, src, src_lengths, tgt_in):
        """Teacher forcing: tgt_in (T, N) holds <bos> and the true target shifted
        right. Returns (logits (T, N, V), attention weights (T, S, N) or None)."""
        check_tokens(src, self.encoder.vocab_size, "src")
        check_tokens(tgt_in, self.tgt_vocab, "tgt_in")
        if tgt_in.shape[1] != src.shape[1]:
            raise ValueError(f"tgt_in must have the batch size of src ({src.shape[1]}), got {tgt_in.shape[1]}")
        source, state = self.encode(src, src_lengths)
        if self.attention_kind == "none":
            out, _ = self.decoder(self.embedding(tgt_in), state)
            return self.head(out), None
        logits, weights = [], []
        for t in range(tgt_in.shape[0]):
            out, state, w = self.step(tgt_in[t], state, source)
            logits.append(out)
            weights.append(w)
        return nncore.stack(logits, 0), nncore.stack(weights, 0)

    # ---- decoding
    def greedy(self, src, src_lengths, bos, eos, max_length):
        """The most likely token at each step, until every sequence has emitted eos
        or max_length tokens. Returns (tokens (N, L) int64 with eos and what
        follows it set to eos, attention weights (L, S, N) as an array or None)."""
        with nncore.no_grad():
            source, state = self.encode(src, src_lengths)
            batch = src.shape[1]
            prev = np.full(batch, bos, np.int64)
            done = np.zeros(batch, bool)
            tokens, weights = [], []
            for _ in range(max_length):
                logits, state, w = self.step(nncore.tensor(prev), state, source)
                prev = np.where(done, eos, logits.numpy().argmax(-1))
                tokens.append(prev)
                if w is not None:
                    weights.append(w.numpy())
                done |= prev == eos
                if done.all():
                    break
        return np.stack(tokens, 1), (np.stack(weights, 0) if weights else None)

    def beam_search(self, src, src_lengths, bos, eos, max_length, beam=4):
        """Beam search of width `beam` over the summed log-probabilities (a finished
        hypothesis keeps its score). Returns tokens (N, L) int64 as greedy does."""
        if beam < 1:
            raise ValueError(f"beam_search: beam must be at least 1, got {beam}")
        with nncore.no_grad():
            source, state = self.encode(src, src_lengths)
            batch = src.shape[1]
            rows = np.repeat(np.arange(batch), beam)  # hypothesis n * beam + k reads example n
            source = {k: (v[:, rows] if isinstance(v, np.ndarray) else v.index_select(1, rows))
                      for k, v in source.items()}
            state = _select(state, rows, self.attention_kind)
            scores = np.full((batch, beam), -np.inf)
            scores[:, 0] = 0.0  # one live hypothesis per example at the start
            prev = np.full(batch * beam, bos, np.int64)
            done = np.zeros(batch * beam, bool)
            history = np.zeros((batch * beam, 0), np.int64)
            for _ in range(max_length):
                logits, state, _ = self.step(nncore.tensor(prev), state, source)
                logp = F.log_softmax(logits, dim=-1).numpy().astype(np.float64)
                vocab = logp.shape[1]
                logp[done] = -np.inf
                logp[done, eos] = 0.0  # a finished hypothesis only extends by eos, at no cost
                total = (scores.reshape(-1, 1) + logp).reshape(batch, beam * vocab)
                best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
                scores = np.take_along_axis(total, best, 1)
                parent = (np.arange(batch)[:, None] * beam + best // vocab).reshape(-1)
                prev = (best % vocab).reshape(-1)
                history = np.concatenate([history[parent], prev[:, None]], 1)
                done = done[parent] | (prev == eos)
                state = _select(state, parent, self.attention_kind)
                if done.all():
                    break
            top = np.arange(batch) * beam + scores.argmax(1)
        return history[top]


def _select(state, rows, kind):
    """The decoder state of the hypotheses `rows` (batch dimension 1 for nn.LSTM's, 0 for the cell's)."""
    if kind == "none":
        return tuple(s.index_select(1, rows) for s in state)
    return tuple(s.index_select(0, rows) for s in state)


def strip_after_eos(tokens, eos):
    """Each row of tokens up to (not including) its first eos, as a tuple."""
    out = []
    for row in np.asarray(tokens):
        stop = np.flatnonzero(row == eos)
        out.append(tuple(row[:stop[0]] if stop.size else row))
    return out
