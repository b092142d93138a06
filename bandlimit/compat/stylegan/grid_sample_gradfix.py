"""``torch_utils.ops.grid_sample_gradfix``: bilinear :func:`torch.nn.functional.grid_sample`
(zeros outside, ``align_corners=False``), as ADA's geometric augmentations call it.

The original made its double backward work for R1 regularisation through the augmentations;
PyTorch's own is differentiable to any order with respect to the input and the grid now, so
:func:`grid_sample` is PyTorch's. ``enabled`` is kept for scripts that set it; it changes
nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["grid_sample"]

enabled = True


def grid_sample(input: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``grid_sample(input, grid, mode='bilinear', padding_mode='zeros',
    align_corners=False)``."""
    return F.grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
