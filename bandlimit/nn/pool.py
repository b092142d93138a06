"""Anti-aliased strided downsampling for CNN backbones: low-pass, then subsample.

A stride-2 convolution or max pool keeps every other sample of a signal it never band-limited,
so its output aliases and changes with one-pixel shifts of the input. Zhang ("Making
Convolutional Networks Shift-Invariant Again", ICML 2019) blurs before subsampling: a max pool of
stride 1, a small binomial low-pass, then the stride. :class:`BlurPool2d` is the blur-and-stride
step (one :func:`bandlimit.ops.upfirdn2d` call); :class:`MaxBlurPool2d` the max pool in front.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import gammaln
from torch import nn

from bandlimit._checks import check_int, nonreal_kind, short_repr
from bandlimit.filters import kaiser_sinc
from bandlimit.nn._module import Module
from bandlimit.nn.activation import tensor_dtype
from bandlimit.ops import upfirdn1d, upfirdn2d, upfirdn3d
from bandlimit.ops._dispatch import _check_impl
from bandlimit.ops._params import check_tensor, keep_memory_format
from bandlimit.ops.reference import extend_index
from bandlimit.ops.volume import _plane_filter

__all__ = ["BlurPool1d", "BlurPool2d", "BlurPool3d", "MaxBlurPool2d"]

_TORCH_PAD = {"reflect": "reflect", "replicate": "replicate", "circular": "circular",
              "zeros": "constant"}  # fmt: skip


def _check_kernel_size(kernel_size: int) -> int:
    k = check_int("kernel_size", kernel_size, 1)
    if k > 2**20:
        raise ValueError(f"kernel_size must be at most 2**20, got {short_repr(kernel_size)}")
    return k


def binomial_filter(kernel_size: int) -> torch.Tensor:
    """The normalised binomial low-pass ``C(k−1, i) / 2**(k−1)``, float64 ``[k]`` (``[1, 2, 1]/4``
    for 3 taps): Zhang's blur filters, a box filter convolved with itself ``k − 1`` times."""
    k = _check_kernel_size(kernel_size)
    # C(k−1, i) / 2**(k−1) through logarithms: the coefficients overflow float64 past k ≈ 1030
    i = np.arange(k)
    taps = np.exp(gammaln(k) - gammaln(i + 1) - gammaln(k - i) - (k - 1) * np.log(2.0))
    return torch.tensor(taps / taps.sum(), dtype=torch.float64, device="cpu")  # (as designs are)


def kaiser_blur(kernel_size: int, stride: int) -> torch.Tensor:
    """A Kaiser-windowed sinc for subsampling by ``stride``, float64 ``[k]``: cut off at the new
    Nyquist frequency ``0.5/stride`` (cycles per input sample), transition band as wide."""
    k = _check_kernel_size(kernel_size)
    if stride < 2:
        raise ValueError(f"filter='kaiser' needs stride >= 2 (it cuts off at 0.5/stride), got "
                         f"stride={stride}")  # fmt: skip
    return kaiser_sinc(k, 0.5 / stride, 0.5 / stride, fs=1, dtype=torch.float64)


def _check_image(x: object, module: str, ndim: int = 2) -> torch.Tensor:
    what = {1: "signals [N, C, L]", 2: "images [N, C, H, W]", 3: "volumes [N, C, D, H, W]"}[ndim]
    if isinstance(x, torch.Tensor) and x.ndim != ndim + 2:
        raise ValueError(f"{module} takes {what}, got shape {tuple(x.shape)}")
    return check_tensor(x, "x", (ndim + 2,), what.split(" ", 1)[1])


def _check_stride(stride: object, ndim: int) -> int | tuple[int, ...]:
    """One subsampling factor, or one per axis (torch's order) whose factors above 1 are all
    the same (``(1, 2, 2)``: a video network's spatial-only stride)."""
    if not isinstance(stride, (tuple, list)):
        return check_int("stride", stride, 1)
    axes = ("(D, H, W)", "(H, W)", "(L,)")[3 - ndim]
    if len(stride) != ndim:
        raise ValueError(f"stride must be an int or one int per axis {axes}, got "
                         f"{short_repr(stride)}")  # fmt: skip
    strides = tuple(check_int(f"stride[{i}]", v, 1) for i, v in enumerate(stride))
    if len({v for v in strides if v > 1}) > 1:
        raise ValueError(
            f"stride must be one factor, or per axis {axes} 1 or one common factor s (e.g. "
            f"{(1,) * (ndim - 1) + (2,)}): the blurred axes share one filter, got "
            f"{short_repr(stride)}"
        )
    return strides


def _extension(n: int, p0: int, p1: int, mode: str, device: torch.device) -> torch.Tensor:
    """Indices extending ``n`` samples by ``p0``/``p1``: 'circular' wrapped; 'reflect'
    mirrored about the edge samples, or, on an axis too short for that (``n`` at most the
    pad), its edges repeated (what :func:`~bandlimit.nn.antialias` does with maps too small
    to reflect, axis by axis)."""
    if mode == "reflect" and n > max(p0, p1):
        i = torch.arange(-p0, n + p1, device=device).abs()
        return torch.where(i > n - 1, 2 * (n - 1) - i, i)
    return extend_index(n, p0, p1, "circular" if mode == "circular" else "replicate", device)


class _BlurPool(Module):
    """Blur, then keep every ``stride``-th sample, along the last ``_ndim`` axes (the
    documented classes below: :class:`BlurPool2d`, :class:`BlurPool1d`, :class:`BlurPool3d`)."""

    _ndim = 2
    filter: torch.Tensor  # a buffer, registered in __init__
    _filter_buffers = ("filter",)

    def __init__(
        self,
        kernel_size: int | None = None,
        stride: int | tuple[int, ...] = 2,
        filter: str | torch.Tensor | Sequence[float] = "binomial",
        padding_mode: str = "reflect",
        *,
        impl: str = "auto",
    ):
        super().__init__()
        self.stride: int | tuple[int, ...] = _check_stride(stride, self._ndim)
        # per axis, torch's order (D, H, W); the blurred axes are those of the largest stride
        self._strides = (self.stride,) * self._ndim if isinstance(self.stride, int) \
            else self.stride
        self._factor = max(self._strides)
        self.impl = _check_impl(impl)
        if padding_mode not in _TORCH_PAD:
            raise ValueError(
                f"padding_mode must be one of {tuple(_TORCH_PAD)}, got {padding_mode!r}"
            )
        self.padding_mode = padding_mode
        if isinstance(filter, str):
            if filter == "binomial":
                taps = binomial_filter(3 if kernel_size is None else kernel_size)
            elif filter == "kaiser":
                k = 4 * self._factor + 1 if kernel_size is None else kernel_size
                taps = kaiser_blur(k, self._factor)
            else:
                raise ValueError(
                    f"filter must be 'binomial', 'kaiser' or a tensor of taps, got {filter!r}"
                )
        else:
            kind = nonreal_kind(filter)
            if kind is not None:  # (a conversion would drop imaginary parts, make bools 0/1)
                raise TypeError(f"filter must hold real taps, got {kind} ones: "
                                f"{short_repr(filter)}")  # fmt: skip
            given = filter.detach() if isinstance(filter, torch.Tensor) else filter
            # (where the taps are: a tensor's own device, numbers on the CPU, whatever the
            # default device)
            on = given.device if isinstance(given, torch.Tensor) else "cpu"
            taps = torch.as_tensor(given, dtype=torch.float64, device=on)
            square = taps.ndim == 2 and taps.shape[0] == taps.shape[1] and self._ndim == 2
            if taps.ndim != 1 and not square:
                shapes = "[k] or [k, k]" if self._ndim == 2 else "[k]"
                raise ValueError(f"filter must have shape {shapes}, got {tuple(taps.shape)}")
            if taps.ndim == 2 and not self._isotropic:
                raise ValueError(f"a [k, k] filter blurs both axes: it needs one stride for "
                                 f"both, got stride={self.stride!r} (pass [k] taps)")
            if taps.numel() == 0 or (not taps.is_meta and not torch.isfinite(taps).all()):
                raise ValueError("filter must hold at least one tap, all finite")
        self.kernel_size = int(taps.shape[0])
        if isinstance(filter, nn.Parameter):  # learned: the parameter itself, trained and saved
            self.filter = filter
            # (its initial taps, for reset_parameters after a meta-device init)
            self.__dict__.setdefault("_designs", {})["filter"] = taps.to("cpu", torch.float32)
        else:  # (a copy: a tensor's later changes, or its graph, do not reach the module)
            self.register_design("filter", taps.float(), persistent=False)

    @property
    def _isotropic(self) -> bool:
        return len(set(self._strides)) == 1

    @property
    def _blurred(self) -> tuple[bool, ...]:
        """Per axis (torch's order): blurred and subsampled by the factor, or left alone."""
        return tuple(st == self._factor for st in self._strides)

    @property
    def output_rate(self) -> float | tuple[float, ...]:
        """Output samples per input sample, ``1 / stride``; per axis for per-axis strides,
        x (W) first, as :func:`~bandlimit.testing.assert_translation_equivariant` takes a
        ``rate``."""
        if self._isotropic:
            return 1 / self._factor
        return tuple(1 / st for st in reversed(self._strides))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_image(x, type(self).__name__, self._ndim)
        if 0 in x.shape[2:]:
            raise ValueError(f"{type(self).__name__} needs at least one sample along each "
                             f"spatial axis, got shape {tuple(x.shape)}")  # fmt: skip
        if self.padding_mode == "reflect" and not self.reflects(x):
            short = [b and n <= self.kernel_size // 2
                     for n, b in zip(x.shape[2:], self._blurred)]  # (the blurred axes too short)
            names = [a for a, b in zip(("L",) if self._ndim == 1 else "DHW"[3 - self._ndim:],
                                       short) if b]  # fmt: skip
            axes = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            raise ValueError(
                f"padding_mode='reflect' needs more than {self.kernel_size // 2} samples along "
                f"{axes} for kernel_size={self.kernel_size}, got shape {tuple(x.shape)} (use "
                f"'replicate')"
            )
        if x.numel() == 0:  # (no channels or batch: only the sizes; F.pad refuses them)
            sizes = [-(-n // st) for n, st in zip(x.shape[2:], self._strides)]
            return x.new_empty(*x.shape[:2], *sizes)
        return self._pool(x, self.padding_mode)

    def reflects(self, x: torch.Tensor) -> bool:
        """Whether ``x`` is large enough for 'reflect' padding (more samples than the pad along
        each blurred axis)."""
        sizes = [n for n, b in zip(x.shape[-self._ndim:], self._blurred) if b]
        return min(sizes) > self.kernel_size // 2

    def _pool(self, x: torch.Tensor, mode: str, subsample: bool = True) -> torch.Tensor:
        """The blur (``mode`` extending ``x``) and, with ``subsample``, the stride; without,
        the blur alone at ``x``'s rate (the anti-imaging filter after an upsampling layer:
        the same low-pass, cut off at ``0.5 / stride`` of the faster rate)."""
        k = self.kernel_size
        pad: tuple[int, ...] = ()  # (left, right[, top, bottom ...]): Zhang's split
        for blurred in reversed(self._blurred):  # (F.pad's order: the last axis first)
            pad += ((k - 1) // 2, k // 2) if blurred else (0, 0)
        if mode == "zeros":
            return keep_memory_format(self._subsample(x, pad, subsample), x)
        short = mode == "reflect" and not self.reflects(x)
        if mode == "circular" or short:  # (F.pad wraps at most once; reflects every axis)
            padded = x
            for axis in range(self._ndim):  # (the last axis first, as F.pad's pairs)
                dim, p0, p1 = x.ndim - 1 - axis, pad[2 * axis], pad[2 * axis + 1]
                if p0 or p1:
                    index = _extension(x.shape[dim], p0, p1, mode, x.device)
                    padded = padded.index_select(dim, index)
        else:
            padded = F.pad(x, pad, mode=_TORCH_PAD[mode])
        # (in x's memory format: the wrap's gather does not keep a channels-last layout)
        return keep_memory_format(self._subsample(padded, (0, 0) * self._ndim, subsample), x)

    def _subsample(self, x: torch.Tensor, pad: tuple[int, ...], subsample: bool = True
                   ) -> torch.Tensor:  # fmt: skip
        """The filter (zero ``pad``) and every ``stride``-th sample (``subsample``), by the
        upfirdn op; with per-axis strides, along the blurred axes only."""
        f = self.filter.to(tensor_dtype(x))
        s = self._factor if subsample else 1
        if self._ndim == 1:
            return upfirdn1d(x, f, down=s, padding=(pad[0], pad[1]), impl=self.impl)
        # per axis, x first: the blurred axes filtered and subsampled, the others left alone
        blurred = self._blurred[::-1]
        fx, fy = (f if b else None for b in blurred[:2])
        dx, dy = (s if b else 1 for b in blurred[:2])
        if self._ndim == 2:
            return upfirdn2d(x, _plane_filter(fx, fy), down=(dx, dy), padding=pad,
                             impl=self.impl)  # fmt: skip
        fz, dz = (f, s) if blurred[2] else (None, 1)
        return upfirdn3d(x, (fx, fy, fz), down=(dx, dy, dz), padding=pad, impl=self.impl)

    def extra_repr(self) -> str:
        parts = [f"stride={self.stride}", f"kernel_size={self.kernel_size}",
                 f"padding_mode={self.padding_mode!r}"]  # fmt: skip
        if self.impl != "auto":
            parts.append(f"impl={self.impl!r}")
        return ", ".join(parts)


class BlurPool2d(_BlurPool):
    """Blur, then keep every ``stride``-th sample along H and W: anti-aliased downsampling.

    ``y = upfirdn2d(pad(x), f, down=stride)`` with ``f`` applied separably (a ``[k]`` filter) or
    as given (``[k, k]``), the input extended by ``⌊(k−1)/2⌋`` samples before and ``⌈(k−1)/2⌉``
    after along each axis with ``padding_mode``, so ``[N, C, H, W]`` gives
    ``[N, C, ⌈H/stride⌉, ⌈W/stride⌉]``. Replaces the subsampling of a strided layer:
    ``MaxPool2d(2)`` → ``MaxBlurPool2d()``, ``Conv2d(stride=2)`` → ``Conv2d(stride=1)`` +
    ``ReLU`` + ``BlurPool2d()`` (Zhang, 2019). No parameters or state-dict entries (the filter is
    a non-persistent buffer ``filter``, float32, cast to the input's dtype) unless the filter is
    given as an ``nn.Parameter``.

    Parameters
    ----------
    kernel_size : int or None, default None
        Taps of the binomial or Kaiser filter. None: 3 for the binomial (Zhang's code takes 1
        to 7 and defaults to 4), ``4·stride + 1`` for the Kaiser filter. Ignored when
        ``filter`` gives the taps. First, as in :class:`MaxBlurPool2d` and kornia's
        ``BlurPool2D``. An even size centres output ``j`` half an input sample after ``j·stride``
        (an odd size keeps the strided layer's grid).
    stride : int or ``(sH, sW)``, default 2
        The subsampling factor, ≥ 1; or one per axis, torch's order, each 1 or one common
        factor ``s`` (``(1, 2)``: the strided layers of spectrogram networks): the axes of
        stride ``s`` are blurred and subsampled, the others left as they are (no filter, no
        padding). (Equal strides, 1 included, blur every axis.)
    filter : 'binomial', 'kaiser' or Tensor, default 'binomial'
        The low-pass: binomial (Zhang's); 'kaiser', a Kaiser-windowed sinc cut off at the new
        Nyquist frequency ``0.5/stride`` cycles per input sample with a transition band as
        wide (:func:`bandlimit.filters.kaiser_sinc` ``(kernel_size, 0.5/stride, 0.5/stride,
        fs=1)``; ``stride`` ≥ 2), which with its default ``4·stride + 1`` taps keeps
        ≥ 99.5 % of the amplitude below ``0.25/stride`` and leaves about −35 dB or less of
        any alias from ``0.75/stride`` on (−37.3, −35.5, −35.0 dB at strides 2, 3, 4; a
        binomial of ``2·stride − 1`` taps: 85–89 % and −17, −12, −10 dB); or taps ``[k]``
        (separable) or ``[k, k]`` (e.g. a radial filter
        from :func:`bandlimit.filters.lowpass`) of unit sum for a unit DC gain, copied. An
        ``nn.Parameter`` is learned: it becomes the module's parameter ``filter`` (trained
        with the model, in its state dict).
    padding_mode : {'reflect', 'replicate', 'zeros', 'circular'}, default 'reflect'
        How the input is extended at its borders ('reflect', Zhang's, needs more samples than
        the padding along each axis).
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        Backend of :func:`~bandlimit.ops.upfirdn2d`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import BlurPool2d
    >>> pool = BlurPool2d()
    >>> pool(torch.randn(1, 8, 32, 31)).shape
    torch.Size([1, 8, 16, 16])
    >>> pool.filter
    tensor([0.2500, 0.5000, 0.2500])
    >>> len(pool.state_dict())
    0
    """


    _ndim = 2


class BlurPool1d(_BlurPool):
    """Blur, then keep every ``stride``-th sample along L: anti-aliased 1-D downsampling.

    :class:`BlurPool2d` for signals ``[N, C, L]`` (audio, 1-D feature maps): ``y =
    upfirdn1d(pad(x), f, down=stride)``, ``f`` a ``[k]`` filter, the input extended by
    ``⌊(k−1)/2⌋`` samples before and ``⌈(k−1)/2⌉`` after with ``padding_mode``, so ``[N, C, L]``
    gives ``[N, C, ⌈L/stride⌉]``. Replaces the subsampling of a strided ``Conv1d`` or
    ``MaxPool1d`` (the strided convolutions of an audio encoder or a waveform discriminator).
    The same arguments, defaults and filters as :class:`BlurPool2d` (taps: ``[k]`` only).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import BlurPool1d
    >>> BlurPool1d(stride=3, filter="kaiser")(torch.randn(2, 4, 100)).shape
    torch.Size([2, 4, 34])
    """

    _ndim = 1


class BlurPool3d(_BlurPool):
    """Blur, then keep every ``stride``-th sample along D, H and W: anti-aliased 3-D
    downsampling.

    :class:`BlurPool2d` for volumes ``[N, C, D, H, W]`` (video clips, medical volumes): the
    ``[k]`` filter applied along W, H and D (separably: one :func:`bandlimit.ops.upfirdn3d`
    call), each axis extended by ``⌊(k−1)/2⌋``
    samples before and ``⌈(k−1)/2⌉`` after with ``padding_mode``, so the output is ``[N, C,
    ⌈D/stride⌉, ⌈H/stride⌉, ⌈W/stride⌉]``. Replaces the subsampling of a strided ``Conv3d``,
    ``MaxPool3d`` or ``AvgPool3d``. The same arguments, defaults and filters as
    :class:`BlurPool2d` (taps: ``[k]`` only); a per-axis ``stride`` ``(sD, sH, sW)`` — video
    networks' spatial-only ``(1, 2, 2)``, a (2+1)-D network's temporal ``(2, 1, 1)`` — blurs
    and subsamples the axes of the common factor only (``(1, 2, 2)`` is :class:`BlurPool2d` on
    every frame).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import BlurPool3d
    >>> BlurPool3d()(torch.randn(1, 2, 8, 16, 15)).shape
    torch.Size([1, 2, 4, 8, 8])
    >>> BlurPool3d(stride=(1, 2, 2))(torch.randn(1, 2, 8, 16, 15)).shape
    torch.Size([1, 2, 8, 8, 8])
    """

    _ndim = 3


class MaxBlurPool2d(Module):
    """Anti-aliased max pooling: a max pool of stride 1, then :class:`BlurPool2d`.

    Replaces ``nn.MaxPool2d(max_pool_size, stride)`` (Zhang, 2019). ``[N, C, H, W]`` gives
    ``[N, C, ⌈(H − max_pool_size + 1)/stride⌉, ⌈(W − max_pool_size + 1)/stride⌉]``
    (16 × 16 from 32 × 32 with the defaults, as ``MaxPool2d(2)``).

    Parameters
    ----------
    kernel_size : int or None, default None
        Taps of the blur (None: :class:`BlurPool2d`'s default for ``filter``).
    stride : int or ``(sH, sW)``, default 2
        The subsampling factor, or one per axis as in :class:`BlurPool2d` (``(1, 2)``: the
        blur and the subsampling along W only).
    max_pool_size : int, default 2
        The max pool's window (stride 1, no padding).
    padding_mode, impl
        As in :class:`BlurPool2d`.
    filter : 'binomial', 'kaiser' or Tensor, default 'binomial' (keyword-only)
        The blur's low-pass, as in :class:`BlurPool2d`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import MaxBlurPool2d
    >>> MaxBlurPool2d()(torch.randn(2, 4, 32, 32)).shape
    torch.Size([2, 4, 16, 16])
    """

    def __init__(
        self,
        kernel_size: int | None = None,
        stride: int | tuple[int, int] = 2,
        max_pool_size: int = 2,
        padding_mode: str = "reflect",
        *,
        impl: str = "auto",
        filter: str | torch.Tensor | Sequence[float] = "binomial",
    ):
        super().__init__()
        self.max_pool_size = check_int("max_pool_size", max_pool_size, 1)
        self.blur = BlurPool2d(kernel_size, stride, filter, padding_mode=padding_mode, impl=impl)

    @property
    def output_rate(self) -> float | tuple[float, ...]:
        """Output samples per input sample, ``1 / stride`` (per axis, x first, for per-axis
        strides)."""
        return self.blur.output_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_image(x, type(self).__name__)
        reflect = self.blur.kernel_size // 2 if self.blur.padding_mode == "reflect" else 0
        needs = [self.max_pool_size + (reflect if b else 0) for b in self.blur._blurred]
        if any(n < need for n, need in zip(x.shape[2:], needs)):  # (told in the input's terms)
            why = f" and the blur's 'reflect' padding {reflect} more" if reflect else ""
            at_least = (f"{needs[0]} along H and W" if needs[0] == needs[1] else
                        f"{needs[0]} along H and {needs[1]} along W")  # fmt: skip
            raise ValueError(
                f"x must be at least {at_least} "
                f"(max_pool_size={self.max_pool_size}{why}), got shape {tuple(x.shape)}"
            )
        return self.blur(F.max_pool2d(x, self.max_pool_size, stride=1))

    def extra_repr(self) -> str:
        return f"max_pool_size={self.max_pool_size}"
