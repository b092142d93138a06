"""``torch_utils.ops.upfirdn2d``: :func:`setup_filter`, :func:`upfirdn2d`, :func:`filter2d`,
:func:`upsample2d` and :func:`downsample2d` with the originals' signatures (``impl='cuda'``
by default, see :mod:`bandlimit.compat.stylegan`), computed by :mod:`bandlimit.ops`."""

from __future__ import annotations

import torch

from bandlimit import ops
from bandlimit.compat.stylegan._impl import Padding, as_tuple, backend, init_plugin
from bandlimit.ops import setup_filter
from bandlimit.ops._params import as_factors, as_padding
from bandlimit.ops.upfirdn import _filter_hw

__all__ = ["downsample2d", "filter2d", "setup_filter", "upfirdn2d", "upsample2d"]

# The originals' private helpers, which layers built on them call: the plugin's loader, a
# filter's (width, height), a padding as (x0, x1, y0, y1) and factors as (x, y).
_init = init_plugin
_plugin = None
_get_filter_size = _filter_hw
_parse_padding = as_padding


def _parse_scaling(scaling: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return as_factors(scaling, "scaling")


def upfirdn2d(
    x: torch.Tensor, f: torch.Tensor | None, up: int | tuple[int, int] = 1,
    down: int | tuple[int, int] = 1, padding: Padding = 0, flip_filter: bool = False,
    gain: float = 1, impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.upfirdn2d`."""
    return ops.upfirdn2d(x, f, up, down, as_tuple(padding), flip_filter, gain, backend(impl))


def filter2d(
    x: torch.Tensor, f: torch.Tensor | None, padding: Padding = 0, flip_filter: bool = False,
    gain: float = 1, impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.filter2d`."""
    return ops.filter2d(x, f, as_tuple(padding), flip_filter, gain, backend(impl))


def upsample2d(
    x: torch.Tensor, f: torch.Tensor | None, up: int | tuple[int, int] = 2,
    padding: Padding = 0, flip_filter: bool = False, gain: float = 1, impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.upsample2d`."""
    return ops.upsample2d(x, f, up, as_tuple(padding), flip_filter, gain, backend(impl))


def downsample2d(
    x: torch.Tensor, f: torch.Tensor | None, down: int | tuple[int, int] = 2,
    padding: Padding = 0, flip_filter: bool = False, gain: float = 1, impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.downsample2d`."""
    return ops.downsample2d(x, f, down, as_tuple(padding), flip_filter, gain, backend(impl))

