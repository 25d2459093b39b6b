"""Recurrent layers: RNNCell / LSTMCell / GRUCell and RNN / LSTM / GRU (layers,
directions, batch_first, dropout between layers, LSTM peepholes). Each cell
step and each single-layer, single-direction sequence is one nncore.ops
kernel call forward and one backward; parameter names, layouts, gate orders
(LSTM i, f, g, o; GRU r, z, n) and initialisation follow PyTorch's.

Variable lengths (`forward_padded(input, lengths)`): sequence n fills the first
lengths[n] steps of a padded batch. Like PyTorch's packed sequences, the batch
is sorted by length and run in segments between distinct lengths, each segment
one kernel call over the sequences still running, so padding never enters a
state; a reverse direction reads each sequence from its own last step. The
output is zero at padding and the final states are each sequence's own.
"""

import math

import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import Tensor, _default_dtype, _make, _make_multi, _xp, cat, stack, zeros
from . import init
from .module import Module, Parameter


def _c(a):
    if a is None:
        return None
    return a if a.flags.c_contiguous else _xp(a).ascontiguousarray(a)


def _arrays(*tensors):
    return tuple(None if t is None else _c(t.data) for t in tensors)


def _present(*tensors):
    return tuple(t for t in tensors if t is not None)


def _grads_for(tensors, grads):
    """The gradients of the tensors that were passed (None ones dropped)."""
    return tuple(g for t, g in zip(tensors, grads) if t is not None)


def _check_bias(b_ih, b_hh, op):
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{op}: give both b_ih and b_hh or neither")


# ---------------------------------------------------------------- autograd ops
def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_peephole=None):
    """One LSTM step: returns (h_new, c_new). x (N, I), h and c (N, H)."""
    _check_bias(b_ih, b_hh, "lstm_cell")
    xd, hd, cd, wih, whh, bih, bhh, peep = _arrays(x, h, c, w_ih, w_hh, b_ih, b_hh, w_peephole)
    h_new, c_new, state = ops.lstm_cell(xd, hd, cd, wih, whh, bih, bhh, peep, return_state=True)
    everything = (x, h, c, w_ih, w_hh, b_ih, b_hh, w_peephole)

    def lstm_cell_backward(grads):
        gh, gc = grads
        dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh, dpeep = ops.lstm_cell_backward(
            _c(gh), _c(gc), xd, hd, cd, wih, whh, state, peep, bias=bih is not None)
        return _grads_for(everything, (dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh, dpeep))

    return _make_multi([h_new, c_new], _present(*everything), lstm_cell_backward,
                       saved=_present(x, h, c, w_ih, w_hh, w_peephole))


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_peephole=None):
    """LSTM over x (T, N, I), one layer and direction: returns (y, h_n, c_n).
    h0, c0 (N, H) or None (zeros)."""
    _check_bias(b_ih, b_hh, "lstm")
    xd, hd, cd, wih, whh, bih, bhh, peep = _arrays(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_peephole)
    y, h_n, c_n, saved = ops.lstm(xd, hd, cd, wih, whh, bih, bhh, peep)
    everything = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_peephole)

    def lstm_backward(grads):
        gy, gh, gc = grads
        dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dpeep = ops.lstm_backward(
            _c(gy), _c(gh), _c(gc), xd, hd, cd, wih, whh, y, saved, peep, bias=bih is not None)
        return _grads_for(everything, (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dpeep))

    return _make_multi([y, h_n, c_n], _present(*everything), lstm_backward,
                       saved=_present(x, h0, c0, w_ih, w_hh, w_peephole))


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: returns h_new (N, H)."""
    _check_bias(b_ih, b_hh, "gru_cell")
    xd, hd, wih, whh, bih, bhh = _arrays(x, h, w_ih, w_hh, b_ih, b_hh)
    h_new, state = ops.gru_cell(xd, hd, wih, whh, bih, bhh, return_state=True)
    everything = (x, h, w_ih, w_hh, b_ih, b_hh)

    def gru_cell_backward(g):
        grads = ops.gru_cell_backward(_c(g), xd, hd, wih, whh, state, bias=bih is not None)
        return _grads_for(everything, grads)

    return _make(h_new, _present(*everything), gru_cell_backward, saved=_present(x, h, w_ih, w_hh))


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """GRU over x (T, N, I), one layer and direction: returns (y, h_n)."""
    _check_bias(b_ih, b_hh, "gru")
    xd, hd, wih, whh, bih, bhh = _arrays(x, h0, w_ih, w_hh, b_ih, b_hh)
    y, h_n, saved = ops.gru(xd, hd, wih, whh, bih, bhh)
    everything = (x, h0, w_ih, w_hh, b_ih, b_hh)

    def gru_backward(grads):
        gy, gh = grads
        out = ops.gru_backward(_c(gy), _c(gh), xd, hd, wih, whh, y, saved, bias=bih is not None)
        return _grads_for(everything, out)

    return _make_multi([y, h_n], _present(*everything), gru_backward, saved=_present(x, h0, w_ih, w_hh))


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One Elman step: h_new = act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    _check_bias(b_ih, b_hh, "rnn_cell")
    xd, hd, wih, whh, bih, bhh = _arrays(x, h, w_ih, w_hh, b_ih, b_hh)
    h_new = ops.rnn_cell(xd, hd, wih, whh, bih, bhh, nonlinearity)
    everything = (x, h, w_ih, w_hh, b_ih, b_hh)

    def rnn_cell_backward(g):
        grads = ops.rnn_cell_backward(_c(g), xd, hd, h_new, wih, whh, nonlinearity, bias=bih is not None)
        return _grads_for(everything, grads)

    return _make(h_new, _present(*everything), rnn_cell_backward, saved=_present(x, h, w_ih, w_hh), save_out=True)


def rnn(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Elman RNN over x (T, N, I), one layer and direction: returns (y, h_n)."""
    _check_bias(b_ih, b_hh, "rnn")
    xd, hd, wih, whh, bih, bhh = _arrays(x, h0, w_ih, w_hh, b_ih, b_hh)
    y, h_n = ops.rnn(xd, hd, wih, whh, bih, bhh, nonlinearity)
    everything = (x, h0, w_ih, w_hh, b_ih, b_hh)

    def rnn_backward(grads):
        gy, gh = grads
        out = ops.rnn_backward(_c(gy), _c(gh), xd, hd, wih, whh, y, nonlinearity, bias=bih is not None)
        return _grads_for(everything, out)

    return _make_multi([y, h_n], _present(*everything), rnn_backward, saved=_present(x, h0, w_ih, w_hh))


# ---------------------------------------------------------------- cells
class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dt = dtype or _default_dtype[0]
        g = self._gates * hidden_size
        self.weight_ih = Parameter(np.empty((g, input_size), dt))
        self.weight_hh = Parameter(np.empty((g, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty(g, dt))
            self.bias_hh = Parameter(np.empty(g, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self._extra_parameters(dt)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def _extra_parameters(self, dt):
        pass

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input, hx):
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: input must be 2-D (batch, input_size) or 1-D, got "
                             f"{input.ndim}-D of shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input has {input.shape[-1]} features, expected "
                             f"{self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        return x, batched

    def _state(self, h, x, batched, what="hx"):
        if h is None:
            return zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        if not isinstance(h, Tensor):
            raise TypeError(f"{type(self).__name__}: {what} must be a Tensor, got {type(h).__name__}")
        h = h if batched else h.unsqueeze(0)
        if tuple(h.shape) != (x.shape[0], self.hidden_size):
            raise ValueError(f"{type(self).__name__}: {what} must be ({x.shape[0]}, {self.hidden_size}), "
                             f"got {tuple(h.shape)}")
        return h

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


def _state_pair(hx, name):
    """An LSTM's hx: None, or a tuple (h_0, c_0)."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{name}: hx must be a tuple (h_0, c_0) of Tensors, got "
                        f"{type(hx).__name__}{'' if not isinstance(hx, (tuple, list)) else f' of {len(hx)}'}")
    return hx


class RNNCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx)
        h = rnn_cell(x, self._state(hx, x, batched), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                     self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """With peephole=True, weight_peephole (3, H) holds the rows (p_i, p_f, p_o):
    i and f also see c_{t-1}, o sees c_t."""

    _gates = 4

    def __init__(self, input_size, hidden_size, bias=True, peephole=False, device=None, dtype=None):
        self.peephole = peephole
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def _extra_parameters(self, dt):
        if self.peephole:
            self.weight_peephole = Parameter(np.empty((3, self.hidden_size), dt))

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx)
        h0, c0 = _state_pair(hx, "LSTMCell")
        h, c = lstm_cell(x, self._state(h0, x, batched, "h_0"), self._state(c0, x, batched, "c_0"), self.weight_ih,
                         self.weight_hh, self.bias_ih, self.bias_hh,
                         self.weight_peephole if self.peephole else None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    _gates = 3

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx)
        h = gru_cell(x, self._state(hx, x, batched), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


# ---------------------------------------------------------------- sequences
class _RNNBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if proj_size:
            raise ValueError(f"{type(self).__name__}: proj_size is not supported")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be >= 1, got {num_layers}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        dirs = 2 if bidirectional else 1
        dt = dtype or _default_dtype[0]
        g = self._gates * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (g, layer_input)), ("weight_hh", (g, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (g,)), ("bias_hh", (g,))]
                shapes += self._extra_shapes()
                for name, shape in shapes:
                    self.register_parameter(name + suffix, Parameter(np.empty(shape, dt)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def _extra_shapes(self):
        return []

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def all_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    def _layer_params(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix),
                get("bias_hh" + suffix), get("weight_peephole" + suffix))

    def _check_input(self, input):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: input must be 3-D (seq_len, batch, input_size) or 2-D unbatched, got "
                             f"{input.ndim}-D of shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features, expected {self.input_size}")

    def _check_hidden(self, h, batch, what="hx"):
        if not isinstance(h, Tensor):
            raise TypeError(f"{type(self).__name__}: {what} must be a Tensor, got {type(h).__name__}")
        dirs = 2 if self.bidirectional else 1
        want = (self.num_layers * dirs, batch, self.hidden_size)
        if tuple(h.shape) != want:
            raise ValueError(f"{type(self).__name__}: {what} must be {want}, got {tuple(h.shape)}")

    def _run(self, input, states, lengths=None):
        """states: a tuple of initial states, each (L * D, N, H) or None;
        lengths: None or the (N,) lengths of a padded batch (forward_padded).
        Returns the output and the stacked final states."""
        self._check_input(input)
        batched = input.ndim == 3
        if lengths is not None and not batched:
            raise ValueError(f"{type(self).__name__}: a padded batch must be 3-D, got {input.ndim}-D of shape "
                             f"{tuple(input.shape)}")
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if not batched:
            states = tuple(s.unsqueeze(1) if isinstance(s, Tensor) else s for s in states)
        for s, what in zip(states, ("h_0", "c_0") if len(states) == 2 else ("hx",)):
            if s is not None:
                self._check_hidden(s, x.shape[1], what)
        padded = None
        if lengths is not None:
            lengths = self._check_lengths(lengths, x.shape[0], x.shape[1])
            if (lengths != x.shape[0]).any():
                padded = _Padding(lengths, x.shape[0])
                x = padded.sort(x)
                states = tuple(None if s is None else padded.sort(s) for s in states)
        dirs = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for d in range(dirs):
                idx = layer * dirs + d
                init_states = [None if s is None else s[idx] for s in states]
                params = self._layer_params(layer, d)
                if padded is None:
                    seq = layer_input.flip(0) if d else layer_input
                    y, *last = self._sequence(seq, init_states, params)
                    y = y.flip(0) if d else y
                else:
                    seq = padded.reverse(layer_input) if d else layer_input
                    y, *last = padded.run(self._sequence, seq, init_states, params)
                    y = padded.reverse(y) if d else y
                outputs.append(y)
                for store, value in zip(finals, last):
                    store.append(value)
            layer_input = outputs[0] if dirs == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        finals = [stack(f, 0) for f in finals]
        if padded is not None:
            output = padded.unsort(output)
            finals = [padded.unsort(f) for f in finals]
        if batched and self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            output = output.squeeze(1)
            finals = [f.squeeze(1) for f in finals]
        return output, finals

    def _check_lengths(self, lengths, steps, batch):
        name = type(self).__name__
        arr = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name}: lengths must hold integers, got {arr.dtype}")
        if arr.shape != (batch,):
            raise ValueError(f"{name}: lengths must have shape ({batch},), one per sequence of the batch, got "
                             f"{arr.shape}")
        if batch == 0:
            raise ValueError(f"{name}: input is an empty batch (no sequences)")
        if arr.min() < 1 or arr.max() > steps:
            raise ValueError(f"{name}: lengths must be in [1, {steps}] (the padded size of input), got values in "
                             f"[{arr.min()}, {arr.max()}]")
        return arr.astype(np.int64)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _sequence(self, x, init_states, params):
        w_ih, w_hh, b_ih, b_hh, _ = params
        return rnn(x, init_states[0], w_ih, w_hh, b_ih, b_hh, self.nonlinearity)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, (hx,))
        return output, h_n

    def forward_padded(self, input, lengths, hx=None):
        """forward over a padded batch whose sequence n fills the first lengths[n]
        (an int array or Tensor (N,)) steps: the output is zero at padding and the
        final state is each sequence's own last one (the module docstring says how)."""
        output, (h_n,) = self._run(input, (hx,), lengths)
        return output, h_n


class GRU(_RNNBase):
    _gates = 3

    def _sequence(self, x, init_states, params):
        w_ih, w_hh, b_ih, b_hh, _ = params
        return gru(x, init_states[0], w_ih, w_hh, b_ih, b_hh)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, (hx,))
        return output, h_n

    def forward_padded(self, input, lengths, hx=None):
        """forward over a padded batch whose sequence n fills the first lengths[n]
        (an int array or Tensor (N,)) steps: the output is zero at padding and the
        final state is each sequence's own last one (the module docstring says how)."""
        output, (h_n,) = self._run(input, (hx,), lengths)
        return output, h_n


class LSTM(_RNNBase):
    """With peephole=True, each layer and direction also has weight_peephole_l<k>[_reverse]
    (3, H): rows (p_i, p_f, p_o) as in LSTMCell."""

    _gates = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, peephole=False, device=None, dtype=None):
        self.peephole = peephole
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def _extra_shapes(self):
        return [("weight_peephole", (3, self.hidden_size))] if self.peephole else []

    def _sequence(self, x, init_states, params):
        w_ih, w_hh, b_ih, b_hh, peep = params
        return lstm(x, init_states[0], init_states[1], w_ih, w_hh, b_ih, b_hh, peep)

    def forward(self, input, hx=None):
        h0, c0 = _state_pair(hx, "LSTM")
        output, (h_n, c_n) = self._run(input, (h0, c0))
        return output, (h_n, c_n)

    def forward_padded(self, input, lengths, hx=None):
        """forward over a padded batch whose sequence n fills the first lengths[n]
        (an int array or Tensor (N,)) steps: the output is zero at padding and the
        final state is each sequence's own last one (the module docstring says how)."""
        h0, c0 = _state_pair(hx, "LSTM")
        output, (h_n, c_n) = self._run(input, (h0, c0), lengths)
        return output, (h_n, c_n)

    def extra_repr(self):
        return super().extra_repr() + (", peephole=True" if self.peephole else "")


def _permute(x, index, inverse):
    """x[index] where index permutes x's elements; the backward gathers with the
    inverse permutation (no scatter-add)."""
    def permute_backward(g):
        return (g[inverse],)

    return _make(x.data[index], (x,), permute_backward)


class _Padding:
    """The pack-like run of a padded batch (T, N, ...) with lengths (N,): rows
    sorted by decreasing length, and the segments [t0, t1) between distinct
    lengths with the number of rows still running in each."""

    def __init__(self, lengths, steps):
        self.order = np.argsort(-lengths, kind="stable")
        self.inverse = np.argsort(self.order)
        self.lengths = lengths[self.order]
        self.steps = steps
        ends = sorted(set(self.lengths.tolist()))
        starts = [0] + ends[:-1]
        self.segments = [(t0, t1, int((self.lengths > t0).sum())) for t0, t1 in zip(starts, ends)]
        t = np.arange(steps)[:, None]
        n = np.arange(len(lengths))[None, :]
        last = self.lengths[None, :] - 1
        self._reverse_index = (np.where(t <= last, last - t, t), np.broadcast_to(n, (steps, len(lengths))))

    def sort(self, x):
        return _permute(x, (slice(None), self.order), (slice(None), self.inverse))

    def unsort(self, x):
        return _permute(x, (slice(None), self.inverse), (slice(None), self.order))

    def reverse(self, x):
        """Each sorted sequence reversed within its own length; padding stays in
        place (the map is its own inverse)."""
        return _permute(x, self._reverse_index, self._reverse_index)

    def run(self, sequence, seq, init_states, params):
        """sequence(x, init_states, params) -> (y, *finals) run segment by segment
        over the rows still running; returns (y zero at padding, *finals). The
        first segment runs every row (all lengths are >= 1), so a None initial
        state is never split."""
        batch = seq.shape[1]
        states = list(init_states)
        pieces = []
        for t0, t1, active in self.segments:
            starts = [None if s is None else s[:active] for s in states]
            y, *last = sequence(seq[t0:t1, :active], starts, params)
            if active < batch:
                y = cat([y, zeros(t1 - t0, batch - active, y.shape[2], dtype=y.dtype, device=y.device)], 1)
            pieces.append(y)
            states = [v if active == batch else cat([v, s[active:]], 0) for v, s in zip(last, states)]
        longest = self.segments[-1][1]
        if longest < self.steps:
            pieces.append(zeros(self.steps - longest, batch, pieces[0].shape[2], dtype=pieces[0].dtype,
                                device=pieces[0].device))
        return (cat(pieces, 0) if len(pieces) > 1 else pieces[0], *states)
