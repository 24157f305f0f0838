"""The case schema: what the grader asks a probe and what the probe answers, field by field.

Both sides use these classes (this file is copied into the jail with the probes): the grader
builds cases, the probe reads them and answers with results, the grader reads the results back
with :func:`from_tree` and compares them with what the same probe gave on the reference
implementation. On the wire (:mod:`wire`) a case is a plain tree of dicts, lists and arrays; a
field that is None is left out. No field of a case ever holds an answer: inputs, parameters,
configurations and seeds only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray


@dataclass
class ModuleCase:
    """One module under test, built fresh: ``(N, ...) -> (N, ...)``.

    ``params`` replace the module's parameters after ``__init__`` (Linear: W ``(D_in, D_out)``, b
    ``(D_out,)``; Conv2d: W ``(C_out, C_in, k, k)``, b ``(C_out,)``); ``cache`` holds the
    attributes the course text mandates, set before ``bprop`` is called alone (Linear: ``z``;
    Tanh, SoftMax: ``y``); ``config`` the constructor's arguments (Conv2d: ``c_in, c_out, k,
    stride, padding``; Dropout: ``p, seed``).
    """

    x: Array
    g: Array | None = None  # grad_output, the shape of the output
    params: list[Array] = field(default_factory=list)
    cache: dict[str, Array] = field(default_factory=dict)
    config: dict[str, float] = field(default_factory=dict)
    dtype: str = "float64"


@dataclass
class ModuleResult:
    """What a module gave on one case; ``error`` says in words what the student's code raised."""

    y: Array | None = None  # fprop's output
    grad_input: Array | None = None  # bprop's return value
    grads: list[Array] | None = None  # grads() after bprop
    x_after: Array | None = None  # the array passed to fprop, after the calls
    g_after: Array | None = None  # the array passed to bprop, after the calls
    bprop_error: str | None = None  # bprop raised (grads() is still read: the gradients it set before)
    error: str | None = None


@dataclass
class ParamsResult:
    """params() and grads() of a module: fprop's output before and after each parameter is shifted
    by 1 in place (an optimizer changes the live arrays), and the gradients after bprop."""

    y: Array | None = None
    shifted: list[Array] = field(default_factory=list)
    grads: list[Array] = field(default_factory=list)
    n_params: int = 0
    error: str | None = None


@dataclass
class CriterionCase:
    """The criterion on probabilities ``y (N, C)`` and one-hot targets ``t (N, C)``; ``cache`` is
    set before ``bprop`` is called alone (``y``: the floored probabilities, ``t``)."""

    y: Array
    t: Array
    cache: dict[str, Array] = field(default_factory=dict)
    dtype: str = "float64"


@dataclass
class CriterionResult:
    cost: Array | None = None  # a scalar
    grad_input: Array | None = None  # (N, C)
    y_after: Array | None = None
    t_after: Array | None = None
    error: str | None = None


@dataclass
class FunctionResult:
    """A student function's return value (``value``) and its arguments after the call."""

    value: Array | None = None
    args_after: list[Array] = field(default_factory=list)
    error: str | None = None


def to_tree(obj: Any) -> Any:
    """A case or result (or lists/dicts of them) as a plain tree for :mod:`wire`."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_tree(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if getattr(obj, f.name) is not None}
    if isinstance(obj, dict):
        return {k: to_tree(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_tree(v) for v in obj]
    return obj


class SchemaError(ValueError):
    """A tree that does not have the fields (or the types) of the class asked for."""


def from_tree(cls: type, tree: Any) -> Any:
    """``cls`` built from a tree that came over the wire; unknown fields are an error."""
    if not isinstance(tree, dict):
        raise SchemaError(f"{cls.__name__}: a mapping was expected, not {type(tree).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(tree) - names
    if unknown:
        raise SchemaError(f"{cls.__name__}: unknown fields {sorted(unknown)[:5]}")
    return cls(**tree)
