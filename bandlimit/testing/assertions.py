r"""Assertions that an operator commutes with sub-pixel translation or rotation.

An operator ``op`` mapping signals sampled at rate ``r_in`` to signals at ``r_out`` is
translation-equivariant when ``op(T_d x) = T_{d·rate} op(x)`` for every shift ``d`` (in input
pixels), with ``rate = r_out / r_in`` (given, or inferred from the sizes: an integer, its
inverse or a small fraction such as 3/2). For a fractional ``d`` the shift ``T`` must itself be
band-limited: exact for analytic signals (:class:`~bandlimit.testing.BandlimitedSignal`), an
FFT phase ramp for periodic tensors, or a long Kaiser-windowed sinc / Lanczos interpolator
otherwise; a shift by a whole number of samples is an exact index shift. Translation is tested on
1-D signals ``[N, C, L]``, 2-D images ``[N, C, H, W]`` and 3-D volumes ``[N, C, D, H, W]`` (shift
``(dx, dy, dz)``, x along W, z along D); rotation on 2-D images only. Agreement is measured as
a PSNR (dB, relative to the peak-to-peak range of op's output unless ``max_val`` is given) over
a crop away from the borders, where zero padding legitimately breaks equivariance.

Both assertions return the PSNR as an :class:`~bandlimit.testing.EquivarianceResult`, a
``float`` that also says what was compared (output samples per axis, values, crop, rate), and
refuse to *pass* on fewer than ``min_compared`` (default 4) output samples along an axis: a
``ValueError`` that says what left so few (the crop, the taps of the output's shift, the size)
rather than a vacuous pass.

Examples
--------
Property-test a layer with Hypothesis (a pytest test; ``deadline=None`` because the first call
of a layer compiles its kernels)::

    from hypothesis import given, settings
    from bandlimit.nn import AliasFreeActivation2d
    from bandlimit.testing import (assert_translation_equivariant, bandlimited_signals,
                                   subpixel_shifts)

    my_layer = AliasFreeActivation2d("gelu")

    @settings(deadline=None)
    @given(s=bandlimited_signals(size=48, channels=4, bandwidth=0.2, amplitude=2.0),
           shift=subpixel_shifts(max_shift=3))
    def test_my_layer_is_equivariant(s, shift):
        assert_translation_equivariant(my_layer, s, shift, min_psnr=40, crop=8)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from numbers import Real
from typing import Any

import numpy as np
import scipy.signal
import scipy.special
import torch

from bandlimit._checks import check_float_dtype, check_int, check_real, to_float
from bandlimit.metrics.equivariance import (
    I_MAX,
    _axis_mask,
    _separable_shift,
    _zero_shift,
    lanczos_kernel,
    psnr,
    rotate,
)
from bandlimit.testing.strategies import BandlimitedSignal

__all__ = [
    "EquivarianceResult",
    "assert_rotation_equivariant",
    "assert_translation_equivariant",
    "fractional_shift",
    "kaiser_sinc_kernel",
]

_METHODS = ("sinc", "lanczos", "fft")
_AXES = "xyz"  # the spatial axes' names, last tensor axis (W) first
_SHAPES = ("[N, C, L]", "[N, C, H, W]", "[N, C, D, H, W]")  # 1-D, 2-D, 3-D inputs
_MIN_COMPARED = 4  # default fewest output samples compared along each axis


class EquivarianceResult(float):
    r"""The PSNR an equivariance assertion measured, with what it compared.

    A ``float`` (dB, ``inf`` for an exact match): it compares, formats and prints as the PSNR,
    as the assertions' result always has. Its attributes say what was compared, so a test that
    passes can check it was not a weak one; :meth:`describe` puts them in a sentence (a failure's
    message states the same). Returned by
    :func:`~bandlimit.testing.assert_translation_equivariant` and
    :func:`~bandlimit.testing.assert_rotation_equivariant`; not meant to be built by hand.

    Attributes
    ----------
    compared : int
        Values compared: output positions × batch × channels.
    positions : tuple of int
        Output samples compared along each axis, x first (for a rotation, the compared disc's
        extent along x and y). The assertions refuse (``ValueError``) to pass with fewer than
        ``min_compared`` along any axis.
    crop : tuple of int
        Output samples ignored on each side, per axis (x first); one number for a rotation.
    rate : tuple of float
        Output samples per input sample, per axis (x first); ``()`` for a rotation.
    shift, output_shift : tuple of float
        The input shift and the output shift ``shift · rate``, pixels, x first; ``()`` for a
        rotation.
    angle : float or None
        The rotation in radians; ``None`` for a translation.
    max_val : float
        The peak-to-peak range the PSNR is relative to: the one given, or by default the range
        of op's (untransformed) output inside the crop.

    Examples
    --------
    >>> import numpy as np
    >>> from bandlimit.testing import assert_translation_equivariant, make_bandlimited_signal
    >>> s = make_bandlimited_signal(np.random.default_rng(0), (64,), channels=3, bandwidth=0.2)
    >>> r = assert_translation_equivariant(lambda t: 2 * t, s, 0.5, min_psnr=100)
    >>> r > 100, r.positions, r.compared  # 64 − 24 + 1: where the 24 taps stay inside
    (True, (41,), 123)
    >>> print(r.describe())  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    PSNR ... dB (peak-to-peak ...): input shift (0.5,) px, output shift (0.5,) px, rate (1.0,),
    crop (8,), 41 output samples along x, 123 values compared
    """

    __slots__ = ("angle", "compared", "crop", "max_val", "output_shift", "positions", "rate",
                 "shift")

    angle: float | None
    compared: int
    crop: tuple[int, ...]
    max_val: float
    output_shift: tuple[float, ...]
    positions: tuple[int, ...]
    rate: tuple[float, ...]
    shift: tuple[float, ...]

    def __new__(
        cls,
        psnr: float,
        *,
        compared: int,
        positions: tuple[int, ...],
        crop: tuple[int, ...],
        rate: tuple[float, ...] = (),
        shift: tuple[float, ...] = (),
        output_shift: tuple[float, ...] = (),
        angle: float | None = None,
        max_val: float = I_MAX,
    ) -> EquivarianceResult:
        self = super().__new__(cls, psnr)
        self.compared, self.positions, self.crop = int(compared), tuple(positions), tuple(crop)
        self.rate, self.shift, self.output_shift = tuple(rate), tuple(shift), tuple(output_shift)
        self.angle, self.max_val = angle, float(max_val)
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickle / copy keep the attributes
        return (_rebuild_result, (float(self), {k: getattr(self, k) for k in self.__slots__}))

    @property
    def psnr(self) -> float:
        """The PSNR in dB, as a plain ``float``."""
        return float(self)

    def describe(self) -> str:
        """What was measured and compared, in a sentence.

        Returns
        -------
        str
            The PSNR, the transform, the crop and how many samples and values were compared.
        """
        along = ", ".join(f"{n} output samples along {_AXES[a]}"
                          for a, n in enumerate(self.positions))
        if self.angle is not None:
            what = f"angle {self.angle:.4f} rad, crop {self.crop[0]}, compared disc spans {along}"
        else:
            what = (f"input shift {self.shift} px, output shift "
                    f"{tuple(round(d, 4) for d in self.output_shift)} px, rate {self.rate}, "
                    f"crop {self.crop}, {along}")
        return (f"PSNR {float(self):.2f} dB (peak-to-peak {self.max_val:.4g}): {what}, "
                f"{self.compared} values compared")


def _rebuild_result(value: float, attrs: dict[str, Any]) -> EquivarianceResult:
    return EquivarianceResult(value, **attrs)


def kaiser_sinc_kernel(t: torch.Tensor, half: int) -> torch.Tensor:
    r"""Kaiser-windowed sinc interpolation kernel of half-width ``half`` samples.

    ``k(t) = sinc(t) · I0(β·sqrt(1 − (t/half)²)) / I0(β)`` for ``|t| < half``, else 0, with ``β``
    from Kaiser's formulas for ``2·half`` taps and a transition of a quarter of the sampling rate:
    frequencies up to ~0.375 cycles/sample are interpolated to within about ``10^(−A/20)``,
    ``A = 2.285·(2·half − 1)·π/2 + 7.95`` dB (Kaiser's estimate, ≈ 90 dB for ``half = 12``; the
    error measured at 0.375 cycles/sample is 5–7 dB larger: −84 dB for ``half = 12``).
    :func:`fractional_shift` (``method='sinc'``) interpolates with it.

    Parameters
    ----------
    t : Tensor
        Offsets in samples, any shape, real floating point.
    half : int
        Half-width in samples (the kernel has ``2·half`` non-zero taps at any offset).

    Returns
    -------
    Tensor
        ``k(t)``, ``t``'s shape, dtype and device.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.testing import kaiser_sinc_kernel
    >>> k = kaiser_sinc_kernel(torch.tensor([0.0, 0.5, 12.0]), 12)  # sinc(0.5) = 0.6366
    >>> round(float(k[0]), 4), round(float(k[1]), 4), float(k[2])
    (1.0, 0.6319, 0.0)

    The taps of a shift by 0.3 samples sum to 1, to the window's accuracy:

    >>> taps = kaiser_sinc_kernel(torch.arange(-12, 12, dtype=torch.float64) + 0.3, 12)
    >>> round(float(taps.sum()), 4)
    1.0
    """
    beta = float(scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(2 * half, 0.5)))
    r = (t / half).clamp(-1, 1)
    s = torch.sqrt(1 - r * r)
    # I0(β·s) / I0(β) from the exponentially scaled I0e(z) = exp(−z)·I0(z): I0 itself overflows
    # float64 past β ≈ 713 (about 1780 taps), which made every tap inf / inf = NaN.
    win = torch.special.i0e(beta * s) / float(scipy.special.i0e(beta)) * torch.exp(beta * (s - 1))
    return torch.where(t.abs() < half, torch.sinc(t) * win, torch.zeros_like(t))


def _fft_shift(x: torch.Tensor, shift: Sequence[float]) -> torch.Tensor:
    if x.numel() == 0:  # nothing to shift (torch's FFT refuses an axis of length 0)
        return x.clone()
    y = x
    for axis, d in enumerate(shift):
        dim = x.ndim - 1 - axis
        n = x.shape[dim]
        k = torch.fft.rfftfreq(n, dtype=torch.float64, device=x.device)
        ramp = torch.exp(-2j * math.pi * k * d)
        shape = [1] * x.ndim
        shape[dim] = -1
        spec = torch.fft.rfft(y.to(torch.float64), dim=dim) * ramp.reshape(shape)
        y = torch.fft.irfft(spec, n=n, dim=dim)
    return y.to(x.dtype)


def _as_shift(
    shift: Any, ndim: int, name: str = "shift", want: str | None = None
) -> tuple[float, ...]:
    given = shift  # the messages show what the caller passed, not its normalised form
    if isinstance(shift, torch.Tensor):
        shift = shift.detach().cpu()
    if isinstance(shift, (torch.Tensor, np.ndarray)):
        shift = shift.reshape(-1).tolist()
    if isinstance(shift, Real) and not isinstance(shift, bool):
        shift = (shift,) if ndim == 1 else None
    if (not isinstance(shift, (tuple, list, np.ndarray)) or len(shift) != ndim
            or not all(isinstance(s, Real) and not isinstance(s, bool) for s in shift)):
        if want is None:
            want = ("(dx,) or a number", "(dx, dy)", "(dx, dy, dz)")[ndim - 1]
        raise ValueError(f"{name} must be {want} for {ndim}-D signals, got {given!r}")
    out = tuple(to_float(name, s) for s in shift)
    if not all(math.isfinite(s) for s in out):
        raise ValueError(f"{name} must be finite, got {given!r}")
    return out


def _check_taps(taps: Any) -> int:
    t = check_int("taps", taps)
    if t < 2 or t % 2:
        raise ValueError(f"taps must be an even integer >= 2, got {taps!r}")
    return t


def fractional_shift(
    x: torch.Tensor, shift: float | Sequence[float], method: str = "sinc", taps: int = 24
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Band-limited shift of the last 1–3 axes of ``x`` by ``shift`` samples (content moves +).

    Parameters
    ----------
    x : Tensor ``[..., L]``, ``[..., H, W]`` or ``[..., D, H, W]``
        Real floating point, any device; shifted along its last axis (``shift`` a number or
        ``(dx,)``), its last two (``shift`` ``(dx, dy)``, ``dx`` along the last axis) or its last
        three (``shift`` ``(dx, dy, dz)``: ``dx`` along W, ``dy`` along H, ``dz`` along D).
    shift : float or sequence of float
        Samples, finite, one to three components (the number of axes shifted); content moves
        towards larger indices for a positive shift. A tensor or an array is flattened.
    method : {'sinc', 'lanczos', 'fft'}, default 'sinc'
        ``'sinc'``: separable :func:`kaiser_sinc_kernel` with ``taps`` taps (zero outside the
        signal). ``'lanczos'``: Lanczos-3, the EQ-T_frac reference. ``'fft'``: circular shift by a
        phase ramp — exact for periodic band-limited signals.
    taps : even int ≥ 2, default 24
        Length of the ``'sinc'`` interpolator.

    Returns
    -------
    y : Tensor
        The shifted signal, ``x``'s shape, dtype and device.
    mask : Tensor
        Like ``x``: 1 where every tap read a real sample, else 0 (all ones for ``'fft'``).

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from bandlimit.testing import fractional_shift
    >>> n = torch.arange(64, dtype=torch.float64)
    >>> x = torch.sin(2 * math.pi * 5 * n / 64)  # periodic: 5 cycles in 64 samples
    >>> y, mask = fractional_shift(x, 0.5, method="fft")
    >>> expected = torch.sin(2 * math.pi * 5 * (n - 0.5) / 64)
    >>> torch.allclose(y, expected), bool(mask.all())
    (True, True)
    >>> y, mask = fractional_shift(x, 0.5)  # 24 taps; zeros beyond the ends
    >>> int(mask.sum()), torch.allclose(y[mask > 0], expected[mask > 0], atol=1e-5)
    (41, True)

    A volume ``[N, C, D, H, W]``, shifted by ``(dx, dy, dz)`` along W, H and D (8 taps: 7 of
    the 16 samples along each axis read past an end):

    >>> z = torch.arange(16, dtype=torch.float64)
    >>> v = torch.sin(2 * math.pi * 3 * z / 16).reshape(1, 1, 16, 1, 1).expand(1, 1, 16, 16, 16)
    >>> y, mask = fractional_shift(v, (0.5, 2.0, -0.25), method="fft")
    >>> torch.allclose(y[0, 0, :, 5, 7], torch.sin(2 * math.pi * 3 * (z + 0.25) / 16))
    True
    >>> y, mask = fractional_shift(v, (0.5, 2.0, -0.25), taps=8)
    >>> y.shape, int(mask.sum())  # 9 × 9 × 9
    (torch.Size([1, 1, 16, 16, 16]), 729)
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""))
    parts = shift.reshape(-1).tolist() if isinstance(shift, (torch.Tensor, np.ndarray)) else shift
    n = 1 if isinstance(parts, Real) else len(parts) if hasattr(parts, "__len__") else 2
    if not 1 <= n <= 3:  # (1 to 3 components: the number of axes shifted)
        raise ValueError(f"shift must be a number, (dx,), (dx, dy) or (dx, dy, dz) (1 to 3 "
                         f"components: the last axes of x, x first), got {shift!r}")
    shift = _as_shift(shift, n)  # the original: its messages show what the caller passed
    nd = len(shift)
    if x.ndim < nd:
        raise ValueError(f"x must have at least {nd} dimension(s) for shift {shift}, got shape "
                         f"{tuple(x.shape)}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    taps = _check_taps(taps)
    if method == "fft":
        return _fft_shift(x, shift), torch.ones_like(x)
    if method == "lanczos":
        return _separable_shift(x, shift, lambda t: lanczos_kernel(t, 3), 3)
    half = taps // 2
    return _separable_shift(x, shift, lambda t: kaiser_sinc_kernel(t, half), half)


def _whole(d: float) -> bool:
    return float(d).is_integer()


def _shift_exact_where_whole(
    x: torch.Tensor, shift: Sequence[float], method: str, taps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`fractional_shift`, except that an axis shifted by a whole number of samples is
    index-shifted exactly (zero fill): no interpolator, so its mask loses only the ``|d|`` samples
    that come in from outside, not the taps' reach as well."""
    if method == "fft" or not any(_whole(d) for d in shift):  # FFT: circular, exact already
        return fractional_shift(x, shift, method, taps)
    y = x
    mask = torch.ones((1,) * x.ndim, dtype=x.dtype, device=x.device)
    for axis, d in enumerate(shift):
        dim = x.ndim - 1 - axis
        n = x.shape[dim]
        if _whole(d):
            i = int(max(-n, min(n, d)))  # beyond the axis every shift leaves only zeros
            y = _zero_shift(y, i, dim)
            m = _axis_mask(n, max(i, 0), n + min(i, 0), dim, x)
        else:  # this axis alone: move it last, shift it as a 1-D signal
            y, m = (t.movedim(-1, dim) for t in fractional_shift(y.movedim(dim, -1), d, method,
                                                                 taps))
        mask = mask * m
    return y, mask.expand_as(x).contiguous()


def _resolve_input(
    x: Any, dtype: torch.dtype | None, ndim_expected: tuple[int, ...], note: str = ""
) -> tuple[torch.Tensor, int]:
    # An integer dtype would render a signal in [-1, 1] as zeros: every op would pass.
    dtype = None if dtype is None else check_float_dtype("dtype", dtype)
    if isinstance(x, BandlimitedSignal):
        if len(x.shape) not in ndim_expected:  # (before rendering it: a volume may be large)
            shapes = " or ".join(_SHAPES[n - 3] for n in ndim_expected)
            raise ValueError(f"x must have shape {shapes}, got {x.shape}{note}")
        x0 = x.render(dtype=dtype)
    elif isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor or a BandlimitedSignal, got dtype "
                            f"{x.dtype}")
        # Detached: no graph is built for the shifted copy (and no requires_grad warnings); a
        # copy: an op that works in place (nn.ReLU(inplace=True)) must not change the caller's.
        x0 = (x if dtype is None else x.to(dtype)).detach().clone()
    else:
        raise TypeError(f"x must be a torch.Tensor or a BandlimitedSignal, got {type(x).__name__}")
    if x0.ndim not in ndim_expected:
        shapes = " or ".join(_SHAPES[n - 3] for n in ndim_expected)
        raise ValueError(f"x must have shape {shapes}, got {tuple(x0.shape)}{note}")
    if x0.numel() == 0:
        raise ValueError(f"x must not be empty, got shape {tuple(x0.shape)}")
    if x0.is_meta:  # no values: nothing to shift, run op on, or compare
        raise ValueError(f"x must hold values, got a tensor of shape {tuple(x0.shape)} on the "
                         f"meta device; test on a real device (e.g. 'cpu')")
    return x0, x0.ndim - 2


def _call(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, nd: int) -> torch.Tensor:
    with torch.no_grad():
        y = op(x)
    if not isinstance(y, torch.Tensor):  # (a tuple of outputs: pick one, e.g. lambda t: f(t)[0])
        raise TypeError(f"op must return a torch.Tensor [N, C', *spatial'], got "
                        f"{type(y).__name__} for input {tuple(x.shape)}")
    # op(shift x) and shift(op x) both have op's channels: only batch and rank must match.
    if y.ndim != x.ndim or y.shape[0] != x.shape[0]:
        raise ValueError(f"op must map [N, C, *spatial] to [N, C', *spatial'] of the same rank; "
                         f"input {tuple(x.shape)} gave {tuple(y.shape)}")
    if y.numel() == 0:
        raise ValueError(f"op returned an empty output {tuple(y.shape)} for input "
                         f"{tuple(x.shape)}: nothing to compare")
    if y.is_complex():  # float64 would drop the imaginary part (with only a warning)
        raise TypeError(f"op must return a real tensor, got dtype {y.dtype}; compare the real "
                        f"and imaginary parts as channels, e.g. op=lambda t: "
                        f"torch.view_as_real(f(t)).movedim(-1, 2).flatten(1, 2)")
    if y.is_meta:
        raise ValueError(f"op returned a tensor on the meta device for input {tuple(x.shape)} "
                         f"on {x.device}: no values to compare")
    return y


_MAX_RATE_DENOMINATOR = 8
_SNAP_TOLERANCE = 0.15  # relative: how far a border may move a size from n or 1/n times the input


def _rates(
    rate: Any, x: torch.Tensor, y: torch.Tensor, nd: int, op: Any = None
) -> tuple[tuple[float, ...], str]:
    """Output samples per input sample, per axis, ordered (x, y), and where they come from."""
    # bandlimit's resampling modules know their rate (sizes with borders can mislead): a number,
    # or per axis, x first (a blur-pool with per-axis strides)
    known = getattr(op, "output_rate", None)
    known = (known,) * nd if isinstance(known, Real) else known
    if (rate is None and isinstance(known, (tuple, list)) and len(known) == nd
            and all(isinstance(r, Real) for r in known)):  # fmt: skip
        return tuple(float(r) for r in known), f"from {type(op).__name__}.output_rate"
    if rate is None:
        out, sizes = [], []
        for axis in range(nd):
            n_in, n_out = x.shape[-1 - axis], y.shape[-1 - axis]
            sizes.append(f"{n_in} → {n_out}" + (f" along {_AXES[axis]}" if nd > 1 else ""))
            r = Fraction(n_out, n_in)
            # Sizes often differ by a few border samples: snap to n or 1/n. But where that is
            # far off and the sizes are exactly p/q with a small q, a rational-rate layer
            # (up/down) mapped L to L·p/q (a trimmed border, 32 → 28, stays at 1).
            snap = float(round(r)) if r >= 1 else 1 / round(1 / r)
            if abs(float(r) / snap - 1) <= _SNAP_TOLERANCE:
                out.append(snap)
            elif r.denominator <= _MAX_RATE_DENOMINATOR:
                out.append(float(r))
            else:  # (StyleGAN3's 38 -> 52 doubles the rate, with borders of its own)
                raise ValueError(
                    f"cannot infer the rate from the sizes {sizes[-1]}: {n_out}/{n_in} is not "
                    f"within 15 % of n or 1/n, nor p/q with q <= {_MAX_RATE_DENOMINATOR}; pass "
                    f"rate= (output samples per input sample, e.g. rate=2 for a layer that "
                    f"up-samples by 2 and changes its borders)"
                )
        return tuple(out), f"inferred from the sizes {', '.join(sizes)} (rate= overrides it)"
    if isinstance(rate, (np.ndarray, torch.Tensor)) and rate.ndim == 0:  # a number
        return (check_real("rate", rate.item(), positive=True),) * nd, "as given"
    if not isinstance(rate, (tuple, list, np.ndarray, torch.Tensor)):
        return (check_real("rate", rate, positive=True),) * nd, "as given"
    rates = _as_shift(rate, nd, "rate", "a number or (" + ", ".join(
        f"rate_{a}" for a in _AXES[:nd]) + (",)" if nd == 1 else ")"))
    if not all(r > 0 for r in rates):
        raise ValueError(f"rate must be > 0, got {rate!r}")
    return rates, "as given"


def _crop(crop: Any, nd: int, default: Sequence[int]) -> tuple[int, ...]:
    if crop is None:
        return tuple(int(c) for c in default)
    crops = (crop,) * nd if isinstance(crop, (int, np.integer)) else crop
    if (not isinstance(crops, (tuple, list)) or len(crops) != nd
            or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 0
                       for c in crops)):
        raise ValueError(f"crop must be an int >= 0 or {nd} such ints (x first), got {crop!r}")
    return tuple(int(c) for c in crops)


def _compare(
    ref: torch.Tensor,
    y0: torch.Tensor,
    y1: torch.Tensor,
    mask: torch.Tensor,
    max_val: float | None,
    reach: str,
    advice: str,
    region: torch.Tensor,
) -> tuple[float, float]:
    """``(PSNR, max_val)``: ``y1`` against ``ref`` (``y0`` moved) over ``mask``, op's output
    finite; ``max_val`` None: the peak-to-peak range of ``region``, op's output ``y0`` where
    the crop keeps it (a constant gain of op then changes nothing; what the crop drops, e.g. a
    border op writes NaN or junk to, does not count)."""
    keep = mask > 0
    bad = int((keep & ~(torch.isfinite(y0) & torch.isfinite(y1))).sum())
    if bad:
        raise AssertionError(f"op returned non-finite values (NaN or inf) at {bad} of the "
                             f"{int(keep.sum())} compared positions")
    if bool((keep & ~torch.isfinite(ref)).any()):
        raise AssertionError(f"op returned non-finite values outside the compared region but "
                             f"within reach of {reach}, which carries them into the compared "
                             f"region, so crop cannot hide them: {advice}")
    # Select rather than multiply by the mask: 0 · NaN is NaN, and crop promises to ignore those.
    zero = ref.new_zeros(())
    a, b = torch.where(keep, ref, zero), torch.where(keep, y1.to(ref.dtype), zero)
    if max_val is None:  # (the cropped output, not only the compared values: those may be few)
        kept = region[torch.isfinite(region)].to(torch.float64)
        max_val = float(kept.max() - kept.min()) if kept.numel() else 0.0
        if max_val == 0:  # a constant output has no range: the metrics' 2 (images in [-1, 1])
            max_val = I_MAX
    return psnr(a, b, mask, max_val), max_val


def _reference_limit(x: Any, rate: float, limit: float, what: str) -> str:
    """A failure's note when a signal's content, on op's output grid, lies beyond what the
    reference transform of the output reproduces well: the reference is inexact there too."""
    if not isinstance(x, BandlimitedSignal) or rate <= 0:
        return ""
    f = x.bandwidth / rate
    if f <= limit:
        return ""
    return (f"; note: the signal reaches {f:.3g} cycles per output sample, beyond the ~{limit} "
            f"that {what} reproduces accurately, so part of this error is the reference's, "
            f"not op's: draw signals of a smaller bandwidth")


def _range(used: float, given: float | None) -> str:
    """The range a PSNR is relative to, for a failure's message."""
    if given is not None:
        return f"max_val {used:.4g}"
    return f"relative to op's output range {used:.4g}"


def _nothing_left(
    axis: int, n: int, crop: int, by_shift: list[int], shift: float, method: str, taps: int,
    shifted_numerically: bool = False,
) -> str:
    msg = (f"nothing left to compare along {_AXES[axis]}: of op's {n} output samples, crop {crop} "
           f"keeps [{crop}, {max(crop, n - crop)})")
    kept = f"[{by_shift[0]}, {by_shift[-1] + 1})" if by_shift else "nothing"
    if method != "fft" and _whole(shift):
        return msg + (f" and the output shift by {shift:.4g} px (whole samples: exact) keeps "
                      f"{kept}; use a smaller crop, a smaller shift or a longer input")
    if method != "fft":
        msg += (f" and the output shift by {shift:.4g} px (method {method!r}, {taps} taps) keeps "
                f"{kept}: it never compares the samples whose taps reach past the ends (about "
                f"{taps // 2} on each side), whatever crop is")
    fewer = max(2, min(8, taps // 2) // 2 * 2)  # (an even count below the one used)
    return msg + "; use a smaller crop, a longer input" + (
        f" or fewer taps (e.g. taps={fewer})" if method == "sinc" and taps > 2 else "") + (
        "; or give x as a BandlimitedSignal (bandlimited_signals, make_bandlimited_signal): "
        "shifted exactly, it needs no border for the input's shift" if shifted_numerically
        else "")


def _output_shift_reach(method: str, taps: int, out_shift: Sequence[float]) -> str:
    if method == "fft":
        return "the output shift (the whole axis: FFT)"
    frac = [_AXES[a] for a, d in enumerate(out_shift) if not _whole(d)]
    if not frac:
        return "the output shift (whole samples: exactly the shift itself)"
    along = "" if len(frac) == len(out_shift) else f" along {', '.join(frac)}"
    return f"the output shift ({taps // 2} samples beyond the shift itself{along})"


def _positions(mask: torch.Tensor) -> tuple[int, ...]:
    """Samples compared along each spatial axis (x first) of ``mask`` ``[N, C, *S]``."""
    keep = mask > 0
    nd = mask.ndim - 2
    return tuple(int(keep.movedim(mask.ndim - 1 - a, -1).reshape(-1, mask.shape[-1 - a])
                     .any(0).sum()) for a in range(nd))


def _along(positions: Sequence[int]) -> str:
    return ", ".join(f"{n} output samples along {_AXES[a]}" for a, n in enumerate(positions))


def _too_few(axis: int, m: int, n: int, min_compared: int, by: str, advice: str) -> str:
    return (f"too few samples compared along {_AXES[axis]} for a pass to mean much: only {m} of "
            f"op's {n} output samples {by}, fewer than min_compared={min_compared}; use "
            f"{advice}, or pass a smaller min_compared to accept it")


def _check_min_psnr(min_psnr: Any) -> float:
    """A number of dB; ±inf allowed (inf: only a perfect match passes)."""
    if isinstance(min_psnr, bool) or not isinstance(min_psnr, Real):
        raise TypeError(f"min_psnr must be a number (dB), got {min_psnr!r}")
    out = to_float("min_psnr", min_psnr)
    if math.isnan(out):
        raise ValueError(f"min_psnr must be a number of dB, not NaN, got {min_psnr!r}")
    return out


def assert_translation_equivariant(
    op: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | BandlimitedSignal,
    shift: float | Sequence[float],
    *,
    min_psnr: float = 40.0,
    crop: int | Sequence[int] | None = None,
    rate: float | Sequence[float] | None = None,
    method: str = "sinc",
    taps: int = 24,
    max_val: float | None = None,
    dtype: torch.dtype | None = None,
    min_compared: int = _MIN_COMPARED,
) -> EquivarianceResult:
    r"""Assert ``op(shift_d(x)) ≈ shift_{d·rate}(op(x))`` to ``min_psnr`` dB; return the PSNR.

    Parameters
    ----------
    op : callable ``[N, C, *S] -> [N, C, *S']``
        The operator under test (called under ``torch.no_grad()``).
    x : Tensor ``[N, C, L]`` / ``[N, C, H, W]`` / ``[N, C, D, H, W]``, or ``BandlimitedSignal``
        A :class:`~bandlimit.testing.BandlimitedSignal` is shifted analytically (exact); a
        tensor with ``method``. A volume ``[N, C, D, H, W]`` (or a signal of
        ``size=(D, H, W)``) is shifted along all three axes.
    shift : number or ``(dx,)`` (1-D), ``(dx, dy)`` (2-D), ``(dx, dy, dz)`` (3-D)
        Shift in input pixels, x first (x along W, y along H, z along D); content moves towards
        +x/+y/+z.
    min_psnr : float
        Threshold in dB (not NaN: a ``ValueError``).
    crop : int or per-axis ints (x first: ``(crop_x, crop_y, crop_z)`` in 3-D), optional
        Output pixels ignored on each side (what ``op`` writes there, NaN included, is ignored
        unless the output shift carries it into the compared region: an ``AssertionError``).
        Default: ``size_out // 8``, plus the reach of the input shift
        (``⌈(taps/2 + |d| + 1)·rate⌉``, or ``⌈|d|·rate⌉`` for a whole-pixel ``d``) when ``x`` is a
        tensor shifted numerically.
        Independently of ``crop``, the numerical shift of the output (``method``) never compares
        the samples whose taps reach past its ends: about ``taps/2`` on each side for ``'sinc'``
        (3 for ``'lanczos'``, none for ``'fft'``), so with the default 24 taps an output axis
        needs more than 23 samples; use fewer taps for tiny outputs. An axis whose shift is a
        whole number of samples (``d``, for the input, or ``d·rate``, for the output, e.g. 0) is
        shifted exactly, without taps: it loses only the ``|shift|`` samples the shift brings
        in from outside.
    rate : number or per-axis numbers (x first), optional
        Output samples per input sample. Default: ``op.output_rate`` where ``op`` has one, a
        number or one per axis, x first (bandlimit's modules:
        :class:`~bandlimit.nn.AliasFreeActivation1d`,
        :class:`~bandlimit.nn.AliasFreeActivation3d`, :class:`~bandlimit.nn.FilteredLReLU`,
        :class:`~bandlimit.nn.BlurPool2d`, :class:`~bandlimit.nn.BlurPool3d` ...); else, per
        axis, from the sizes:
        ``size_out / size_in`` snapped to ``n`` or ``1/n`` where that is within 15 % (sizes
        that differ by border samples: 38 → 36 and 32 → 28 are 1, 86 → 148 is 2); farther
        off, ``p/q`` when ``size_out`` is exactly ``p/q · size_in`` with ``q <= 8`` (a
        rational-rate layer, e.g. 96 → 144 is 3/2); neither (StyleGAN3's 38 → 52, which
        doubles the rate), a ``ValueError`` asks for ``rate``. Wide borders on small inputs
        mislead it (32 → 24 reads as 3/4): pass ``rate`` then. The failure message states the
        rate used and where it came from.
    method : {'sinc', 'lanczos', 'fft'}
        How tensors (the input when not a signal, and always the output) are shifted; see
        :func:`fractional_shift`. ``'fft'`` suits ops with circular padding on periodic signals.
    taps : int
        Length of the ``'sinc'`` interpolator.
    max_val : float, optional
        Peak-to-peak range for the PSNR. Default: the range (max − min) of op's (unshifted)
        output inside the crop, so that a constant gain of op changes nothing (a fixed range
        judged a quiet op by its scale: ×0.01 passed where ×1 failed); 2 for a constant output.
        2 is the metrics' convention for images in ``[−1, 1]``
        (:data:`bandlimit.metrics.equivariance.I_MAX`).
    dtype : torch.dtype, optional
        Real floating-point dtype the input is rendered/cast to (default: the default dtype for
        a signal, the tensor's own for a tensor).
    min_compared : int ≥ 1, default 4
        The fewest output samples that must be compared along each axis for the assertion to
        *pass*: a pass on fewer (a 48 → 24 px layer, say, whose 24 output samples the default 24
        taps reduce to 1) proves little, so it raises a ``ValueError`` that says what left so
        few and how to keep more (a smaller ``crop``, fewer ``taps``, a longer input). A
        failure on however few samples is still an ``AssertionError``. Pass 1 to accept any
        non-empty comparison.

    Returns
    -------
    EquivarianceResult
        The measured PSNR in dB (``inf`` for an exact match), a ``float`` as before, whose
        attributes say what was compared: ``positions`` (output samples per axis), ``compared``
        (values), ``crop``, ``rate``, ``shift`` and ``output_shift``; ``describe()`` puts them in
        a sentence.

    Raises
    ------
    AssertionError
        With the measured PSNR and what was compared, when it is below ``min_psnr``; or when
        ``op`` returns NaN or inf in the compared region (or within the output shift's reach of
        it).
    TypeError
        Arguments of the wrong type (e.g. an integer ``dtype``, ``x`` neither a floating-point
        tensor nor a signal, a non-integer ``min_compared``), or ``op`` returning a complex
        tensor.
    ValueError
        Bad values (e.g. an empty ``x`` or one on the meta device, a shift with the wrong number
        of components, a NaN ``min_psnr``), an ``op`` that changes the batch size or the rank,
        or gives different shapes for ``x`` and the shifted ``x``, nothing left to compare, or
        a pass on fewer than ``min_compared`` samples along an axis.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from bandlimit.testing import assert_translation_equivariant, make_bandlimited_signal
    >>> s = make_bandlimited_signal(np.random.default_rng(0), 48, bandwidth=0.2)
    >>> def blur(t):
    ...     return torch.nn.functional.avg_pool2d(t, 3, stride=1, padding=1)
    >>> psnr_db = assert_translation_equivariant(blur, s, (0.3, -1.7), min_psnr=60)
    >>> psnr_db > 60
    True

    What it compared: the samples that the crop and the 24-tap shift of the output leave (here
    the taps: 48 − 24 + 1 along each axis):

    >>> psnr_db.crop, psnr_db.positions, psnr_db.compared
    ((6, 6), (25, 25), 625)

    Naive subsampling aliases a signal with content above its new Nyquist rate; a
    band-limited resampler does not:

    >>> from bandlimit.nn import ResamplePoly
    >>> s1 = make_bandlimited_signal(np.random.default_rng(0), (256,), bandwidth=0.4)
    >>> assert_translation_equivariant(lambda t: t[..., ::2], s1, 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    AssertionError: translation equivariance PSNR ... dB < min_psnr 40.00 dB ...
    >>> psnr_db = assert_translation_equivariant(ResamplePoly(1, 2), s1, 0.5, min_psnr=60)

    A pass on too few samples to mean much is refused: shifting the 24 output samples of a
    48 → 24 layer with 24 taps leaves 1. Fewer taps leave more:

    >>> s3 = make_bandlimited_signal(np.random.default_rng(0), (48,), bandwidth=0.2)
    >>> assert_translation_equivariant(ResamplePoly(1, 2), s3, 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: too few samples compared along x for a pass to mean much: only 1 of op's 24 ...
    >>> assert_translation_equivariant(ResamplePoly(1, 2), s3, 0.5, taps=8).positions
    (17,)

    A layer at a rational rate (here 3/2, inferred from 96 → 144 samples):

    >>> from bandlimit.nn import AliasFreeActivation1d
    >>> s2 = make_bandlimited_signal(np.random.default_rng(0), (96,), bandwidth=0.1)
    >>> psnr_db = assert_translation_equivariant(AliasFreeActivation1d("gelu", up=3, down=2),
    ...                                          s2, 0.3, min_psnr=60)

    A volume ``[N, C, D, H, W]``, shifted by ``(dx, dy, dz)`` (x along W, z along D). Its
    24-sample axes are short for the default 24 taps, so 12 here: about 55 dB of accuracy at
    this bandwidth (24 taps, on longer axes, reach about 90):

    >>> s4 = make_bandlimited_signal(np.random.default_rng(0), (24, 24, 24), bandwidth=0.2)
    >>> def blur3d(t):
    ...     return torch.nn.functional.avg_pool3d(t, 3, stride=1, padding=1)
    >>> psnr_db = assert_translation_equivariant(blur3d, s4, (0.3, -1.7, 0.6), min_psnr=50,
    ...                                          taps=12)
    >>> psnr_db.positions, psnr_db.crop
    ((13, 13, 13), (3, 3, 3))
    """
    min_psnr = _check_min_psnr(min_psnr)
    if max_val is not None:
        max_val = check_real("max_val", max_val, positive=True)
    min_compared = check_int("min_compared", min_compared, 1)
    x0, nd = _resolve_input(x, dtype, (3, 4, 5))
    try:
        shift = _as_shift(shift, nd)
    except ValueError as exc:
        n = len(shift) if isinstance(shift, (tuple, list)) else 0
        if n == nd + 1 and nd < 3:  # (an image or a volume without its batch axis)
            what = ("one image [C, H, W]", "one volume [C, D, H, W]")[nd - 1]
            raise ValueError(f"{exc}: x has shape {tuple(x0.shape)}, read as [N, C"
                             f"{', L' if nd == 1 else ', H, W'}]; for {what} add the batch axis "
                             f"(x[None])") from None
        raise
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    taps = _check_taps(taps)
    k = {"sinc": taps, "lanczos": 6, "fft": 0}[method]  # interpolator taps
    if isinstance(x, BandlimitedSignal):
        x1 = x.render(shift=shift, dtype=x0.dtype)
        reach = [0.0] * nd
    else:
        x1, _ = _shift_exact_where_whole(x0, shift, method, taps)
        # Zeros come in over |d| samples; an interpolated axis also reads k/2 past the ends.
        reach = [0.0 if method == "fft" else abs(d) if _whole(d) else k // 2 + abs(d) + 1
                 for d in shift]
    y0, y1 = _call(op, x0, nd), _call(op, x1, nd)
    if y0.shape != y1.shape:
        raise ValueError(f"op gave different shapes for x and shifted x: {tuple(y0.shape)} vs "
                         f"{tuple(y1.shape)}")
    rates, rates_from = _rates(rate, x0, y0, nd, op)
    out_shift = _as_shift([d * r for d, r in zip(shift, rates)], nd, "shift * rate")
    sizes = [y0.shape[-1 - a] for a in range(nd)]
    default = [s // 8 + math.ceil(rch * r) for s, rch, r in zip(sizes, reach, rates)]
    crops = _crop(crop, nd, default)
    # A whole-sample output shift is exact: no taps, so no margin for them along that axis.
    ref, mask = _shift_exact_where_whole(y0.to(torch.float64), out_shift, method, taps)
    for axis, (n, c) in enumerate(zip(sizes, crops)):
        dim = mask.ndim - 1 - axis
        idx = torch.arange(n, device=mask.device)
        keep = ((idx >= c) & (idx < n - c)).to(mask.dtype)
        # The output shift masks the samples whose taps pass op's output ends, whatever crop is
        # (this axis's own mask: another axis that loses everything must not be blamed here).
        _, own = _shift_exact_where_whole(torch.zeros(n, dtype=torch.float64, device=mask.device),
                                          (out_shift[axis],), method, taps)  # fmt: skip
        by_shift = torch.nonzero(own).flatten().tolist()
        if not bool((keep[by_shift] > 0).any()):
            raise ValueError(_nothing_left(axis, n, c, by_shift, out_shift[axis], method, k,
                                           shifted_numerically=any(reach)))
        shape = [1] * mask.ndim
        shape[dim] = n
        mask = mask * keep.reshape(shape)
    positions = _positions(mask)
    region = y0
    for axis, (n, c) in enumerate(zip(sizes, crops)):
        region = region.narrow(y0.ndim - 1 - axis, c, n - 2 * c)  # (non-empty: checked above)
    p, used = _compare(ref, y0, y1, mask, max_val, _output_shift_reach(method, k, out_shift),
                       "make op's output finite, or use method 'sinc'" if method == "fft" else
                       "increase crop, or make op's output finite", region)  # fmt: skip
    result = EquivarianceResult(p, compared=int((mask > 0).sum()), positions=positions,
                                crop=crops, rate=rates, shift=shift, output_shift=out_shift,
                                max_val=used)
    if not p >= min_psnr:
        shifted = method != "fft" and not all(_whole(d) for d in out_shift)  # (interpolated)
        raise AssertionError(
            f"translation equivariance PSNR {p:.2f} dB < min_psnr {min_psnr:.2f} dB "
            f"({_range(used, max_val)}, input shift {shift} px, output shift "
            f"{tuple(round(s, 4) for s in out_shift)} px, "
            f"rate {rates} {rates_from}, crop {crops}, "
            f"{_along(positions)}, {result.compared} values compared)"
            + (_reference_limit(x, min(rates), 0.375 if method == "sinc" else 0.25,
                                f"the output shift (method {method!r})") if shifted else "")
        )
    # A pass on a handful of samples proves little (a failure there is still a failure).
    for axis, (m, n) in enumerate(zip(positions, sizes)):
        if m < min_compared:
            raise ValueError(_too_few(axis, m, n, min_compared, f"remain after crop {crops[axis]} "
                                      f"and the output shift by {out_shift[axis]:.4g} px (rate "
                                      f"{rates[axis]:.4g}, {rates_from.split(' (')[0]})",
                                      "a smaller crop, a longer input" + (
                                          " or fewer taps (e.g. taps=8)"
                                          if method == "sinc" and not _whole(out_shift[axis])
                                          else "")))
    return result


def assert_rotation_equivariant(
    op: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | BandlimitedSignal,
    angle: float,
    *,
    min_psnr: float = 30.0,
    crop: int | None = None,
    max_val: float | None = None,
    dtype: torch.dtype | None = None,
    min_compared: int = _MIN_COMPARED,
) -> EquivarianceResult:
    r"""Assert ``op(rotate_α(x)) ≈ rotate_α(op(x))`` to at least ``min_psnr`` dB; return the PSNR.

    Rotation is about the image centre, content at ``p`` moving to ``rot(α)·p`` (rows point down):
    exact for a :class:`~bandlimit.testing.BandlimitedSignal`, otherwise — and always for the
    output — :func:`bandlimit.metrics.equivariance.rotate` (4× band-limited upsampling + bilinear;
    accurate to ~60 dB for content below 0.25 cycles/pixel, less near Nyquist). The output may have
    another sampling rate than the input (rotation is about the centre in both): an op whose
    output grid is not centred on the input's fails, rotation-equivariant or not (a stride-2
    ``BlurPool2d`` keeps samples 0, 2, 4, ...: its grid is off-centre by half an input pixel,
    22 dB at π).

    Parameters
    ----------
    op : callable ``[N, C, H, W] -> [N, C, H', W']``
    x : Tensor ``[N, C, H, W]`` or 2-D :class:`~bandlimit.testing.BandlimitedSignal`
        Images only: 1-D signals and 3-D volumes ``[N, C, D, H, W]`` raise a ``ValueError``
        (test a volume's translation equivariance with
        :func:`assert_translation_equivariant`).
    angle : float
        Radians.
    min_psnr : float
        Threshold in dB (not NaN: a ``ValueError``).
    crop : int, optional
        Only the disc of radius ``min(H', W')/2 − crop`` around the centre is compared (corners
        leave the frame under rotation). Default ``min(H', W') // 8``, plus 6 input pixels' worth
        when ``x`` is a tensor rotated numerically.
    max_val : float, optional
        Peak-to-peak range for the PSNR (default: the range of op's (unrotated) output over the
        compared disc, as in :func:`assert_translation_equivariant`).
    dtype : torch.dtype, optional
        Real floating-point dtype the input is rendered/cast to (default: the default dtype for
        a signal, the tensor's own for a tensor).
    min_compared : int ≥ 1, default 4
        The fewest output samples the compared disc must span along x and along y for the
        assertion to pass (fewer: a ``ValueError``; a failure is still an
        ``AssertionError``), as in :func:`assert_translation_equivariant`.

    Returns
    -------
    EquivarianceResult
        The measured PSNR in dB (``inf`` for an exact match), a ``float``, with what was
        compared (``positions``: the disc's extent along x and y; ``compared``; ``crop``;
        ``angle``).

    Raises
    ------
    AssertionError
        With the measured PSNR, when it is below ``min_psnr``; or when ``op`` returns NaN or inf
        in the compared disc (or within the rotation's reach of it).
    TypeError
        Arguments of the wrong type (e.g. an integer ``dtype``), or ``op`` returning a complex
        tensor.
    ValueError
        Bad values (e.g. ``x`` not ``[N, C, H, W]``, such as a 1-D signal or a 3-D volume, on
        the meta device, a NaN ``min_psnr``), an ``op`` that changes the batch size or the rank,
        or gives different shapes for ``x`` and the rotated ``x``, nothing left to compare, or a
        pass on a disc narrower than ``min_compared`` samples.

    Examples
    --------
    An isotropic blur commutes with rotation; a horizontal one does not:

    >>> import math
    >>> import numpy as np
    >>> import torch
    >>> from bandlimit.testing import assert_rotation_equivariant, make_bandlimited_signal
    >>> s = make_bandlimited_signal(np.random.default_rng(0), 48, bandwidth=0.15)
    >>> g = torch.exp(-torch.arange(-3.0, 4.0) ** 2 / 2)
    >>> kernel = (g[:, None] * g[None, :] / g.sum() ** 2).reshape(1, 1, 7, 7)
    >>> def blur(t):
    ...     return torch.nn.functional.conv2d(t, kernel.to(t.dtype), padding=3)
    >>> psnr_db = assert_rotation_equivariant(blur, s, math.radians(30), min_psnr=50)
    >>> psnr_db.positions  # the disc of radius 24 − 6 around the centre
    (36, 36)
    >>> def smear(t):
    ...     return torch.nn.functional.avg_pool2d(t, (1, 5), stride=1, padding=(0, 2))
    >>> assert_rotation_equivariant(smear, s, math.radians(30), min_psnr=50)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    AssertionError: rotation equivariance PSNR ... dB < min_psnr 50.00 dB ...
    """
    min_psnr = _check_min_psnr(min_psnr)
    if max_val is not None:
        max_val = check_real("max_val", max_val, positive=True)
    min_compared = check_int("min_compared", min_compared, 1)
    x0, nd = _resolve_input(x, dtype, (4,), note=" (rotation is tested on 2-D images only)")
    angle = check_real("angle", angle)
    if isinstance(x, BandlimitedSignal):
        x1 = x.render(angle=angle, dtype=x0.dtype)
        reach = 0
    else:
        x1 = rotate(x0, angle)[0]
        reach = 6
    y0, y1 = _call(op, x0, nd), _call(op, x1, nd)
    if y0.shape != y1.shape:
        raise ValueError(f"op gave different shapes for x and rotated x: {tuple(y0.shape)} vs "
                         f"{tuple(y1.shape)}")
    H, W = y0.shape[-2:]
    scale = min(H / x0.shape[-2], W / x0.shape[-1])
    if crop is None:
        crop = min(H, W) // 8 + math.ceil(reach * scale)
    crop = _crop(crop, 1, (0,))[0]
    ref, mask = rotate(y0.to(torch.float64), angle)
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64, device=mask.device) - (H - 1) / 2,
                            torch.arange(W, dtype=torch.float64, device=mask.device) - (W - 1) / 2,
                            indexing="ij")
    disc = ((xx**2 + yy**2).sqrt() <= min(H, W) / 2 - crop).to(mask.dtype)
    mask = mask * disc
    radius = min(H, W) / 2 - crop
    if float(mask.sum()) == 0:
        why = (f"crop {crop} leaves a disc of radius min(H', W')/2 - crop = {radius:g}"
               if radius <= 0 else
               f"the disc of radius min(H', W')/2 - crop = {radius:g} (crop {crop}) lies within "
               f"the border that rotating op's output leaves undefined")
        raise ValueError(f"nothing left to compare in op's output of size {(H, W)}: {why}; use "
                         + ("a smaller crop or " if crop else "") + "a larger input")
    positions = _positions(mask)
    p, used = _compare(ref, y0, y1, mask, max_val, "the rotation of op's output (band-limited "
                       "resampling)", "increase crop, or make op's output finite",
                       y0[(mask > 0).expand_as(y0)])
    result = EquivarianceResult(p, compared=int((mask > 0).sum()), positions=positions,
                                crop=(crop,), angle=angle, max_val=used)
    if not p >= min_psnr:
        raise AssertionError(
            f"rotation equivariance PSNR {p:.2f} dB < min_psnr {min_psnr:.2f} dB "
            f"({_range(used, max_val)}, angle {angle:.4f} rad, crop {crop}, compared disc spans "
            f"{_along(positions)}, "
            f"{result.compared} values compared)"
            + _reference_limit(x, min(H / x0.shape[-2], W / x0.shape[-1]), 0.3,
                               "the rotation of op's output")
        )
    for axis, m in enumerate(positions):  # a pass on a handful of samples proves little
        if m < min_compared:
            raise ValueError(_too_few(axis, m, (W, H)[axis], min_compared,
                                      f"lie in the disc of radius {radius:g} (crop {crop})",
                                      ("a smaller crop or " if crop else "") + "a larger input"))
    return result
