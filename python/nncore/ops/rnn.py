"""Recurrent cells and sequences: LSTM (gates i, f, g, o; optional peepholes),
GRU (r, z, n, PyTorch's form), Elman RNN (tanh / relu). PyTorch weight
layouts: w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H,), G = 4 / 3 / 1.
Cells take x (N, I), h (N, H); sequences take x (T, N, I) and return
y (T, N, H) (single layer, single direction). Every function makes one _C
call; `state` / `saved` carry what the backward needs (documented per op)."""


from .. import _C
from .._arrays import as_kernel_array, empty, stream_of
from ._checks import bool_arg, choice_arg


def _rnn_prepare(op, x, w_hh):
    """Converts x and w_hh, and returns (x, w_hh, dtype, N, I, H) with sizes
    read defensively (the C++ front door reports any other malformed argument)."""
    x = as_kernel_array(x, op, "x")
    w_hh = as_kernel_array(w_hh, op, "w_hh")
    if x.dtype.char not in "fd":  # float32, float64 (str(dtype) costs microseconds)
        raise TypeError(f"{op}: x must be float32 or float64, got {x.dtype}")
    if "cell" in op and x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-D (batch, input_size), got {x.ndim}-D of shape {x.shape}")
    if "cell" not in op and x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-D (seq_len, batch, input_size), got {x.ndim}-D of shape {x.shape}")
    n = x.shape[-2] if x.ndim >= 2 else 0
    inp = x.shape[-1] if x.ndim >= 1 else 0
    hid = w_hh.shape[-1] if w_hh.ndim >= 1 else 0
    return x, w_hh, x.dtype, n, inp, hid


def bias_arg(bias):
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")  # led by the op's name in guarded


def _zeros(shape, dtype, like):
    out = empty(shape, dtype, like)
    out.fill(0)
    return out


def _weight_grads(gates, hid, inp, bias, dtype, like):
    """Outputs for the gradients of w_ih (G H, I), w_hh (G H, H) and, with bias,
    b_ih and b_hh (G H,): G = gates stacked per hidden unit (LSTM 4, GRU 3, Elman 1)."""
    bias_arg(bias)
    rows = gates * hid
    dw_ih, dw_hh = empty((rows, inp), dtype, like), empty((rows, hid), dtype, like)
    if not bias:
        return dw_ih, dw_hh, None, None
    return dw_ih, dw_hh, empty((rows,), dtype, like), empty((rows,), dtype, like)


def _nh_or_zeros(h, n, hid, dtype, like):
    return _zeros((n, hid), dtype, like) if h is None else h


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_peephole=None, *, return_state=False):
    """One LSTM step (torch.nn.LSTMCell): gates (i, f, g, o) = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh;
    i = σ(a_i + p_i c), f = σ(a_f + p_f c), g = tanh(a_g), c' = f c + i g,
    o = σ(a_o + p_o c'), h' = o tanh(c'), with p = w_peephole (3, H) rows (i, f, o)
    when given (peepholes; i and f see c, o sees c').

    x (N, I), h and c (N, H) (None: zeros). Returns (h_new, c_new), or
    (h_new, c_new, state) with return_state=True: state (N, 5H) =
    [i, f, g, o, c_new] per row, the input of lstm_cell_backward.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm_cell", x, w_hh)
    h = _nh_or_zeros(h, n, hid, dtype, x)
    c = _nh_or_zeros(c, n, hid, dtype, x)
    h_new = empty((n, hid), dtype, x)
    c_new = empty((n, hid), dtype, x)
    state = empty((n, 5 * hid), dtype, x)
    _C.lstm_forward(x, h, c, w_ih, w_hh, b_ih, b_hh, w_peephole, h_new, None, c_new, state, stream_of(x))
    return (h_new, c_new, state) if return_state else (h_new, c_new)


def lstm_cell_backward(grad_h, grad_c, x, h, c, w_ih, w_hh, state, w_peephole=None, *, bias=True):
    """Gradients of lstm_cell. grad_h, grad_c (N, H) (either may be None: zero);
    x, h, c, w_ih, w_hh, w_peephole as given to lstm_cell; state from
    lstm_cell(..., return_state=True). Returns (dx, dh, dc, dw_ih, dw_hh,
    db_ih, db_hh, dw_peephole); db_ih and db_hh (equal) are None when
    bias=False, dw_peephole is None without peepholes.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm_cell_backward", x, w_hh)
    h = _nh_or_zeros(h, n, hid, dtype, x)
    c = _nh_or_zeros(c, n, hid, dtype, x)
    dx = empty(x.shape, dtype, x)
    dh, dc = empty((n, hid), dtype, x), empty((n, hid), dtype, x)
    dw_ih, dw_hh, db_ih, db_hh = _weight_grads(4, hid, inp, bias, dtype, x)
    dpeep = empty((3, hid), dtype, x) if w_peephole is not None else None
    _C.lstm_backward(grad_h, None, grad_c, x, h, c, w_ih, w_hh, w_peephole, None, state, dx, dh, dc, dw_ih, dw_hh,
                     db_ih, db_hh, dpeep, stream_of(x))
    return dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh, dpeep


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_peephole=None):
    """LSTM over a sequence (one layer, one direction; torch.nn.LSTM's
    equations, plus optional peepholes as in lstm_cell).

    x (T, N, I); h0, c0 (N, H) or None (zeros). Returns (y, h_n, c_n, saved):
    y (T, N, H) the hidden states, h_n and c_n (N, H) the last ones, saved
    (T, N, 5H) = [i, f, g, o, c_t] per step, the input of lstm_backward. The
    input projection of all steps is one GEMM; each step is one recurrent GEMM
    and one fused pass over the gates.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm", x, w_hh)
    steps = x.shape[0] if x.ndim == 3 else 0
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    c0 = _nh_or_zeros(c0, n, hid, dtype, x)
    y = empty((steps, n, hid), dtype, x)
    h_n, c_n = empty((n, hid), dtype, x), empty((n, hid), dtype, x)
    saved = empty((steps, n, 5 * hid), dtype, x)
    _C.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_peephole, y, h_n, c_n, saved, stream_of(x))
    return y, h_n, c_n, saved


def lstm_backward(grad_y, grad_h_n, grad_c_n, x, h0, c0, w_ih, w_hh, y, saved, w_peephole=None, *, bias=True):
    """Backpropagation through time for lstm. grad_y (T, N, H), grad_h_n and
    grad_c_n (N, H) may each be None (zero); x, h0, c0 (None: zeros), weights
    as given to lstm; y, saved from it. Returns (dx, dh0, dc0, dw_ih, dw_hh,
    db_ih, db_hh, dw_peephole); weight gradients are one GEMM over all steps.
    db_* are None when bias=False, dw_peephole None without peepholes.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("lstm_backward", x, w_hh)
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    c0 = _nh_or_zeros(c0, n, hid, dtype, x)
    dx = empty(x.shape, dtype, x)
    dh0, dc0 = empty((n, hid), dtype, x), empty((n, hid), dtype, x)
    dw_ih, dw_hh, db_ih, db_hh = _weight_grads(4, hid, inp, bias, dtype, x)
    dpeep = empty((3, hid), dtype, x) if w_peephole is not None else None
    _C.lstm_backward(grad_y, grad_h_n, grad_c_n, x, h0, c0, w_ih, w_hh, w_peephole, y, saved, dx, dh0, dc0, dw_ih,
                     dw_hh, db_ih, db_hh, dpeep, stream_of(x))
    return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dpeep


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, *, return_state=False):
    """One GRU step (torch.nn.GRUCell): r = σ(W_ir x + b_ir + W_hr h + b_hr),
    z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h' = (1 - z) n + z h; gate rows of the weights in the order (r, z, n).

    x (N, I), h (N, H) (None: zeros). Returns h_new, or (h_new, state) with
    return_state=True: state (N, 4H) = [r, z, n, W_hn h + b_hn] per row, the
    input of gru_cell_backward.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru_cell", x, w_hh)
    h = _nh_or_zeros(h, n, hid, dtype, x)
    h_new = empty((n, hid), dtype, x)
    state = empty((n, 4 * hid), dtype, x)
    _C.gru_forward(x, h, w_ih, w_hh, b_ih, b_hh, h_new, None, state, stream_of(x))
    return (h_new, state) if return_state else h_new


def gru_cell_backward(grad_h, x, h, w_ih, w_hh, state, *, bias=True):
    """Gradients of gru_cell from grad_h (N, H); state from gru_cell(...,
    return_state=True). Returns (dx, dh, dw_ih, dw_hh, db_ih, db_hh); db_* are
    None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru_cell_backward", x, w_hh)
    h = _nh_or_zeros(h, n, hid, dtype, x)
    dx, dh = empty(x.shape, dtype, x), empty((n, hid), dtype, x)
    dw_ih, dw_hh, db_ih, db_hh = _weight_grads(3, hid, inp, bias, dtype, x)
    _C.gru_backward(grad_h, None, x, h, w_ih, w_hh, None, state, dx, dh, dw_ih, dw_hh, db_ih, db_hh, stream_of(x))
    return dx, dh, dw_ih, dw_hh, db_ih, db_hh


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """GRU over a sequence (one layer, one direction; torch.nn.GRU's equations).
    x (T, N, I); h0 (N, H) or None (zeros). Returns (y, h_n, saved): y (T, N, H),
    h_n (N, H), saved (T, N, 4H) = [r, z, n, W_hn h + b_hn] per step.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru", x, w_hh)
    steps = x.shape[0] if x.ndim == 3 else 0
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    y, h_n = empty((steps, n, hid), dtype, x), empty((n, hid), dtype, x)
    saved = empty((steps, n, 4 * hid), dtype, x)
    _C.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, y, h_n, saved, stream_of(x))
    return y, h_n, saved


def gru_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, saved, *, bias=True):
    """Backpropagation through time for gru. grad_y (T, N, H) and grad_h_n (N, H)
    may be None (zero). Returns (dx, dh0, dw_ih, dw_hh, db_ih, db_hh); db_* are
    None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("gru_backward", x, w_hh)
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    dx, dh0 = empty(x.shape, dtype, x), empty((n, hid), dtype, x)
    dw_ih, dw_hh, db_ih, db_hh = _weight_grads(3, hid, inp, bias, dtype, x)
    _C.gru_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, saved, dx, dh0, dw_ih, dw_hh, db_ih, db_hh,
                    stream_of(x))
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One Elman step (torch.nn.RNNCell): h' = act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh),
    act = tanh or relu. x (N, I), h (N, H) (None: zeros); returns h_new (N, H),
    which is also what rnn_cell_backward needs.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn_cell", x, w_hh)
    h = _nh_or_zeros(h, n, hid, dtype, x)
    h_new = empty((n, hid), dtype, x)
    choice_arg(nonlinearity, "rnn_cell", "nonlinearity", ("tanh", "relu"))
    _C.rnn_forward(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity, h_new, None, stream_of(x))
    return h_new


def rnn_cell_backward(grad_h, x, h, h_new, w_ih, w_hh, nonlinearity="tanh", *, bias=True):
    """Gradients of rnn_cell from grad_h (N, H) and its output h_new. Returns
    (dx, dh, dw_ih, dw_hh, db_ih, db_hh); db_* (equal) are None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn_cell_backward", x, w_hh)
    h = _nh_or_zeros(h, n, hid, dtype, x)
    dx, dh = empty(x.shape, dtype, x), empty((n, hid), dtype, x)
    dw_ih, dw_hh, db_ih, db_hh = _weight_grads(1, hid, inp, bias, dtype, x)
    choice_arg(nonlinearity, "rnn_cell_backward", "nonlinearity", ("tanh", "relu"))
    _C.rnn_backward(grad_h, None, x, h, w_ih, w_hh, h_new, nonlinearity, dx, dh, dw_ih, dw_hh, db_ih, db_hh,
                    stream_of(x))
    return dx, dh, dw_ih, dw_hh, db_ih, db_hh


def rnn(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Elman RNN over a sequence (torch.nn.RNN, one layer, one direction).
    x (T, N, I); h0 (N, H) or None (zeros). Returns (y, h_n): y (T, N, H)
    (also what rnn_backward needs), h_n (N, H).
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn", x, w_hh)
    steps = x.shape[0] if x.ndim == 3 else 0
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    y, h_n = empty((steps, n, hid), dtype, x), empty((n, hid), dtype, x)
    choice_arg(nonlinearity, "rnn", "nonlinearity", ("tanh", "relu"))
    _C.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, y, h_n, stream_of(x))
    return y, h_n


def rnn_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, nonlinearity="tanh", *, bias=True):
    """Backpropagation through time for rnn. grad_y (T, N, H) and grad_h_n
    (N, H) may be None (zero). Returns (dx, dh0, dw_ih, dw_hh, db_ih, db_hh);
    db_* (equal) are None when bias=False.
    """
    x, w_hh, dtype, n, inp, hid = _rnn_prepare("rnn_backward", x, w_hh)
    h0 = _nh_or_zeros(h0, n, hid, dtype, x)
    dx, dh0 = empty(x.shape, dtype, x), empty((n, hid), dtype, x)
    dw_ih, dw_hh, db_ih, db_hh = _weight_grads(1, hid, inp, bias, dtype, x)
    choice_arg(nonlinearity, "rnn_backward", "nonlinearity", ("tanh", "relu"))
    _C.rnn_backward(grad_y, grad_h_n, x, h0, w_ih, w_hh, y, nonlinearity, dx, dh0, dw_ih, dw_hh, db_ih, db_hh,
                    stream_of(x))
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh
