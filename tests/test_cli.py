"""The `nncore` command: info, the GEMM table, and list / train / eval with their errors."""

import json
import subprocess
import sys

import pytest


def nncore(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "nncore", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def run(*args):
    return nncore(*args).stdout


def test_info_lists_build_facts():
    out = run("info")
    for key in ("isa_active", "num_threads", "cuda_built", "version"):
        assert key in out
    assert '"isa_active"' in run("info", "--json")


def test_bench_gemm_prints_a_row_per_size_and_thread_count():
    out = run("bench", "gemm", "--sizes", "32", "48", "--threads", "1", "--min-time", "0.01")
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert [(r[0], r[1]) for r in rows] == [("1", "32"), ("1", "48")]
    assert all(float(r[4]) > 0 for r in rows)


def test_list_names_every_recipe_with_a_line():
    from nncore import recipes

    lines = run("list").splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(recipes.RECIPES)
    assert all(len(line.split()) > 3 for line in lines)


def test_train_json_then_eval_the_saved_weights(tmp_path):
    out = nncore("train", "perceptron", "--out", str(tmp_path), "--json", "--quiet").stdout.splitlines()
    assert len(out) == 1
    summary = json.loads(out[-1])
    assert set(summary) == {"model", "metric", "value", "seconds"}
    assert summary["model"] == "perceptron" and summary["value"] == 1.0
    assert (tmp_path / "perceptron.npz").exists() and (tmp_path / "perceptron_gates.png").exists()
    shown = nncore("train", "perceptron", "--out", str(tmp_path), "--json").stdout.splitlines()
    assert any("XOR" in line and "NOT learned" in line for line in shown)
    assert json.loads(shown[-1])["value"] == 1.0
    again = json.loads(run("eval", "perceptron", "--weights", str(tmp_path / "perceptron.npz"), "--json")
                       .splitlines()[-1])
    assert again["value"] == 1.0


def test_recipe_options_become_flags(tmp_path):
    out = run("train", "perceptron", "--rule", "sgd", "--out", str(tmp_path), "--seed", "3")
    assert "sgd" in out and "error-correction" not in out
    assert "--rule" in run("train", "perceptron", "--help")


@pytest.fixture(scope="module")
def saved_perceptron(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "junk.npz").write_bytes(b"\x00random bytes\xff" * 10)
    nncore("train", "perceptron", "--out", str(folder), "--quiet")
    return folder


@pytest.mark.parametrize("args,message", [
    (["train", "nosuchmodel"], "invalid choice: 'nosuchmodel'"),
    (["train", "mlp", "--epochs", "0", "--out", "{tmp}"], "epochs must be at least 1"),
    (["train", "mlp", "--data", "{tmp}/missing", "--out", "{tmp}"], "no such file"),
    (["train", "perceptron", "--rule", "hebb"], "invalid choice: 'hebb'"),
    (["train", "mlp", "--device", "cuda", "--out", "{tmp}"], "--device cuda needs"),
    (["eval", "mlp", "--weights", "{tmp}/missing.npz"], "no such file"),
    (["eval", "mlp", "--weights", "{tmp}/junk.npz"], "not an nncore weights file"),
    (["eval", "mlp", "--weights", "{tmp}/perceptron.npz"], "holds weights of model 'perceptron', not 'mlp'"),
])
def test_wrong_input_is_one_line_and_exit_2(saved_perceptron, args, message):
    import nncore as nc

    if "cuda" in args and nc.cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    proc = nncore(*[a.format(tmp=saved_perceptron) for a in args], check=False)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in proc.stderr
