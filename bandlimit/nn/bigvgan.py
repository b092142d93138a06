"""Drop-in replacements for BigVGAN's / alias-free-torch's alias-free activation blocks.

Constructor arguments, buffers (state-dict keys ``upsample.filter``,
``downsample.lowpass.filter``, ``act.*``) and outputs equal alias-free-torch's torch modules, so a
BigVGAN checkpoint loads unchanged; the forward is one fused :func:`bandlimit.ops.filtered_act1d`
call (:func:`bandlimit.ops.filtered_act` in 2-D; replicate padding in both stages, as theirs),
an activation the op cannot express (any other module) runs unfused between the op's up- and
down-sampling stages. :func:`patch` swaps the blocks of an existing model in place.

Their resamplers, restated (ratio ``r``, ``K`` taps): ``UpSample1d`` replicate-pads the input,
transposed-convolves with stride ``r`` and gain ``r`` and crops to ``r·L`` samples; that equals
:func:`~bandlimit.ops.filtered_act1d` with ``padding = (K − 1 − (K − r)//2, (K − r)//2)`` and
``padding_mode='replicate'``. ``DownSample1d`` replicate-pads ``K//2 − 1`` / ``K//2`` (even K) and
correlates with stride ``r``; that equals the op's ``down_padding = (K//2 − 1, K//2)``, in the
same mode. ``DownSample1d`` does this through its ``lowpass`` attribute, a
:class:`LowPassFilter1d` (:class:`LowPassFilter2d` in 2-D), which also works on its own with
alias-free-torch's arguments and every padding mode of ``torch.nn.functional.pad``.

One exception to "equal outputs": with fewer taps than ``2r`` (``K < 2r``, not a BigVGAN
configuration) alias-free-torch's ``UpSample1d`` pads ``K//r − 1 = 0`` samples, so its first and
last outputs see the transposed convolution's zeros; here they see the replicated edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from bandlimit._checks import check_bool, check_int, check_real
from bandlimit.filters import kaiser_sinc_bigvgan
from bandlimit.nn._module import Module
from bandlimit.nn.activation import (
    bigvgan_paddings,
    resolve_activation,
    snake_fusable,
    snake_params,
    tensor_dtype,
)
from bandlimit.ops import FilteredAct1dStream, filtered_act, filtered_act1d

__all__ = [
    "Activation1d",
    "Activation2d",
    "DownSample1d",
    "DownSample2d",
    "LowPassFilter1d",
    "LowPassFilter2d",
    "UpSample1d",
    "UpSample2d",
    "patch",
]


def _ratio(ratio: int, name: str = "ratio") -> int:
    return check_int(name, ratio, 1)


def _default_kernel(ratio: int, kernel_size: int | None, name: str = "kernel_size") -> int:
    return int(6 * ratio // 2) * 2 if kernel_size is None else check_int(name, kernel_size, 1)


def _taps(buffer: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A ``[1, 1, K(, K)]`` filter buffer's taps in ``dtype``."""
    taps = buffer.view(buffer.shape[2:])
    return taps if taps.dtype == dtype else taps.to(dtype)


def _radial_filter(cutoff: float, half_width: float, k: int) -> torch.Tensor:
    """alias-free-torch's 2-D filter: a Kaiser-windowed *radial sinc* on a ``k × k`` grid.

    ``t`` = distance of a tap from the centre (grid offsets ``±0.5, ±1.5, …`` for even k),
    window ``I0(β·sqrt(1 − (t / (k//2) / √2)²)) / I0(β)`` with β from BigVGAN's estimate, taps
    ``2·cutoff·w·sinc(2·cutoff·t)`` normalised to sum 1.
    """
    half = k // 2
    if half == 0:  # one tap: the window's radius would be 0
        return torch.ones(1, 1)
    atten = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    beta = float(scipy.signal.kaiser_beta(atten))
    g = np.arange(-half, half) + 0.5 if k % 2 == 0 else np.arange(k) - half
    t = np.hypot(g[:, None], g[None, :])
    w = np.i0(beta * np.sqrt(np.clip(1 - (t / half / math.sqrt(2)) ** 2, 0, None))) / np.i0(beta)
    h = 2 * cutoff * w * np.sinc(2 * cutoff * t)
    return torch.from_numpy(h / h.sum()).float()


# torch.nn.functional.pad's modes, which alias-free-torch's low-pass filters pass it unchecked.
LOWPASS_PADDING_MODES = ("constant", "reflect", "replicate", "circular")
# The op's names for the modes it extends a signal with itself ('reflect' it has not).
_OP_MODES = {"constant": "zeros", "replicate": "replicate", "circular": "circular"}


class _LowPass(Module):
    """alias-free-torch's ``LowPassFilter1d``/``2d``: pad, then a depthwise correlation."""

    ndim = 1
    filter: torch.Tensor  # a buffer, registered in __init__

    def __init__(
        self,
        cutoff: float = 0.5,
        half_width: float = 0.6,
        stride: int = 1,
        padding: bool = True,
        padding_mode: str = "replicate",
        kernel_size: int = 12,
    ):
        super().__init__()
        cutoff = check_real("cutoff", cutoff)
        if not 0 < cutoff <= 0.5:  # theirs: above 0.5 refused, 0 an error in its design
            raise ValueError(
                f"cutoff must satisfy 0 < cutoff <= 0.5 (cycles per sample), got {cutoff!r}"
            )
        half_width = check_real("half_width", half_width, positive=True)
        if padding_mode not in LOWPASS_PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {LOWPASS_PADDING_MODES} (torch.nn.functional.pad's "
                f"modes, as alias-free-torch), got {padding_mode!r}"
                + ("; 'constant' pads with zeros" if padding_mode == "zeros" else "")
            )
        # Attribute names and values as alias-free-torch's, for code that reads them.
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        self.even = self.kernel_size % 2 == 0
        self.pad_left = self.kernel_size // 2 - int(self.even)
        self.pad_right = self.kernel_size // 2
        self.stride = check_int("stride", stride, 1)
        self.padding = check_bool("padding", padding)
        self.padding_mode = padding_mode
        k = self.kernel_size
        if self.ndim == 1:
            f = kaiser_sinc_bigvgan(cutoff, half_width, k).view(1, 1, k)
        else:
            f = _radial_filter(cutoff, half_width, k).view(1, 1, k, k)
        self.register_design("filter", f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = _taps(self.filter, tensor_dtype(x))
        pad, mode = (0, 0), "zeros"
        if self.padding:
            pad = (self.pad_left, self.pad_right)
            if self.padding_mode in _OP_MODES:
                mode = _OP_MODES[self.padding_mode]
            else:  # 'reflect': padded by torch (its errors for short inputs too), then the op
                x = F.pad(x, pad * self.ndim, mode=self.padding_mode)
                pad = (0, 0)
        op: Callable[..., torch.Tensor] = filtered_act1d if self.ndim == 1 else filtered_act
        return op(
            x,
            "linear",
            None,
            taps,
            down=self.stride,
            padding_mode=mode,
            gain=1.0,
            flip_filter=True,  # theirs correlates (F.conv1d / conv2d)
            down_padding=pad * self.ndim,
        )


class LowPassFilter1d(_LowPass):
    """alias-free-torch's ``LowPassFilter1d`` on ``[N, C, L]``: same arguments, attributes,
    buffer ``filter`` ``[1, 1, K]`` and outputs.

    With ``padding`` the input is extended by ``pad_left = K//2 − 1`` (even K; ``K//2`` for odd)
    and ``pad_right = K//2`` samples in ``padding_mode``, then correlated with the filter,
    keeping every ``stride``-th sample: ``[N, C, L]`` gives ``[N, C, ceil(L/stride)]``
    (without padding, ``[N, C, (L − K)//stride + 1]``). Circular padding wider than the signal
    wraps it again where torch refuses it. The output has the input's dtype and device.

    Parameters
    ----------
    cutoff : float, default 0.5
        Cutoff in cycles per sample, ``0 < cutoff <= 0.5``.
    half_width : float, default 0.6
        Half the transition width, cycles per sample, > 0 (it sets the Kaiser β, BigVGAN's way:
        :func:`bandlimit.filters.kaiser_sinc_bigvgan`).
    stride : int, default 1
        Down-sampling factor.
    padding : bool, default True
        Pad the input so that the output covers it (else a "valid" correlation).
    padding_mode : {'replicate', 'constant', 'reflect', 'circular'}, default 'replicate'
        ``torch.nn.functional.pad``'s modes (``'constant'`` pads zeros).
    kernel_size : int, default 12
        Taps ``K``.

    Attributes
    ----------
    filter : Tensor ``[1, 1, K]``
        The taps (float32 buffer, state-dict key ``filter``); no parameters.
    kernel_size, even, pad_left, pad_right, stride, padding, padding_mode
        As alias-free-torch's, for code that reads them.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import LowPassFilter1d
    >>> lowpass = LowPassFilter1d(cutoff=0.25, half_width=0.3, stride=2)
    >>> lowpass(torch.randn(1, 4, 65)).shape
    torch.Size([1, 4, 33])
    >>> lowpass.filter.shape, round(float(lowpass.filter.sum()), 4)
    (torch.Size([1, 1, 12]), 1.0)
    """

    ndim = 1

    def stream(self) -> FilteredAct1dStream:
        """This filter on a signal that arrives in chunks ``[N, C, l]``: a
        :class:`~bandlimit.ops.FilteredAct1dStream` whose concatenated outputs (after its
        ``flush()``) equal the module on the whole signal (as :meth:`UpSample1d.stream`). Needs
        ``padding_mode`` 'constant' or 'replicate' (or ``padding=False``): 'reflect' and
        'circular' make the first outputs depend on later samples."""
        pad, mode = (0, 0), "zeros"
        if self.padding:
            if self.padding_mode not in ("constant", "replicate"):
                raise ValueError(
                    f"padding_mode={self.padding_mode!r} cannot stream: the signal's first "
                    f"samples would depend on later ones; 'constant' and 'replicate' can"
                )
            pad, mode = (self.pad_left, self.pad_right), _OP_MODES[self.padding_mode]

        def op_kwargs(x: torch.Tensor) -> dict[str, Any]:
            return dict(act="linear", fu=None, fd=_taps(self.filter, tensor_dtype(x)),
                        down=self.stride, padding_mode=mode, gain=1.0, flip_filter=True)

        return FilteredAct1dStream._of(op_kwargs, (1, self.kernel_size), 1, self.stride, (0, 0),
                                       pad, mode)  # fmt: skip


class LowPassFilter2d(_LowPass):
    """alias-free-torch's ``LowPassFilter2d`` on ``[N, C, H, W]``: arguments, attributes and
    padding as :class:`LowPassFilter1d` (the same padding on both axes), with a radial
    (Kaiser-windowed radial sinc) filter ``[1, 1, K, K]`` summing to 1.

    ``[N, C, H, W]`` gives ``[N, C, ceil(H/stride), ceil(W/stride)]`` with ``padding``.

    Parameters
    ----------
    cutoff : float, default 0.5
        Cutoff in cycles per sample, ``0 < cutoff <= 0.5``.
    half_width : float, default 0.6
        Half the transition width, cycles per sample, > 0.
    stride : int, default 1
        Down-sampling factor along both axes.
    padding : bool, default True
        Pad the input as :class:`LowPassFilter1d`, on both axes.
    padding_mode : {'replicate', 'constant', 'reflect', 'circular'}, default 'replicate'
        ``torch.nn.functional.pad``'s modes.
    kernel_size : int, default 12
        Taps ``K`` per axis.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import LowPassFilter2d
    >>> lowpass = LowPassFilter2d(cutoff=0.25, half_width=0.3, stride=2)
    >>> lowpass(torch.randn(1, 3, 32, 31)).shape
    torch.Size([1, 3, 16, 16])
    >>> lowpass.filter.shape
    torch.Size([1, 1, 12, 12])
    """

    ndim = 2


def _up_attributes(ratio: int, kernel_size: int, pad: int) -> tuple[int, int, int, int]:
    """alias-free-torch's up-sampler attributes ``(stride, pad, pad_left, pad_right)``, for code
    that reads them: ``pad`` input samples replicated per side, and the transposed convolution's
    samples cropped per side. (Ours computes the same output without them: see the module
    docstring for K < 2r.)"""
    k, r = kernel_size, ratio
    return r, pad, pad * r + (k - r) // 2, pad * r + (k - r + 1) // 2


class UpSample1d(Module):
    """``[N, C, L] → [N, C, r·L]``: BigVGAN's up-sampler, with its arguments, buffer and outputs.

    The filter is BigVGAN's Kaiser sinc (cutoff ``0.5/r``, half width ``0.6/r``, gain ``r``, so
    a constant stays constant); the input is extended by replicating its edges. The output has
    the input's dtype and device.

    Parameters
    ----------
    ratio : int, default 2
        Up-sampling factor ``r``.
    kernel_size : int or None, default None
        Taps ``K``; None: ``6·r`` (12 for ``r = 2``).

    Attributes
    ----------
    filter : Tensor ``[1, 1, K]``
        The taps (float32 buffer, state-dict key ``filter``); no parameters.
    ratio, kernel_size, stride, pad, pad_left, pad_right
        As alias-free-torch's, for code that reads them.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import UpSample1d
    >>> up = UpSample1d(2)
    >>> up(torch.randn(1, 4, 50)).shape
    torch.Size([1, 4, 100])
    >>> torch.allclose(up(torch.ones(1, 1, 16)), torch.ones(1, 1, 32))
    True
    """

    filter: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = _ratio(ratio)
        self.kernel_size = _default_kernel(self.ratio, kernel_size)
        self.stride, self.pad, self.pad_left, self.pad_right = _up_attributes(
            self.ratio, self.kernel_size, self.kernel_size // self.ratio - 1
        )
        f = kaiser_sinc_bigvgan(0.5 / self.ratio, 0.6 / self.ratio, self.kernel_size)
        self.register_design("filter", f.view(1, 1, self.kernel_size))

    def _op_kwargs(self, x: torch.Tensor) -> dict[str, Any]:
        return dict(act="linear", fu=_taps(self.filter, tensor_dtype(x)), up=self.ratio,
                    padding_mode="replicate", gain=1.0)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Up-sample ``x`` ``[N, C, L]`` to ``[N, C, ratio·L]``."""
        pu, _ = bigvgan_paddings(self.ratio, self.kernel_size)
        return filtered_act1d(x, padding=pu, **self._op_kwargs(x))

    def stream(self) -> FilteredAct1dStream:
        """This up-sampler on a signal that arrives in chunks ``[N, C, l]``: a
        :class:`~bandlimit.ops.FilteredAct1dStream` whose concatenated outputs (after its
        ``flush()``) equal the module on the whole signal, each as soon as the input samples it
        depends on have arrived (``lookahead`` of them past it).

        >>> import torch
        >>> from bandlimit.nn.bigvgan import UpSample1d
        >>> up, x = UpSample1d(2), torch.randn(1, 3, 200)
        >>> stream = up.stream()
        >>> y = torch.cat([stream(c) for c in x.split(48, dim=2)] + [stream.flush()], dim=2)
        >>> torch.allclose(y, up(x), atol=1e-6)
        True
        """
        pu, _ = bigvgan_paddings(self.ratio, self.kernel_size)
        return FilteredAct1dStream._of(self._op_kwargs, (self.kernel_size, 1), self.ratio, 1, pu,
                                       (0, 0), "replicate")  # fmt: skip


class DownSample1d(Module):
    """``[N, C, L] → [N, C, ceil(L/r)]``: BigVGAN's down-sampler, with its arguments, buffer and
    outputs.

    Its ``lowpass`` is a :class:`LowPassFilter1d` (cutoff ``0.5/r``, half width ``0.6/r``,
    stride ``r``, replicate padding). The output has the input's dtype and device.

    Parameters
    ----------
    ratio : int, default 2
        Down-sampling factor ``r``.
    kernel_size : int or None, default None
        Taps ``K``; None: ``6·r``.

    Attributes
    ----------
    lowpass : bandlimit.nn.bigvgan.LowPassFilter1d
        Holds the taps, buffer ``[1, 1, K]`` (state-dict key ``lowpass.filter``); no parameters.
    ratio, kernel_size
        The arguments.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import DownSample1d
    >>> down = DownSample1d(2)
    >>> down(torch.randn(1, 4, 101)).shape
    torch.Size([1, 4, 51])
    >>> list(down.state_dict())
    ['lowpass.filter']
    """

    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = _ratio(ratio)
        self.kernel_size = _default_kernel(self.ratio, kernel_size)
        self.lowpass = LowPassFilter1d(
            0.5 / self.ratio, 0.6 / self.ratio, self.ratio, kernel_size=self.kernel_size
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-pass and down-sample ``x`` ``[N, C, L]`` to ``[N, C, ceil(L/ratio)]``."""
        return self.lowpass(x)

    def stream(self) -> FilteredAct1dStream:
        """This down-sampler on a signal that arrives in chunks (as :meth:`UpSample1d.stream`)."""
        return self.lowpass.stream()


class UpSample2d(Module):
    """``[N, C, H, W] → [N, C, r·H, r·W]``: alias-free-torch's 2-D up-sampler.

    The filter is alias-free-torch's radial one, ``[1, 1, K, K]`` (cutoff ``0.5/r``, half width
    ``0.6/r``), with gain ``r²``, so a constant stays constant; edges are replicated. The output
    has the input's dtype and device.

    Parameters
    ----------
    ratio : int, default 2
        Up-sampling factor ``r`` along both axes.
    kernel_size : int or None, default None
        Taps ``K`` per axis; None: ``6·r``.

    Attributes
    ----------
    filter : Tensor ``[1, 1, K, K]``
        The taps (float32 buffer, state-dict key ``filter``); no parameters.
    ratio, kernel_size, stride, pad, pad_left, pad_right
        As alias-free-torch's, for code that reads them.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import UpSample2d
    >>> up = UpSample2d(2)
    >>> up(torch.randn(1, 3, 16, 12)).shape
    torch.Size([1, 3, 32, 24])
    >>> up.filter.shape
    torch.Size([1, 1, 12, 12])
    """

    filter: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = _ratio(ratio)
        self.kernel_size = _default_kernel(self.ratio, kernel_size)
        self.stride, self.pad, self.pad_left, self.pad_right = _up_attributes(
            self.ratio, self.kernel_size, self.kernel_size // 2 - self.ratio // 2
        )
        f = _radial_filter(0.5 / self.ratio, 0.6 / self.ratio, self.kernel_size)
        self.register_design("filter", f.view(1, 1, self.kernel_size, self.kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Up-sample ``x`` ``[N, C, H, W]`` to ``[N, C, ratio·H, ratio·W]``."""
        pu, _ = bigvgan_paddings(self.ratio, self.kernel_size)
        return filtered_act(
            x,
            "linear",
            _taps(self.filter, tensor_dtype(x)),
            up=self.ratio,
            padding=(*pu, *pu),
            padding_mode="replicate",
            gain=1.0,
        )


class DownSample2d(Module):
    """``[N, C, H, W] → [N, C, ceil(H/r), ceil(W/r)]``: alias-free-torch's 2-D down-sampler.

    Its ``lowpass`` is a :class:`LowPassFilter2d` (radial, cutoff ``0.5/r``, half width
    ``0.6/r``, stride ``r``, replicate padding). The output has the input's dtype and device.

    Parameters
    ----------
    ratio : int, default 2
        Down-sampling factor ``r`` along both axes.
    kernel_size : int or None, default None
        Taps ``K`` per axis; None: ``6·r``.

    Attributes
    ----------
    lowpass : bandlimit.nn.bigvgan.LowPassFilter2d
        Holds the taps, buffer ``[1, 1, K, K]`` (state-dict key ``lowpass.filter``).
    ratio, kernel_size
        The arguments.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import DownSample2d
    >>> DownSample2d(2)(torch.randn(1, 3, 33, 32)).shape
    torch.Size([1, 3, 17, 16])
    """

    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = _ratio(ratio)
        self.kernel_size = _default_kernel(self.ratio, kernel_size)
        self.lowpass = LowPassFilter2d(
            0.5 / self.ratio, 0.6 / self.ratio, self.ratio, kernel_size=self.kernel_size
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-pass and down-sample ``x`` ``[N, C, H, W]`` by ``ratio`` along both axes."""
        return self.lowpass(x)


class _Activation(Module):
    ndim = 1
    _up: type[UpSample1d | UpSample2d]
    _down: type[DownSample1d | DownSample2d]
    _up, _down = UpSample1d, DownSample1d

    def __init__(
        self,
        activation: nn.Module,
        up_ratio: int = 2,
        down_ratio: int = 2,
        up_kernel_size: int | None = 12,
        down_kernel_size: int | None = 12,
    ):
        super().__init__()
        self.up_ratio = _ratio(up_ratio, "up_ratio")
        self.down_ratio = _ratio(down_ratio, "down_ratio")
        if not isinstance(activation, nn.Module):
            # A name would fuse with the op's default gain (√2 for 'relu'), not the module's 1.
            raise TypeError(
                f"activation must be an nn.Module (e.g. nn.SiLU() or Snake(channels)), as in "
                f"alias-free-torch, got {type(activation).__name__} {activation!r}; for an "
                f"activation by name use bandlimit.nn.AliasFreeActivation{self.ndim}d"
            )
        self.act = activation
        ku = _default_kernel(self.up_ratio, up_kernel_size, "up_kernel_size")
        kd = _default_kernel(self.down_ratio, down_kernel_size, "down_kernel_size")
        self.upsample = self._up(self.up_ratio, ku)
        self.downsample = self._down(self.down_ratio, kd)

    def _paddings(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(padding, down_padding)`` along one axis: BigVGAN's resamplers'."""
        pu, _ = bigvgan_paddings(self.up_ratio, self.upsample.kernel_size)
        _, pd = bigvgan_paddings(self.down_ratio, self.downsample.kernel_size)
        return pu, pd

    def _op_kwargs(self, x: torch.Tensor) -> dict[str, Any]:
        """The op's arguments for ``x`` other than the paddings."""
        spec = resolve_activation(self.act)
        snake = spec is not None and spec[0] in ("snake", "snakebeta")
        act: Any = self.act  # an activation the kernels cannot express: unfused, by the op
        alpha = beta = gain = None  # (or a Snake look-alike not fusable: snake_fusable)
        if spec is not None and not (snake and not (isinstance(x, torch.Tensor) and x.ndim >= 2
                                                    and snake_fusable(self.act, x))):
            act, alpha, _, gain, _ = spec
            if snake:
                alpha, beta = snake_params(self.act, x.shape[1])
        dtype = tensor_dtype(x)
        # Theirs up-samples by a transposed convolution, a true convolution with the filter,
        # and correlates in the down stage: flip_filter=(False, True).
        return dict(act=act, fu=_taps(self.upsample.filter, dtype),
                    fd=_taps(self.downsample.lowpass.filter, dtype), up=self.up_ratio,
                    down=self.down_ratio, padding_mode="replicate", gain=gain, alpha=alpha,
                    beta=beta, flip_filter=(False, True))  # fmt: skip

    @property
    def output_rate(self) -> float:
        """Output samples per input sample, ``up_ratio / down_ratio``."""
        return self.up_ratio / self.down_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pu, pd = self._paddings()
        if self.ndim == 1:
            return filtered_act1d(x, padding=pu, down_padding=pd, **self._op_kwargs(x))
        return filtered_act(x, padding=(*pu, *pu), down_padding=(*pd, *pd), **self._op_kwargs(x))


class Activation1d(_Activation):
    """BigVGAN's ``Activation1d`` on ``[N, C, L]``: same arguments, state dict and outputs.

    Up-sample (:class:`UpSample1d`) → activation → down-sample (:class:`DownSample1d`), as one
    fused :func:`bandlimit.ops.filtered_act1d` call for Snake/SnakeBeta (BigVGAN's or
    bandlimit's, their parameters used and trained; a module named so whose ``forward``
    computes another formula, checked once on a probe, runs unfused with a warning) and the
    standard torch activations that
    :class:`bandlimit.nn.AliasFreeActivation1d` accepts as modules (with gain 1); any other
    module runs unfused, between the op's up- and down-sampling stages (a callable ``act``
    of :func:`~bandlimit.ops.filtered_act1d`). ``[N, C, L]`` gives
    ``[N, C, ceil(L·up_ratio/down_ratio)]`` (``L`` for the defaults), in the input's dtype and
    on its device.

    Parameters
    ----------
    activation : nn.Module
        The activation, e.g. ``bandlimit.nn.Snake(C)`` or BigVGAN's ``SnakeBeta``.
    up_ratio, down_ratio : int, default 2
        Up- and down-sampling factors.
    up_kernel_size, down_kernel_size : int or None, default 12
        Taps of the two filters (None: ``6 ×`` the ratio).

    Attributes
    ----------
    act : torch.nn.Module
        The activation (its parameters, e.g. ``act.alpha``, are the only trainable ones).
    upsample : bandlimit.nn.bigvgan.UpSample1d
        State-dict key ``upsample.filter`` ``[1, 1, up_kernel_size]``.
    downsample : bandlimit.nn.bigvgan.DownSample1d
        State-dict key ``downsample.lowpass.filter`` ``[1, 1, down_kernel_size]``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import Snake
    >>> from bandlimit.nn.bigvgan import Activation1d
    >>> act = Activation1d(Snake(32))
    >>> act(torch.randn(1, 32, 256)).shape
    torch.Size([1, 32, 256])
    >>> list(act.state_dict())
    ['act.alpha', 'upsample.filter', 'downsample.lowpass.filter']
    """

    ndim = 1
    _up, _down = UpSample1d, DownSample1d

    def stream(self) -> FilteredAct1dStream:
        """This block on audio that arrives in chunks: a
        :class:`~bandlimit.ops.FilteredAct1dStream` whose concatenated outputs (after its
        ``flush()``) equal the block on the whole signal (as
        :meth:`bandlimit.nn.AliasFreeActivation1d.stream`); the activation's parameters are read
        at every chunk."""
        pu, pd = self._paddings()
        taps = (self.upsample.kernel_size, self.downsample.kernel_size)
        return FilteredAct1dStream._of(self._op_kwargs, taps, self.up_ratio, self.down_ratio,
                                       pu, pd, "replicate")  # fmt: skip


class Activation2d(_Activation):
    """alias-free-torch's ``Activation2d`` on ``[N, C, H, W]``: same arguments, state dict and
    outputs.

    :class:`UpSample2d` → activation → :class:`DownSample2d` (radial ``K × K`` filters), fused
    (:func:`bandlimit.ops.filtered_act`) for the activations :class:`Activation1d` fuses, else
    unfused. ``[N, C, H, W]`` gives ``[N, C, ceil(H·up_ratio/down_ratio),
    ceil(W·up_ratio/down_ratio)]``, in the input's dtype and on its device.

    Parameters
    ----------
    activation : nn.Module
        The activation.
    up_ratio, down_ratio : int, default 2
        Up- and down-sampling factors along both axes.
    up_kernel_size, down_kernel_size : int or None, default 12
        Taps per axis of the two filters (None: ``6 ×`` the ratio).

    Attributes
    ----------
    act : torch.nn.Module
        The activation.
    upsample : bandlimit.nn.bigvgan.UpSample2d
        State-dict key ``upsample.filter`` ``[1, 1, K_u, K_u]``.
    downsample : bandlimit.nn.bigvgan.DownSample2d
        State-dict key ``downsample.lowpass.filter`` ``[1, 1, K_d, K_d]``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.bigvgan import Activation2d
    >>> act = Activation2d(torch.nn.SiLU())
    >>> act(torch.randn(1, 8, 24, 24)).shape
    torch.Size([1, 8, 24, 24])
    >>> list(act.state_dict())
    ['upsample.filter', 'downsample.lowpass.filter']
    """

    ndim = 2
    _up, _down = UpSample2d, DownSample2d


def _is_compatible_block(m: nn.Module) -> int:
    """1 or 2 for a foreign BigVGAN/alias-free-torch activation block, else 0."""
    if isinstance(m, _Activation):
        return 0
    name = type(m).__name__
    if name not in ("Activation1d", "Activation2d"):
        return 0
    up: Any  # a foreign module's submodules, checked duck-typed below
    lowpass: Any
    up, down = getattr(m, "upsample", None), getattr(m, "downsample", None)
    lowpass = getattr(down, "lowpass", None)
    if not (
        isinstance(getattr(m, "act", None), nn.Module)
        and isinstance(getattr(up, "filter", None), torch.Tensor)
        and isinstance(getattr(lowpass, "filter", None), torch.Tensor)
        and isinstance(getattr(up, "ratio", None), int)
        and isinstance(getattr(down, "ratio", None), int)
    ):
        return 0
    nd = 1 if name == "Activation1d" else 2
    return nd if up.filter.ndim == nd + 2 and lowpass.filter.ndim == nd + 2 else 0


def patch(model: nn.Module) -> dict[str, nn.Module]:
    """Replace every BigVGAN / alias-free-torch ``Activation1d``/``Activation2d`` inside
    ``model``, in place, by bandlimit's (:class:`Activation1d`, :class:`Activation2d`).

    A block is recognised by its class name (``Activation1d`` or ``Activation2d``, not
    bandlimit's own) and its layout: an ``act`` module, ``upsample.filter`` and
    ``downsample.lowpass.filter`` tensors of the right rank, and integer ``upsample.ratio`` and
    ``downsample.ratio``. The replacement keeps the activation module (the same object, so its
    parameters and optimizer state stay), copies of the filter buffers (on their device, in
    their dtype) and the block's training mode, so the model's state-dict keys and outputs do
    not change. A block used in several places (``nn.Sequential(b, b)``, or inside a shared
    container) is replaced everywhere by one new block, shared in the same way.

    Parameters
    ----------
    model : nn.Module
        The model to patch. ``model`` itself is not replaced, only its descendants (wrap a
        bare block in a container, e.g. ``nn.Sequential``, to patch it).

    Returns
    -------
    dict of str to nn.Module
        ``{qualified name: the replaced (original) module}``, every name under which a block
        was found (a shared block under each of its names, as the state dict names them);
        empty if there was nothing to replace.

    Raises
    ------
    TypeError
        When ``model`` is not an ``nn.Module``.
    ValueError
        When ``model`` is itself such a block (there is nothing inside it to replace).

    Examples
    --------
    A stand-in for the block of a vendored BigVGAN, with alias-free-torch's layout:

    >>> import torch
    >>> from torch import nn
    >>> from bandlimit.nn import Snake, bigvgan
    >>> class Activation1d(nn.Module):
    ...     def __init__(self, activation):
    ...         super().__init__()
    ...         self.act = activation
    ...         self.upsample = bigvgan.UpSample1d(2, 12)
    ...         self.downsample = bigvgan.DownSample1d(2, 12)
    ...     def forward(self, x):
    ...         return self.downsample(self.act(self.upsample(x)))
    >>> model = nn.Sequential(nn.Conv1d(1, 8, 7, padding=3), Activation1d(Snake(8)))
    >>> x = torch.linspace(-1, 1, 64).reshape(1, 1, 64)
    >>> before = model(x)
    >>> replaced = bigvgan.patch(model)
    >>> list(replaced), type(model[1]) is bigvgan.Activation1d
    (['1'], True)
    >>> model[1].act is replaced["1"].act
    True
    >>> torch.allclose(model(x), before, atol=1e-5)
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    nd = _is_compatible_block(model)
    if nd:
        # Nothing inside it to replace: an empty result would read as "already patched".
        raise ValueError(
            f"model is itself an alias-free-torch {type(model).__name__} block: patch() replaces "
            f"the blocks inside a model; wrap it (nn.Sequential(block)) or build "
            f"bandlimit.nn.bigvgan.Activation{nd}d(block.act, ...) directly"
        )
    # Every path to every block, as the state dict names them, all found before any is
    # replaced: named_children() reports a module used twice by one parent (nn.Sequential(b, b))
    # once, which left its second use unpatched, and named_modules() a shared container once.
    found = [
        (f"{qual}.{child_name}" if qual else child_name, parent, child_name, child)
        for qual, parent in model.named_modules(remove_duplicate=False)
        for child_name, child in parent._modules.items()
        if child is not None and _is_compatible_block(child)
    ]
    new_of: dict[int, nn.Module] = {}  # id(original) -> its one replacement (sharing kept)
    replaced: dict[str, nn.Module] = {}
    for name, parent, child_name, child in found:
        new = new_of.get(id(child))
        if new is None:
            new = new_of[id(child)] = _replacement(child)
        setattr(parent, child_name, new)
        replaced[name] = child
    return replaced


def _replacement(child: Any) -> nn.Module:
    """bandlimit's block for an alias-free-torch-layout ``child`` (a foreign module, its
    layout checked by :func:`_is_compatible_block`): the same activation module, copies of its
    filters on their device, its training mode."""
    cls = Activation1d if _is_compatible_block(child) == 1 else Activation2d
    new = cls(
        child.act,
        child.upsample.ratio,
        child.downsample.ratio,
        child.upsample.filter.shape[-1],
        child.downsample.lowpass.filter.shape[-1],
    )
    new.upsample.filter = child.upsample.filter.detach().clone()
    new.downsample.lowpass.filter = child.downsample.lowpass.filter.detach().clone()
    new.to(device=child.upsample.filter.device)
    new.train(child.training)  # (an eval() model stays in eval mode)
    return new
