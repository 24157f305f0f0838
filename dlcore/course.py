"""The course's numbers, in one place, under names that say whose they are.

Four sets of MNIST test-error figures appear in the course, and they are different on purpose:

* :data:`RULE_OF_THUMB_ERRORS`: what the seed's text promises about the two models (about 750 and
  250 errors of 10,000), the figures students aim at;
* :data:`NOTEBOOK_TARGET_ERRORS`: what the notebooks' own visible test cells accept after their
  full-length training (with slack for the randomness of initialisation and shuffling), and
  :data:`QUICK_TARGET_ERRORS` in quick mode (``DLCORE_QUICK=1``: one short epoch);
* :data:`GRADER_TARGET_ERRORS`: what the hidden autograder's own training runs must reach for
  the MNIST points (its recipes are in ``autograder/checks/mnist.py``);
* :data:`CNN_GOAL`: what the course asks of the CLI's CNN recipe (``python -m dlcore train
  --model cnn``) and what ``bench/bench_cnn.py`` measures.

The notebooks, the grader, the command line and the benchmarks read them from here.
"""

from __future__ import annotations

RULE_OF_THUMB_ERRORS = {"linear": 750, "mlp": 250}
NOTEBOOK_TARGET_ERRORS = {"linear": 800, "mlp": 300, "cnn": 150}
QUICK_TARGET_ERRORS = 5000
GRADER_TARGET_ERRORS = {"linear": 775, "mlp": 250, "cnn": 275}
CNN_GOAL = {"errors": 100, "seconds": 600, "torch_ratio": 2.0}

# Where each graded name is written: the notebook (by stem) whose namespace the grader reads it from.
NOTEBOOKS = ("01_modules", "02_gradcheck", "03_training", "04_cnn")
OWNERS = {
    **dict.fromkeys(("Linear", "Tanh", "SoftMax", "CrossEntropy"), "01_modules"),
    **dict.fromkeys(("numerical_jacobian", "backprop_jacobian", "max_mixed_error"), "02_gradcheck"),
    **dict.fromkeys(("sgd_step", "train", "build_linear", "build_mlp"), "03_training"),
    **dict.fromkeys(("ReLU", "Dropout", "Momentum", "Conv2d", "build_cnn"), "04_cnn"),
}
