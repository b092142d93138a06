"""A module around :func:`bandlimit.ops.resample_poly`, for ``nn.Sequential`` and friends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from bandlimit.ops._dispatch import _check_impl
from bandlimit.ops.resample import apply_resample, resample_spec

__all__ = ["ResamplePoly"]


class ResamplePoly(nn.Module):
    """Rational-rate resampling by ``up / down`` along ``dim``: :func:`bandlimit.ops.resample_poly`
    (scipy's ``resample_poly`` rules), whose arguments it takes.

    The arguments are checked once, here; explicit filter taps (``window`` a tensor, an array
    or a list of numbers) are kept as a buffer, so they follow ``.to()``, and are not part of
    the state dict. No parameters.

    Example: ``ResamplePoly(160, 147)`` turns 22.05 kHz audio ``[N, C, T]`` into 24 kHz;
    ``ResamplePoly(1, 2, dim=(-2, -1))`` halves images without aliasing.
    """

    taps: torch.Tensor | None  # a buffer, registered in __init__

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
        self.spec = resample_spec(up, down, dim, window, padtype, cval)
        self.impl = _check_impl(impl)
        taps = self.spec.taps
        self.register_buffer("taps", None if taps is None else taps.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_resample(x, self.spec, self.impl, taps=self.taps)

    def extra_repr(self) -> str:
        s = self.spec

        def one(values: Sequence[int]) -> object:
            return values[0] if len(values) == 1 else tuple(values)

        ups, downs = one([u for u, _ in s.factors]), one([d for _, d in s.factors])
        text = f"up={ups}, down={downs}, dim={one(s.dims)}, padtype={s.padtype!r}"
        if s.padtype == "constant" and s.cval:
            text += f", cval={s.cval!r}"
        if s.taps is not None:
            text += f", window=<{s.taps.numel()} taps>"
        elif s.window is not None:
            text += f", window={s.window!r}"
        return text + ("" if self.impl == "auto" else f", impl={self.impl!r}")
