"""`nncore train vgg`: a VGG network (torchvision's configuration A, B, D or E
with BatchNorm, channels scaled by `--width-mult`, one input channel, a
`--hidden`-unit classifier on the 1x1 map that five poolings leave of a 32x32
input) for a few epochs on the real digits upsampled to 32x32. Picture:
learning curves.

The layers keep their default (PyTorch) initialisation: torchvision's VGG
draws the dense layers from N(0, 0.01), a scale meant for 4096-unit layers,
which at a few hundred units leaves the logits near zero for the first epoch."""

from ..data import digits_datasets
from ..models import vgg
from . import Option, Trained, evaluator, recipe
from ._common import draw_learning_curves, evaluate_classifier
from .cnn import fit_digits

DEPTHS = {11: vgg.vgg11_bn, 13: vgg.vgg13_bn, 16: vgg.vgg16_bn, 19: vgg.vgg19_bn}


def vgg_model(options):
    return DEPTHS[options["depth"]](num_classes=10, in_channels=1, width_mult=options["width_mult"],
                                    hidden=options["hidden"], pool_size=1, init_weights=False)


@recipe("vgg", "a VGG net (3x3 conv stacks with BatchNorm, max-pooling, three dense layers) learns the 32x32 digits",
        metric="digits test accuracy", epochs=5, batch_size=32, lr=2e-3,
        options={"depth": Option(11, "VGG-11, -13, -16 or -19", tuple(DEPTHS)),
                 "width_mult": Option(0.125, "channels as a fraction of VGG's 64..512"),
                 "hidden": Option(256, "units of the two hidden dense layers (VGG: 4096)")},
        distributed=True)
def train(run):
    model = vgg_model(run.options).to(run.device)
    accuracy, _ = fit_digits(run, model, size=32, shift=2)
    title = f"VGG-{run.options['depth']}-BN (width x{run.options['width_mult']})"
    run.picture("vgg_learning_curves", draw_learning_curves, run.history, f"{title} on the digits (32x32)")
    return Trained(accuracy, {"model": model.state_dict()},
                   {"parameters": sum(p.numel() for p in model.parameters())})


@evaluator("vgg")
def evaluate(run, state):
    model = vgg_model(run.options)
    model.load_state_dict(state["model"])
    return evaluate_classifier(model.to(run.device), digits_datasets(size=32)[1], run)[1]
