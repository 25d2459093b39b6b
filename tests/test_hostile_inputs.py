"""Hostile inputs found by trying nncore as a new user would (issue 15): each
is refused with a TypeError/ValueError that starts with the op's name and names
the argument, or computed right; none hangs, crashes or returns garbage."""

import os
import signal
import struct
import zipfile

import numpy as np
import pytest

import nncore
from nncore import nn, ops
from support import available_isas, isa, poisoned


@pytest.fixture
def deadline():
    """Fails a test that runs longer than 20 s instead of hanging the suite."""
    def expired(*_):
        raise TimeoutError("took longer than 20 s")
    before = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, before)


def refuses(error, op, arg, call):
    with pytest.raises(error) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(op + ":"), msg
    assert arg in msg, msg
    assert "incompatible function arguments" not in msg and "Invoked with" not in msg, msg


# ------------------------------------------------------------------ pooling
@pytest.mark.parametrize("name", available_isas())
def test_max_pool_time_does_not_depend_on_padding(name, deadline):
    """A window 2^30 wide padded by 2^29 once looped per unit of padding."""
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 64)).astype(np.float32)
    with isa(name):
        y, idx = ops.max_pool2d(x, (1, 1 << 30), stride=1, padding=(0, 1 << 29), return_indices=True)
        # every window holds the whole row: the row max, at its first position
        assert y.shape == (1, 2, 5, 65)
        np.testing.assert_array_equal(y, np.broadcast_to(x.max(-1, keepdims=True), y.shape))
        np.testing.assert_array_equal(idx % 64, np.broadcast_to(x.argmax(-1)[..., None], y.shape))
        # a dilated window whose taps fall mostly outside: only the taps inside count
        d = ops.max_pool2d(x, (1, 2), stride=1, padding=(0, 1), dilation=(1, 40))
        xp = np.pad(x, ((0, 0),) * 3 + ((1, 1),), constant_values=-np.inf)
        np.testing.assert_array_equal(d, np.maximum(xp[..., :26], xp[..., 40:66]))


def test_max_pool_padding_beyond_half_the_kernel_is_refused():
    refuses(ValueError, "max_pool2d", "padding", lambda: ops.max_pool2d(np.ones((1, 1, 8, 8), np.float32), 2,
                                                                         padding=2))


@pytest.mark.parametrize("call", [
    lambda out: ops.max_pool2d_backward(np.ones((1, 1, 4, 4), np.float32), np.zeros((1, 1, 4, 4), np.int64),
                                        (1, 1, 8, 8), 2, out=out),
    lambda out: ops.avg_pool2d_backward(np.ones((1, 1, 4, 4), np.float32), (1, 1, 8, 8), 2, out=out),
    lambda out: ops.adaptive_avg_pool2d_backward(np.ones((1, 1, 4, 4), np.float32), (1, 1, 8, 8), out=out),
], ids=["max", "avg", "adaptive"])
def test_pool_backward_out_must_have_input_shape(call):
    with pytest.raises(ValueError, match=r"_backward: out must have shape \(1, 1, 8, 8\), got \(1, 1, 9, 9\)"):
        call(np.zeros((1, 1, 9, 9), np.float32))
    out = poisoned((1, 1, 8, 8))
    assert call(out) is out and np.isfinite(out).all()


def test_lp_pool_norm_too_large_for_float32_is_refused():
    x = np.random.default_rng(1).random((1, 1, 4, 4)).astype(np.float32)
    refuses(ValueError, "lp_pool2d", "norm_type", lambda: ops.lp_pool2d(x, 1e300, 2))
    refuses(ValueError, "lp_pool2d", "norm_type", lambda: ops.lp_pool2d(x, 10 ** 400, 2))
    y = ops.lp_pool2d(x, float("inf"), 2)
    np.testing.assert_array_equal(y, np.abs(x).reshape(1, 1, 2, 2, 2, 2).max((3, 5)))
    y64 = ops.lp_pool2d(x.astype(np.float64), 1e300, 2)  # representable in float64: PyTorch's formula
    assert np.isfinite(y64).all() or (y64 >= 0).all()


@pytest.mark.parametrize("flag", ["ceil_mode", "count_include_pad"])
def test_pool_flags_take_only_bools(flag):
    x = np.ones((1, 1, 4, 4), np.float32)
    for bad in (1, np.array([True, False]), None, "yes"):
        refuses(TypeError, "avg_pool2d", flag, lambda: ops.avg_pool2d(x, 2, **{flag: bad}))
    ops.avg_pool2d(x, 2, **{flag: np.bool_(True)})


# ------------------------------------------------------------------ conv2d
def test_conv2d_kernel_fit_check_does_not_overflow():
    x = np.ones((1, 1, 8, 8), np.float32)
    w = np.ones((0, 1, 1 << 40, 3), np.float32)  # zero-size: any kernel height
    refuses(ValueError, "conv2d", "dilation", lambda: ops.conv2d(x, w, dilation=((1 << 31) - 1, 1)))
    refuses(ValueError, "conv2d", "dilation", lambda: ops.conv2d(x, np.ones((1, 1, 3, 3), np.float32),
                                                                dilation=1 << 62))
    refuses(ValueError, "conv2d", "padding", lambda: ops.conv2d(x, np.ones((1, 1, 3, 3), np.float32),
                                                               padding=1 << 40))
    refuses(ValueError, "conv2d", "stride", lambda: ops.conv2d(x, np.ones((1, 1, 3, 3), np.float32),
                                                              stride=1 << 64))


@pytest.mark.parametrize("name", available_isas())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (1, 2, 1), (1, 1, 2), (2, 1, 1), (1, 0, 1)])
def test_conv2d_backward_nan_weight_reaches_only_its_taps(name, dtype, stride, padding, dilation):
    """A NaN weight tap reaches exactly the input positions it reads (float64 mask)."""
    rng = np.random.default_rng(stride * 7 + padding * 3 + dilation)
    N, C, K, H, k = 2, 8, 6, 13, 3
    x = rng.standard_normal((N, C, H, H)).astype(dtype)
    w = rng.standard_normal((K, C, k, k)).astype(dtype)
    kk, cc, kh, kw = 4, 5, 0, 2
    w[kk, cc, kh, kw] = np.nan
    P = (H + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    gy = rng.standard_normal((N, K, P, P)).astype(dtype)
    want = np.zeros((N, C, H, H), bool)
    rows = [o * stride - padding + kh * dilation for o in range(P)]
    cols = [o * stride - padding + kw * dilation for o in range(P)]
    for r in rows:
        for c in cols:
            if 0 <= r < H and 0 <= c < H:
                want[:, cc, r, c] = True
    with isa(name):
        gx = ops.conv2d_backward(gy, x, w, stride, padding, dilation, 1, (True, False, False))[0]
    np.testing.assert_array_equal(np.isnan(gx), want)
    # elsewhere: the float64 reference of the finite weights
    w0 = np.where(np.isnan(w), 0, w)
    ref = ops.conv2d_backward(gy.astype(np.float64), x.astype(np.float64), w0.astype(np.float64), stride, padding,
                              dilation, 1, (True, False, False))[0]
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx[~want], ref[~want], rtol=tol, atol=tol)


def test_conv2d_backward_output_mask_takes_three_bools():
    x, w, gy = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 2, 2), np.float32)
    refuses(TypeError, "conv2d_backward", "output_mask", lambda: ops.conv2d_backward(gy, x, w, output_mask=None))
    refuses(TypeError, "conv2d_backward", "output_mask",
            lambda: ops.conv2d_backward(gy, x, w, output_mask=(1, 0, 0)))
    refuses(ValueError, "conv2d_backward", "output_mask",
            lambda: ops.conv2d_backward(gy, x, w, output_mask=(True, True)))


# ------------------------------------------------------------------ gemm
def test_gemm_out_whose_batches_overlap_is_refused():
    a = np.random.default_rng(2).standard_normal((4, 3, 3)).astype(np.float32)
    o = np.zeros((4, 3, 3), np.float32)
    for strides in ((0, 12, 4), (12 - 4, 12, 4)):
        view = np.lib.stride_tricks.as_strided(o, (4, 3, 3), strides)
        refuses(ValueError, "gemm", "out", lambda: ops.gemm(a, a, out=view))
    out = poisoned((4, 3, 3))
    ops.gemm(a, a, out=out)
    np.testing.assert_allclose(out, a.astype(np.float64) @ a.astype(np.float64), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arg", ["alpha", "beta"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 10 ** 400])
def test_gemm_alpha_beta_must_be_finite(arg, value):
    a = np.ones((2, 2), np.float32)
    refuses(ValueError, "gemm", arg, lambda: ops.gemm(a, a, out=np.zeros((2, 2), np.float32), **{arg: value}))


def test_gemm_flags_take_only_bools():
    a = np.ones((2, 2), np.float32)
    refuses(TypeError, "gemm", "trans_a", lambda: ops.gemm(a, a, trans_a=np.array([1, 0])))
    refuses(TypeError, "gemm", "alpha", lambda: ops.gemm(a, a, alpha=None))


# ------------------------------------------------------------------ softmax, rnn
def test_none_arguments_are_refused():
    x = np.ones((2, 3), np.float32)
    t = np.array([0, 1])
    refuses(TypeError, "cross_entropy_backward", "grad_output", lambda: ops.cross_entropy_backward(None, x, t))
    refuses(TypeError, "cross_entropy", "input", lambda: ops.cross_entropy(None, t))
    refuses(TypeError, "softmax", "dim", lambda: ops.softmax(x, None))
    refuses(TypeError, "rnn_cell", "nonlinearity",
            lambda: ops.rnn_cell(x, np.ones((2, 4), np.float32), np.ones((4, 3), np.float32),
                                 np.ones((4, 4), np.float32), nonlinearity=None))
    refuses(TypeError, "nms", "iou_threshold", lambda: ops.nms(np.zeros((1, 4), np.float32),
                                                               np.zeros(1, np.float32), None))


def test_ints_beyond_int64_are_value_errors():
    x = np.ones((1, 1, 4, 4), np.float32)
    refuses(ValueError, "max_pool2d", "kernel_size", lambda: ops.max_pool2d(x, 2 ** 63))
    refuses(ValueError, "softmax", "dim", lambda: ops.softmax(x, -2 ** 70))
    refuses(ValueError, "nms", "top_k", lambda: ops.nms(np.zeros((1, 4), np.float32), np.zeros(1, np.float32), 0.5,
                                                        top_k=2 ** 64))


def test_huge_output_is_a_value_error():
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="^adaptive_avg_pool2d: "):
        ops.adaptive_avg_pool2d(x, (1 << 30, 1 << 30))


# ------------------------------------------------------------------ boxes
@pytest.mark.parametrize("name", available_isas())
def test_box_iou_area_overflow_is_refused_or_exact(name):
    huge = np.array([[0, 0, 1e30, 1e30]], np.float32)
    with isa(name):
        refuses(ValueError, "box_iou", "boxes1", lambda: ops.box_iou(huge, huge))
        np.testing.assert_array_equal(ops.box_iou(huge.astype(np.float64), huge.astype(np.float64)), [[1.0]])
        big = np.array([[0, 0, 1e18, 1e18], [0, 0, 5e17, 1e18]], np.float32)  # area 1e36 fits float32
        np.testing.assert_allclose(ops.box_iou(big, big), [[1, 0.5], [0.5, 1]], rtol=1e-6)


# ------------------------------------------------------------------ nncore.load
def test_load_refuses_a_fifo(tmp_path, deadline):
    path = tmp_path / "fifo.npz"
    os.mkfifo(path)
    with pytest.raises(ValueError, match="load: .* is not a regular file"):
        nncore.load(path)
    with pytest.raises(ValueError, match="not a regular file"):
        nncore.load(tmp_path)


def test_load_random_bytes_says_not_an_nncore_file(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(3).bytes(1000))
    with pytest.raises(ValueError, match="load: .* is not an nncore file"):
        nncore.load(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="is not an nncore file"):
        nncore.load(path)


def test_load_checks_declared_sizes_before_decompressing(tmp_path):
    path = tmp_path / "bomb.npz"
    nncore.save({"w": np.zeros((1024, 1024), np.float32)}, path)  # 4 MiB
    with pytest.raises(ValueError, match="declares .* bytes .* more than max_bytes=1000000"):
        nncore.load(path, max_bytes=1_000_000)
    assert nncore.load(path, max_bytes=8 << 20)["w"].shape == (1024, 1024)
    # a header that declares more than the member holds
    bomb = tmp_path / "header.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__nncore_meta__.npy", _npy(np.frombuffer(b'{"w": "array"}', np.uint8)))
        header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 2), }"
        z.writestr("w.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117) + b"\n")
    with pytest.raises(ValueError, match="load: .* 'w' declares shape"):
        nncore.load(bomb)


def _npy(arr):
    import io
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.mark.parametrize("meta", [b"{not json", b"[1, 2]", b'{"a": 3}', b'{"a/b": "array", "a": "array"}',
                                  b'{"x": "tensor"}', b'{"' + b"/".join([b"k"] * 5000) + b'": "none"}',
                                  b'{"w": "mystery"}', b'{"w": "int"}'])
def test_load_tampered_metadata_is_a_value_error_naming_the_file(tmp_path, meta):
    path = tmp_path / "tampered.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__nncore_meta__.npy", _npy(np.frombuffer(meta, np.uint8)))
        z.writestr("a.npy", _npy(np.zeros(3)))
        z.writestr("w.npy", _npy(np.zeros(3)))
    with pytest.raises(ValueError, match=f"load: {path}"):
        nncore.load(path)


def test_load_refuses_object_arrays(tmp_path):
    path = tmp_path / "objects.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__nncore_meta__.npy", _npy(np.frombuffer(b'{"w": "array"}', np.uint8)))
        z.writestr("w.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
                   + b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }".ljust(117) + b"\n" + b"\x80" * 16)
    with pytest.raises(ValueError, match="holds Python objects"):
        nncore.load(path)


def test_load_keeps_string_arrays(tmp_path):
    nncore.save({"classes": np.array(["cat", "dog"]), "w": np.ones(2, np.float32)}, tmp_path / "s.npz")
    back = nncore.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back["classes"], ["cat", "dog"])


def test_save_refuses_colliding_keys(tmp_path):
    with pytest.raises(ValueError, match="save: keys 1 and '1'|save: keys '1' and 1"):
        nncore.save({1: np.zeros(2), "1": np.ones(2)}, tmp_path / "c.npz")
    nncore.save({1: np.zeros(2), "2": np.ones(2)}, tmp_path / "ok.npz")
    back = nncore.load(tmp_path / "ok.npz")
    assert set(back) == {1, "2"}


# ------------------------------------------------------------------ nn
def test_load_state_dict_refuses_object_arrays():
    layer = nn.Linear(2, 3)
    before = layer.weight.numpy().copy()
    state = {"weight": np.array([[object()] * 2] * 3, dtype=object), "bias": np.zeros(3, np.float32)}
    with pytest.raises(TypeError, match="'weight' holds a object array"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.numpy(), before)


def test_linear_refuses_mismatched_dtypes():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="linear: input must be a float Tensor, got int64"):
        layer(nncore.tensor(np.ones((4, 3), np.int64)))
    with pytest.raises(TypeError, match="linear: .*input float64, weight float32"):
        layer(nncore.tensor(np.ones((4, 3), np.float64)))


@pytest.mark.parametrize("args,arg", [((4, 4, 0), "kernel_size"), ((4, 4, 3, 0), "stride"),
                                      ((4, 4, 3, 1, -1), "padding"), ((4, 4, 3, 1, 0, 0), "dilation")])
def test_conv2d_module_refuses_non_positive_sizes(args, arg):
    with pytest.raises(ValueError, match=f"Conv2d: {arg} must be"):
        nn.Conv2d(*args)


def test_lstm_state_errors_name_the_state():
    lstm, cell = nn.LSTM(3, 4), nn.LSTMCell(3, 4)
    x, h = nncore.randn(5, 2, 3), nncore.zeros(1, 2, 4)
    with pytest.raises(ValueError, match=r"LSTM: c_0 must be \(1, 2, 4\)"):
        lstm(x, (h, nncore.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match=r"LSTM: h_0 must be \(1, 2, 4\)"):
        lstm(x, (nncore.zeros(2, 2, 4), h))
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        lstm(x, h)
    with pytest.raises(TypeError, match="LSTMCell: hx must be a tuple"):
        cell(nncore.randn(2, 3), nncore.zeros(2, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: c_0 must be \(2, 4\)"):
        cell(nncore.randn(2, 3), (nncore.zeros(2, 4), nncore.zeros(3, 4)))
    with pytest.raises(TypeError, match="GRU: hx must be a Tensor"):
        nn.GRU(3, 4)(x, (h,))
    out, (h_n, c_n) = lstm(x, (h, h))
    assert tuple(h_n.shape) == (1, 2, 4)
