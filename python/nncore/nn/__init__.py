"""nncore.nn: Module and its containers, layers, losses, init and utils."""

from . import functional
from . import init, utils
from .layers import (
    ELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCELoss,
    BCEWithLogitsLoss,
    Conv2d,
    ConvTranspose2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    Hardtanh,
    HingeEmbeddingLoss,
    Identity,
    KLDivLoss,
    L1Loss,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    LPPool2d,
    MaxPool2d,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    ReLU,
    ReLU6,
    SiLU,
    Sigmoid,
    SmoothL1Loss,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Unflatten,
    Upsample,
)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterList, Sequential
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell",
    "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d",
    "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "ELU", "Embedding", "Flatten", "Hardtanh",
    "HingeEmbeddingLoss", "Identity", "KLDivLoss", "L1Loss", "LPPool2d", "LayerNorm", "LeakyReLU", "Linear",
    "LogSigmoid", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "MultiMarginLoss",
    "NLLLoss", "Parameter", "ParameterList", "ReLU", "ReLU6", "SiLU", "Sequential", "Sigmoid", "SmoothL1Loss",
    "Softmax", "Softmin", "Softplus", "Softsign", "Tanh", "Unflatten", "Upsample", "functional", "init", "utils",
]
