"""Valid calls of every nncore.ops entry and nncore.functional function, built
from a seeded generator: the starting points the fuzz (tests/test_fuzz.py)
mutates. Each spec returns (args, kwargs) with every parameter present, so the
fuzz can replace any one of them by a hostile value; HOSTILE lists those."""

import numpy as np

import nncore
from nncore import functional as F  # noqa: F401  (names checked against SPECS below)
from nncore import ops


def _f(r, *shape, dtype=np.float32):
    return r.standard_normal(shape).astype(dtype)


def _boxes(r, n):
    xy = r.uniform(0, 50, (n, 2))
    return np.concatenate([xy, xy + r.uniform(1, 20, (n, 2))], 1).astype(np.float32)


def _rnn_weights(r, gates, i=3, h=4):
    return _f(r, gates * h, i), _f(r, gates * h, h), _f(r, gates * h), _f(r, gates * h)


def _lstm_cell_backward(r):
    x, h, c = _f(r, 2, 3), _f(r, 2, 4), _f(r, 2, 4)
    wih, whh, bih, bhh = _rnn_weights(r, 4)
    _, _, state = ops.lstm_cell(x, h, c, wih, whh, bih, bhh, return_state=True)
    return (_f(r, 2, 4), _f(r, 2, 4), x, h, c, wih, whh, state), {"w_peephole": None, "bias": True}


def _lstm_backward(r):
    x, h0, c0 = _f(r, 5, 2, 3), _f(r, 2, 4), _f(r, 2, 4)
    wih, whh, bih, bhh = _rnn_weights(r, 4)
    y, _, _, saved = ops.lstm(x, h0, c0, wih, whh, bih, bhh)
    return (_f(r, 5, 2, 4), _f(r, 2, 4), _f(r, 2, 4), x, h0, c0, wih, whh, y, saved), {"w_peephole": None,
                                                                                      "bias": True}


def _gru_cell_backward(r):
    x, h = _f(r, 2, 3), _f(r, 2, 4)
    wih, whh, bih, bhh = _rnn_weights(r, 3)
    _, state = ops.gru_cell(x, h, wih, whh, bih, bhh, return_state=True)
    return (_f(r, 2, 4), x, h, wih, whh, state), {"bias": True}


def _gru_backward(r):
    x, h0 = _f(r, 5, 2, 3), _f(r, 2, 4)
    wih, whh, bih, bhh = _rnn_weights(r, 3)
    y, _, saved = ops.gru(x, h0, wih, whh, bih, bhh)
    return (_f(r, 5, 2, 4), _f(r, 2, 4), x, h0, wih, whh, y, saved), {"bias": True}


def _rnn_cell_backward(r):
    x, h = _f(r, 2, 3), _f(r, 2, 4)
    wih, whh, bih, bhh = _rnn_weights(r, 1)
    h_new = ops.rnn_cell(x, h, wih, whh, bih, bhh)
    return (_f(r, 2, 4), x, h, h_new, wih, whh), {"nonlinearity": "tanh", "bias": True}


def _rnn_backward(r):
    x, h0 = _f(r, 5, 2, 3), _f(r, 2, 4)
    wih, whh, bih, bhh = _rnn_weights(r, 1)
    y, _ = ops.rnn(x, h0, wih, whh, bih, bhh)
    return (_f(r, 5, 2, 4), _f(r, 2, 4), x, h0, wih, whh, y), {"nonlinearity": "tanh", "bias": True}


def _lp_backward(r):
    x = np.abs(_f(r, 2, 3, 6, 7)) + 0.1
    return (_f(r, 2, 3, 3, 3), x, ops.lp_pool2d(x, 2.0, 2), 2.0, 2), {"stride": None, "ceil_mode": False}


def _batch_norm_backward(r):
    x = _f(r, 4, 3, 5)
    _, mean, invstd = ops.batch_norm(x, None, None, training=True)
    return (_f(r, 4, 3, 5), x, _f(r, 3), mean, invstd, True), {"input_grad": True}


def _max_backward(r):
    x = _f(r, 2, 3, 8, 7)
    _, idx = ops.max_pool2d(x, 3, 2, 1, return_indices=True)
    return (_f(r, 2, 3, 4, 4), idx, (2, 3, 8, 7)), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1,
                                                     "ceil_mode": False}


def _ce(r):
    return {"weight": None, "ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0}


OPS = {
    "gemm": lambda r: ((_f(r, 3, 4), _f(r, 4, 5)), {"trans_a": False, "trans_b": False, "alpha": 1.0, "beta": 0.0}),
    "matmul": lambda r: ((_f(r, 2, 3, 4), _f(r, 2, 4, 5)), {}),
    "conv2d": lambda r: ((_f(r, 2, 3, 7, 6), _f(r, 4, 3, 3, 3)),
                         {"bias": _f(r, 4), "stride": 1, "padding": 1, "dilation": 1, "groups": 1,
                          "activation": "leaky_relu", "act_alpha": 0.1}),
    "linear": lambda r: ((_f(r, 3, 5), _f(r, 4, 5)), {"bias": _f(r, 4), "activation": "elu", "act_alpha": 0.5}),
    "epilogue_grad": lambda r: ((_f(r, 3, 4), np.abs(_f(r, 3, 4)), "relu6"), {"act_alpha": None}),
    "conv2d_backward": lambda r: ((_f(r, 2, 4, 7, 6), _f(r, 2, 3, 7, 6), _f(r, 4, 3, 3, 3)),
                                  {"stride": 1, "padding": 1, "dilation": 1, "groups": 1,
                                   "output_mask": (True, True, True)}),
    "conv_transpose2d": lambda r: ((_f(r, 2, 4, 5, 5), _f(r, 4, 3, 3, 3)),
                                   {"bias": _f(r, 3), "stride": 2, "padding": 1, "output_padding": 1, "groups": 1,
                                    "dilation": 1}),
    "conv_transpose2d_backward": lambda r: ((_f(r, 2, 3, 10, 10), _f(r, 2, 4, 5, 5), _f(r, 4, 3, 3, 3)),
                                            {"stride": 2, "padding": 1, "output_padding": 1, "groups": 1,
                                             "dilation": 1, "output_mask": (True, True, True)}),
    "softmax": lambda r: ((_f(r, 3, 5),), {"dim": -1}),
    "log_softmax": lambda r: ((_f(r, 3, 5),), {"dim": 0}),
    "softmax_backward": lambda r: ((_f(r, 3, 5), ops.softmax(_f(r, 3, 5), -1)), {"dim": -1}),
    "log_softmax_backward": lambda r: ((_f(r, 3, 5), ops.log_softmax(_f(r, 3, 5), -1)), {"dim": -1}),
    "cross_entropy": lambda r: ((_f(r, 4, 5), r.integers(0, 5, 4)), _ce(r)),
    "cross_entropy_backward": lambda r: ((1.0, _f(r, 4, 5), r.integers(0, 5, 4)), _ce(r)),
    "cross_entropy_with_grad": lambda r: ((_f(r, 4, 5), r.integers(0, 5, 4)), dict(_ce(r), grad_output=1.0)),
    "batch_norm": lambda r: ((_f(r, 4, 3, 5), _f(r, 3), np.abs(_f(r, 3)) + 0.5, _f(r, 3), _f(r, 3)),
                             {"training": True, "momentum": 0.1, "eps": 1e-5}),
    "batch_norm_backward": _batch_norm_backward,
    "max_pool2d": lambda r: ((_f(r, 2, 3, 8, 7),), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1,
                                                    "ceil_mode": False, "return_indices": False}),
    "max_pool2d_backward": _max_backward,
    "avg_pool2d": lambda r: ((_f(r, 2, 3, 8, 7),), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False,
                                                    "count_include_pad": True, "divisor_override": None}),
    "avg_pool2d_backward": lambda r: ((_f(r, 2, 3, 4, 4), (2, 3, 8, 7)),
                                      {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False,
                                       "count_include_pad": True, "divisor_override": None}),
    "lp_pool2d": lambda r: ((np.abs(_f(r, 2, 3, 6, 7)), 2.0, 2), {"stride": None, "ceil_mode": False}),
    "lp_pool2d_backward": _lp_backward,
    "adaptive_avg_pool2d": lambda r: ((_f(r, 2, 3, 8, 7),), {"output_size": (3, 2)}),
    "adaptive_avg_pool2d_backward": lambda r: ((_f(r, 2, 3, 3, 2), (2, 3, 8, 7)), {}),
    "activation": lambda r: ((_f(r, 3, 5), "softplus"), {"alpha": 2.0, "beta": 10.0, "out": None}),
    "activation_backward": lambda r: ((_f(r, 3, 5), _f(r, 3, 5), None, "softplus"),
                                      {"alpha": 2.0, "beta": 10.0, "out": None}),
    "sgd_step": lambda r: ((_f(r, 4, 3), _f(r, 4, 3), _f(r, 4, 3)),
                           {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.01, "nesterov": True,
                            "maximize": False, "first_step": False}),
    "adam_step": lambda r: ((_f(r, 4, 3), _f(r, 4, 3), _f(r, 4, 3), np.abs(_f(r, 4, 3)), np.abs(_f(r, 4, 3))),
                            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "step_size": 0.01, "bias2_sqrt": 0.05,
                             "grad_decay": 0.01, "param_scale": 1.0, "maximize": False}),
    "rmsprop_step": lambda r: ((_f(r, 4, 3), _f(r, 4, 3), np.abs(_f(r, 4, 3)), _f(r, 4, 3), _f(r, 4, 3)),
                               {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.01, "momentum": 0.9,
                                "maximize": False}),
    "adagrad_step": lambda r: ((_f(r, 4, 3), _f(r, 4, 3), np.abs(_f(r, 4, 3))),
                               {"clr": 0.1, "eps": 1e-10, "weight_decay": 0.0, "maximize": False}),
    "box_area": lambda r: ((_boxes(r, 5),), {}),
    "box_iou": lambda r: ((_boxes(r, 5), _boxes(r, 4)), {}),
    "nms": lambda r: ((_boxes(r, 6), _f(r, 6), 0.5), {"score_threshold": None, "top_k": None, "max_output": None}),
    "batched_nms": lambda r: ((_boxes(r, 6), _f(r, 6), r.integers(0, 2, 6), 0.5),
                              {"score_threshold": None, "top_k": None, "max_output": None}),
    "lstm_cell": lambda r: ((_f(r, 2, 3), _f(r, 2, 4), _f(r, 2, 4)) + _rnn_weights(r, 4)[:2],
                            dict(zip(("b_ih", "b_hh"), _rnn_weights(r, 4)[2:]), w_peephole=None)),
    "lstm_cell_backward": _lstm_cell_backward,
    "lstm": lambda r: ((_f(r, 5, 2, 3), _f(r, 2, 4), _f(r, 2, 4)) + _rnn_weights(r, 4)[:2],
                       dict(zip(("b_ih", "b_hh"), _rnn_weights(r, 4)[2:]), w_peephole=None)),
    "lstm_backward": _lstm_backward,
    "gru_cell": lambda r: ((_f(r, 2, 3), _f(r, 2, 4)) + _rnn_weights(r, 3)[:2],
                           dict(zip(("b_ih", "b_hh"), _rnn_weights(r, 3)[2:]))),
    "gru_cell_backward": _gru_cell_backward,
    "gru": lambda r: ((_f(r, 5, 2, 3), _f(r, 2, 4)) + _rnn_weights(r, 3)[:2],
                      dict(zip(("b_ih", "b_hh"), _rnn_weights(r, 3)[2:]))),
    "gru_backward": _gru_backward,
    "rnn_cell": lambda r: ((_f(r, 2, 3), _f(r, 2, 4)) + _rnn_weights(r, 1)[:2],
                           dict(zip(("b_ih", "b_hh"), _rnn_weights(r, 1)[2:]), nonlinearity="tanh")),
    "rnn_cell_backward": _rnn_cell_backward,
    "rnn": lambda r: ((_f(r, 5, 2, 3), _f(r, 2, 4)) + _rnn_weights(r, 1)[:2],
                      dict(zip(("b_ih", "b_hh"), _rnn_weights(r, 1)[2:]), nonlinearity="tanh")),
    "rnn_backward": _rnn_backward,
    "interpolate2d": lambda r: ((_f(r, 2, 3, 5, 7), (9, 4)), {"mode": "bilinear", "align_corners": False,
                                                              "scale_factor": None}),
    "interpolate2d_backward": lambda r: ((_f(r, 2, 3, 9, 4), (2, 3, 5, 7)),
                                         {"mode": "bicubic", "align_corners": True, "scale_factor": None}),
}


def _t(r, *shape, grad=True):
    return nncore.tensor(_f(r, *shape), requires_grad=grad)


def _u(r, *shape):
    return nncore.tensor(r.uniform(0.05, 0.95, shape).astype(np.float32), requires_grad=True)


def _idx(r, high, *shape):
    return nncore.tensor(r.integers(0, high, shape))


FUNCTIONAL = {
    "adaptive_avg_pool2d": lambda r: ((_t(r, 2, 3, 7, 5),), {"output_size": (3, 2)}),
    "avg_pool2d": lambda r: ((_t(r, 2, 3, 7, 5),), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False,
                                                    "count_include_pad": True, "divisor_override": None}),
    "batch_norm": lambda r: ((_t(r, 4, 3, 2), nncore.zeros(3), nncore.ones(3)),
                             {"weight": _t(r, 3), "bias": _t(r, 3), "training": True, "momentum": 0.1,
                              "eps": 1e-5}),
    "bilinear": lambda r: ((_t(r, 3, 4), _t(r, 3, 5), _t(r, 2, 4, 5)), {"bias": _t(r, 2)}),
    "binary_cross_entropy": lambda r: ((_u(r, 3, 4), nncore.tensor(r.uniform(0, 1, (3, 4)).astype(np.float32))),
                                       {"weight": None, "reduction": "mean"}),
    "binary_cross_entropy_with_logits": lambda r: ((_t(r, 3, 4), nncore.tensor(r.uniform(0, 1, (3, 4))
                                                                               .astype(np.float32))),
                                                   {"weight": None, "reduction": "mean", "pos_weight": None}),
    "conv2d": lambda r: ((_t(r, 2, 3, 6, 5), _t(r, 4, 3, 3, 3)),
                         {"bias": _t(r, 4), "stride": 1, "padding": 1, "dilation": 1, "groups": 1}),
    "conv_transpose2d": lambda r: ((_t(r, 2, 4, 5, 5), _t(r, 4, 3, 3, 3)),
                                   {"bias": _t(r, 3), "stride": 2, "padding": 1, "output_padding": 1, "groups": 1,
                                    "dilation": 1}),
    "cross_entropy": lambda r: ((_t(r, 4, 5), _idx(r, 5, 4)),
                                {"weight": None, "ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0}),
    "fused_conv2d": lambda r: ((_t(r, 2, 3, 6, 5), _t(r, 4, 3, 3, 3)),
                               {"bias": _t(r, 4), "stride": 1, "padding": 1, "dilation": 1, "groups": 1,
                                "activation": "leaky_relu", "act_alpha": 0.2}),
    "fused_linear": lambda r: ((_t(r, 3, 5), _t(r, 4, 5)), {"bias": _t(r, 4), "activation": "elu", "act_alpha": 0.5}),
    "dropout": lambda r: ((_t(r, 3, 4),), {"p": 0.5, "training": False, "inplace": False}),
    "elu": lambda r: ((_t(r, 3, 4),), {"alpha": 1.0, "inplace": False}),
    "embedding": lambda r: ((_idx(r, 5, 2, 3), _t(r, 5, 3)),
                            {"padding_idx": None, "max_norm": None, "norm_type": 2.0, "scale_grad_by_freq": False,
                             "sparse": False}),
    "hardtanh": lambda r: ((_t(r, 3, 4),), {"min_val": -1.0, "max_val": 1.0, "inplace": False}),
    "hinge_embedding_loss": lambda r: ((_t(r, 3, 4), nncore.tensor(np.sign(_f(r, 3, 4)))),
                                       {"margin": 1.0, "reduction": "mean"}),
    "huber_loss": lambda r: ((_t(r, 3, 4), _t(r, 3, 4, grad=False)), {"reduction": "mean", "delta": 1.0}),
    "interpolate": lambda r: ((_t(r, 1, 2, 4, 5),), {"size": None, "scale_factor": 2, "mode": "bilinear",
                                                     "align_corners": False, "recompute_scale_factor": None}),
    "kl_div": lambda r: ((_t(r, 3, 4), nncore.tensor(r.dirichlet(np.ones(4), 3).astype(np.float32))),
                         {"reduction": "batchmean", "log_target": False}),
    "l1_loss": lambda r: ((_t(r, 3, 4), _t(r, 3, 4, grad=False)), {"reduction": "mean"}),
    "layer_norm": lambda r: ((_t(r, 3, 4), (4,)), {"weight": _t(r, 4), "bias": _t(r, 4), "eps": 1e-5}),
    "leaky_relu": lambda r: ((_t(r, 3, 4),), {"negative_slope": 0.01, "inplace": False}),
    "linear": lambda r: ((_t(r, 3, 5), _t(r, 4, 5)), {"bias": _t(r, 4)}),
    "log_softmax": lambda r: ((_t(r, 3, 4),), {"dim": 1, "dtype": None}),
    "logsigmoid": lambda r: ((_t(r, 3, 4),), {}),
    "lp_pool2d": lambda r: ((nncore.tensor(np.abs(_f(r, 2, 3, 6, 7)) + 0.1, requires_grad=True), 2.0, 2),
                            {"stride": None, "ceil_mode": False}),
    "max_pool2d": lambda r: ((_t(r, 2, 3, 7, 5),), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1,
                                                    "ceil_mode": False, "return_indices": False}),
    "mse_loss": lambda r: ((_t(r, 3, 4), _t(r, 3, 4, grad=False)), {"reduction": "mean"}),
    "multi_margin_loss": lambda r: ((_t(r, 3, 4), _idx(r, 4, 3)),
                                    {"p": 1, "margin": 1.0, "weight": None, "reduction": "mean"}),
    "nll_loss": lambda r: ((_t(r, 4, 5), _idx(r, 5, 4)), {"weight": None, "ignore_index": -100,
                                                           "reduction": "mean"}),
    "normalize": lambda r: ((_t(r, 3, 4),), {"p": 2.0, "dim": 1, "eps": 1e-12}),
    "one_hot": lambda r: ((_idx(r, 4, 5),), {"num_classes": 4}),
    "pad": lambda r: ((_t(r, 2, 3, 5), (1, 2)), {"mode": "reflect", "value": 0.0}),
    "relu": lambda r: ((_t(r, 3, 4),), {}),
    "relu6": lambda r: ((_t(r, 3, 4),), {"inplace": False}),
    "sigmoid": lambda r: ((_t(r, 3, 4),), {}),
    "silu": lambda r: ((_t(r, 3, 4),), {}),
    "smooth_l1_loss": lambda r: ((_t(r, 3, 4), _t(r, 3, 4, grad=False)), {"reduction": "mean", "beta": 1.0}),
    "softmax": lambda r: ((_t(r, 3, 4),), {"dim": 1, "dtype": None}),
    "softmin": lambda r: ((_t(r, 3, 4),), {"dim": 1, "dtype": None}),
    "softplus": lambda r: ((_t(r, 3, 4),), {"beta": 1.0, "threshold": 20.0}),
    "softsign": lambda r: ((_t(r, 3, 4),), {}),
    "tanh": lambda r: ((_t(r, 3, 4),), {}),
}


def hostile(k, r, tensors):
    """The k-th hostile value; arrays become Tensors when tensors is true."""
    arrays = [
        np.float32(2.5).reshape(()),
        np.zeros((0,), np.float32),
        np.ones((1, 1, 1, 1, 2)),
        r.integers(-3, 3, (3, 4)),
        _f(r, 3, 4).astype(np.float16),
        _f(r, 4, 6)[:, ::2],
        np.full((3, 4), 3e38, np.float32),
        np.full((3, 4), np.nan, np.float32),
        np.array([True, False]),
        _f(r, 3, 4, dtype=np.float64),
        _f(r, 2, 3, 4, 5)[..., ::-1],
    ]
    scalars = [None, True, False, 2 ** 63, -(2 ** 63) - 1, -1, 0, 10 ** 400, float("nan"), float("inf"),
               float("-inf"), 1e300, -1e-300, "x", "", (), (1, 2, 3), [1.5], (2 ** 40, 1), object(), 3.5,
               np.int64(2), np.float32(0.25), 1j]
    values = scalars + arrays
    v = values[k % len(values)]
    if tensors and isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
        return nncore.tensor(np.ascontiguousarray(v))
    return v


N_HOSTILE = 35
