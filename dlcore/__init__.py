"""dlcore: the small numpy deep-learning framework that students build, module by module.

The library provides the contract (:class:`Module`, :class:`Criterion`, :class:`Sequential`),
initialisation, gradient checking, data, training (SGD, Adam, learning-rate schedules) and
plotting, and im2col helpers for convolution (:mod:`dlcore.im2col`). The layers themselves
(Linear, Tanh, SoftMax, the criterion) are what students write in the notebooks.
"""

from dlcore.gradcheck import GradCheckReport, gradcheck, numerical_jacobian
from dlcore.init import normal_weights, zero_bias
from dlcore.module import Criterion, Module, Sequential
from dlcore.notebook_errors import friendly_errors
from dlcore.notebook_loader import NotebookLoadError, load_implementation, load_notebook
from dlcore.optim import Adam, cosine, step_decay
from dlcore.train import SGD, EpochStats, count_errors, fit, predict, train_epoch

__all__ = [
    "SGD", "Adam", "Criterion", "EpochStats", "GradCheckReport", "Module", "NotebookLoadError", "Sequential",
    "cosine", "count_errors", "fit", "friendly_errors", "gradcheck", "load_implementation", "load_notebook",
    "normal_weights", "numerical_jacobian", "predict", "step_decay", "train_epoch", "zero_bias",
]
