"""A module around :func:`bandlimit.ops.resample_poly`, for ``nn.Sequential`` and friends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from bandlimit.nn._module import Module
from bandlimit.ops._dispatch import _check_impl
from bandlimit.ops.resample import _filter_on, apply_resample, resample_spec
from bandlimit.ops.streaming import FilteredAct1dStream

__all__ = ["ResamplePoly"]


class ResamplePoly(Module):
    """Rational-rate resampling by ``up / down`` along ``dim``: :func:`bandlimit.ops.resample_poly`
    (scipy's ``resample_poly`` rules) as a module, for ``nn.Sequential`` and friends.

    The arguments are those of :func:`bandlimit.ops.resample_poly` and are checked once, here.
    Each resampled axis of length ``L`` becomes ``ceil(L·up/down)`` long; the output has the
    input's dtype and device (dtypes, devices, gradients, ``torch.compile`` and
    ``torch.export`` as for the function). No parameters and no state-dict entries: explicit
    filter taps (``window`` a tensor, an array or a list of numbers) are kept as a
    non-persistent buffer ``taps``, so they follow ``.to()``.

    Parameters
    ----------
    up, down : int or sequence of int
        The factors, one per ``dim`` or one for all; divided by their gcd.
    dim : int or sequence of int, default -1
        Axis or axes to resample (``(-2, -1)`` for images).
    window : None, number, str, tuple or taps, default None (keyword-only)
        The filter: None for scipy's ``('kaiser', 5.0)``, a Kaiser β, a window spec for
        ``scipy.signal.firwin``, or the taps themselves (designed for the rate ``up · fs``).
    padtype : str, default 'constant' (keyword-only)
        What lies beyond the signal's ends, with scipy's names (``'constant'``, ``'line'``,
        ``'mean'``, ``'edge'``, ``'reflect'``, ...; see :func:`bandlimit.ops.resample_poly`).
    cval : float, complex or None, default None (keyword-only)
        The constant of ``padtype='constant'`` (None: 0).
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        Backend of the underlying :func:`~bandlimit.ops.upfirdn1d` calls.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import ResamplePoly
    >>> to_24k = ResamplePoly(160, 147)  # 22.05 kHz audio to 24 kHz
    >>> to_24k(torch.randn(2, 1, 22050)).shape
    torch.Size([2, 1, 24000])
    >>> ResamplePoly(48000, 44100).up, ResamplePoly(48000, 44100).down  # divided by the gcd
    (160, 147)
    >>> halve = ResamplePoly(1, 2, dim=(-2, -1))  # images, without aliasing
    >>> halve(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 3, 32, 32])
    >>> len(halve.state_dict())
    0

    In a model, with explicit taps (a buffer that follows ``.to()``):

    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv1d(1, 4, 3, padding=1), ResamplePoly(2, 1, window=[0.25, 0.5, 0.25]))
    >>> model(torch.randn(1, 1, 50)).shape
    torch.Size([1, 4, 100])
    >>> [name for name, _ in model.named_buffers()], len(model[1].state_dict())
    (['1.taps'], 0)
    """

    _filter_buffers = ("taps",)

    taps: torch.Tensor | None  # a buffer, registered in __init__

    def __init__(
        self,
        up: int | Sequence[int],
        down: int | Sequence[int],
        dim: int | Sequence[int] = -1,
        *,
        window: Any = None,
        padtype: str = "constant",
        cval: float | complex | None = None,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        self.spec = resample_spec(up, down, dim, window, padtype, cval)
        self.impl = _check_impl(impl)
        taps = self.spec.taps
        self.register_design("taps", None if taps is None else taps.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Resample ``x`` (each axis in ``dim`` of length ``L`` to ``ceil(L·up/down)``)."""
        return apply_resample(x, self.spec, self.impl, taps=self.taps)

    def stream(self) -> FilteredAct1dStream:
        """This resampler on a signal that arrives in chunks ``[N, C, l]`` along the last axis:
        a :class:`~bandlimit.ops.FilteredAct1dStream` whose concatenated outputs (after its
        ``flush()``) equal this module on the whole signal, each chunk's as soon as the samples
        they depend on have arrived (real-time sample-rate conversion). Needs one resampled
        axis, the last, and ``padtype`` ``'constant'`` (with ``cval`` 0) or ``'edge'``: the
        other extensions depend on the whole signal. Real signals only (stream a complex
        signal's real and imaginary parts as two streams).

        >>> import torch
        >>> from bandlimit.nn import ResamplePoly
        >>> to_48k = ResamplePoly(160, 147)
        >>> x = torch.randn(1, 2, 4410)
        >>> stream = to_48k.stream()
        >>> y = torch.cat([stream(c) for c in x.split(441, dim=2)] + [stream.flush()], dim=2)
        >>> y.shape, torch.allclose(y, to_48k(x), atol=1e-6)
        (torch.Size([1, 2, 4800]), True)
        """
        s = self.spec
        if len(s.dims) != 1 or s.dims[0] not in (-1, 2):
            raise ValueError(
                f"stream() resamples the last axis of [N, C, L] chunks; this module resamples "
                f"dim={self.dim}"
            )
        modes = {"constant": "zeros", "edge": "replicate"}
        if s.padtype not in modes or (s.padtype == "constant" and s.cval):
            raise ValueError(
                f"stream() needs padtype 'constant' (cval 0) or 'edge', whose extensions are "
                f"known from the signal's ends; got padtype={s.padtype!r}"
                + (f" with cval={s.cval!r}" if s.padtype == "constant" else "")
            )
        ((u, d),) = s.factors
        if u == d:  # (equal factors: the signal itself)
            return FilteredAct1dStream("linear", impl=self.impl)
        taps = self.taps if self.taps is not None else _filter_on(u, d, s.window,
                                                                   torch.device("cpu"))
        k = taps.numel()
        p1 = (k - 1) // 2  # resample_poly's alignment (see its _resample_axis)
        return FilteredAct1dStream("linear", taps, None, up=u, down=d, padding=(k - 1 - p1, p1),
                                   padding_mode=modes[s.padtype], impl=self.impl)  # fmt: skip

    @property
    def up(self) -> int | tuple[int, ...]:
        """The up-sampling factor after dividing by the gcd (one per ``dim`` if several)."""
        return _one([u for u, _ in self.spec.factors])

    @property
    def down(self) -> int | tuple[int, ...]:
        """The down-sampling factor after dividing by the gcd (one per ``dim`` if several)."""
        return _one([d for _, d in self.spec.factors])

    @property
    def dim(self) -> int | tuple[int, ...]:
        """The resampled axis (a tuple if several)."""
        return _one(self.spec.dims)

    def extra_repr(self) -> str:
        """The factors, axes and filter, as shown by ``repr``.

        :meta private:
        """
        s = self.spec
        text = f"up={self.up}, down={self.down}, dim={self.dim}, padtype={s.padtype!r}"
        if s.padtype == "constant" and s.cval:
            text += f", cval={s.cval!r}"
        if s.taps is not None:
            text += f", window=<{s.taps.numel()} taps>"
        elif s.window is not None:
            text += f", window={s.window!r}"
        return text + ("" if self.impl == "auto" else f", impl={self.impl!r}")


def _one(values: Sequence[int]) -> int | tuple[int, ...]:
    return values[0] if len(values) == 1 else tuple(values)
