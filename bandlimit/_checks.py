"""Scalar argument checks shared by the whole package.

Each returns the value as a plain Python type, or raises ``TypeError`` (wrong kind) or
``ValueError`` (out of range) with a message that names the argument, the value and what was
expected. Bools are rejected where numbers are expected (``True`` is not a tap count).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int (numpy integers accepted), optionally ``>= minimum``."""
    # Every op checks several ints per call: a plain int skips the (slow) abstract-class checks.
    if type(value) is not int and (
        isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer))
    ):
        what = "an int" if minimum is None else f"an int >= {minimum}"
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


MAX_FACTOR = 2**30  # up / down factors: torch's convolutions take strides in 32 bits


def check_factor(name: str, value: Any) -> int:
    """An up / down factor: an int in ``[1, 2**30]``."""
    f = check_int(name, value, 1)
    if f > MAX_FACTOR:
        raise ValueError(f"{name} must be an int in [1, 2**30], got {value!r}")
    return f


def check_real(
    name: str, value: Any, *, positive: bool = False, nonnegative: bool = False
) -> float:
    """``value`` as a finite float, optionally ``> 0`` (positive) or ``>= 0`` (nonnegative)."""
    if type(value) not in (float, int) and (
        isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
    ):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    out = float(value)
    # Not finite (NaN compares False). A comparison, not math.isfinite: torch.compile traces it
    # when dynamic=True turns a float argument into a symbolic one.
    if not abs(out) < math.inf:
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if positive and out <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonnegative and out < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def check_bool(name: str, value: Any) -> bool:
    if type(value) is not bool and not isinstance(value, np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_float_dtype(name: str, value: Any) -> torch.dtype:
    """``value`` as a real floating-point ``torch.dtype``."""
    if not isinstance(value, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {value!r} ({type(value).__name__})")
    if not value.is_floating_point:
        raise TypeError(
            f"{name} must be a real floating-point torch.dtype (e.g. torch.float32), got {value!r}"
        )
    return value
