"""PyTorch twins of the recurrent recipes (elman, teacher, adding, birnn, charlm,
seq2seq) for bench/compare_models.py: the same model with nncore's initial
weights copied in, the same data streams (the recipes' own generators), batch
order, optimiser, schedule, clipping and epochs, and the same headline metric.
The adding twin trains the three cells PyTorch has (LSTM, GRU, Elman); the
recipe also trains the peephole LSTM, which PyTorch lacks, so its time covers
four cells to the twin's three."""

import math
import time

import numpy as np

import nncore

CLIP = 1.0


def _setup(threads):
    import torch

    torch.set_num_threads(threads)
    return torch


def _copy(torch, target, source):
    """nncore module `source`'s parameters into the torch module `target` (same names)."""
    own = dict(target.named_parameters())
    with torch.no_grad():
        for name, p in source.named_parameters():
            own[name].copy_(torch.from_numpy(p.numpy()))
    assert set(own) == {n for n, _ in source.named_parameters()}, "parameter names differ"


def _step(torch, model, loss, opt):
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    opt.step()
    return float(loss.item())


def _module(torch, **children):
    m = torch.nn.Module()
    for name, child in children.items():
        setattr(m, name, child)
    return m


# ---------------------------------------------------------------- elman
def elman(seed, threads, epochs=1000):
    from nncore.models.rnn import ElmanRNN
    from nncore.recipes import elman as rec

    torch = _setup(threads)
    nncore.manual_seed(seed)
    reference = ElmanRNN(1, 32, 1)
    start = time.perf_counter()
    model = _module(torch, rnn=torch.nn.RNN(1, 32), head=torch.nn.Linear(32, 1))
    _copy(torch, model, reference)
    series, _ = rec.noisy_sines(noise=0.05, seed=seed)
    x, y = (torch.from_numpy(t.numpy()) for t in rec._streams(series))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        out, _ = model.rnn(x)
        _step(torch, model, torch.nn.functional.mse_loss(model.head(out), y), opt)
    with torch.no_grad():
        out, _ = model.rnn(torch.from_numpy(series[:-1, None, None]))
        pred = model.head(out).numpy()[:, 0, 0]
    value = rec.mse(pred[rec.TRAIN_STEPS:], series[rec.TRAIN_STEPS + 1:])
    return {"value": value, "epochs": epochs, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- teacher forcing
def teacher(seed, threads, epochs=2000):
    from nncore.models.rnn import OutputRecurrentNet
    from nncore.recipes import elman as rec

    torch = _setup(threads)
    nncore.manual_seed(seed)
    reference = OutputRecurrentNet(1, 32, 1)
    start = time.perf_counter()
    model = _module(torch, hidden=torch.nn.Linear(2, 32), head=torch.nn.Linear(32, 1))
    _copy(torch, model, reference)

    def step_fn(u, prev):
        return model.head(torch.tanh(model.hidden(torch.cat([u, prev], -1))))

    (u, y), (u_test, y_test) = rec.teacher_data(seed)
    ut, yt, prev = (torch.from_numpy(np.ascontiguousarray(a[:, :, None])) for a in (u, y, rec._fed_back(y)))
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        _step(torch, model, torch.nn.functional.mse_loss(step_fn(ut, prev), yt), opt)
        sched.step()
    with torch.no_grad():
        ut = torch.from_numpy(u_test[:, :, None])
        p, outs = torch.zeros(u_test.shape[1], 1), []
        for t in range(len(ut)):
            p = step_fn(ut[t], p)
            outs.append(p)
        free = torch.stack(outs).numpy()[:, :, 0]
    return {"value": rec.mse(free, y_test), "epochs": epochs, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- adding problem
def adding(seed, threads, epochs=20, steps_per_epoch=100, batch_size=64, length=50, hidden=64):
    from nncore.models.rnn import SequenceRegressor
    from nncore.recipes import Run
    from nncore.recipes.adding import TEST_SIZE, adding_batch

    torch = _setup(threads)
    run = Run("adding", epochs, batch_size, 3e-3, seed)
    x_test, y_test = adding_batch(length, TEST_SIZE, run.rng(99))
    start = time.perf_counter()
    results = {}
    for k, cell in enumerate(("lstm", "gru", "rnn")):  # the recipe's order (peephole, 4th, has no twin)
        nncore.manual_seed(seed * 100 + k)
        reference = SequenceRegressor(cell, 2, hidden, 1)
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](2, hidden)
        model = _module(torch, rnn=layer, head=torch.nn.Linear(hidden, 1))
        _copy(torch, model, reference)

        def predict(x):
            _, state = model.rnn(x)
            return model.head((state[0] if isinstance(state, tuple) else state)[-1])

        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        rng = run.rng(10)
        for _ in range(epochs * steps_per_epoch):
            x, y = adding_batch(length, batch_size, rng)
            _step(torch, model, torch.nn.functional.mse_loss(predict(torch.from_numpy(x)), torch.from_numpy(y)), opt)
        with torch.no_grad():
            results[cell] = float(((predict(torch.from_numpy(x_test)).numpy() - y_test) ** 2).mean())
    return {"value": results["lstm"], "epochs": epochs, "seconds": time.perf_counter() - start, "test_mse": results}


# ---------------------------------------------------------------- bidirectional tagging
def birnn(seed, threads, epochs=12, batch_size=64, hidden=64, sentences_per_epoch=6000):
    from nncore.models.rnn import SequenceTagger
    from nncore.recipes import Run
    from nncore.recipes import birnn as rec

    torch = _setup(threads)
    pack = torch.nn.utils.rnn.pack_padded_sequence
    unpack = torch.nn.utils.rnn.pad_packed_sequence
    run = Run("birnn", epochs, batch_size, 3e-3, seed)
    vocab = rec.vocabulary()
    test_set = rec.make_sentences(rec.TEST_SIZE, run.rng(2))
    nncore.manual_seed(seed)
    reference = SequenceTagger(len(vocab), 2, 32, hidden, True, vocab.pad_index)
    start = time.perf_counter()
    model = _module(torch, embedding=torch.nn.Embedding(len(vocab), 32, padding_idx=vocab.pad_index),
                    lstm=torch.nn.LSTM(32, hidden, bidirectional=True), head=torch.nn.Linear(2 * hidden, 2))
    _copy(torch, model, reference)

    def logits(tokens, lengths):
        packed = pack(model.embedding(torch.from_numpy(tokens)), torch.from_numpy(lengths), enforce_sorted=False)
        out, _ = unpack(model.lstm(packed)[0], total_length=tokens.shape[0])
        return model.head(out)

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    data_rng = run.rng(1)
    for _ in range(epochs):
        train_set = rec.make_sentences(sentences_per_epoch, data_rng)
        for batch in rec.length_buckets(train_set, batch_size, data_rng):
            tokens, tags, lengths = rec.encode_batch(vocab, [train_set[j] for j in batch])
            mask = np.arange(tokens.shape[0])[:, None] < lengths[None, :]
            target = torch.from_numpy(np.where(mask, tags, -100).reshape(-1))
            _step(torch, model, torch.nn.functional.cross_entropy(logits(tokens, lengths).reshape(-1, 2), target), opt)
    correct = total = 0
    with torch.no_grad():
        for i in range(0, len(test_set), 500):
            tokens, tags, lengths = rec.encode_batch(vocab, test_set[i:i + 500])
            pred = logits(tokens, lengths).argmax(-1).numpy()
            mask = np.arange(tokens.shape[0])[:, None] < lengths[None, :]
            correct += int(((pred == tags) & mask).sum())
            total += int(mask.sum())
    return {"value": correct / total, "epochs": epochs, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- character language model
def torch_charlm(torch, reference):
    """A PyTorch twin of nncore's CharLM `reference`, its weights copied."""
    lstm = reference.lstm
    model = _module(torch, embedding=torch.nn.Embedding(reference.vocab_size, reference.embedding.embedding_dim),
                    lstm=torch.nn.LSTM(lstm.input_size, lstm.hidden_size, lstm.num_layers, dropout=lstm.dropout),
                    head=torch.nn.Linear(lstm.hidden_size, reference.vocab_size))
    _copy(torch, model, reference)
    return model


def charlm_forward(model, x, state=None):
    out, state = model.lstm(model.embedding(x), state)
    return model.head(out), state


def charlm(seed, threads, epochs=None, hidden=None, bptt=None, batch_size=32, dropout=0.2, lr=None):
    from nncore import recipes
    from nncore.data.text import CharVocabulary, load_text
    from nncore.models.rnn import CharLM
    from nncore.recipes import Run
    from nncore.recipes import charlm as rec

    torch = _setup(threads)
    defaults = recipes.get("charlm")
    epochs, lr = epochs or defaults.epochs, lr or defaults.lr
    hidden, bptt = hidden or defaults.options["hidden"].default, bptt or defaults.options["bptt"].default
    run = Run("charlm", epochs, batch_size, lr, seed)
    text = load_text()
    vocab = CharVocabulary.from_text(text)
    train_text, valid_text = rec.split_text(text)
    data = rec.streams(vocab.encode(train_text), batch_size)
    nncore.manual_seed(seed)
    reference = CharLM(len(vocab), 64, hidden, 2, dropout)
    start = time.perf_counter()
    model = torch_charlm(torch, reference)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for epoch in range(1, epochs + 1):
        model.train()
        offset = int(run.rng(epoch).integers(0, bptt))
        state = None
        for t0 in range(offset, data.shape[0] - 1, bptt):
            y = torch.from_numpy(data[t0 + 1:t0 + bptt + 1])
            x = torch.from_numpy(data[t0:t0 + len(y)])
            logits, state = charlm_forward(model, x, state)
            state = tuple(s.detach() for s in state)
            _step(torch, model, torch.nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1)), opt)
        sched.step()
    model.eval()
    valid = rec.streams(vocab.encode(valid_text), rec.STREAMS_VALID)
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for t0 in range(0, valid.shape[0] - 1, 200):
            y = torch.from_numpy(valid[t0 + 1:t0 + 201])
            logits, state = charlm_forward(model, torch.from_numpy(valid[t0:t0 + len(y)]), state)
            total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))) * y.numel()
            count += y.numel()
    return {"value": total / count / math.log(2), "epochs": epochs, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- seq2seq with additive attention
def seq2seq(seed, threads, epochs=None, hidden=64, batch_size=64, strings_per_epoch=4000):
    """The recipe's headline: the additive-attention decoder only (the recipe also
    trains the decoders without attention and with "attention with LSTM")."""
    from nncore import recipes
    from nncore.models.seq2seq import Seq2Seq
    from nncore.recipes import Run
    from nncore.recipes import seq2seq as rec

    torch = _setup(threads)
    F = torch.nn.functional
    epochs = epochs or recipes.get("seq2seq").epochs
    run = Run("seq2seq", epochs, batch_size, 3e-3, seed)
    vocab = rec.vocabulary()
    low, high = 10, 20
    test_set = rec.digit_strings(rec.TEST_SIZE, run.rng(2), low, high)
    held_out = frozenset(test_set)
    nncore.manual_seed(seed)
    reference = Seq2Seq(len(vocab), len(vocab), 32, hidden, "additive", padding_idx=vocab.pad_index)
    start = time.perf_counter()
    width = 2 * hidden
    pad = vocab.pad_index
    model = _module(
        torch,
        encoder=_module(torch, embedding=torch.nn.Embedding(len(vocab), 32, padding_idx=pad),
                        lstm=torch.nn.LSTM(32, hidden, bidirectional=True)),
        embedding=torch.nn.Embedding(len(vocab), 32, padding_idx=pad),
        decoder=torch.nn.LSTMCell(32 + width, width),
        attention=_module(torch, query=torch.nn.Linear(width, width, bias=False), key=torch.nn.Linear(width, width),
                          score=torch.nn.Linear(width, 1, bias=False)),
        head=torch.nn.Linear(width, len(vocab)))
    _copy(torch, model, reference)

    def encode(src, src_lengths):
        emb = model.encoder.embedding(torch.from_numpy(src))
        packed = torch.nn.utils.rnn.pack_padded_sequence(emb, torch.from_numpy(src_lengths), enforce_sorted=False)
        out, (h, c) = model.encoder.lstm(packed)
        memory, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=src.shape[0])
        mask = torch.from_numpy(np.arange(src.shape[0])[:, None] < src_lengths[None, :])
        return memory, model.attention.key(memory), mask, (torch.cat(list(h), -1), torch.cat(list(c), -1))

    def step(prev, h, c, memory, keys, mask):
        scores = model.attention.score(torch.tanh(keys + model.attention.query(h))).squeeze(-1)
        weights = F.softmax(scores.masked_fill(~mask, -1e9), dim=0)
        context = (weights.unsqueeze(-1) * memory).sum(0)
        h, c = model.decoder(torch.cat([model.embedding(prev), context], -1), (h, c))
        return model.head(h), h, c

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    data_rng = run.rng(1)
    for _ in range(epochs):
        strings = sorted(rec.digit_strings(strings_per_epoch, data_rng, low, high, held_out), key=len)
        batches = [strings[i:i + batch_size] for i in range(0, len(strings), batch_size)]
        for k in data_rng.permutation(len(batches)):
            src, src_lengths, tgt_in, tgt_out, tgt_lengths = rec.encode_pairs(vocab, batches[k])
            memory, keys, mask, (h, c) = encode(src, src_lengths)
            logits = []
            for t in range(tgt_in.shape[0]):
                out, h, c = step(torch.from_numpy(tgt_in[t]), h, c, memory, keys, mask)
                logits.append(out)
            valid = np.arange(tgt_out.shape[0])[:, None] < tgt_lengths[None, :]
            target = torch.from_numpy(np.where(valid, tgt_out, -100).reshape(-1))
            _step(torch, model, F.cross_entropy(torch.stack(logits).reshape(-1, len(vocab)), target), opt)
        sched.step()
    bos, eos = vocab.stoi[rec.BOS], vocab.stoi[rec.EOS]
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_set), 250):
            chunk = test_set[i:i + 250]
            src, src_lengths, _, _, _ = rec.encode_pairs(vocab, chunk)
            memory, keys, mask, (h, c) = encode(src, src_lengths)
            prev, done, tokens = torch.full((len(chunk),), bos), np.zeros(len(chunk), bool), []
            for _ in range(high + 1):
                out, h, c = step(prev, h, c, memory, keys, mask)
                nxt = np.where(done, eos, out.argmax(-1).numpy())
                tokens.append(nxt)
                done |= nxt == eos
                prev = torch.from_numpy(nxt)
                if done.all():
                    break
            for s, row in zip(chunk, np.stack(tokens, 1)):
                stop = np.flatnonzero(row == eos)
                correct += "".join(vocab.decode(row[:stop[0]] if stop.size else row)) == s[::-1]
    return {"value": correct / len(test_set), "epochs": epochs, "seconds": time.perf_counter() - start}


TWINS = {"elman": elman, "teacher": teacher, "adding": adding, "birnn": birnn, "charlm": charlm, "seq2seq": seq2seq}
