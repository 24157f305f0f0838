"""Compare a student's array with the expected one and explain a mismatch in words.

Messages never show values (students would copy them); they give the relative error and the most
likely cause, found by testing the patterns of common mistakes: a constant factor (N, 1/N, -1, 2,
1/2), a transpose, one row per sample where a sum over the batch was expected, NaN or inf, and any
check-specific alternatives (e.g. the tanh derivative taken from the input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTOL, ATOL = 1e-6, 1e-9
# float32 rounds at 6e-8 relative; a sum, or a difference of nearly equal terms (softmax's bprop), turns
# that into an absolute error of a few 1e-7 of the array's scale, whichever correct formula is used
F32_RTOL, F32_ATOL = 1e-4, 1e-5


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """``‖got − expected‖ / ‖expected‖`` (Frobenius), or the plain difference when expected is 0."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = float(np.linalg.norm(expected))
    diff = float(np.linalg.norm(got - expected))
    return diff / scale if scale > 0 else diff


def _single_precision(a: np.ndarray) -> bool:
    dtype = np.asarray(a).dtype
    return dtype.kind == "f" and dtype.itemsize <= 4


def close(got: np.ndarray, expected: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """``got`` matches ``expected`` within ``rtol`` and ``atol`` times the larger of 1 and ``max |expected|``
    (loosened to float32's rounding when either array is float32)."""
    if _single_precision(got) or _single_precision(expected):
        rtol, atol = max(rtol, F32_RTOL), max(atol, F32_ATOL)
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return False
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol * scale))


@dataclass
class Verdict:
    passed: bool
    message: str


def _factor(got: np.ndarray, expected: np.ndarray) -> float | None:
    """``k`` when ``got ≈ k · expected`` for a constant ``k``, else None."""
    denom = float(np.sum(expected * expected))
    if denom == 0:
        return None
    k = float(np.sum(got * expected)) / denom
    return k if close(got, k * expected, rtol=1e-5) else None


def diagnose(got: np.ndarray, expected: np.ndarray, what: str, *, batch: int | None = None,
             hints: dict[str, str] | None = None, alternatives: list[tuple[np.ndarray, str]] = ()) -> str:
    """One or two sentences: how ``got`` (named ``what``) differs from ``expected``, and why, likely.

    ``hints`` maps a pattern (``"N"``, ``"1/N"``, ``"sign"``, ``"2"``, ``"transpose"``, ``"nan"``,
    ``"per-sample"``, ``"close"``: within 1e-3) to the cause most likely in this check's context.
    """
    hints = hints or {}
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        if got.shape == expected.shape[::-1] and got.ndim == 2:
            return (f"{what} has the transposed shape {got.shape} instead of {expected.shape}. "
                    + hints.get("transpose", "A transpose (.T) is missing or one too many."))
        if batch and got.shape == (batch, *expected.shape):
            return (f"{what} has shape {got.shape}, one row per sample, instead of {expected.shape}. "
                    + hints.get("per-sample", "Sum over the batch (axis=0)."))
        return f"{what} has shape {got.shape}, but shape {expected.shape} is expected."
    if not np.all(np.isfinite(got)):
        return f"{what} contains NaN or inf. " + hints.get("nan", "An overflow or a division by zero?")
    rel = relative_error(got, expected)
    err = f"(relative error {rel:.2g})"
    for alt, cause in alternatives:
        if alt.shape == got.shape and close(got, alt):
            return f"{what} differs from the expected values {err}: {cause}"
    if rel < 1e-3:
        # no mistake in a formula is this close: the patterns below would mislead
        return f"{what} is close to the expected values but not within the tolerance {err}. " + hints.get(
            "close", "Is part of it computed in lower precision (float16, or float32 where float64 is given) or "
                     "approximated?")
    if got.ndim == 2 and got.shape[0] == got.shape[1] and close(got, expected.T):
        return f"{what} is the transpose of what is expected {err}. " + hints.get("transpose", "")
    if np.allclose(got, 0) and not np.allclose(expected, 0):
        return f"{what} is all zeros {err}. " + hints.get("zero", "Is it computed at all?")
    k = _factor(got, expected)
    if k is not None and not np.isclose(k, 1.0):
        patterns = [(-1.0, "sign", "has the wrong sign"), (2.0, "2", "is twice too large"),
                    (0.5, "1/2", "is half what it should be")]
        if batch and batch > 2:
            patterns += [(float(batch), "N", f"is N = {batch} (the batch size) times too large"),
                         (1.0 / batch, "1/N", f"is N = {batch} (the batch size) times too small")]
        for value, key, words in patterns:
            if np.isclose(k, value, rtol=1e-4):
                return f"{what} {words} {err}. " + hints.get(key, "")
        return f"{what} is off by a constant factor {err}. " + hints.get("factor", "")
    return f"{what} differs from the expected values {err}. " + hints.get("other", "")
