"""fastconv.data: MNIST and Fashion-MNIST (found, downloaded or read from installed copies,
cached as .npy), normalisation and a seeded batch iterator."""
from .loader import MNIST_MEAN, MNIST_STD, batches, to_float
from .mnist import (DATASETS, ChecksumError, Data, DatasetNotFoundError, default_root, load,
                    load_fashion_mnist, load_mnist, read_idx, read_mnist_csv)

__all__ = ["load", "load_mnist", "load_fashion_mnist", "read_idx", "read_mnist_csv",
           "default_root", "batches", "to_float", "DATASETS", "Data", "DatasetNotFoundError",
           "ChecksumError", "MNIST_MEAN", "MNIST_STD"]
