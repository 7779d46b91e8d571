"""Datasets: images as uint8 tensors (safe readers, batched augmentation) and tokenised text."""

from diswot.data.dataset import ImageDataset, LabelledData
from diswot.data.readers import DATASETS, download_cifar, load_dataset, load_sample
from diswot.data.safe_pickle import safe_load
from diswot.data.text import TextDataset, WordTokenizer, load_sst2, make_text_dataset, read_labelled_text

__all__ = [
    "DATASETS",
    "ImageDataset",
    "LabelledData",
    "TextDataset",
    "WordTokenizer",
    "download_cifar",
    "load_dataset",
    "load_sample",
    "load_sst2",
    "make_text_dataset",
    "read_labelled_text",
    "safe_load",
]
