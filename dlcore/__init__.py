"""dlcore: the small numpy deep-learning framework that students build, module by module.

The library provides the contract (:class:`Module`, :class:`Criterion`, :class:`Sequential`),
initialisation, gradient checking, data, training (SGD, Adam, learning-rate schedules) and
plotting, im2col helpers for convolution (:mod:`dlcore.im2col`), and the layers the course gives
ready-made: Sigmoid, MaxPool2d, Flatten, Reshape, LogSoftMax and NLLLoss. The layers students
write in the notebooks (Linear, Tanh, SoftMax, CrossEntropy; ReLU, Dropout, Conv2d and the
momentum optimizer in the bonus part) are deliberately not in the library.
"""

from dlcore.activations import Sigmoid
from dlcore.gradcheck import GradCheckReport, gradcheck, numerical_jacobian
from dlcore.init import normal_weights, zero_bias
from dlcore.log_softmax import LogSoftMax, NLLLoss
from dlcore.module import Criterion, Module, Sequential
from dlcore.notebook_errors import friendly_errors
from dlcore.notebook_loader import NotebookLoadError, load_implementation, load_notebook
from dlcore.optim import Adam, cosine, step_decay
from dlcore.pooling import MaxPool2d
from dlcore.reshape import Flatten, Reshape
from dlcore.train import SGD, EpochStats, count_errors, fit, predict, train_epoch

__all__ = [
    "SGD", "Adam", "Criterion", "EpochStats", "Flatten", "GradCheckReport", "LogSoftMax", "MaxPool2d", "Module",
    "NLLLoss", "NotebookLoadError", "Reshape", "Sequential", "Sigmoid",
    "cosine", "count_errors", "fit", "friendly_errors", "gradcheck", "load_implementation", "load_notebook",
    "normal_weights", "numerical_jacobian", "predict", "step_decay", "train_epoch", "zero_bias",
]
