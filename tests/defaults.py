"""Running code under a default device and dtype that a user may have set."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def under_default_device_and_dtype(fn: Callable[[], T]) -> T:
    """``fn()`` under a default device and dtype: a ``with torch.device("meta"):`` block (what
    ``torch.set_default_device`` installs; no GPU needed) and ``set_default_dtype(float64)``.
    Tensors that ``fn`` is given must be made outside."""
    before = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        with torch.device("meta"):
            return fn()
    finally:
        torch.set_default_dtype(before)
