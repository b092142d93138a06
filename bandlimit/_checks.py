"""Scalar argument checks shared by the whole package.

Each returns the value as a plain Python type, or raises ``TypeError`` (wrong kind) or
``ValueError`` (out of range) with a message that names the argument, the value and what was
expected. Bools are rejected where numbers are expected (``True`` is not a tap count).
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np
import torch

_SHORT_INT = 10**30  # ints from here on are shown in scientific form in messages


def short_repr(value: Any) -> str:
    """``repr(value)`` for a message, short: an int of 31 digits or more as ``1.234e+400 (an
    int of 401 digits)``, another long repr cut in the middle. A message should not print
    hundreds of digits (nor fail to: Python refuses to convert an int of more than 4300 digits
    to a string; a tuple or list of up to 16 items holding such an int shows each item short)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        v = int(value)
        if abs(v) >= _SHORT_INT:
            e = int(math.log10(abs(v)))  # (the float logarithm may be one off at a power of 10)
            if abs(v) < 10**e:
                e -= 1
            elif abs(v) >= 10 ** (e + 1):
                e += 1
            m = abs(v) // 10 ** (e - 3)  # the first 4 digits, truncated
            sign = "-" if v < 0 else ""
            return f"{sign}{m // 1000}.{m % 1000:03d}e+{e} (an int of {e + 1} digits)"
    limit = 80
    try:
        r = repr(value)
    except ValueError:  # (an int past 4300 digits inside)
        if type(value) not in (tuple, list) or len(value) > 16:
            return f"a {type(value).__name__} too long to print"  # (e.g. a Fraction of such ints)
        r = ", ".join(short_repr(v) for v in value)  # each item short
        r = f"[{r}]" if type(value) is list else f"({r},)" if len(value) == 1 else f"({r})"
        limit = 200  # (room for a few short ints)
    return r if len(r) <= limit else f"{r[:60]}...{r[-12:]} ({len(r)} characters)"


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int (numpy integers accepted), optionally ``>= minimum``."""
    # Every op checks several ints per call: a plain int skips the (slow) abstract-class checks.
    if type(value) is not int and (
        isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer))
    ):
        what = "an int" if minimum is None else f"an int >= {minimum}"
        raise TypeError(f"{name} must be {what}, got {short_repr(value)} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {short_repr(value)}")
    return int(value)


MAX_FACTOR = 2**30  # up / down factors: torch's convolutions take strides in 32 bits


def check_factor(name: str, value: Any) -> int:
    """An up / down factor: an int in ``[1, 2**30]``."""
    f = check_int(name, value, 1)
    if f > MAX_FACTOR:
        raise ValueError(f"{name} must be an int in [1, 2**30], got {short_repr(value)}")
    return f


def check_real(
    name: str, value: Any, *, positive: bool = False, nonnegative: bool = False
) -> float:
    """``value`` as a finite float, optionally ``> 0`` (positive) or ``>= 0`` (nonnegative)."""
    if type(value) not in (float, int) and (
        isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
    ):
        raise TypeError(
            f"{name} must be a real number, got {short_repr(value)} ({type(value).__name__})"
        )
    out = to_float(name, value)
    # Not finite (NaN compares False). A comparison, not math.isfinite: torch.compile traces it
    # when dynamic=True turns a float argument into a symbolic one.
    if not abs(out) < math.inf:
        raise ValueError(f"{name} must be a finite real number, got {short_repr(value)}")
    if positive and out <= 0:
        raise ValueError(f"{name} must be > 0, got {short_repr(value)}")
    if nonnegative and out < 0:
        raise ValueError(f"{name} must be >= 0, got {short_repr(value)}")
    return out


def to_float(name: str, value: Any) -> float:
    """``float(value)`` for a real number, with the ValueError naming ``name`` where the number
    is beyond a float's range (an int such as ``10**400``, or a Fraction), not Python's bare
    ``OverflowError``."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be a finite real number, got {short_repr(value)}: beyond the range of "
            f"a float (about ±{sys.float_info.max:.2g})"
        ) from None


def nonreal_kind(value: Any) -> str | None:
    """'bool' or 'complex' where ``value`` (a tensor, an array, a numpy scalar or a list or
    tuple) holds such numbers, which a conversion to a real dtype would silently make real
    (bools 0 / 1, the imaginary parts dropped); else None (a non-numeric value included: its
    conversion says what is wrong)."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool:
            return "bool"
        return "complex" if value.is_complex() else None
    if isinstance(value, (np.ndarray, np.generic)):
        kind = value.dtype.kind
    elif isinstance(value, (list, tuple)):
        try:
            kind = np.asarray(value).dtype.kind
        except (TypeError, ValueError, RuntimeError):  # (ragged, tensors numpy cannot read...)
            return None
    else:
        return None
    return {"b": "bool", "c": "complex"}.get(kind)


def check_bool(name: str, value: Any) -> bool:
    if type(value) is not bool and not isinstance(value, np.bool_):
        raise TypeError(f"{name} must be a bool, got {short_repr(value)} ({type(value).__name__})")
    return bool(value)


def check_device(name: str, value: Any) -> torch.device:
    """``value`` (a ``torch.device``, a device string such as ``'cuda:1'``, or a CUDA index)
    as a ``torch.device``; a ValueError naming ``name`` where torch knows no such device (its
    own RuntimeError does not say which argument)."""
    try:
        return torch.device(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{name} must be a torch.device or a device string, got {short_repr(value)}"
        ) from None


def check_float_dtype(name: str, value: Any) -> torch.dtype:
    """``value`` as a real floating-point ``torch.dtype``."""
    if not isinstance(value, torch.dtype):
        raise TypeError(
            f"{name} must be a torch.dtype, got {short_repr(value)} ({type(value).__name__})"
        )
    if not value.is_floating_point:
        raise TypeError(
            f"{name} must be a real floating-point torch.dtype (e.g. torch.float32), got {value!r}"
        )
    return value
