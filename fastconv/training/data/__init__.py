"""fastconv.data: MNIST and Fashion-MNIST (fetched, found, downloaded or read from installed
copies, cached as .npy), normalisation and a seeded batch iterator."""
from .loader import MNIST_MEAN, MNIST_STD, batches, to_float
from .mnist import (DATASETS, MNIST_WHEEL, ChecksumError, Data, DatasetNotFoundError,
                    default_root, fetch, load, load_fashion_mnist, load_mnist, read_idx,
                    read_mnist_csv, read_mnist_wheel, wheel_path)

__all__ = ["load", "load_mnist", "load_fashion_mnist", "fetch", "read_idx", "read_mnist_csv",
           "read_mnist_wheel", "wheel_path", "default_root", "batches", "to_float", "DATASETS",
           "MNIST_WHEEL", "Data", "DatasetNotFoundError", "ChecksumError", "MNIST_MEAN",
           "MNIST_STD"]
