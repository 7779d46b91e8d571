"""Datasets as uint8 tensors, safe readers, and batched augmentation."""

from diswot.data.dataset import ImageDataset
from diswot.data.readers import DATASETS, download_cifar, load_dataset, load_sample
from diswot.data.safe_pickle import safe_load

__all__ = ["DATASETS", "ImageDataset", "download_cifar", "load_dataset", "load_sample", "safe_load"]
