"""``torch_utils.ops.conv2d_gradfix``: the functions of
:mod:`bandlimit.compat.rosinality.conv2d_gradfix` (rosinality's port kept the original's
``conv2d``, ``conv_transpose2d`` and ``no_weight_gradients``), importable by this dotted name as
``from torch_utils.ops.conv2d_gradfix import …`` was. The flags ``enabled`` and
``weight_gradients_disabled`` are read from that module: one set of flags for both names."""

from __future__ import annotations

from typing import Any

from bandlimit.compat.rosinality import conv2d_gradfix as _shared
from bandlimit.compat.rosinality.conv2d_gradfix import (
    conv2d,
    conv_transpose2d,
    no_weight_gradients,
)

__all__ = ["conv2d", "conv_transpose2d", "no_weight_gradients"]


def __getattr__(name: str) -> Any:
    return getattr(_shared, name)
