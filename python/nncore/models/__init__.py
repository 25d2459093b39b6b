"""nncore.models: the models of the notebook, one module per family."""

from .cnn import AllConvNet, LeNet, all_cnn_c
from .gan import (DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, dcgan_discriminator, dcgan_generator,
                  mlp_discriminator, mlp_generator)
from .hopfield import HopfieldNetwork
from .mlp import MLP
from .perceptron import Perceptron
from .resnet import ResNet, resnet18, resnet34, resnet50
from .rnn import CharLM, ElmanRNN, OutputRecurrentNet, SequenceRegressor, SequenceTagger
from .seq2seq import AdditiveAttention, Seq2Seq
from .ssd import SSD, MultiBoxLoss, ssd300, ssd_small
from .vae import VAE, ConvVAE
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = ["AllConvNet", "LeNet", "all_cnn_c", "HopfieldNetwork", "MLP", "Perceptron", "SSD", "MultiBoxLoss", "ssd300",
           "ssd_small", "AdditiveAttention", "CharLM", "ElmanRNN", "OutputRecurrentNet", "Seq2Seq", "SequenceRegressor",
           "SequenceTagger", "DCGANDiscriminator", "DCGANGenerator", "dcgan_discriminator", "dcgan_generator",
           "MLPDiscriminator", "mlp_discriminator", "mlp_generator", "VAE", "ConvVAE", "ResNet", "resnet18", "resnet34",
           "resnet50", "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
