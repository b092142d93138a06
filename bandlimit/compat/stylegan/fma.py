"""``torch_utils.ops.fma``: the fused multiply-add ``a * b + c`` with broadcasting, whose
gradients PyTorch's :func:`torch.addcmul` reduces to each argument's shape (the original module
existed to get exactly that)."""

from __future__ import annotations

import torch

__all__ = ["fma"]


def fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``a * b + c``, broadcast; differentiable to any order with respect to all three."""
    return torch.addcmul(c, a, b)
