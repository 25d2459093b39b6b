"""nncore.models: the models of the notebook, one module per family."""

from .hopfield import HopfieldNetwork
from .mlp import MLP
from .perceptron import Perceptron

__all__ = ["HopfieldNetwork", "MLP", "Perceptron"]
