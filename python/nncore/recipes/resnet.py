"""`nncore train resnet`: ResNet-18 or -34 (torchvision's definition, one input
channel, 10 classes, `--width` channels in its first stage) for a few epochs on
the real digits upsampled to 32x32, with the shortcut option of the paper
(`--shortcut A|B|C`). Picture: learning curves."""

from ..data import digits_datasets
from ..models.resnet import SHORTCUTS, resnet18, resnet34
from . import Option, Trained, evaluator, recipe
from ._common import draw_learning_curves, evaluate_classifier
from .cnn import fit_digits

DEPTHS = {18: resnet18, 34: resnet34}


def resnet_model(options):
    return DEPTHS[options["depth"]](num_classes=10, shortcut=options["shortcut"], in_channels=1,
                                    width=options["width"])


@recipe("resnet", "ResNet-18/34 (shortcut A, B or C) learns the digits at 32x32 in a few epochs",
        metric="digits test accuracy", epochs=5, batch_size=32, lr=5e-3,
        options={"depth": Option(18, "18 or 34 layers", tuple(DEPTHS)),
                 "shortcut": Option("B", "A: zero-padding identity, B: projection where the shape changes, "
                                         "C: projection on every block", SHORTCUTS),
                 "width": Option(16, "channels of the first stage (torchvision's ResNets: 64)")},
        distributed=True)
def train(run):
    model = resnet_model(run.options).to(run.device)
    accuracy, _ = fit_digits(run, model, size=32, shift=2)
    title = f"ResNet-{run.options['depth']} (shortcut {run.options['shortcut']}, width {run.options['width']})"
    run.picture("resnet_learning_curves", draw_learning_curves, run.history, f"{title} on the digits (32x32)")
    return Trained(accuracy, {"model": model.state_dict()},
                   {"parameters": sum(p.numel() for p in model.parameters())})


@evaluator("resnet")
def evaluate(run, state):
    model = resnet_model(run.options)
    model.load_state_dict(state["model"])
    return evaluate_classifier(model.to(run.device), digits_datasets(size=32)[1], run)[1]
