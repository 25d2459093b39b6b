"""`nncore train transfer` (recipes/transfer.py): the digit-task datasets, the
frozen network with its new head, and fine-tuning against training from scratch."""

import numpy as np
import pytest

import nncore
from nncore import optim, recipes
from nncore.data import DataLoader, digits_datasets
from nncore.models import LeNet
from nncore.recipes._common import train_epoch
from nncore.recipes._run import Run
from nncore.recipes.transfer import SOURCE, TARGET, Relabelled, fine_tune_model, task_datasets

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def test_task_datasets_split_the_digits_and_relabel_them():
    source_train, source_test, target_train, target_test = task_datasets(shots=7, generator=np.random.default_rng(0))
    train_set, test_set = digits_datasets(size=32)
    _, y_train = train_set[np.arange(len(train_set))]
    _, y_test = test_set[np.arange(len(test_set))]
    _, ys = source_train[np.arange(len(source_train))]
    assert len(source_train) == np.isin(y_train, SOURCE).sum() and set(ys) == {0, 1, 2, 3, 4}
    assert len(source_test) == np.isin(y_test, SOURCE).sum()
    assert len(target_test) == np.isin(y_test, TARGET).sum()
    x, yt = target_train[np.arange(len(target_train))]
    assert x.shape == (35, 1, 32, 32) and np.bincount(yt).tolist() == [7] * 5
    # relabelled 5..9 -> 0..4, the images unchanged
    original = train_set[target_train.indices]
    np.testing.assert_array_equal(original[0], x)
    np.testing.assert_array_equal(original[1] - 5, yt)
    assert Relabelled(test_set, TARGET)[0][1] in range(5)


@pytest.mark.parametrize("tune", ["classifier", "head"])
def test_fine_tuning_changes_only_what_is_not_frozen(tune):
    nncore.manual_seed(0)
    source = LeNet(num_classes=5)
    before = {k: v.numpy().copy() for k, v in source.state_dict().items()}
    model = fine_tune_model(source, tune)
    assert model.classifier[-1].weight.shape == (5, 84) and model.classifier[-1] is not source.classifier[-1]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert not any(p.requires_grad for p in model.features.parameters())
    expected = 2 if tune == "head" else 6  # the new head's weight and bias; or all three dense layers
    assert len(trainable) == expected
    _, _, target_train, _ = task_datasets(shots=4, generator=np.random.default_rng(1))
    run = Run("transfer", 2, 8, 1e-2)
    train_epoch(run, model, DataLoader(target_train, batch_size=8), optim.SGD(trainable, lr=0.1), "test")
    after = model.state_dict()
    for key, value in before.items():
        if key.startswith("classifier.4"):
            continue  # replaced
        changed = not np.array_equal(after[key].numpy(), value)
        assert changed == (key.startswith("classifier.") and tune == "classifier"), key
        assert np.array_equal(source.state_dict()[key].numpy(), value)  # the source network is untouched


def test_transfer_recipe_runs_and_reloads(tmp_path):
    result = recipes.train("transfer", epochs=3, source_epochs=3, out=tmp_path)
    assert result.value > 0.4  # chance is 0.2
    assert result.details["source_accuracy"] > 0.9
    assert 0.0 <= result.details["scratch_accuracy"] <= 1.0
    assert (tmp_path / "transfer_curves.png").stat().st_size > 5_000
    assert recipes.evaluate("transfer", result.weights).value == pytest.approx(result.value)
    with pytest.raises(recipes.RecipeError, match="shots"):
        recipes.train("transfer", shots=0)


@pytest.mark.slow
def test_fine_tuning_beats_training_from_scratch_on_the_same_budget():
    result = recipes.train("transfer")
    assert result.value >= 0.8
    assert result.value > result.details["scratch_accuracy"] + 0.05
