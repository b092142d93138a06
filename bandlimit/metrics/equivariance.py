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
:func:`lanczos_shift_weights`, :func:`oriented_bandlimit_filter`, :func:`rotation_matrix`,
:func:`rotate`, :func:`pseudo_rotate`, :func:`psnr`, :class:`PSNRAccumulator`, :class:`BatchDraws`,
:func:`draw_batch`, :func:`evaluate`.
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

from bandlimit._checks import check_int
from bandlimit.ops import filter2d, upsample2d

__all__ = [
    "I_MAX",
    "METRICS",
    "ROTATE_MAX",
    "TRANSLATE_MAX",
    "BatchDraws",
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
#: Largest rotation drawn, in radians (the paper's value: any angle).
ROTATE_MAX = math.pi
#: Peak-to-peak signal value used by the PSNR: images live in ``[−1, 1]``.
I_MAX = 2.0


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


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


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
    m = torch.as_tensor(matrix, dtype=torch.float64).detach().cpu()
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
    x : Tensor ``[N, C, H, W]``
    shift : ``(dx, dy)`` integers, in pixels.

    Returns
    -------
    y : Tensor ``[N, C, H, W]``
    mask : Tensor ``[N, C, H, W]`` of the same dtype, 1 where ``y`` is defined (paper Eq. 24:
        ``c ∈ [max(dx, 0), W + min(dx, 0))``, likewise rows).
    """
    x = _check_images(x)
    dx, dy = _check_shift(shift, "shift")
    if not (dx.is_integer() and dy.is_integer()):
        raise ValueError(
            f"shift must be whole pixels for translate_integer, got {(dx, dy)}; "
            "use translate_fractional for sub-pixel shifts"
        )
    dx, dy = int(dx), int(dy)
    H, W = x.shape[-2:]
    y = _zero_shift(_zero_shift(x, dx, -1), dy, -2)
    mask = _axis_mask(W, max(dx, 0), W + min(dx, 0), -1, x)
    mask = mask * _axis_mask(H, max(dy, 0), H + min(dy, 0), -2, x)
    return y, mask.expand_as(x).contiguous()


def lanczos_kernel(t: torch.Tensor | np.ndarray | float, a: int = 3) -> torch.Tensor:
    r"""Lanczos kernel :math:`L_a(t) = \mathrm{sinc}(t)\,\mathrm{sinc}(t/a)` for ``|t| < a``, else 0

    ``sinc(t) = sin(πt)/(πt)``. Returns float64 (or the input tensor's dtype).
    """
    t = torch.as_tensor(t, dtype=torch.float64) if not isinstance(t, torch.Tensor) else t
    return torch.where(t.abs() < a, torch.sinc(t) * torch.sinc(t / a), torch.zeros_like(t))


def lanczos_shift_weights(phase: float, a: int = 3) -> torch.Tensor:
    r"""Normalised Lanczos-``a`` interpolation weights for a fractional shift ``phase ∈ [0, 1)``.

    ``w_k = L_a(k − phase)`` for taps ``k = −a+1 … a``, divided by their sum (unit DC gain), so that
    ``y[n] = Σ_k w_k x[n − k]`` is ``x`` delayed by ``phase`` samples. float64 ``[2a]``.
    """
    phase = _check_real(phase, "phase")
    if not 0.0 <= phase < 1.0:
        raise ValueError(f"phase must be in [0, 1), got {phase!r}")
    a = _check_int(a, "a", 1)
    k = torch.arange(-a + 1, a + 1, dtype=torch.float64)
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
        w = kernel(torch.tensor([k - phi for k in ks], dtype=torch.float64))
        w = (w / w.sum()).tolist()
        acc = torch.zeros_like(y)
        for k, wk in zip(ks, w):
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
    x : Tensor ``[N, C, H, W]``
    shift : ``(dx, dy)`` in pixels; content moves towards +x/+y.
    a : int
        Lanczos order.

    Returns
    -------
    y : Tensor ``[N, C, H, W]``
    mask : Tensor ``[N, C, H, W]``, 1 where every tap read a pixel inside the image:
        ``c ∈ [max(i_x + a, 0), W + min(i_x − a + 1, 0))``, likewise rows.
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
    """
    angle = _check_real(angle, "angle")
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)


def translation_transform(t: Sequence[float], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``synthesis.input.transform`` moving generated content by ``t`` (canvas units, width 1)."""
    tx, ty = _check_shift(t, "t")
    m = torch.eye(3, dtype=dtype)
    m[0, 2], m[1, 2] = -tx, -ty
    return m


def rotation_transform(angle: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``synthesis.input.transform`` rotating generated content by ``angle`` (rad): ``rot(−α)``."""
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
    matrix : 2×2, 2×3 or 3×3 array-like
        Only its linear part is used (e.g. :func:`rotation_matrix`).
    up : int ≥ 1
        Oversampling of the filter's grid (4 for :func:`rotate`, 1 for :func:`pseudo_rotate`).
    a : int ≥ 1
        Lanczos window order.
    amax : int ≥ 1, default ``2·a``
        Half-support of the cropped filter, in input pixels.
    aflt : int ≥ amax
        Half-size of the FFT grid, in input pixels.
    cutoff_in, cutoff_out : float > 0
        Bandwidths in cycles per pixel ×2 (1 = Nyquist of the input grid).

    Returns
    -------
    Tensor ``[K, K]``, ``K = 2·amax·up − 1``, indexed ``[y, x]`` (point-symmetric, so convolution
    and correlation agree).
    """
    A = _check_matrix(matrix)[:2, :2]
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

    m3 = torch.eye(3, dtype=torch.float64)
    m3[: matrix.shape[0], : matrix.shape[1]] = matrix
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
    ``y(q) = x(rot(−α)·q)``. The input is upsampled ×``up`` with
    :func:`oriented_bandlimit_filter` ``(rot(α), up)`` — which keeps only frequencies that stay
    inside the pixel grid's band after rotation — and resampled bilinearly.

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
    angle : float
        Radians; positive turns +x towards −y (counter-clockwise on screen, rows pointing down).
    up : int ≥ 1
        Oversampling before the bilinear step (4 in the paper).
    a : int ≥ 1
        Lanczos window order of the filter.

    Returns
    -------
    y : Tensor ``[N, C, H, W]``
    mask : Tensor ``[N, C, H, W]``, 1 where ``y`` read no zero padding.
    """
    x = _check_images(x)
    m = rotation_matrix(angle)
    return _affine_resample(x, m, _check_int(up, "up", 1), _check_int(a, "a", 1))


def pseudo_rotate(x: torch.Tensor, angle: float, a: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Band-limit images as if they were rotated by ``angle``, without moving them.

    Filters ``x`` with :func:`oriented_bandlimit_filter` ``(rot(−α), up=1)`` (``(4a − 1)²`` taps):
    the band of the result equals the band of :func:`rotate` ``(x0, α)`` for an image ``x`` that is
    ``x0`` already rotated by ``α``.

    Returns
    -------
    y : Tensor ``[N, C, H, W]``
    mask : Tensor ``[N, C, H, W]``, zero on a border of ``2a − 1`` pixels.
    """
    x = _check_images(x)
    a = _check_int(a, "a", 1)
    f = oriented_bandlimit_filter(rotation_matrix(-_check_real(angle, "angle")), up=1, a=a,
                                  dtype=x.dtype, device=x.device)
    y = filter2d(x, f)
    p = f.shape[0] // 2
    H, W = x.shape[-2:]
    mask = _axis_mask(H, p, H - p, -2, x) * _axis_mask(W, p, W - p, -1, x)
    return y, mask.expand_as(x).contiguous()


# ---------------------------------------------------------------------------------------------
# PSNR


def _dist_info() -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class PSNRAccumulator:
    r"""Pooled PSNR over many batches: ``20·log10(max_val) − 10·log10(Σ mask·e² / Σ mask)``.

    Sums are kept in float64 on the device of the first update.

    Examples
    --------
    >>> acc = PSNRAccumulator()
    >>> acc.update(torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.02))
    >>> round(acc.psnr, 3)                      # 20·log10(2 / 0.02)
    40.0
    """

    def __init__(self, max_val: float = I_MAX) -> None:
        self.max_val = _check_real(max_val, "max_val")
        if self.max_val <= 0:
            raise ValueError(f"max_val must be > 0, got {max_val!r}")
        self.sums: torch.Tensor | None = None  # [Σ mask·e², Σ mask]

    def update(
        self, ref: torch.Tensor, img: torch.Tensor, mask: torch.Tensor | None = None
    ) -> None:
        """Add ``Σ mask·(ref − img)²`` and ``Σ mask`` (mask broadcast to the images' shape)."""
        if not isinstance(ref, torch.Tensor) or not isinstance(img, torch.Tensor):
            raise TypeError(f"ref and img must be tensors, got {type(ref).__name__}, "
                            f"{type(img).__name__}")
        if ref.shape != img.shape:
            raise ValueError(f"ref and img must have the same shape, got {tuple(ref.shape)} and "
                             f"{tuple(img.shape)}")
        dev = ref.device if ref.device.type != "mps" else torch.device("cpu")  # no float64 on MPS
        e = (ref.to(dev, torch.float64) - img.to(dev, torch.float64)).square()
        if mask is None:
            m = torch.ones_like(e)
        else:
            if not isinstance(mask, torch.Tensor):
                raise TypeError(f"mask must be a tensor or None, got {type(mask).__name__}")
            try:
                m = torch.broadcast_to(mask.to(dev, torch.float64), e.shape)
            except RuntimeError:
                raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                                 f"images' shape {tuple(e.shape)}") from None
            if bool((m < 0).any()):
                raise ValueError(f"mask must be >= 0 (a weight per element), got a minimum of "
                                 f"{float(m.min())}")
        s = torch.stack([(e * m).sum(), m.sum()])
        self.sums = s if self.sums is None else self.sums + s.to(self.sums.device)

    def all_reduce(self) -> None:
        """Sum the accumulators of all ranks (no-op unless torch.distributed is initialised)."""
        _, world = _dist_info()
        if world == 1:
            return
        dist = torch.distributed
        backend = dist.get_backend()
        dev = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else "cpu"
        s = torch.zeros(2, dtype=torch.float64) if self.sums is None else self.sums
        s = s.to(dev)
        dist.all_reduce(s, op=dist.ReduceOp.SUM)
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
    equal. ``max_val`` is the peak-to-peak range (2 for images in ``[−1, 1]``).
    """
    acc = PSNRAccumulator(max_val)
    acc.update(ref, img, mask)
    return acc.psnr


# ---------------------------------------------------------------------------------------------
# The metric loop


@dataclass(frozen=True)
class BatchDraws:
    """The random quantities of one batch of the metric loop.

    Attributes
    ----------
    z : Tensor ``[B, z_dim]``
        Latents.
    c : Tensor ``[B, c_dim]``
        Labels (``c_dim`` may be 0).
    translate_int : ``(tx, ty)``
        EQ-T translation in canvas units (fraction of the width); snapped to whole pixels on use.
    translate_frac : ``(tx, ty)``
        EQ-T_frac translation in canvas units.
    angle : float
        EQ-R rotation in radians.
    """

    z: torch.Tensor
    c: torch.Tensor
    translate_int: tuple[float, float]
    translate_frac: tuple[float, float]
    angle: float


LabelSource = torch.Tensor | Callable[[int, torch.Generator], torch.Tensor] | None


def _batch_generator(seed: int, batch_index: int) -> torch.Generator:
    # Each batch gets its own stream, so the draws do not depend on the number of ranks.
    state = np.random.SeedSequence([seed, batch_index]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


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
    r"""The draws of batch ``batch_index`` of a metric run with ``seed`` (CPU tensors, float32).

    A pure function of its arguments: its own random stream per ``(seed, batch_index)``. In order:
    ``z ~ N(0, I)`` ``[B, z_dim]``; labels (see ``c``); ``translate_int``, ``translate_frac``
    ``~ U[−translate_max, translate_max)²``; ``angle ~ U[−rotate_max, rotate_max)``. All three
    transforms are always drawn, so a metric's value does not depend on which others run.

    Parameters
    ----------
    c : None, Tensor ``[M, c_dim]`` or callable ``(batch_size, generator) -> [B, c_dim]``
        None: zeros ``[B, 0]`` when ``c_dim == 0``, else one-hot labels of uniformly random classes.
        A tensor: rows drawn uniformly with replacement (e.g. a dataset's labels). A callable:
        its result, which should draw from the given ``torch.Generator`` to stay reproducible.
    """
    batch_index = _check_int(batch_index, "batch_index", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    z_dim, c_dim = _check_int(z_dim, "z_dim", 0), _check_int(c_dim, "c_dim", 0)
    seed = _check_int(seed, "seed", 0)
    g = _batch_generator(seed, batch_index)
    z = torch.randn([batch_size, z_dim], generator=g)
    if c is None:
        if c_dim == 0:
            labels = torch.zeros([batch_size, 0])
        else:
            labels = F.one_hot(torch.randint(c_dim, [batch_size], generator=g), c_dim).float()
    elif isinstance(c, torch.Tensor):
        if c.ndim != 2 or c.shape[1] != c_dim or c.shape[0] == 0:
            raise ValueError(f"c must be a label table [M >= 1, c_dim={c_dim}], got shape "
                             f"{tuple(c.shape)}")
        labels = c.detach().cpu()[torch.randint(c.shape[0], [batch_size], generator=g)].float()
    elif callable(c):
        labels = torch.as_tensor(c(batch_size, g)).float()
        if tuple(labels.shape) != (batch_size, c_dim):
            raise ValueError(f"the label sampler c returned shape {tuple(labels.shape)}, expected "
                             f"{(batch_size, c_dim)}")
    else:
        raise TypeError(f"c must be None, a label tensor [M, c_dim] or a callable, got "
                        f"{type(c).__name__}")
    tmax, rmax = _check_real(translate_max, "translate_max"), _check_real(rotate_max, "rotate_max")
    u = (torch.rand([5], generator=g, dtype=torch.float64) * 2 - 1).tolist()
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


def _transform_buffer(G: Any) -> torch.Tensor:
    for attr in ("mapping", "synthesis"):
        if not hasattr(G, attr):
            raise TypeError(f"G must be a StyleGAN3-style generator with .mapping and .synthesis; "
                            f"{type(G).__name__} has no .{attr}")
    tr = getattr(getattr(G.synthesis, "input", None), "transform", None)
    if not isinstance(tr, torch.Tensor) or tuple(tr.shape) != (3, 3):
        raise TypeError("G.synthesis.input.transform must be a [3, 3] tensor buffer (StyleGAN3 "
                        f"Fourier-feature input), got {type(tr).__name__}")
    return tr


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
    identity transform; then, per requested metric, the transformed image and its reference (see
    the module docstring) feed a pooled float64 PSNR. The generator's transform buffer is restored
    afterwards, whatever happens; everything runs under ``torch.no_grad()``.

    Parameters
    ----------
    G : generator
        Anything with ``mapping(z, c)``, ``synthesis(ws, **synthesis_kwargs)``,
        ``synthesis.input.transform`` (a ``[3, 3]`` buffer), ``z_dim``, ``c_dim`` and
        ``img_resolution`` — bandlimit's ``afgan`` generator or NVIDIA's. It must already be on
        ``device``.
    num_samples : int
        Latents in total (50 000 in the paper); the last batch may be smaller.
    batch_size : int
        Latents per batch (4 in the paper); the transforms are drawn once per batch.
    metrics : sequence of ``'eqt_int'``, ``'eqt_frac'``, ``'eqr'``
        Any non-empty subset; results come back in this order.
    seed : int ≥ 0
        Seeds every draw (see :func:`draw_batch`): the same seed gives the same numbers, whatever
        the number of ranks.
    device : torch.device, str or None
        Where to run; default: the device of ``G.synthesis.input.transform``.
    progress : bool
        Progress bar on stderr (tqdm if installed), on rank 0 only.
    c : None, label tensor ``[M, c_dim]`` or callable
        Labels for conditional generators; see :func:`draw_batch`.
    draws : iterable of :class:`BatchDraws`, optional
        Explicit per-batch draws; replaces ``num_samples``, ``batch_size``, ``seed`` and ``c``.
        Under torch.distributed it must be a sequence: rank ``r`` takes batches ``r, r + world, …``.
    translate_max : float
        Largest translation, fraction of the width (0.125).
    rotate_max : float
        Largest rotation in radians (π).
    synthesis_kwargs : dict, optional
        Extra arguments to ``G.synthesis``; default ``{'force_fp32': True}`` as in the paper
        (pass ``{}`` for generators that take none).

    Returns
    -------
    dict
        ``{metric name: PSNR in dB}`` (``inf`` for a perfect match).

    Notes
    -----
    Under an initialised ``torch.distributed`` process group, rank ``r`` of ``world`` evaluates
    batches ``r, r + world, …`` and the sums are all-reduced: every rank returns the same dict.

    Examples
    --------
    >>> scores = evaluate(G, num_samples=50_000)            # doctest: +SKIP
    >>> scores                                              # doctest: +SKIP
    {'eqt_int': 63.0, 'eqt_frac': 46.4, 'eqr': 13.1}
    """
    tr = _transform_buffer(G)
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if not metrics or bad or len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics must be a non-empty subset of {METRICS} without repeats, got "
                         f"{metrics!r}")
    device = tr.device if device is None else torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())  # "cuda": the current one
    if tr.device != device:
        raise ValueError(f"G is on {tr.device} but device={device}; move G first (G.to(device))")
    synthesis_kwargs = {"force_fp32": True} if synthesis_kwargs is None else dict(synthesis_kwargs)
    rank, world = _dist_info()
    z_dim = _check_int(getattr(G, "z_dim", None), "G.z_dim", 0)
    c_dim = _check_int(getattr(G, "c_dim", 0), "G.c_dim", 0)

    if draws is None:
        num_samples = _check_int(num_samples, "num_samples", 1)
        batch_size = _check_int(batch_size, "batch_size", 1)
        seed = _check_int(seed, "seed", 0)
        _check_real(translate_max, "translate_max")
        _check_real(rotate_max, "rotate_max")
        num_batches = -(-num_samples // batch_size)
        mine = list(range(rank, num_batches, world))

        def batches() -> Iterable[BatchDraws]:
            for k in mine:
                b = min(batch_size, num_samples - k * batch_size)
                yield draw_batch(k, b, z_dim, c_dim, seed, c, translate_max, rotate_max)

        total = len(mine)
    else:
        if world > 1:
            if not isinstance(draws, Sequence):
                raise TypeError("under torch.distributed, draws must be a sequence (list) so that "
                                f"each rank can take its share, got {type(draws).__name__}")
            draws = draws[rank::world]
        draws = list(draws)
        for i, d in enumerate(draws):
            if not isinstance(d, BatchDraws):
                raise TypeError(f"draws[{i}] must be a BatchDraws, got {type(d).__name__}")
        if not draws and world == 1:
            raise ValueError("draws is empty: nothing to evaluate")

        def batches() -> Iterable[BatchDraws]:
            yield from draws

        total = len(draws)

    accs = {m: PSNRAccumulator(I_MAX) for m in metrics}
    saved = tr.detach().clone()
    bar = _Progress(total, bool(progress) and rank == 0)
    try:
        with torch.no_grad():
            for d in batches():
                _evaluate_batch(G, tr, d, metrics, accs, device, synthesis_kwargs)
                bar.update()
    finally:
        with torch.no_grad():
            tr.copy_(saved)
        bar.close()
    for acc in accs.values():
        acc.all_reduce()
    return {m: accs[m].psnr for m in metrics}


def _evaluate_batch(
    G: Any,
    tr: torch.Tensor,
    d: BatchDraws,
    metrics: tuple[str, ...],
    accs: dict[str, PSNRAccumulator],
    device: torch.device,
    synthesis_kwargs: dict[str, Any],
) -> None:
    def synth(transform: torch.Tensor) -> torch.Tensor:
        tr.copy_(transform.to(dtype=tr.dtype, device=tr.device))
        return G.synthesis(ws, **synthesis_kwargs).float()

    z = d.z.to(device=device, dtype=torch.float32)
    c = d.c.to(device=device, dtype=torch.float32)
    ws = G.mapping(z, c)
    orig = synth(torch.eye(3))
    _check_images(orig, "G.synthesis output")
    H, W = orig.shape[-2:]
    res = int(getattr(G, "img_resolution", W))

    if "eqt_int" in metrics:
        tx, ty = _check_shift(d.translate_int, "translate_int")
        ix, iy = round(tx * res), round(ty * res)  # snap to whole pixels of the output
        img = synth(translation_transform((ix / res, iy / res)))
        ref, mask = translate_integer(orig, (ix * W // res, iy * H // res))
        accs["eqt_int"].update(ref, img, mask)
    if "eqt_frac" in metrics:
        tx, ty = _check_shift(d.translate_frac, "translate_frac")
        img = synth(translation_transform((tx, ty)))
        ref, mask = translate_fractional(orig, (tx * W, ty * H))
        accs["eqt_frac"].update(ref, img, mask)
    if "eqr" in metrics:
        angle = _check_real(d.angle, "angle")
        img = synth(rotation_transform(angle))
        ref, ref_mask = rotate(orig, angle)
        pseudo, pseudo_mask = pseudo_rotate(img, angle)
        accs["eqr"].update(ref, pseudo, ref_mask * pseudo_mask)
