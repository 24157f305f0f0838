"""Parameter initialisation of the course: ``W ~ N(0, σ = sqrt(2 / (M + N)))``, ``b = 0``."""

from __future__ import annotations

import numpy as np


def normal_weights(
    fan_in: int, fan_out: int, rng: np.random.Generator | None = None, dtype: np.dtype | type = np.float64
) -> np.ndarray:
    """Weights ``(fan_in, fan_out)`` drawn from ``N(0, sqrt(2 / (fan_in + fan_out)))``.

    The variance keeps the activations and the gradients at a similar scale from layer to
    layer (Glorot and Bengio, 2010). Pass a seeded ``numpy.random.Generator`` for
    reproducible runs; without one, a fresh unseeded generator is used.
    """
    rng = np.random.default_rng() if rng is None else rng
    sigma = np.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal((fan_in, fan_out)) * sigma).astype(dtype)


def normal_kernels(
    c_out: int, c_in: int, kh: int, kw: int, rng: np.random.Generator | None = None,
    dtype: np.dtype | type = np.float64,
) -> np.ndarray:
    """Convolution kernels ``(c_out, c_in, kh, kw)`` drawn from ``N(0, sqrt(2 / (fan_in + fan_out)))``.

    A kernel is a linear map from a receptive field of ``c_in·kh·kw`` inputs to ``c_out``
    outputs, and each input pixel feeds ``c_out·kh·kw`` outputs: those are the fans of the rule above.
    """
    rng = np.random.default_rng() if rng is None else rng
    sigma = np.sqrt(2.0 / (c_in * kh * kw + c_out * kh * kw))
    return (rng.standard_normal((c_out, c_in, kh, kw)) * sigma).astype(dtype)


def zero_bias(fan_out: int, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Biases ``(fan_out,)`` set to zero."""
    return np.zeros(fan_out, dtype=dtype)
