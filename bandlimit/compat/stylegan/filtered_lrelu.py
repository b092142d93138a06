"""``torch_utils.ops.filtered_lrelu`` (StyleGAN3): :func:`filtered_lrelu` with the original
signature (``impl='cuda'`` by default, see :mod:`bandlimit.compat.stylegan`)."""

from __future__ import annotations

import math

import torch

from bandlimit import ops
from bandlimit.compat.stylegan._impl import Padding, as_tuple, backend, init_plugin

__all__ = ["filtered_lrelu"]

_init = init_plugin  # (the originals' plugin loader, called by training scripts)
_plugin = None


def filtered_lrelu(
    x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None, up: int = 1, down: int = 1,
    padding: Padding = 0, gain: float = math.sqrt(2),
    slope: float = 0.2, clamp: float | None = None, flip_filter: bool = False,
    impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.filtered_lrelu`."""
    return ops.filtered_lrelu(x, fu, fd, b, up, down, as_tuple(padding), gain, slope, clamp,
                              flip_filter, backend(impl))
