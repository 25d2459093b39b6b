"""nncore.models: the models of the notebook, one module per family."""

from .cnn import AllConvNet, LeNet, all_cnn_c
from .hopfield import HopfieldNetwork
from .mlp import MLP
from .perceptron import Perceptron
from .rnn import CharLM, ElmanRNN, OutputRecurrentNet, SequenceRegressor, SequenceTagger
from .seq2seq import AdditiveAttention, Seq2Seq
from .ssd import SSD, MultiBoxLoss, ssd300, ssd_small

__all__ = ["AllConvNet", "LeNet", "all_cnn_c", "HopfieldNetwork", "MLP", "Perceptron", "SSD", "MultiBoxLoss", "ssd300",
           "ssd_small", "AdditiveAttention", "CharLM", "ElmanRNN", "OutputRecurrentNet", "Seq2Seq", "SequenceRegressor",
           "SequenceTagger"]
