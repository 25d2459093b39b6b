"""nncore.save / nncore.load: nested state round-trips, atomic replacement,
and loading that never unpickles."""

import os

import numpy as np
import pytest

import nncore
from nncore import nn


def test_round_trip_nested_state(tmp_path):
    state = {
        "model": {"w": nncore.randn(3, 4), "b": np.arange(3, dtype=np.int64)},
        "epoch": 7,
        "lr": 0.125,
        "done": False,
        "name": "run-1",
        "nothing": None,
        "history": [1.5, 2.5],
        "betas": (0.9, 0.999),
        "per_param": {0: {"step": 3, "buf": np.ones(2, np.float32)}, 1: {}},
        "scalar": np.float32(2.5),
    }
    path = tmp_path / "state.npz"
    nncore.save(state, path)
    back = nncore.load(path)
    assert isinstance(back["model"]["w"], nncore.Tensor)
    np.testing.assert_array_equal(back["model"]["w"].numpy(), state["model"]["w"].numpy())
    assert back["model"]["b"].dtype == np.int64
    assert back["epoch"] == 7 and isinstance(back["epoch"], int)
    assert back["lr"] == 0.125 and back["done"] is False and back["name"] == "run-1" and back["nothing"] is None
    assert back["history"] == [1.5, 2.5] and back["betas"] == (0.9, 0.999)
    assert back["per_param"][0]["step"] == 3 and back["per_param"][1] == {}
    assert back["scalar"] == np.float32(2.5)
    arrays = nncore.load(path, as_tensors=False)
    assert isinstance(arrays["model"]["w"], np.ndarray)


def test_model_round_trip(tmp_path):
    a = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    a(nncore.randn(5, 3))
    b = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    nncore.save(a.state_dict(), tmp_path / "m.npz")
    b.load_state_dict(nncore.load(tmp_path / "m.npz"))
    a.eval()
    b.eval()
    x = nncore.randn(2, 3)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert b[1].num_batches_tracked.item() == 1


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    nncore.save({"v": np.ones(3)}, path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        nncore.save({"v": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(nncore.load(path)["v"], np.ones(3))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"__nncore_meta__": np.frombuffer(b'{"x": "array"}', np.uint8),
                      "x": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="pickle"):
        nncore.load(path)
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="nncore.save"):
        nncore.load(tmp_path / "plain.npz")


@pytest.mark.parametrize("bad", [{"a": object()}, {"a": np.array([None], dtype=object)}, {1.5: 1}, {"a/b": 1}, [1]])
def test_unsavable_state_is_rejected(tmp_path, bad):
    with pytest.raises((TypeError, ValueError)):
        nncore.save(bad, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)
