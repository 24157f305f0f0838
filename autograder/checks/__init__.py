"""The check table: every graded test, in the order of the results, grouped in parts.

The core (parts 1-3: 100 points with MNIST) comes first; the bonus (part 4: 50 points with its
MNIST target) follows when the reference solutions include part 4. Add a test by adding a probe
(``autograder/sandbox/probes.py``) and a check to a part here; give it a stable id and the
nbgrader test cell it scores (the cell's points follow from its checks).
"""

from __future__ import annotations

from autograder.checks.base import Check, Part, Probe
from autograder.checks.dropout import dropout_part
from autograder.checks.functions import cnn_builder_part, gradcheck_parts, training_parts
from autograder.checks.mnist import BONUS, CORE, RECIPES, mnist_part
from autograder.checks.modules import KINDS, criterion_part, module_part
from autograder.checks.momentum import momentum_part

BONUS_CLASSES = ("ReLU", "Dropout", "Momentum", "Conv2d")


def has_bonus(ref) -> bool:
    """True when the reference solutions define part 4's classes (its notebook is in ``solutions/``)."""
    return all(hasattr(ref, name) for name in BONUS_CLASSES)


def table(bonus: bool = True, mnist: bool = True) -> list[Part]:
    """Every part, in order; the bonus's only with ``bonus``, the MNIST targets only with ``mnist``."""
    parts = [module_part(KINDS[k]) for k in ("Linear", "Tanh", "SoftMax")] + [criterion_part()]
    parts += gradcheck_parts() + training_parts()
    if mnist:
        parts += [mnist_part(RECIPES[name]) for name in CORE]
    if bonus:
        parts += [module_part(KINDS["ReLU"]), dropout_part(), momentum_part(), module_part(KINDS["Conv2d"]),
                  cnn_builder_part()]
        if mnist:
            parts += [mnist_part(RECIPES[name]) for name in BONUS]
    return parts


def all_checks() -> list[Check]:
    """Every check of the full table (bonus and MNIST included): what the nbgrader cells are built from."""
    return [c for part in table() for c in part.checks]


__all__ = ["Check", "Part", "Probe", "all_checks", "has_bonus", "table"]
