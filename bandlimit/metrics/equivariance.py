r"""Equivariance metrics of Alias-Free GAN: EQ-T, EQ-T_frac and EQ-R (Karras et al., 2021).

A generator ``G`` is equivariant to a transform ``T`` when transforming its input Fourier features
transforms its image the same way: ``G(T·z) = T[G(z)]``. The metrics measure the agreement as a
PSNR in dB over many latents (pooled MSE, peak-to-peak ``I_max = 2`` for images in ``[−1, 1]``)::

    PSNR = 20·log10(2) − 10·log10( Σ mask·(ref − img)² / Σ mask )

``eqt_int``
    Integer translation. ``t ~ U[−1/8, 1/8)²`` (fraction of the image width) snapped to whole
    pixels; ``img = G`` with features translated by ``t``; ``ref`` = the untransformed image moved
    by ``t·res`` pixels (zero-filled, compared only where defined). Perfect equivariance gives ∞.
``eqt_frac``
    Fractional translation: ``t`` not snapped; ``ref`` = separable Lanczos-3 shift of the
    untransformed image. Saturates around 40–50 dB because Lanczos-3 itself is imperfect.
``eqr``
    Rotation by ``α ~ U[−π, π)``. ``ref`` = high-quality rotation of the untransformed image
    (4× band-limited upsampling + bilinear resampling); ``img`` is only *pseudo-rotated*: filtered
    with the same oriented band-limit filter, so that both keep the same band.

Conventions (shared with the generator's ``synthesis.input.transform`` buffer, which maps output
coordinates to feature coordinates): image coordinates are ``(x, y)`` = (column, row), canvas width
1; translating content by ``t`` writes ``transform = [[1, 0, −t_x], [0, 1, −t_y], [0, 0, 1]]``;
rotating content by ``α`` writes ``transform = rot(−α)`` with
``rot(α) = [[cos α, sin α, 0], [−sin α, cos α, 0], [0, 0, 1]]``, so content at ``p`` moves to
``rot(α)·p``.

Public building blocks: :func:`translate_integer`, :func:`translate_fractional`,
:func:`lanczos_kernel`, :func:`lanczos_shift_weights`, :func:`oriented_bandlimit_filter`,
:func:`rotation_matrix`, :func:`translation_transform`, :func:`rotation_transform`,
:func:`rotate`, :func:`pseudo_rotate`, :func:`psnr`, :class:`PSNRAccumulator`, :class:`BatchDraws`,
:func:`draw_batch`, :func:`evaluate`; :exc:`NonFiniteImagesError` (raised by :func:`evaluate`);
the constants :data:`METRICS`, :data:`TRANSLATE_MAX`, :data:`ROTATE_MAX` and :data:`I_MAX`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F

from bandlimit._checks import (
    check_device,
    check_float_dtype,
    check_int,
    check_real,
    nonreal_kind,
)
from bandlimit.metrics._distributed import batch_seed, raise_on_every_rank
from bandlimit.metrics._distributed import dist_info as _dist_info
from bandlimit.metrics._distributed import reduce_device as _reduce_device
from bandlimit.ops import filter2d, upsample2d

__all__ = [
    "I_MAX",
    "METRICS",
    "ROTATE_MAX",
    "TRANSLATE_MAX",
    "BatchDraws",
    "NonFiniteImagesError",
    "PSNRAccumulator",
    "draw_batch",
    "evaluate",
    "lanczos_kernel",
    "lanczos_shift_weights",
    "oriented_bandlimit_filter",
    "pseudo_rotate",
    "psnr",
    "rotate",
    "rotation_matrix",
    "rotation_transform",
    "translate_fractional",
    "translate_integer",
    "translation_transform",
]

#: Metric names accepted by :func:`evaluate`, in the order results are returned.
METRICS: tuple[str, ...] = ("eqt_int", "eqt_frac", "eqr")
#: Largest translation drawn, as a fraction of the image width (the paper's value).
TRANSLATE_MAX = 0.125
#: Largest rotation drawn, in radians (the paper's value, any angle).
ROTATE_MAX = math.pi
#: Peak-to-peak signal value used by the PSNR (images live in ``[−1, 1]``).
I_MAX = 2.0
#: Largest Lanczos order of :func:`rotate` / :func:`pseudo_rotate`: their filter spans ``2·a``
#: pixels each way, at most the half-size of its FFT grid (``aflt = 64``).
_MAX_ROTATION_A = 32


class NonFiniteImagesError(ValueError):
    """The generator wrote NaN or inf: the equivariance metrics of :func:`evaluate` are undefined.

    A ``ValueError``, so that callers who only check arguments still see it; training loops can
    catch this class to report a diverged generator without stopping.

    Examples
    --------
    >>> from bandlimit.metrics import NonFiniteImagesError, evaluate
    >>> issubclass(NonFiniteImagesError, ValueError)
    True
    >>> try:                                                   # doctest: +SKIP
    ...     scores = evaluate(G, num_samples=1_000, progress=False)
    ... except NonFiniteImagesError as err:
    ...     print(f"generator diverged: {err}")
    """


# ---------------------------------------------------------------------------------------------
# Argument checks


def _check_images(x: Any, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [N, C, H, W], got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape [N, C, H, W], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def _check_real(value: Any, name: str, positive: bool = False) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return check_real(name, value, positive=positive)


def _check_rotation_a(a: Any) -> int:
    a = check_int("a", a, 1)
    if a > _MAX_ROTATION_A:
        raise ValueError(f"a must be an int in [1, {_MAX_ROTATION_A}] (the rotation filter spans "
                         f"2·a pixels each way, at most the {2 * _MAX_ROTATION_A}-pixel half-size "
                         f"of its FFT grid), got {a}")
    return a


def _check_shift(shift: Any, name: str, ndim: int = 2) -> tuple[float, ...]:
    """``shift`` as a tuple of ``ndim`` finite floats, ordered (x, y) / (last axis first)."""
    if isinstance(shift, torch.Tensor):
        shift = shift.detach().cpu().reshape(-1).tolist()
    elif isinstance(shift, np.ndarray):
        shift = shift.reshape(-1).tolist()
    if ndim == 1 and (isinstance(shift, Real) and not isinstance(shift, bool)):
        shift = (shift,)
    if not isinstance(shift, (tuple, list)) or len(shift) != ndim:
        expected = "(dx, dy)" if ndim == 2 else "a number or (dx,)"
        raise ValueError(f"{name} must be {expected} ({ndim} values), got {shift!r}")
    return tuple(_check_real(s, f"{name}[{i}]") for i, s in enumerate(shift))


def _check_int(value: Any, name: str, minimum: int) -> int:
    return check_int(name, value, minimum)


def _check_matrix(matrix: Any, name: str = "matrix") -> torch.Tensor:
    kind = nonreal_kind(matrix)
    if kind is not None:  # (the conversion would drop the imaginary parts, make bools 0 / 1)
        dtype = getattr(matrix, "dtype", None) or np.asarray(matrix).dtype
        raise TypeError(f"{name} must hold real numbers, got a {kind} matrix (dtype {dtype})")
    if isinstance(matrix, torch.Tensor) and matrix.is_meta:
        raise ValueError(f"{name} must hold its values, got a tensor on the meta device")
    # On the CPU whatever torch's default device (a meta default made it a meta tensor).
    m = torch.as_tensor(matrix, dtype=torch.float64, device="cpu").detach()
    if tuple(m.shape) not in {(2, 2), (2, 3), (3, 3)}:
        raise ValueError(f"{name} must be a 2x2, 2x3 or 3x3 matrix, got shape {tuple(m.shape)}")
    if not torch.isfinite(m).all():
        raise ValueError(f"{name} must be finite, got {m.tolist()}")
    return m


# ---------------------------------------------------------------------------------------------
# Translation


def _zero_shift(x: torch.Tensor, s: int, dim: int) -> torch.Tensor:
    """Move the content of ``x`` by ``s`` samples along ``dim`` (to higher indices), zero-filled."""
    n = x.shape[dim]
    out = torch.zeros_like(x)
    if abs(s) >= n:
        return out
    dst = out.narrow(dim, max(s, 0), n - abs(s))
    dst.copy_(x.narrow(dim, max(-s, 0), n - abs(s)))
    return out


def _axis_mask(n: int, lo: int, hi: int, dim: int, like: torch.Tensor) -> torch.Tensor:
    """Broadcastable mask that is 1 for indices ``lo <= i < hi`` along ``dim`` of ``like``."""
    idx = torch.arange(n, device=like.device)
    m = ((idx >= lo) & (idx < hi)).to(like.dtype)
    shape = [1] * like.ndim
    shape[dim] = n
    return m.reshape(shape)


def translate_integer(x: torch.Tensor, shift: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Move images by whole pixels, zero-filling what enters the frame.

    ``y[..., r, c] = x[..., r − dy, c − dx]`` where defined, else 0 (content moves towards +x/+y).

    Parameters
    ----------
    x : torch.Tensor
        Floating-point images ``[N, C, H, W]``, on any device.
    shift : sequence of 2 numbers
        ``(dx, dy)`` in pixels (x = columns, y = rows), whole numbers (``2`` or ``2.0``); a
        tuple, list, tensor or array.

    Returns
    -------
    y : torch.Tensor
        ``[N, C, H, W]``, the dtype and device of ``x``: the moved images, 0 where nothing
        moved in.
    mask : torch.Tensor
        ``[N, C, H, W]``, the dtype and device of ``x``: 1 where ``y`` is defined, else 0
        (paper Eq. 24: ``c ∈ [max(dx, 0), W + min(dx, 0))``, likewise rows). A shift by the
        whole image or more, however large, gives zeros and an empty mask, as in
        :func:`translate_fractional`.

    Raises
    ------
    TypeError
        ``x`` is not a floating-point tensor.
    ValueError
        ``shift`` is not two finite whole numbers (use :func:`translate_fractional` for
        sub-pixel shifts), or ``x`` is not 4-D.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import translate_integer
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, mask = translate_integer(x, (1, 0))           # one pixel to the right
    >>> y[0, 0].tolist()
    [[0.0, 0.0, 1.0, 2.0], [0.0, 4.0, 5.0, 6.0], [0.0, 8.0, 9.0, 10.0], [0.0, 12.0, 13.0, 14.0]]
    >>> mask[0, 0, 0].tolist()                           # the first column is undefined
    [0.0, 1.0, 1.0, 1.0]
    """
    x = _check_images(x)
    dx, dy = _check_shift(shift, "shift")
    if not (dx.is_integer() and dy.is_integer()):
        raise ValueError(
            f"shift must be whole pixels for translate_integer, got {(dx, dy)}; "
            "use translate_fractional for sub-pixel shifts"
        )
    H, W = x.shape[-2:]
    # Beyond the image every shift gives the same result; clamping keeps the indices in int64.
    dx, dy = int(max(-W, min(W, dx))), int(max(-H, min(H, dy)))
    y = _zero_shift(_zero_shift(x, dx, -1), dy, -2)
    mask = _axis_mask(W, max(dx, 0), W + min(dx, 0), -1, x)
    mask = mask * _axis_mask(H, max(dy, 0), H + min(dy, 0), -2, x)
    return y, mask.expand_as(x).contiguous()


def lanczos_kernel(t: torch.Tensor | np.ndarray | float, a: int = 3) -> torch.Tensor:
    r"""Lanczos kernel :math:`L_a(t) = \mathrm{sinc}(t)\,\mathrm{sinc}(t/a)`, zero for ``|t| >= a``.

    ``sinc(t) = sin(πt)/(πt)``.

    Parameters
    ----------
    t : torch.Tensor, numpy.ndarray or float
        Positions in samples. A tensor is used as it is (same device); anything else is
        converted to a float64 tensor on the CPU (whatever torch's default device).
    a : int
        Lanczos order (> 0, default 3): the kernel is zero for ``|t| >= a``.

    Returns
    -------
    torch.Tensor
        The shape of ``t``; float64 on the CPU for a non-tensor ``t``, else the dtype and
        device of ``t`` (a floating-point one; an integer tensor gives torch's default float
        dtype).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import lanczos_kernel
    >>> [round(v, 4) for v in lanczos_kernel(torch.tensor([0.0, 0.5, 1.5, 3.5])).tolist()]
    [1.0, 0.6079, -0.1351, 0.0]
    >>> lanczos_kernel(0.5).dtype
    torch.float64
    """
    a = _check_int(a, "a", 1)
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=torch.float64, device="cpu")
    return torch.where(t.abs() < a, torch.sinc(t) * torch.sinc(t / a), torch.zeros_like(t))


def lanczos_shift_weights(phase: float, a: int = 3) -> torch.Tensor:
    r"""Normalised Lanczos-``a`` interpolation weights for a fractional shift ``phase ∈ [0, 1)``.

    ``w_k = L_a(k − phase)`` (:func:`lanczos_kernel`) for taps ``k = −a+1 … a``, divided by their
    sum (unit DC gain), so that ``y[n] = Σ_k w_k x[n − k]`` is ``x`` delayed by ``phase``
    samples.

    Parameters
    ----------
    phase : float
        Fractional delay in samples, ``0 <= phase < 1``.
    a : int
        Lanczos order (>= 1, default 3).

    Returns
    -------
    torch.Tensor
        float64 ``[2a]`` on the CPU (whatever torch's default device and dtype), summing to
        1; entry ``j`` is the weight of tap ``k = j − a + 1``.

    Examples
    --------
    A half-sample delay (taps ``k = −2 … 3``, symmetric about ``k = 0.5``):

    >>> from bandlimit.metrics.equivariance import lanczos_shift_weights
    >>> w = lanczos_shift_weights(0.5)
    >>> w.shape, w.dtype, round(float(w.sum()), 4)
    (torch.Size([6]), torch.float64, 1.0)
    >>> [round(v, 4) for v in w.tolist()]
    [0.0245, -0.1359, 0.6114, 0.6114, -0.1359, 0.0245]
    """
    phase = _check_real(phase, "phase")
    if not 0.0 <= phase < 1.0:
        raise ValueError(f"phase must be in [0, 1), got {phase!r}")
    a = _check_int(a, "a", 1)
    k = torch.arange(-a + 1, a + 1, dtype=torch.float64, device="cpu")
    w = lanczos_kernel(k - phase, a)
    return w / w.sum()


def _separable_shift(
    x: torch.Tensor,
    shift: Sequence[float],
    kernel: Callable[[torch.Tensor], torch.Tensor],
    half: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift the last ``len(shift)`` axes of ``x`` (ordered last axis first) by an FIR interpolator.

    Along one axis with shift ``d = i + φ`` (``i = floor(d)``): ``y[n] = Σ_k w_k x[n − i − k]`` with
    ``k = −half+1 … half`` and ``w_k = kernel(k − φ) / Σ``; zero outside. The mask keeps
    ``n ∈ [max(i + half, 0), L + min(i − half + 1, 0))``: every tap read a real sample.
    """
    y = x
    mask = torch.ones((1,) * x.ndim, dtype=x.dtype, device=x.device)
    for axis, d in enumerate(shift):
        dim = x.ndim - 1 - axis
        n = x.shape[dim]
        i = math.floor(d)
        phi = d - i
        i = max(-(n + half), min(n + half, i))  # beyond the signal and the taps: all zeros
        ks = range(-half + 1, half + 1)
        # The weights are Python floats: computed on the CPU, whatever the default device.
        w = kernel(torch.tensor([k - phi for k in ks], dtype=torch.float64, device="cpu"))
        weights: list[float] = (w / w.sum()).tolist()
        acc = torch.zeros_like(y)
        for k, wk in zip(ks, weights):
            if wk != 0.0:
                acc.add_(_zero_shift(y, i + k, dim), alpha=wk)
        y = acc
        mask = mask * _axis_mask(n, max(i + half, 0), n + min(i - half + 1, 0), dim, x)
    return y, mask.expand_as(x).contiguous()


def translate_fractional(
    x: torch.Tensor, shift: Sequence[float], a: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Move images by a fractional number of pixels with a separable Lanczos-``a`` interpolator.

    With ``d = i + φ`` per axis (``i = floor(d)``, taps ``k = −a+1 … a``, weights from
    :func:`lanczos_shift_weights`)::

        y[r, c] = Σ_{ky, kx} w^y_{ky} w^x_{kx} x[r − i_y − ky, c − i_x − kx]      (0 outside)

    This is the EQ-T_frac reference (``a = 3``).

    Parameters
    ----------
    x : torch.Tensor
        Floating-point images ``[N, C, H, W]``, on any device.
    shift : sequence of 2 numbers
        ``(dx, dy)`` in pixels (x = columns, y = rows), any finite reals; content moves
        towards +x/+y.
    a : int
        Lanczos order (>= 1, default 3).

    Returns
    -------
    y : torch.Tensor
        ``[N, C, H, W]``, the dtype and device of ``x``.
    mask : torch.Tensor
        ``[N, C, H, W]``, the dtype and device of ``x``: 1 where every tap read a pixel inside
        the image, ``c ∈ [max(i_x + a, 0), W + min(i_x − a + 1, 0))``, likewise rows; else 0
        (also along an axis whose shift is whole).

    Examples
    --------
    Half a pixel to the right: a ramp ``x[..., c] = c`` becomes ``c − 0.5`` where the mask is
    set, columns and rows ``3 … 13`` of 16:

    >>> import torch
    >>> from bandlimit.metrics.equivariance import translate_fractional
    >>> x = torch.arange(16.0).repeat(1, 1, 16, 1)           # [1, 1, 16, 16]
    >>> y, mask = translate_fractional(x, (0.5, 0.0))
    >>> [round(v, 4) for v in y[0, 0, 5, 3:6].tolist()]
    [2.5, 3.5, 4.5]
    >>> int(mask[0, 0, 5].sum()), int(mask[0, 0].sum())
    (11, 121)
    """
    x = _check_images(x)
    shift = _check_shift(shift, "shift")
    a = _check_int(a, "a", 1)
    return _separable_shift(x, shift, lambda t: lanczos_kernel(t, a), a)


# ---------------------------------------------------------------------------------------------
# Rotation


def rotation_matrix(angle: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The 3×3 matrix ``rot(α) = [[cos α, sin α, 0], [−sin α, cos α, 0], [0, 0, 1]]``.

    Acting on ``(x, y, 1)`` with ``y`` pointing down the rows, it is the rotation used throughout
    the metrics: :func:`rotate` ``(x, α)`` moves content at ``p`` to ``rot(α)·p``.

    Parameters
    ----------
    angle : float
        α in radians (a finite real, or a one-element tensor).
    dtype : torch.dtype
        Of the result (default float64); a floating-point dtype.

    Returns
    -------
    torch.Tensor
        ``[3, 3]`` on the CPU (whatever torch's default device).

    Examples
    --------
    A quarter turn moves +x to −y (up, rows pointing down):

    >>> import math
    >>> import torch
    >>> from bandlimit.metrics.equivariance import rotation_matrix
    >>> m = rotation_matrix(math.pi / 2)
    >>> [[round(v, 4) for v in row] for row in m.tolist()]
    [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> p = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    >>> [round(v, 4) for v in (m @ p).tolist()]
    [0.0, -1.0, 1.0]
    """
    angle = _check_real(angle, "angle")
    dtype = check_float_dtype("dtype", dtype)
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]], dtype=dtype, device="cpu")


def translation_transform(t: Sequence[float], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``synthesis.input.transform`` moving generated content by ``t`` (canvas units, width 1).

    Parameters
    ----------
    t : sequence of 2 numbers
        ``(t_x, t_y)`` in canvas units (the image is 1 wide); content moves towards +x/+y.
    dtype : torch.dtype
        Of the result (default float64); a floating-point dtype.

    Returns
    -------
    torch.Tensor
        ``[[1, 0, −t_x], [0, 1, −t_y], [0, 0, 1]]``, ``[3, 3]`` on the CPU (whatever torch's
        default device; the transform maps output coordinates to feature coordinates).

    Examples
    --------
    >>> from bandlimit.metrics.equivariance import translation_transform
    >>> translation_transform((0.25, -0.125)).tolist()      # a quarter width right, 1/8 up
    [[1.0, 0.0, -0.25], [0.0, 1.0, 0.125], [0.0, 0.0, 1.0]]
    """
    tx, ty = _check_shift(t, "t")
    m = torch.eye(3, dtype=check_float_dtype("dtype", dtype), device="cpu")
    m[0, 2], m[1, 2] = -tx, -ty
    return m


def rotation_transform(angle: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``synthesis.input.transform`` rotating generated content by ``angle`` (rad): ``rot(−α)``.

    Parameters
    ----------
    angle : float
        α in radians; positive turns +x towards −y, as in :func:`rotate`.
    dtype : torch.dtype
        Of the result (default float64); a floating-point dtype.

    Returns
    -------
    torch.Tensor
        :func:`rotation_matrix` ``(−angle)``, ``[3, 3]`` on the CPU (whatever torch's default
        device).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import rotation_matrix, rotation_transform
    >>> torch.equal(rotation_transform(0.3), rotation_matrix(-0.3))
    True
    """
    return rotation_matrix(-_check_real(angle, "angle"), dtype=dtype)


def oriented_bandlimit_filter(
    matrix: Any,
    up: int = 1,
    a: int = 3,
    amax: int | None = None,
    aflt: int = 64,
    cutoff_in: float = 1.0,
    cutoff_out: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""2-D filter that keeps only the band shared by the input grid and a linearly mapped grid.

    With ``A`` the upper-left 2×2 block of ``matrix``, input coordinates ``p_i = (x_i, y_i)`` on a
    fine grid of spacing ``1/up`` and output coordinates ``p_o = A·p_i``:

    1. ``f = sinc(c_in x_i) sinc(c_in y_i) ⊛ sinc(c_out x_o) sinc(c_out y_o)``, a circular
       convolution (FFT) on ``2·aflt·up − 1`` taps per axis; the spectrum of the result is the
       intersection of the square ``|ν| < c/2`` with ``Aᵀ`` of that square.
    2. ``w = W_a(x_i) W_a(y_i) ⊛ W_a(x_o) W_a(y_o)`` with the Lanczos window
       ``W_a(t) = sinc(t/a)`` for ``|t| < a``, else 0; ``f ← f·w``.
    3. Centre, crop to ``(2·amax·up − 1)²`` taps and scale each of the ``up²`` polyphase components
       ``f[ry::up, rx::up]`` to sum to ``1/up²`` (so upsampling by ``up`` with gain ``up²`` keeps
       constants exactly).

    Parameters
    ----------
    matrix : array_like
        A finite, real 2×2, 2×3 or 3×3 matrix (tensor, array or nested lists; a complex or
        bool one raises a ``TypeError``); only its upper-left 2×2 block, the linear part, is
        used (e.g. :func:`rotation_matrix`).
    up : int
        Oversampling of the filter's grid, ≥ 1 (4 for :func:`rotate`, 1 for
        :func:`pseudo_rotate`).
    a : int
        Lanczos window order, ≥ 1 (default 3).
    amax : int, optional
        Half-support of the cropped filter in input pixels, ≥ 1 (default ``2·a``).
    aflt : int
        Half-size of the FFT grid in input pixels, ≥ ``amax`` (default 64).
    cutoff_in : float
        Band of the input grid as a fraction of its Nyquist frequency (> 0, default 1): the
        pass band is ``|ν| < cutoff_in / 2`` cycles per input pixel along each axis.
    cutoff_out : float
        The same for the mapped grid (> 0, default 1), in cycles per pixel of the output
        coordinates ``A·p_i``.
    dtype : torch.dtype
        Real floating-point dtype of the result (computed in float64; default float32).
    device : torch.device or str, optional
        Device of the result (default: the CPU, whatever torch's default device).

    Returns
    -------
    torch.Tensor
        ``[K, K]`` with ``K = 2·amax·up − 1``, indexed ``[y, x]``, summing to 1;
        point-symmetric, so convolution and correlation agree.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import oriented_bandlimit_filter, rotation_matrix
    >>> f = oriented_bandlimit_filter(rotation_matrix(0.3))          # up = 1: (4a − 1)² taps
    >>> f.shape, f.dtype, round(float(f.sum()), 4), torch.allclose(f, f.flip(0, 1))
    (torch.Size([11, 11]), torch.float32, 1.0, True)
    >>> f4 = oriented_bandlimit_filter(rotation_matrix(0.3), up=4)
    >>> f4.shape, round(float(f4[0::4, 0::4].sum()), 4)            # each of 16 phases: 1/16
    (torch.Size([47, 47]), 0.0625)
    """
    A = _check_matrix(matrix)[:2, :2]
    dtype = check_float_dtype("dtype", dtype)  # an int dtype would round the taps to zeros
    device = None if device is None else check_device("device", device)
    up = _check_int(up, "up", 1)
    a = _check_int(a, "a", 1)
    amax = 2 * a if amax is None else _check_int(amax, "amax", 1)
    aflt = _check_int(aflt, "aflt", amax)
    cutoff_in = _check_real(cutoff_in, "cutoff_in")
    cutoff_out = _check_real(cutoff_out, "cutoff_out")
    if cutoff_in <= 0 or cutoff_out <= 0:
        raise ValueError(f"cutoff_in and cutoff_out must be > 0, got {cutoff_in!r}, {cutoff_out!r}")

    # Fine grid in FFT order (tap 0 first) so that circular convolution is centred on tap 0.
    # NumPy/SciPy float64: several times faster than torch's FFT for these odd sizes.
    a00, a01, a10, a11 = A.numpy().reshape(-1).tolist()
    half = aflt * up - 1
    taps = np.fft.ifftshift(np.arange(-half, half + 1, dtype=np.float64) / up)
    xi, yi = taps[None, :], taps[:, None]
    xo, yo = a00 * xi + a01 * yi, a10 * xi + a11 * yi

    def window(t: np.ndarray) -> np.ndarray:
        return np.where(np.abs(t) < a, np.sinc(t / a), 0.0)

    def cconv(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return scipy.fft.irfft2(scipy.fft.rfft2(u) * scipy.fft.rfft2(v), s=u.shape)

    fi = np.sinc(xi * cutoff_in) * np.sinc(yi * cutoff_in)
    wi = window(xi) * window(yi)
    f = cconv(fi, np.sinc(xo * cutoff_out) * np.sinc(yo * cutoff_out))
    w = cconv(wi, window(xo) * window(yo))
    f = np.fft.fftshift(f * w)

    c, h = half, amax * up - 1
    f = f[c - h : c + h + 1, c - h : c + h + 1].copy()
    for ry in range(up):
        for rx in range(up):
            f[ry::up, rx::up] /= f[ry::up, rx::up].sum() * up * up
    return torch.from_numpy(f).to(dtype=dtype, device=device)


def _affine_resample(
    x: torch.Tensor, matrix: torch.Tensor, up: int, a: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """High-quality resampling ``y(q) = x(matrix⁻¹ q)``: the linear part in pixel units (a
    rotation turns non-square images too), the translation in canvas units (centre 0, width and
    height 1)."""
    N, C, H, W = x.shape
    f = oriented_bandlimit_filter(matrix, up=up, a=a, dtype=x.dtype, device=x.device)
    p = f.shape[0] // 2  # = amax·up − 1 on each side: room for the filter's tails
    z = upsample2d(x, f, up=up, padding=p)  # upsample2d includes the up² gain: [N, C, up·H+2p, …]

    # The region of z that only read zeros beyond the image, plus the filter reach, is invalid.
    border = 2 * p + 1
    m = torch.zeros_like(z)
    m[:, :, border : z.shape[2] - border, border : z.shape[3] - border] = 1

    m3 = torch.eye(3, dtype=torch.float64, device="cpu")
    m3[: matrix.shape[0], : matrix.shape[1]] = matrix.to("cpu", torch.float64)
    theta = torch.linalg.inv(m3)[:2].clone()
    # The linear part acts on pixel offsets; the grid's x and y units are W/2 and H/2 pixels.
    theta[0, 1] *= H / W
    theta[1, 0] *= W / H
    theta[:, 2] *= 2  # canvas units (width 1) → normalised grid units (width 2)
    # An odd-length filter with an even factor leaves z's samples half an up-pixel late: look there.
    if up % 2 == 0:
        theta[0, 2] += 1 / (up * W)
        theta[1, 2] += 1 / (up * H)
    # Normalised coordinates of the image canvas → of the padded, upsampled z.
    theta[0] *= W / (W + 2 * p / up)
    theta[1] *= H / (H + 2 * p / up)
    theta = theta.to(dtype=x.dtype, device=x.device)[None].expand(N, 2, 3)
    grid = F.affine_grid(theta, [N, C, H, W], align_corners=False)
    y = F.grid_sample(z, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mask = F.grid_sample(m, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return y, mask


def rotate(
    x: torch.Tensor, angle: float, up: int = 4, a: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""High-quality rotation of images about their centre: the EQ-R reference.

    Content at ``p`` (canvas coordinates, origin at the image centre) moves to ``rot(α)·p``:
    ``y(q) = x(rot(−α)·q)``. The input is upsampled by ``up`` with
    :func:`oriented_bandlimit_filter` ``(rot(α), up)`` — which keeps only frequencies that stay
    inside the pixel grid's band after rotation — and resampled bilinearly.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point images ``[N, C, H, W]``, on any device (not necessarily square).
    angle : float
        Radians; positive turns +x towards −y (counter-clockwise on screen, rows pointing down).
    up : int
        Oversampling before the bilinear step, ≥ 1 (default 4, as in the paper).
    a : int
        Lanczos window order of the filter, in ``[1, 32]`` (default 3).

    Returns
    -------
    y : torch.Tensor
        ``[N, C, H, W]``, the rotated images, in the dtype and on the device of ``x`` (computed
        in at least float32); zeros for an empty ``x``.
    mask : torch.Tensor
        ``[N, C, H, W]``, the dtype and device of ``x``: 1 where ``y`` read no zero padding,
        else 0 (about ``2a`` pixels along the border, and the corners that came from outside
        the image); zeros for an empty ``x``.

    Examples
    --------
    A constant image stays constant wherever the mask is set:

    >>> import math
    >>> import torch
    >>> from bandlimit.metrics.equivariance import rotate
    >>> y, mask = rotate(torch.ones(1, 1, 32, 32), math.pi / 4)
    >>> y.shape, y.dtype
    (torch.Size([1, 1, 32, 32]), torch.float32)
    >>> round(float(y[mask > 0].min()), 4), round(float(y[mask > 0].max()), 4)
    (1.0, 1.0)
    >>> bool(mask[0, 0, 16, 16]), bool(mask[0, 0, 0, 0])      # the corners read padding
    (True, False)
    """
    x = _check_images(x)
    m = rotation_matrix(angle)
    up, a = _check_int(up, "up", 1), _check_rotation_a(a)
    if x.numel() == 0:  # nothing to resample (affine_grid refuses empty sizes), as pseudo_rotate
        return x.new_zeros(x.shape), x.new_zeros(x.shape)
    # torch's CPU grid_sample is wrong in float16/bfloat16 for rotated grids (values far outside
    # the input's range, NaN): resample in at least float32, then round.
    work = torch.promote_types(x.dtype, torch.float32)
    y, mask = _affine_resample(x.to(work), m, up, a)
    return y.to(x.dtype), mask.to(x.dtype)


def pseudo_rotate(x: torch.Tensor, angle: float, a: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Band-limit images as if they were rotated by ``angle``, without moving them.

    Filters ``x`` with :func:`oriented_bandlimit_filter` ``(rot(−α), up=1)`` (``(4a − 1)²`` taps):
    the band of the result equals the band of :func:`rotate` ``(x0, α)`` for an image ``x`` that is
    ``x0`` already rotated by ``α``.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point images ``[N, C, H, W]``, on any device.
    angle : float
        α in radians, as in :func:`rotate`.
    a : int
        Lanczos window order of the filter, in ``[1, 32]`` (default 3).

    Returns
    -------
    y : torch.Tensor
        ``[N, C, H, W]``, the filtered images, the dtype and device of ``x``.
    mask : torch.Tensor
        ``[N, C, H, W]``, the dtype and device of ``x``: 0 on a border of ``2a − 1`` pixels
        (where the filter read zero padding), else 1; all zeros for an empty ``x``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import pseudo_rotate
    >>> y, mask = pseudo_rotate(torch.ones(1, 1, 16, 16), 0.3)
    >>> y.shape, int(mask[0, 0].sum())          # a 5-pixel border is masked: 6 × 6 are left
    (torch.Size([1, 1, 16, 16]), 36)
    >>> round(float(y[0, 0, 8, 8]), 4)
    1.0
    """
    x = _check_images(x)
    a = _check_rotation_a(a)
    angle = _check_real(angle, "angle")
    if x.numel() == 0:  # nothing to filter (filter2d refuses an empty height or width)
        return x.new_zeros(x.shape), x.new_zeros(x.shape)
    f = oriented_bandlimit_filter(rotation_matrix(-angle), up=1, a=a,
                                  dtype=x.dtype, device=x.device)
    y = filter2d(x, f)
    p = f.shape[0] // 2
    H, W = x.shape[-2:]
    mask = _axis_mask(H, p, H - p, -2, x) * _axis_mask(W, p, W - p, -1, x)
    return y, mask.expand_as(x).contiguous()


# ---------------------------------------------------------------------------------------------
# PSNR


def _raise_on_every_rank(error: Exception | None) -> None:
    raise_on_every_rank(error, NonFiniteImagesError, "the equivariance metrics are undefined",
                        "the equivariance evaluation failed")


class PSNRAccumulator:
    r"""Pooled PSNR over many batches: ``20·log10(max_val) − 10·log10(Σ mask·e² / Σ mask)``.

    Sums are kept in float64 on the device of the first update (the CPU for MPS tensors).

    Parameters
    ----------
    max_val : float
        Peak-to-peak signal range (> 0, default :data:`I_MAX` = 2 for images in ``[−1, 1]``).

    Attributes
    ----------
    max_val : float
        The peak-to-peak range used by :attr:`psnr`.
    sums : torch.Tensor or None
        float64 ``[2]``, ``[Σ mask·e², Σ mask]`` so far; None before the first update.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import PSNRAccumulator
    >>> acc = PSNRAccumulator()
    >>> acc.update(torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.02))
    >>> round(acc.psnr, 3)                      # 20·log10(2 / 0.02)
    40.0
    >>> acc.update(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))   # a perfect batch
    >>> round(acc.mse, 6), round(acc.psnr, 4)   # pooled: half the error per pixel
    (0.0002, 43.0103)
    """

    def __init__(self, max_val: float = I_MAX) -> None:
        self.max_val = _check_real(max_val, "max_val")
        if self.max_val <= 0:
            raise ValueError(f"max_val must be > 0, got {max_val!r}")
        self.sums: torch.Tensor | None = None  # [Σ mask·e², Σ mask]

    def update(
        self, ref: torch.Tensor, img: torch.Tensor, mask: torch.Tensor | None = None
    ) -> None:
        """Add ``Σ mask·(ref − img)²`` and ``Σ mask`` (mask broadcast to the images' shape).

        ``mask`` holds finite weights ``>= 0``. ``ref`` and ``img`` must be finite wherever the
        weight is positive (else the PSNR is undefined: ``ValueError``); elements of weight 0 are
        excluded whatever their value.

        Parameters
        ----------
        ref : torch.Tensor
            Reference values, any shape and real dtype (compared in float64; a complex dtype
            raises a ``TypeError``, a meta tensor, which has no values, a ``ValueError``).
        img : torch.Tensor
            Values to compare, the shape of ``ref`` (dtype and device as for ``ref``).
        mask : torch.Tensor, optional
            Weights broadcastable to ``ref.shape`` (default: every element, weight 1).
        """
        if not isinstance(ref, torch.Tensor) or not isinstance(img, torch.Tensor):
            raise TypeError(f"ref and img must be tensors, got {type(ref).__name__}, "
                            f"{type(img).__name__}")
        # A complex tensor would lose its imaginary part to float64; a meta tensor has no
        # values, so no PSNR to return.
        for name, t in (("ref", ref), ("img", img), ("mask", mask)):
            if isinstance(t, torch.Tensor) and t.is_complex():
                raise TypeError(f"{name} must have a real dtype, got {t.dtype}")
            if isinstance(t, torch.Tensor) and t.is_meta:
                raise ValueError(f"{name} must hold values to compare, got a tensor on the meta "
                                 f"device")
        if ref.shape != img.shape:
            raise ValueError(f"ref and img must have the same shape, got {tuple(ref.shape)} and "
                             f"{tuple(img.shape)}")
        dev = ref.device if ref.device.type != "mps" else torch.device("cpu")  # no float64 on MPS
        r64, i64 = ref.to(dev, torch.float64), img.to(dev, torch.float64)
        if mask is None:
            m = torch.ones_like(r64)
        else:
            if not isinstance(mask, torch.Tensor):
                raise TypeError(f"mask must be a tensor or None, got {type(mask).__name__}")
            try:
                m = torch.broadcast_to(mask.to(dev, torch.float64), r64.shape)
            except RuntimeError:
                raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                                 f"images' shape {tuple(r64.shape)}") from None
            bad = int((~torch.isfinite(m)).sum())
            if bad:
                raise ValueError(f"mask must be finite (a weight per element), got {bad} NaN or "
                                 f"inf weight{'s' if bad != 1 else ''}")
            if bool((m < 0).any()):
                raise ValueError(f"mask must be >= 0 (a weight per element), got a minimum of "
                                 f"{float(m.min())}")
        keep = m > 0
        for name, t in (("ref", r64), ("img", i64)):
            bad = int((keep & ~torch.isfinite(t)).sum())
            if bad:
                where = "where mask > 0" if mask is not None else "(no mask: all are compared)"
                raise ValueError(f"{name} has {bad} non-finite value{'s' if bad != 1 else ''} "
                                 f"(NaN or inf) {where}: the PSNR is undefined")
        # Select rather than multiply by the weights: 0 · NaN is NaN, and weight 0 means excluded.
        e = torch.where(keep, r64 - i64, 0.0).square()
        s = torch.stack([(e * m).sum(), m.sum()])
        self.sums = s if self.sums is None else self.sums + s.to(self.sums.device)

    def all_reduce(self) -> None:
        """Sum the accumulators of all ranks (no-op unless torch.distributed is initialised)."""
        _, world = _dist_info()
        if world == 1:
            return
        s = (torch.zeros(2, dtype=torch.float64, device="cpu") if self.sums is None
             else self.sums)
        s = s.to(_reduce_device())
        torch.distributed.all_reduce(s, op=torch.distributed.ReduceOp.SUM)
        self.sums = s

    @property
    def mse(self) -> float:
        """Pooled mean squared error ``Σ mask·e² / Σ mask``."""
        if self.sums is None or float(self.sums[1]) <= 0:
            raise ValueError("PSNRAccumulator has no unmasked pixels: nothing to average")
        return float(self.sums[0] / self.sums[1])

    @property
    def psnr(self) -> float:
        """PSNR in dB (``inf`` for a perfect match)."""
        mse = self.mse
        if mse == 0:
            return math.inf
        return 20 * math.log10(self.max_val) - 10 * math.log10(mse)


def psnr(
    ref: torch.Tensor, img: torch.Tensor, mask: torch.Tensor | None = None, max_val: float = I_MAX
) -> float:
    r"""PSNR in dB of ``img`` against ``ref`` over ``mask``: ``20·log10(max_val) − 10·log10(MSE)``.

    ``MSE = Σ mask·(ref − img)² / Σ mask`` in float64 (pooled over every element); ``inf`` when
    equal. ``max_val`` is the peak-to-peak range (2 for images in ``[−1, 1]``). ``mask`` holds
    finite weights ``>= 0``; NaN or inf in ``ref`` or ``img`` where the weight is positive raise a
    ``ValueError`` (see :meth:`PSNRAccumulator.update`).

    Parameters
    ----------
    ref : torch.Tensor
        Reference values, any shape and real (not complex) dtype, compared in float64.
    img : torch.Tensor
        Values to compare, the shape of ``ref``.
    mask : torch.Tensor, optional
        Weights broadcastable to ``ref.shape`` (default: every element, weight 1).
    max_val : float
        Peak-to-peak range (> 0, default :data:`I_MAX` = 2).

    Returns
    -------
    float
        PSNR in dB, ``inf`` when ``img`` equals ``ref`` wherever the weight is positive.

    Raises
    ------
    TypeError
        ``ref``, ``img`` or ``mask`` is not a tensor, or is complex.
    ValueError
        Mismatched shapes, a mask that does not broadcast or has negative or non-finite
        weights, non-finite values where the weight is positive, an all-zero mask, or a tensor
        on the meta device (no values to compare).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import psnr
    >>> ref = torch.zeros(1, 1, 4, 4)
    >>> round(psnr(ref, ref + 0.02), 4)          # 20·log10(2 / 0.02)
    40.0
    >>> img = ref.clone()
    >>> img[..., 0, :] = 1.0                     # a wrong first row...
    >>> mask = torch.ones_like(ref)
    >>> mask[..., 0, :] = 0.0                    # ...that the mask leaves out
    >>> round(psnr(ref, img), 4), psnr(ref, img, mask)
    (12.0412, inf)
    """
    acc = PSNRAccumulator(max_val)
    acc.update(ref, img, mask)
    if acc.sums is not None and float(acc.sums[1]) <= 0:  # else: "PSNRAccumulator has no ..."
        raise ValueError(f"no unmasked pixels: every weight of mask (shape "
                         f"{tuple(mask.shape) if mask is not None else ()}) is 0, so there is "
                         f"nothing to compare")
    return acc.psnr


# ---------------------------------------------------------------------------------------------
# The metric loop


@dataclass(frozen=True)
class BatchDraws:
    """The random quantities of one batch of the metric loop.

    Made by :func:`draw_batch`, or by hand to pass fixed draws to :func:`evaluate` (``draws``).

    Attributes
    ----------
    z : torch.Tensor
        Latents, float ``[B, z_dim]``, ``B >= 1``.
    c : torch.Tensor
        Labels ``[B, c_dim]`` (``c_dim`` may be 0: ``[B, 0]``).
    translate_int : tuple of float
        ``(tx, ty)``, the EQ-T translation in canvas units (fraction of the width); snapped to
        whole pixels on use.
    translate_frac : tuple of float
        ``(tx, ty)``, the EQ-T_frac translation in canvas units.
    angle : float
        EQ-R rotation in radians.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.equivariance import BatchDraws
    >>> d = BatchDraws(z=torch.zeros(2, 512), c=torch.zeros(2, 0), translate_int=(0.125, 0.0),
    ...                translate_frac=(0.01, -0.02), angle=0.5)
    >>> d.z.shape, d.angle
    (torch.Size([2, 512]), 0.5)
    >>> from bandlimit.metrics import evaluate
    >>> scores = evaluate(G, draws=[d], progress=False)       # doctest: +SKIP
    """

    z: torch.Tensor
    c: torch.Tensor
    translate_int: tuple[float, float]
    translate_frac: tuple[float, float]
    angle: float


LabelSource = torch.Tensor | Callable[[int, torch.Generator], torch.Tensor] | None


def _batch_generator(seed: int, batch_index: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(batch_seed(seed, batch_index))


def draw_batch(
    batch_index: int,
    batch_size: int,
    z_dim: int,
    c_dim: int = 0,
    seed: int = 0,
    c: LabelSource = None,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
) -> BatchDraws:
    r"""The draws of batch ``batch_index`` of a metric run with ``seed`` (CPU tensors).

    A pure function of its arguments: its own random stream per ``(seed, batch_index)``. In order:
    ``z ~ N(0, I)`` ``[B, z_dim]``; labels (see ``c``); ``translate_int``, ``translate_frac``
    ``~ U[−translate_max, translate_max)²``; ``angle ~ U[−rotate_max, rotate_max)``. All three
    transforms are always drawn, so a metric's value does not depend on which others run.

    Parameters
    ----------
    batch_index : int
        Index of the batch in the run, ≥ 0.
    batch_size : int
        ``B``, latents in the batch, ≥ 1.
    z_dim : int
        Latent dimension, ≥ 0.
    c_dim : int
        Label dimension, ≥ 0 (default 0: unconditional).
    seed : int
        Seed of the run, ≥ 0 (default 0).
    c : None, torch.Tensor or callable
        None: zeros ``[B, 0]`` when ``c_dim == 0``, else one-hot labels of uniformly random
        classes. A tensor ``[M, c_dim]``: rows drawn uniformly with replacement (e.g. a
        dataset's labels). A callable ``(batch_size, generator) -> [B, c_dim]``: its result,
        which should draw from the given ``torch.Generator`` (a CPU one) to stay reproducible;
        where a default device is set (``torch.set_default_device``), it must make its
        tensors on the CPU or a real device (``device="cpu"``), not on the meta device.
    translate_max : float
        Largest translation, a fraction of the width (> 0, default :data:`TRANSLATE_MAX`).
    rotate_max : float
        Largest rotation in radians (> 0, default :data:`ROTATE_MAX`).

    Returns
    -------
    BatchDraws
        ``z`` ``[B, z_dim]`` and ``c`` ``[B, c_dim]``, float32 on the CPU whatever torch's
        default dtype and device or the labels' device, the translations as tuples of two
        floats and ``angle`` a float. The same arguments draw the same values under any
        default device and dtype.

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from bandlimit.metrics.equivariance import draw_batch
    >>> d = draw_batch(0, batch_size=4, z_dim=512)
    >>> d.z.shape, d.z.dtype, d.c.shape
    (torch.Size([4, 512]), torch.float32, torch.Size([4, 0]))
    >>> torch.equal(d.z, draw_batch(0, 4, 512).z)            # same arguments, same draws
    True
    >>> abs(d.angle) <= math.pi, all(abs(t) <= 0.125 for t in d.translate_frac)
    (True, True)
    >>> draw_batch(3, 4, z_dim=512, c_dim=10, seed=1).c.sum(dim=1).tolist()   # one-hot
    [1.0, 1.0, 1.0, 1.0]
    """
    batch_index = _check_int(batch_index, "batch_index", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    z_dim, c_dim = _check_int(z_dim, "z_dim", 0), _check_int(c_dim, "c_dim", 0)
    seed = _check_int(seed, "seed", 0)
    # 0 would draw no transform (a vacuous ∞ dB); a negative range only mirrors a positive one.
    tmax = _check_real(translate_max, "translate_max", positive=True)
    rmax = _check_real(rotate_max, "rotate_max", positive=True)
    g = _batch_generator(seed, batch_index)
    # float32 on the CPU whatever the default dtype and device: the same seed must draw the same
    # numbers everywhere (a meta default device drew no numbers at all).
    cpu = torch.device("cpu")
    z = torch.randn([batch_size, z_dim], generator=g, dtype=torch.float32, device=cpu)
    if c is None:
        if c_dim == 0:
            labels = torch.zeros([batch_size, 0], dtype=torch.float32, device=cpu)
        else:
            labels = F.one_hot(torch.randint(c_dim, [batch_size], generator=g, device=cpu),
                               c_dim).float()
    elif isinstance(c, torch.Tensor):
        if c.ndim != 2 or c.shape[1] != c_dim or c.shape[0] == 0:
            raise ValueError(f"c must be a label table [M >= 1, c_dim={c_dim}], got shape "
                             f"{tuple(c.shape)}")
        if c.is_meta:
            raise ValueError("c must hold the labels, got a label table on the meta device")
        rows = torch.randint(c.shape[0], [batch_size], generator=g, device=cpu)
        labels = c.detach().cpu()[rows].float()
    elif callable(c):
        out = c(batch_size, g)
        if isinstance(out, torch.Tensor) and out.is_meta:
            raise ValueError("the label sampler c returned a tensor on the meta device (no "
                             "values; is a default device set? make its tensors with "
                             "device='cpu')")
        labels = torch.as_tensor(out, device=cpu).detach().float()
        if tuple(labels.shape) != (batch_size, c_dim):
            raise ValueError(f"the label sampler c returned shape {tuple(labels.shape)}, expected "
                             f"{(batch_size, c_dim)}")
    else:
        raise TypeError(f"c must be None, a label tensor [M, c_dim] or a callable, got "
                        f"{type(c).__name__}")
    u = (torch.rand([5], generator=g, dtype=torch.float64, device=cpu) * 2 - 1).tolist()
    return BatchDraws(
        z=z, c=labels, translate_int=(u[0] * tmax, u[1] * tmax),
        translate_frac=(u[2] * tmax, u[3] * tmax), angle=u[4] * rmax,
    )


class _Progress:
    """tqdm when installed, else a carriage-return line on stderr at most once per second."""

    def __init__(self, total: int, enabled: bool, desc: str = "equivariance") -> None:
        self.total, self.enabled, self.desc = total, enabled, desc
        self.count, self.t0, self.last = 0, time.monotonic(), -math.inf
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, desc=desc, unit="batch")

    def update(self) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last >= 1.0 or self.count == self.total:
            self.last = now
            rate = self.count / max(now - self.t0, 1e-9)
            eta = (self.total - self.count) / rate
            sys.stderr.write(f"\r{self.desc}: {self.count}/{self.total} batches "
                             f"({100 * self.count / self.total:.1f}%), {rate:.2f} batch/s, "
                             f"ETA {eta:.0f} s ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# (the metrics move a generator's input; a model that takes images is tested on them instead)
_OTHER_MODELS = ("; for a model without one (an image-to-image network, a layer), use "
                 "bandlimit.testing.assert_translation_equivariant / "
                 "assert_rotation_equivariant on its inputs")


def _transform_buffer(G: Any) -> torch.Tensor:
    for attr in ("mapping", "synthesis"):
        if not hasattr(G, attr):
            raise TypeError(f"G must be a StyleGAN3-style generator with .mapping and .synthesis; "
                            f"{type(G).__name__} has no .{attr}{_OTHER_MODELS}")
    tr = getattr(getattr(G.synthesis, "input", None), "transform", None)
    if not isinstance(tr, torch.Tensor) or tuple(tr.shape) != (3, 3):
        raise TypeError("G.synthesis.input.transform must be a [3, 3] tensor buffer (StyleGAN3 "
                        f"Fourier-feature input), got {type(tr).__name__}{_OTHER_MODELS}")
    if tr.dtype not in (torch.float32, torch.float64):
        # (written in it, a fractional shift or a rotation's cos/sin would be rounded while the
        # reference images use the exact ones: an equivariant G scored 42 dB instead of 66)
        raise ValueError(f"G.synthesis.input.transform must be float32 or float64, got "
                         f"{tr.dtype}: the transforms written to it would be rounded; keep it "
                         f"float32 (e.g. G.synthesis.input.float() after casting G)")
    return tr


def _check_draws(d: BatchDraws, where: str, z_dim: int, c_dim: int) -> None:
    """Check one explicit :class:`BatchDraws` against the generator (``where``: ``'draws[i]'``)."""
    z, c = d.z, d.c
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{where}.z must be a torch.Tensor [N, z_dim={z_dim}], got "
                        f"{type(z).__name__}")
    if z.ndim != 2 or z.shape[1] != z_dim or z.shape[0] < 1:
        raise ValueError(f"{where}.z must have shape [N, z_dim={z_dim}] with N >= 1, got "
                         f"{tuple(z.shape)}")
    if not z.is_floating_point():
        raise TypeError(f"{where}.z must be a floating-point tensor (latents), got {z.dtype}")
    # NaN latents would make the generator's output non-finite and blame the generator.
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{where}.z must be finite, got {int((~torch.isfinite(z)).sum())} NaN "
                         f"or inf values")
    n = z.shape[0]
    if not isinstance(c, torch.Tensor):
        raise TypeError(f"{where}.c must be a torch.Tensor [{n}, c_dim={c_dim}], got "
                        f"{type(c).__name__}")
    if tuple(c.shape) != (n, c_dim):
        raise ValueError(f"{where}.c must have shape [{n}, c_dim={c_dim}] (one label row per "
                         f"latent), got {tuple(c.shape)}")
    if c.is_complex() or not bool(torch.isfinite(c.to(torch.float32)).all()):
        raise ValueError(f"{where}.c must hold finite real labels, got dtype {c.dtype}")
    _check_shift(d.translate_int, f"{where}.translate_int")
    _check_shift(d.translate_frac, f"{where}.translate_frac")
    _check_real(d.angle, f"{where}.angle")


def _check_integer_shifts(translate_max: float, res: int) -> None:
    # round(t·res) with |t| <= translate_max is 0 for every draw: EQ-T would read ∞ for any G.
    if translate_max * res <= 0.5:
        raise ValueError(
            f"translate_max={translate_max!r} is at most half a pixel of the {res}-pixel image "
            f"(translate_max·img_resolution = {translate_max * res:.4g} <= 0.5): every integer "
            f"shift of eqt_int would round to 0, a vacuous ∞ dB for any generator; use "
            f"translate_max > {0.5 / res:.4g} or leave 'eqt_int' out of metrics")


def evaluate(
    G: Any,
    num_samples: int = 50_000,
    batch_size: int = 4,
    metrics: Sequence[str] = METRICS,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    c: LabelSource = None,
    draws: Iterable[BatchDraws] | None = None,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    synthesis_kwargs: dict[str, Any] | None = None,
) -> dict[str, float]:
    r"""The paper's equivariance metrics of a StyleGAN3-style generator, in dB.

    For each batch: ``ws = G.mapping(z, c)`` (no truncation); ``orig = G.synthesis(ws)`` with the
    identity transform; then, per requested metric, the transformed image and its reference (the
    definitions of :mod:`bandlimit.metrics.equivariance`) feed a pooled float64 PSNR. The
    generator's transform buffer is restored afterwards, whatever happens; everything runs under
    ``torch.no_grad()``.

    Parameters
    ----------
    G : generator
        Anything with ``mapping(z, c)``, ``synthesis(ws, **synthesis_kwargs)``,
        ``synthesis.input.transform`` (a ``[3, 3]`` buffer) and ``z_dim``, and optionally
        ``c_dim`` (default 0) and ``img_resolution`` (default: the output's width), such as the
        generator of the repository's ``examples/afgan`` or NVIDIA's StyleGAN3 generator. It
        must already be on ``device``.
    num_samples : int
        Latents in total (50 000 in the paper); the last batch may be smaller.
    batch_size : int
        Latents per batch (4 in the paper); the transforms are drawn once per batch.
    metrics : sequence of ``'eqt_int'``, ``'eqt_frac'``, ``'eqr'``
        Any non-empty subset; results come back in this order.
    seed : int ≥ 0
        Seeds every draw (see :func:`draw_batch`): the same seed gives the same numbers, whatever
        the number of ranks, to float64 rounding (the ranks' sums are added in another order).
    device : torch.device, str or None
        Where to run; default: the device of ``G.synthesis.input.transform`` (not torch's
        default device: a ``torch.set_default_device`` does not move the run, nor the draws,
        which are made on the CPU).
    progress : bool
        Progress bar on stderr (tqdm if installed), on rank 0 only.
    c : None, label tensor ``[M, c_dim]`` or callable
        Labels for conditional generators; see :func:`draw_batch`.
    draws : iterable of :class:`BatchDraws`, optional
        Explicit per-batch draws; replaces ``num_samples``, ``batch_size``, ``seed``, ``c``,
        ``translate_max`` and ``rotate_max``. All are checked before the run (``z`` a float
        ``[N, z_dim]`` tensor, ``c`` ``[N, c_dim]``, finite transforms). Under torch.distributed
        it must be a sequence: rank ``r`` takes batches ``r, r + world, …``.
    translate_max : float > 0
        Largest translation, fraction of the width (0.125). With ``'eqt_int'``, it must exceed
        half a pixel (``translate_max·img_resolution > 0.5``), else every shift rounds to 0.
    rotate_max : float > 0
        Largest rotation in radians (π).
    synthesis_kwargs : dict, optional
        Extra arguments to ``G.synthesis``; default ``{'force_fp32': True}`` as in the paper
        (pass ``{}`` for generators that take none).

    Returns
    -------
    dict of str to float
        ``{metric name: PSNR in dB}`` in the order of ``metrics`` (``inf`` for a perfect
        match).

    Raises
    ------
    NonFiniteImagesError
        When ``G.synthesis`` writes NaN or inf (a ``ValueError``; the message names the count,
        the batch and which synthesis call).
    ValueError
        When a metric has no pixel to compare in a batch: the image is too small for the
        rotation filters' borders (EQ-R) or the Lanczos taps (EQ-T_frac), or the shift moves the
        content beyond the image (``translate_max`` too large). Raised at that batch, usually the
        first, rather than after the run; a batch that compared nothing would drop out of the
        pooled score silently. Also for a bad argument: ``device`` not a device, or not
        ``G``'s, ``num_samples`` or ``seed`` out of range, an unknown metric.

    Notes
    -----
    Under an initialised ``torch.distributed`` process group, rank ``r`` of ``world`` evaluates
    batches ``r, r + world, …`` and the sums are all-reduced: every rank returns the same dict.

    Examples
    --------
    ``G`` stands for a trained StyleGAN3-style generator:

    >>> from bandlimit.metrics import evaluate
    >>> scores = evaluate(G, num_samples=50_000)                  # doctest: +SKIP
    >>> list(scores)                                              # doctest: +SKIP
    ['eqt_int', 'eqt_frac', 'eqr']
    >>> evaluate(G, num_samples=1_000, metrics=("eqt_frac",))     # doctest: +SKIP
    """
    tr = _transform_buffer(G)
    if isinstance(metrics, str):
        metrics = (metrics,)
    elif not isinstance(metrics, Iterable):
        raise TypeError(f"metrics must be a non-empty sequence of names from {METRICS}, got "
                        f"{metrics!r} ({type(metrics).__name__})")
    metrics = tuple(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if not metrics or bad or len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics must be a non-empty subset of {METRICS} without repeats, got "
                         f"{metrics!r}")
    device = tr.device if device is None else check_device("device", device)
    if device.type == "cpu":  # "cpu:0" is the CPU, which a tensor reports as "cpu"
        device = torch.device("cpu")
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())  # "cuda": the current one
    if tr.device != device:
        raise ValueError(f"G is on {tr.device} but device={device}; move G first (G.to(device))")
    synthesis_kwargs = {"force_fp32": True} if synthesis_kwargs is None else dict(synthesis_kwargs)
    rank, world = _dist_info()
    z_dim = _check_int(getattr(G, "z_dim", None), "G.z_dim", 0)
    c_dim = _check_int(getattr(G, "c_dim", 0), "G.c_dim", 0)
    res = getattr(G, "img_resolution", None)  # None: the output's width, found by the first batch
    res = None if res is None else _check_int(res, "G.img_resolution", 1)
    tmax: float | None = None  # checked against the resolution when eqt_int draws the shifts

    if draws is None:
        num_samples = _check_int(num_samples, "num_samples", 1)
        batch_size = _check_int(batch_size, "batch_size", 1)
        seed = _check_int(seed, "seed", 0)
        translate_max = _check_real(translate_max, "translate_max", positive=True)
        rotate_max = _check_real(rotate_max, "rotate_max", positive=True)
        if "eqt_int" in metrics:
            tmax = translate_max
            if res is not None:
                _check_integer_shifts(tmax, res)
        num_batches = -(-num_samples // batch_size)
        mine = list(range(rank, num_batches, world))

        def batches() -> Iterable[tuple[int, BatchDraws]]:
            for k in mine:
                b = min(batch_size, num_samples - k * batch_size)
                yield k, draw_batch(k, b, z_dim, c_dim, seed, c, translate_max, rotate_max)

        total = len(mine)
    else:
        if world > 1 and not isinstance(draws, Sequence):
            raise TypeError("under torch.distributed, draws must be a sequence (list) so that "
                            f"each rank can take its share, got {type(draws).__name__}")
        if not isinstance(draws, Iterable):
            raise TypeError(f"draws must be an iterable of BatchDraws or None, got "
                            f"{type(draws).__name__}")
        # Every rank checks every draw, so that all of them raise the same error together.
        draws = list(draws)
        for i, d in enumerate(draws):
            if not isinstance(d, BatchDraws):
                raise TypeError(f"draws[{i}] must be a BatchDraws, got {type(d).__name__}")
            _check_draws(d, f"draws[{i}]", z_dim, c_dim)
        if not draws and world == 1:
            raise ValueError("draws is empty: nothing to evaluate")
        mine_draws = list(enumerate(draws))[rank::world]

        def batches() -> Iterable[tuple[int, BatchDraws]]:
            yield from mine_draws

        total = len(mine_draws)

    accs = {m: PSNRAccumulator(I_MAX) for m in metrics}
    saved = tr.detach().clone()
    bar = _Progress(total, bool(progress) and rank == 0)
    error: Exception | None = None
    try:
        with torch.no_grad():
            for k, d in batches():
                _evaluate_batch(G, tr, k, d, metrics, accs, device, synthesis_kwargs, res, tmax)
                bar.update()
    except Exception as e:  # (raised below, on every rank)
        error = e
    finally:
        with torch.no_grad():
            tr.copy_(saved)
        bar.close()
    _raise_on_every_rank(error)
    for acc in accs.values():
        acc.all_reduce()
    for m, acc in accs.items():
        if acc.sums is None or float(acc.sums[1]) <= 0:  # e.g. fewer draws than ranks
            raise ValueError(f"{m} compared no pixels: no batch was evaluated on any rank")
    return {m: accs[m].psnr for m in metrics}


def _evaluate_batch(
    G: Any,
    tr: torch.Tensor,
    k: int,
    d: BatchDraws,
    metrics: tuple[str, ...],
    accs: dict[str, PSNRAccumulator],
    device: torch.device,
    synthesis_kwargs: dict[str, Any],
    res: int | None,
    translate_max: float | None,
) -> None:
    """Batch ``k``: synthesise, transform and add to the accumulators (``translate_max``: the
    drawn range to check against the resolution, None for explicit draws)."""
    shape: torch.Size | None = None

    def synth(transform: torch.Tensor, what: str) -> torch.Tensor:
        tr.copy_(transform.to(dtype=tr.dtype, device=tr.device))
        # Check what G returned before converting: .float() would hide int/bool images and fail
        # on non-tensors with an AttributeError.
        try:
            made = G.synthesis(ws, **synthesis_kwargs)
        except TypeError as exc:  # a synthesis network that is not StyleGAN3's
            if "force_fp32" not in str(exc) or "force_fp32" not in synthesis_kwargs:
                raise
            raise TypeError(f"G.synthesis(ws, force_fp32=True) failed: {exc}; force_fp32 is "
                            f"the default synthesis_kwargs (StyleGAN3's networks take it): pass "
                            f"synthesis_kwargs={{}} for one that does not") from exc  # fmt: skip
        out = _check_images(made, "G.synthesis output")
        if shape is not None and out.shape != shape:
            raise ValueError(f"G.synthesis output has shape {tuple(out.shape)} for {what} but "
                             f"{tuple(shape)} for the untransformed image (batch {k}): a "
                             f"transform must not change the image size")
        bad = int((~torch.isfinite(out)).sum())  # (before a cast could make a huge value inf)
        out = out if out.dtype == torch.float64 else out.float()
        if bad:
            raise NonFiniteImagesError(
                f"G.synthesis output has {bad} non-finite value{'s' if bad != 1 else ''} (NaN or "
                f"inf) in batch {k} ({what}): the equivariance metrics are undefined; a diverged "
                f"generator?")
        return out

    def add(metric: str, ref: torch.Tensor, img: torch.Tensor, mask: torch.Tensor,
            cause: str) -> None:
        # An empty mask would drop the batch from the pooled score without a word.
        if not bool((mask > 0).any()):
            raise ValueError(f"{metric} has no pixel to compare in batch {k}: {cause}")
        accs[metric].update(ref, img, mask)

    # (float32 latents, as StyleGAN3's networks take; float64 for a float64 mapping network)
    wide = any(p.dtype == torch.float64 for p in G.mapping.parameters()) \
        if isinstance(G.mapping, torch.nn.Module) else False
    zdtype = torch.float64 if wide else torch.float32
    z = d.z.to(device=device, dtype=zdtype)
    c = d.c.to(device=device, dtype=zdtype)
    ws = G.mapping(z, c)
    orig = synth(torch.eye(3, dtype=torch.float64, device="cpu"), "the untransformed image")
    shape = orig.shape
    H, W = orig.shape[-2:]
    if H != W:  # (the transforms are in units of a square canvas one image wide and high)
        raise ValueError(f"G.synthesis must make square images for the equivariance metrics "
                         f"(the input transform's canvas is square), got {H}x{W}")  # fmt: skip
    if res is not None and res != W:  # (shifts snapped to res pixels land between W's)
        raise ValueError(f"G.img_resolution = {res} but G.synthesis makes {H}x{W} images: the "
                         f"metrics' whole-pixel shifts are output pixels; set img_resolution "
                         f"to the output's size")  # fmt: skip
    res = W
    if translate_max is not None:
        _check_integer_shifts(translate_max, res)
    size = f"{H}x{W}"

    if "eqt_int" in metrics:
        tx, ty = _check_shift(d.translate_int, "translate_int")
        ix, iy = round(tx * res), round(ty * res)  # snap to whole pixels of the output
        img = synth(translation_transform((ix / res, iy / res)),
                    "the integer-translated image, eqt_int")
        sx, sy = ix * W // res, iy * H // res
        ref, mask = translate_integer(orig, (sx, sy))
        add("eqt_int", ref, img, mask, f"the shift by ({sx}, {sy}) px (x, y) moves the content "
            f"beyond the {size} image; translate_max too large?")
    if "eqt_frac" in metrics:
        tx, ty = _check_shift(d.translate_frac, "translate_frac")
        img = synth(translation_transform((tx, ty)), "the fractionally translated image, eqt_frac")
        ref, mask = translate_fractional(orig, (tx * W, ty * H))
        add("eqt_frac", ref, img, mask, f"the shift by ({tx * W:.4g}, {ty * H:.4g}) px (x, y) is "
            f"beyond the {size} image, or the image is too small for the Lanczos-3 reference "
            f"(its taps leave about 3 px undefined at each border); translate_max too large?")
    if "eqr" in metrics:
        angle = _check_real(d.angle, "angle")
        img = synth(rotation_transform(angle), "the rotated image, eqr")
        ref, ref_mask = rotate(orig, angle)
        pseudo, pseudo_mask = pseudo_rotate(img, angle)
        add("eqr", ref, pseudo, ref_mask * pseudo_mask, f"the {size} image is too small for "
            f"the rotation filters, which leave about 6 px (reference rotation) and 5 px "
            f"(pseudo-rotation) undefined at each border, less the corners that the rotation by "
            f"{angle:.4g} rad moves out of the frame")
