"""The course's reference architectures, built from the modules of an implementation.

An *implementation* is any namespace that defines the classes students write: ``Linear``,
``Tanh``, ``SoftMax`` and ``CrossEntropy`` (usually a module loaded from notebooks by
:func:`dlcore.notebook_loader.load_implementation`).
"""

from __future__ import annotations

import types

import numpy as np

from dlcore.module import Criterion, Sequential

MODELS = ("linear", "mlp")
REQUIRED = ("Linear", "Tanh", "SoftMax", "CrossEntropy")


class MissingModuleError(Exception):
    """The implementation lacks a class the model needs."""


def build_model(
    name: str, impl: types.ModuleType, rng: np.random.Generator, dtype: np.dtype | type = np.float32
) -> tuple[Sequential, Criterion]:
    """The model ``name`` and its criterion, from the classes defined in ``impl``.

    * ``linear``: Linear(784, 10), SoftMax — ``(N, 784) -> (N, 10)`` class probabilities.
    * ``mlp``: Linear(784, 200), Tanh, Linear(200, 10), SoftMax.

    The criterion is ``CrossEntropy`` on the SoftMax output. The model's ``input_grad`` is off:
    training never uses the gradient w.r.t. the pixels (see :class:`dlcore.module.Module`).
    """
    missing = [cls for cls in REQUIRED if not hasattr(impl, cls)]
    if missing:
        raise MissingModuleError(f"the implementation defines no {', '.join(missing)}: "
                                 "check the class names in your notebook")
    if name == "linear":
        model = Sequential(impl.Linear(784, 10, rng=rng, dtype=dtype), impl.SoftMax())
    elif name == "mlp":
        model = Sequential(impl.Linear(784, 200, rng=rng, dtype=dtype), impl.Tanh(),
                           impl.Linear(200, 10, rng=rng, dtype=dtype), impl.SoftMax())
    else:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    model.input_grad = False
    return model, impl.CrossEntropy()
