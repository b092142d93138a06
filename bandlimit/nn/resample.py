"""A module around :func:`bandlimit.ops.resample_poly`, for ``nn.Sequential`` and friends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from bandlimit.ops._dispatch import _check_impl
from bandlimit.ops.resample import resample_poly

__all__ = ["ResamplePoly"]


class ResamplePoly(nn.Module):
    """Rational-rate resampling by ``up / down`` along ``dim``: :func:`bandlimit.ops.resample_poly`
    (scipy's ``resample_poly`` rules), whose arguments it takes and stores.

    Example: ``ResamplePoly(160, 147)`` turns 22.05 kHz audio ``[N, C, T]`` into 24 kHz;
    ``ResamplePoly(1, 2, dim=(-2, -1))`` halves images without aliasing. It has no parameters;
    explicit filter taps (``window`` a tensor) are kept as a buffer, so they follow ``.to()``.
    """

    def __init__(
        self,
        up: int | Sequence[int],
        down: int | Sequence[int],
        dim: int | Sequence[int] = -1,
        *,
        window: Any = None,
        padtype: str = "constant",
        cval: float | None = None,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        self.up, self.down, self.dim = up, down, dim
        self.padtype, self.cval, self.impl = padtype, cval, impl
        self.window = None if isinstance(window, torch.Tensor) else window
        self.register_buffer(
            "taps", window.detach().clone() if isinstance(window, torch.Tensor) else None,
            persistent=False,
        )  # fmt: skip
        # Bad arguments fail here, not at the first forward: a tiny call checks them all.
        _check_impl(impl)
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        ndim = max([d + 1 if d >= 0 else -d for d in dims if isinstance(d, int)] or [1])
        resample_poly(torch.zeros([2] * ndim), up, down, dim, window=window, padtype=padtype,
                      cval=cval, impl="ref")  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = self.taps if self.taps is not None else self.window
        return resample_poly(x, self.up, self.down, self.dim, window=window, padtype=self.padtype,
                             cval=self.cval, impl=self.impl)  # fmt: skip

    def extra_repr(self) -> str:
        return (f"up={self.up!r}, down={self.down!r}, dim={self.dim!r}, padtype={self.padtype!r}"
                + ("" if self.cval is None else f", cval={self.cval!r}"))  # fmt: skip
