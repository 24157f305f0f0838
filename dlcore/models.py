"""The course's reference architectures, built from the modules of an implementation.

An *implementation* is any namespace that defines the classes students write: ``Linear``,
``Tanh``, ``SoftMax`` and ``CrossEntropy`` (part 1), and ``Conv2d``, ``ReLU`` and ``Dropout`` for
the CNN (part 4); usually a module loaded from notebooks by
:func:`dlcore.notebook_loader.load_implementation`. The layers the course gives ready-made
(pooling, reshaping, LogSoftMax and its criterion) come from ``dlcore`` itself.
"""

from __future__ import annotations

import types

import numpy as np

from dlcore.log_softmax import LogSoftMax, NLLLoss
from dlcore.module import Criterion, Sequential
from dlcore.pooling import MaxPool2d
from dlcore.reshape import Flatten, Reshape

MODELS = ("linear", "mlp", "cnn")
REQUIRED = {"linear": ("Linear", "SoftMax", "CrossEntropy"), "mlp": ("Linear", "Tanh", "SoftMax", "CrossEntropy"),
            "cnn": ("Linear", "Conv2d", "ReLU", "Dropout")}
CNN_DROPOUT = 0.3


class MissingModuleError(Exception):
    """The implementation lacks a class the model needs."""


def build_model(
    name: str, impl: types.ModuleType, rng: np.random.Generator, dtype: np.dtype | type = np.float32
) -> tuple[Sequential, Criterion]:
    """The model ``name`` and its criterion, from the classes defined in ``impl``.

    * ``linear``: Linear(784, 10), SoftMax — ``(N, 784) -> (N, 10)`` class probabilities; CrossEntropy.
    * ``mlp``: Linear(784, 200), Tanh, Linear(200, 10), SoftMax; CrossEntropy.
    * ``cnn``: ``(N, 784) -> (N, 10)`` log-probabilities; NLLLoss. Reshape(1, 28, 28),
      Conv2d(1, 8, 5, padding=2), ReLU, MaxPool2d(2) -> (8, 14, 14); Conv2d(8, 16, 5, padding=2),
      ReLU, MaxPool2d(2) -> (16, 7, 7); Flatten -> 784; Linear(784, 128), ReLU, Dropout(0.3),
      Linear(128, 10), LogSoftMax.

    The model's ``input_grad`` is off: training never uses the gradient w.r.t. the pixels (see
    :class:`dlcore.module.Module`); for the CNN that also holds for the first convolution, which
    sees the pixels only reshaped.
    """
    if name not in REQUIRED:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    missing = [cls for cls in REQUIRED[name] if not hasattr(impl, cls)]
    if missing:
        raise MissingModuleError(f"the implementation defines no {', '.join(missing)}: "
                                 "check the class names in your notebook")
    if name == "linear":
        model = Sequential(impl.Linear(784, 10, rng=rng, dtype=dtype), impl.SoftMax())
    elif name == "mlp":
        model = Sequential(impl.Linear(784, 200, rng=rng, dtype=dtype), impl.Tanh(),
                           impl.Linear(200, 10, rng=rng, dtype=dtype), impl.SoftMax())
    else:
        model = Sequential(Reshape(1, 28, 28),
                           impl.Conv2d(1, 8, 5, padding=2, rng=rng, dtype=dtype), impl.ReLU(), MaxPool2d(2),
                           impl.Conv2d(8, 16, 5, padding=2, rng=rng, dtype=dtype), impl.ReLU(), MaxPool2d(2),
                           Flatten(), impl.Linear(784, 128, rng=rng, dtype=dtype), impl.ReLU(),
                           impl.Dropout(CNN_DROPOUT, rng=rng), impl.Linear(128, 10, rng=rng, dtype=dtype),
                           LogSoftMax())
        model[1].input_grad = False
    model.input_grad = False
    criterion = NLLLoss() if name == "cnn" else impl.CrossEntropy()
    return model, criterion
