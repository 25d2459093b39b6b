"""nncore.data: datasets and loaders on NumPy arrays, transforms, the bundled
digits, and readers for MNIST IDX, CIFAR-10 and image folders; vocabularies,
padding helpers and the bundled text (Hamlet) for sequence models."""

from . import transforms
from .dataset import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split
from .digits import digits_datasets, digits_split, load_digits
from .readers import CIFAR10, MNIST, ImageFolder, load_image, read_idx
from .text import CharVocabulary, Vocabulary, length_mask, load_text, pad_sequences

__all__ = [
    "CIFAR10", "DataLoader", "Dataset", "ImageFolder", "MNIST", "Subset", "TensorDataset", "default_collate",
    "digits_datasets", "digits_split", "load_digits", "load_image", "random_split", "read_idx", "transforms",
    "CharVocabulary", "Vocabulary", "length_mask", "load_text", "pad_sequences",
]
