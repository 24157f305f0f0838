"""Data of the course: IDX reading, (Fashion-)MNIST loading and fetching, minibatches."""

from dlcore.data.batching import minibatches, one_hot
from dlcore.data.fetch import fetch
from dlcore.data.idx import read_idx
from dlcore.data.mnist import DATASETS, MNIST, default_data_dir, load_dataset, load_mnist

__all__ = ["DATASETS", "MNIST", "default_data_dir", "fetch", "load_dataset", "load_mnist", "minibatches", "one_hot",
           "read_idx"]
