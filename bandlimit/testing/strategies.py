"""Hypothesis strategies for band-limited signals, sub-pixel shifts and rotations.

The signals are analytic (sums of sinusoids, :class:`BandlimitedSignal`), so a test can sample them
*exactly* after any shift or rotation and compare an operator against the ideal transform. They
are 1-D ``[N, C, L]``, 2-D ``[N, C, H, W]`` or 3-D ``[N, C, D, H, W]`` (volumes: shifts only, no
rotation), whatever ``size`` says.
Hypothesis is imported only when a strategy is built: :class:`BandlimitedSignal` and
:func:`make_bandlimited_signal` work without it. :func:`subpixel_shifts` (``fractional=True``) and
:func:`rotations` draw only shifts and angles that move the signal measurably (``min_fraction``,
``min_angle``), and never subnormal floats. A signal drawn by :func:`bandlimited_signals` prints
(in a failing example, say) as the :func:`make_bandlimited_signal` call that rebuilds it.

Examples
--------
A property test (a few derandomized examples here; a test suite would run more):

>>> import torch
>>> from hypothesis import given, settings
>>> from bandlimit.testing import (assert_translation_equivariant, bandlimited_signals,
...                                subpixel_shifts)
>>> def blur(x):
...     return torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
>>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
... @given(s=bandlimited_signals(size=32, bandwidth=0.2), shift=subpixel_shifts(max_shift=2))
... def test_blur_is_shift_equivariant(s, shift):
...     assert_translation_equivariant(blur, s, shift, min_psnr=40)
>>> test_blur_is_shift_equivariant()
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from bandlimit._checks import check_bool, check_device, check_float_dtype, check_int, check_real

__all__ = [
    "BandlimitedSignal",
    "bandlimited_images",
    "bandlimited_signals",
    "make_bandlimited_signal",
    "rotations",
    "subpixel_shifts",
]


def _size(size: Any) -> tuple[int, ...]:
    # The messages show ``size`` as passed, not the (H, W) made from an int.
    sizes = (size, size) if isinstance(size, (int, np.integer)) else size
    if (not isinstance(sizes, (tuple, list)) or len(sizes) not in (1, 2, 3)
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                       for s in sizes)):
        raise TypeError(f"size must be an int (square), (L,), (H, W) or (D, H, W), got {size!r}")
    if any(s < 1 for s in sizes):
        raise ValueError(f"size must be positive, got {size!r}")
    return tuple(int(s) for s in sizes)


@dataclass(frozen=True)
class BandlimitedSignal:
    r"""A batch of continuous signals ``s(p) = Σ_k a_k sin(2π(ν_k·p + φ_k))`` on a pixel grid.

    ``p`` is in pixels: ``p = (x, y)`` = (column, row) with samples at integer positions,
    ``p = x`` for 1-D signals, or ``p = (x, y, z)`` = (column, row, slice) for 3-D volumes
    (``[N, C, D, H, W]``: x along W, y along H, z along D). Frequencies ``ν`` are in cycles per
    pixel, so the signal is band-limited to ``max |ν|`` (≤ 0.5 means exactly representable by its
    samples). :meth:`render` samples it, moved by any shift (and, in 2-D, rotation), exactly.
    Frozen (immutable); usually drawn by :func:`bandlimited_signals` or
    :func:`make_bandlimited_signal`, and accepted directly by
    :func:`~bandlimit.testing.assert_translation_equivariant` and
    :func:`~bandlimit.testing.assert_rotation_equivariant`.

    Parameters
    ----------
    freqs : ndarray ``[N, C, K, ndim]``
        Frequencies in cycles per pixel, x first: ``(ν_x,)`` (``ndim = 1``), ``(ν_x, ν_y)``
        (``ndim = 2``) or ``(ν_x, ν_y, ν_z)`` (``ndim = 3``), ``K`` components per signal.
    phases : ndarray ``[N, C, K]``
        Phases in cycles.
    amplitudes : ndarray ``[N, C, K]``
        Amplitudes.
    size : tuple of int, ``(L,)``, ``(H, W)`` or ``(D, H, W)``
        Grid that :meth:`render` samples (``ndim`` entries, the last axis x).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from bandlimit.testing import BandlimitedSignal
    >>> s = BandlimitedSignal(freqs=np.full((1, 1, 1, 1), 0.125), phases=np.zeros((1, 1, 1)),
    ...                       amplitudes=np.ones((1, 1, 1)), size=(16,))
    >>> s.shape, s.bandwidth
    ((1, 1, 16), 0.125)
    >>> y = s.render(shift=2.0, dtype=torch.float64)  # sin(2π · 0.125 · (x − 2))
    >>> round(float(y[0, 0, 4]), 4), round(float(y[0, 0, 0]), 4)
    (1.0, -1.0)

    A volume ``[N, C, D, H, W]``: a quarter cycle per slice along z (``ν = (0, 0, 0.25)``),
    moved one slice towards +z:

    >>> v = BandlimitedSignal(freqs=np.array([[[[0.0, 0.0, 0.25]]]]), phases=np.zeros((1, 1, 1)),
    ...                       amplitudes=np.ones((1, 1, 1)), size=(4, 2, 3))
    >>> v.shape, v.center
    ((1, 1, 4, 2, 3), (1.0, 0.5, 1.5))
    >>> [round(float(t), 4) for t in v.render(shift=(0, 0, 1), dtype=torch.float64)[0, 0, :, 0, 0]]
    [-1.0, 0.0, 1.0, 0.0]
    """

    freqs: np.ndarray
    phases: np.ndarray
    amplitudes: np.ndarray
    size: tuple[int, ...]

    def __repr__(self) -> str:
        # A signal drawn by bandlimited_signals shows the call that rebuilds it (Hypothesis
        # prints it in a failing example), not its arrays.
        recipe = self.__dict__.get("_recipe")
        if recipe is not None:
            return str(recipe)
        return (f"BandlimitedSignal(freqs={self.freqs!r}, phases={self.phases!r}, "
                f"amplitudes={self.amplitudes!r}, size={self.size!r})")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # Hypothesis's and IPython's printer
        p.text(repr(self))

    def __eq__(self, other: object) -> bool:
        # The generated __eq__ compared arrays with ==: "truth value of an array is ambiguous".
        if not isinstance(other, BandlimitedSignal):
            return NotImplemented
        return tuple(self.size) == tuple(other.size) and all(
            np.array_equal(getattr(self, k), getattr(other, k))
            for k in ("freqs", "phases", "amplitudes"))

    def __hash__(self) -> int:
        return hash((tuple(self.size), *(np.ascontiguousarray(getattr(self, k)).tobytes()
                                          for k in ("freqs", "phases", "amplitudes"))))

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of :meth:`render`'s result, ``(N, C, *size)``."""
        return (*self.freqs.shape[:2], *self.size)

    @property
    def bandwidth(self) -> float:
        """The largest frequency magnitude present, in cycles per pixel."""
        return float(np.sqrt((self.freqs**2).sum(-1)).max(initial=0.0))

    @property
    def center(self) -> tuple[float, ...]:
        """The middle of the grid, x first, ``((W − 1)/2, (H − 1)/2)`` in 2-D (the rotation
        centre), ``((L − 1)/2,)`` in 1-D and ``((W − 1)/2, (H − 1)/2, (D − 1)/2)`` in 3-D."""
        return tuple((s - 1) / 2 for s in reversed(self.size))

    def render(
        self,
        shift: float | Sequence[float] | None = None,
        angle: float = 0.0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        r"""Sample the signal after moving its content, exactly (float64 evaluation).

        Content at ``q`` moves to ``c + rot(α)·(q − c) + shift``, with ``c`` = :attr:`center` and
        ``rot(α) = [[cos α, sin α], [−sin α, cos α]]`` acting on ``(x, y)`` (rows point down; the
        convention of :func:`bandlimit.metrics.equivariance.rotate`). So the value at pixel ``p``
        is ``s(c + rot(−α)·(p − shift − c))``; in 1-D and 3-D (no rotation) ``s(p − shift)``.

        Parameters
        ----------
        shift : float or sequence of float, optional
            ``(dx, dy)`` in 2-D, ``(dx, dy, dz)`` in 3-D (``dz`` along D), a number or ``(dx,)``
            in 1-D; pixels, finite. Default 0.
        angle : float, default 0.0
            Rotation in radians (2-D only; must be 0 for a 1-D or 3-D signal).
        dtype : torch.dtype, optional
            Real floating-point dtype of the result (default ``torch.get_default_dtype()``).
        device : torch.device or str, optional
            Device of the result (default the CPU, whatever torch's default device).

        Returns
        -------
        Tensor
            ``[N, C, L]``, ``[N, C, H, W]`` or ``[N, C, D, H, W]`` (:attr:`shape`).

        Raises
        ------
        ValueError
            A shift with the wrong number of components or not finite, a non-zero angle
            for a 1-D or 3-D signal, or a device torch does not know.
        """
        dtype = torch.get_default_dtype() if dtype is None else check_float_dtype("dtype", dtype)
        device = None if device is None else check_device("device", device)
        ndim = len(self.size)
        given = shift
        parts: Sequence[float] | None  # shift's components (np.ndim tells a number apart)
        if shift is None:
            parts = (0.0,) * ndim
        elif np.ndim(shift) == 0:
            parts = (cast(float, shift),) if ndim == 1 else None
        else:
            parts = cast(Sequence[float], shift)
        if parts is None or len(parts) != ndim:
            raise ValueError(f"shift must have {ndim} component(s) for a {ndim}-D signal, "
                             f"got {given!r}")
        try:
            offset = np.asarray(parts, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"shift must be numbers, got {given!r}") from None
        angle = check_real("angle", angle)
        if not np.isfinite(offset).all():  # check_real has already made sure of the angle
            raise ValueError(f"shift must be finite, got {given!r}")
        if ndim != 2 and angle != 0:
            raise ValueError(f"angle must be 0 for a {ndim}-D signal, got {angle!r} (only 2-D "
                             f"signals rotate)")
        axes = [np.arange(s, dtype=np.float64) for s in reversed(self.size)]  # x first
        if ndim == 3:
            return torch.from_numpy(self._render_volume(axes, offset)).to(dtype=dtype,
                                                                          device=device)
        if ndim == 1:
            coords = (axes[0] - offset[0])[:, None]  # [L, 1]
        else:
            x, y = np.meshgrid(axes[0], axes[1], indexing="xy")  # [H, W]
            cx, cy = self.center
            u, v = x - offset[0] - cx, y - offset[1] - cy
            ca, sa = math.cos(angle), math.sin(angle)
            # rot(−α) = [[cos, −sin], [sin, cos]]
            coords = np.stack([cx + ca * u - sa * v, cy + sa * u + ca * v], axis=-1)
        # [N, C, K, D] · [..., D] → [N, C, K, ...]
        phase = np.tensordot(self.freqs, coords, axes=([3], [coords.ndim - 1]))
        phase += self.phases.reshape(*self.phases.shape, *([1] * (coords.ndim - 1)))
        amp = self.amplitudes.reshape(*self.amplitudes.shape, *([1] * (coords.ndim - 1)))
        out = (amp * np.sin(2 * np.pi * phase)).sum(axis=2)
        return torch.from_numpy(out).to(dtype=dtype, device=device)

    def _render_volume(self, axes: list[np.ndarray], offset: np.ndarray) -> np.ndarray:
        """``[N, C, D, H, W]`` float64: ``Σ_k a_k sin(2π(ν_k·(p − offset) + φ_k))``, one
        component at a time (a volume times ``K`` at once would hold ``K`` times the output)."""
        x, y, z = (a - d for a, d in zip(axes, offset))  # x along W, y along H, z along D
        n, c, k = self.amplitudes.shape
        out = np.zeros((n, c, *self.size))
        for j in range(k):
            f = self.freqs[:, :, j, :, None, None, None]  # [N, C, 3, 1, 1, 1]
            phase = (f[:, :, 0] * x + f[:, :, 1] * y[:, None] + f[:, :, 2] * z[:, None, None]
                     + self.phases[:, :, j, None, None, None])
            out += self.amplitudes[:, :, j, None, None, None] * np.sin(2 * np.pi * phase)
        return out


def make_bandlimited_signal(
    rng: np.random.Generator,
    size: int | Sequence[int],
    batch: int = 1,
    channels: int = 1,
    bandwidth: float = 0.25,
    components: int = 4,
    periodic: bool = False,
    band: str = "disc",
    amplitude: float = 1.0,
) -> BandlimitedSignal:
    """Draw a :class:`BandlimitedSignal` from ``rng``, without Hypothesis.

    The distribution is that of :func:`bandlimited_signals` with a fixed number of components:
    frequencies uniform over the disc ``|ν| ≤ bandwidth`` or the square (in 3-D the ball or the
    cube), uniform phases, and amplitudes drawn in ``[0.25, 1]`` and scaled to sum to
    ``amplitude``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness, e.g. ``np.random.default_rng(0)``.
    size : int, ``(L,)``, ``(H, W)`` or ``(D, H, W)``
        Grid; an int means a square image ``(size, size)``. Three entries make a volume
        ``[N, C, D, H, W]``.
    batch, channels : int, default 1
        ``N`` and ``C``.
    bandwidth : float in (0, 0.5], default 0.25
        Cutoff in cycles per pixel (0.5 = Nyquist).
    components : int, default 4
        Sinusoids per signal, ``K``.
    periodic : bool, default False
        Snap frequencies to whole cycles across the grid (see :func:`bandlimited_signals`).
    band : {'disc', 'square'}, default 'disc'
        Frequency region: ``'disc'`` is ``|ν| ≤ bandwidth`` (in 3-D the ball, drawn with a
        uniform density over it), ``'square'`` is ``max_i |ν_i| ≤ bandwidth`` (in 3-D the cube).
        1-D signals use ``|ν| ≤ bandwidth`` either way.
    amplitude : float > 0, default 1.0
        Sum of the amplitudes: values lie in ``[−amplitude, amplitude]``.

    Returns
    -------
    BandlimitedSignal

    Examples
    --------
    >>> import numpy as np
    >>> from bandlimit.testing import make_bandlimited_signal
    >>> s = make_bandlimited_signal(np.random.default_rng(0), (24, 32), channels=3,
    ...                             bandwidth=0.2)
    >>> s.shape, s.freqs.shape, s.bandwidth <= 0.2
    ((1, 3, 24, 32), (1, 3, 4, 2), True)
    >>> x = s.render()
    >>> x.shape, x.dtype, bool(x.abs().max() <= 1)
    (torch.Size([1, 3, 24, 32]), torch.float32, True)

    A volume ``(D, H, W)``, frequencies ``(ν_x, ν_y, ν_z)`` in the ball of radius 0.2:

    >>> v = make_bandlimited_signal(np.random.default_rng(0), (8, 12, 16), bandwidth=0.2)
    >>> v.shape, v.freqs.shape, v.bandwidth <= 0.2
    ((1, 1, 8, 12, 16), (1, 1, 4, 3), True)
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
                        f"got {rng!r} ({type(rng).__name__})")
    size = _size(size)
    if not 0 < check_real("bandwidth", bandwidth) <= 0.5:
        raise ValueError(f"bandwidth must be in (0, 0.5] cycles/pixel (0.5 = Nyquist), "
                         f"got {bandwidth!r}")
    if band not in ("disc", "square"):
        raise ValueError(f"band must be 'disc' or 'square', got {band!r}")
    batch, channels = check_int("batch", batch, 1), check_int("channels", channels, 1)
    components = check_int("components", components, 1)
    periodic = check_bool("periodic", periodic)
    amplitude = check_real("amplitude", amplitude, positive=True)
    ndim = len(size)
    lead = (batch, channels, components)
    if periodic:
        # Integer numbers of cycles across the grid: the samples are exactly periodic. Each
        # axis keeps only what the band can: the same candidates in the same order as the full
        # grid, without building it (a volume's would hold every (k_x, k_y, k_z)).
        axes = [np.arange(-(s // 2), s // 2 + 1) / s for s in reversed(size)]
        # (a Nyquist-rate cosine has no well-defined shift: |ν| < 0.5)
        axes = [a[(np.abs(a) <= bandwidth) & (np.abs(a) < 0.5)] for a in axes]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, ndim)
        keep = (np.sqrt((grid**2).sum(-1)) <= bandwidth if band == "disc" and ndim >= 2
                else (np.abs(grid) <= bandwidth).all(-1))
        cand = grid[keep]
        if not cand.any():
            need = (f"bandwidth >= {1 / max(size):.4g} (one cycle across {max(size)} pixels)"
                    if max(size) > 2 else "a size above 2 (no whole cycle fits below Nyquist)")
            raise ValueError(f"periodic=True with bandwidth {bandwidth!r} and size {size} keeps "
                             f"only the zero frequency (constant signals): needs {need}, or "
                             f"periodic=False")
        freqs = cand[rng.integers(len(cand), size=lead)]
    elif ndim == 1 or band == "square":
        freqs = rng.uniform(-bandwidth, bandwidth, size=(*lead, ndim))
    elif ndim == 2:
        r = bandwidth * np.sqrt(rng.uniform(0, 1, size=lead))  # uniform density over the disc
        t = rng.uniform(0, 2 * np.pi, size=lead)
        freqs = np.stack([r * np.cos(t), r * np.sin(t)], -1)
    else:  # the ball: uniform density, so the radius is bandwidth · u^(1/3)
        r = bandwidth * np.cbrt(rng.uniform(0, 1, size=lead))
        cos_polar = rng.uniform(-1, 1, size=lead)  # a uniform direction on the sphere
        t = rng.uniform(0, 2 * np.pi, size=lead)
        rho = r * np.sqrt(1 - cos_polar**2)
        freqs = np.stack([rho * np.cos(t), rho * np.sin(t), r * cos_polar], -1)
    phases = rng.uniform(0, 1, size=lead)
    amps = rng.uniform(0.25, 1.0, size=lead)
    amps *= amplitude / amps.sum(-1, keepdims=True)  # Σ a = amplitude: values in [−amp, amp]
    return BandlimitedSignal(freqs=freqs, phases=phases, amplitudes=amps, size=size)


# ---------------------------------------------------------------------------------------------
# Hypothesis strategies (hypothesis imported lazily: it is a test-time dependency)


def _hypothesis_strategies() -> Any:
    try:
        from hypothesis import strategies as st
    except ImportError as e:  # pragma: no cover - exercised only without hypothesis
        raise ImportError("bandlimit.testing strategies need Hypothesis: pip install hypothesis "
                          "(or pip install '.[testing]' in the repository)") from e
    return st


def _components(components: int | tuple[int, int]) -> tuple[int, int]:
    pair = (components, components) if isinstance(components, (int, np.integer)) else components
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                       for c in pair)):
        raise TypeError(f"components must be an int or (min, max) ints, got {components!r}")
    lo, hi = int(pair[0]), int(pair[1])
    if not 1 <= lo <= hi:
        raise ValueError(f"components must satisfy 1 <= min <= max, got {components!r}")
    return lo, hi


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default


def bandlimited_signals(
    size: int | Sequence[int] = 32,
    batch: int = 1,
    channels: int = 1,
    bandwidth: float = 0.25,
    components: int | tuple[int, int] = (1, 8),
    periodic: bool = False,
    band: str = "disc",
    amplitude: float = 1.0,
) -> Any:
    r"""Strategy for :class:`BandlimitedSignal`: random sums of sinusoids below a cutoff.

    Each of the ``batch × channels`` signals has ``K`` components (``K`` drawn from
    ``components``), with frequencies uniform over the disc ``|ν| ≤ bandwidth`` (``band='disc'``)
    or the square ``|ν_x|, |ν_y| ≤ bandwidth`` (``'square'``; 1-D signals use ``|ν| ≤ bandwidth``,
    3-D volumes the ball ``|ν| ≤ bandwidth`` or the cube ``|ν_x|, |ν_y|, |ν_z| ≤ bandwidth``),
    uniform phases and positive amplitudes summing to ``amplitude`` (values in
    ``[−amplitude, amplitude]``). Hypothesis draws ``K`` and a seed; NumPy draws the rest
    (:func:`make_bandlimited_signal`). The arguments are checked when the strategy is built.

    Parameters
    ----------
    size : int, ``(L,)``, ``(H, W)`` or ``(D, H, W)``, default 32
        Grid; an int means a square image. ``(D, H, W)`` draws volumes ``[N, C, D, H, W]``
        (frequencies ``(ν_x, ν_y, ν_z)``, x along W, z along D).
    batch, channels : int, default 1
        ``N`` and ``C`` of every signal.
    bandwidth : float in (0, 0.5], default 0.25
        Cutoff in cycles per pixel (0.5 = Nyquist).
    components : int or ``(min, max)``, default ``(1, 8)``
        Sinusoids per signal (the same ``K`` for all of one example's signals).
    periodic : bool, default False
        Snap frequencies to whole cycles across the grid (``ν = k / size``) so that the samples
        are periodic: FFT shifts are then exact. Needs ``bandwidth >= 1 / max(size)`` (else only
        the constant would be left: a ``ValueError``). With ``band='disc'`` the snapped
        frequencies still satisfy ``|ν| ≤ bandwidth``.
    band : {'disc', 'square'}, default 'disc'
        Frequency region in 2-D and 3-D: disc (ball) or square (cube).
    amplitude : float > 0, default 1.0
        Sum of the amplitudes.

    Returns
    -------
    SearchStrategy
        Of :class:`BandlimitedSignal`, each of whose ``repr`` is the call that rebuilds it,
        e.g. ``make_bandlimited_signal(np.random.default_rng(7), size=(16, 24), batch=2,
        channels=3, bandwidth=0.3, components=5)``: what a failing example shows.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from bandlimit.testing import bandlimited_signals
    >>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    ... @given(s=bandlimited_signals(size=(16, 24), batch=2, channels=3, bandwidth=0.3))
    ... def test_shapes(s):
    ...     assert s.render().shape == (2, 3, 16, 24)
    ...     assert s.bandwidth <= 0.3
    >>> test_shapes()

    Volumes ``[N, C, D, H, W]``:

    >>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    ... @given(s=bandlimited_signals(size=(6, 8, 10), bandwidth=0.3))
    ... def test_volumes(s):
    ...     assert s.render().shape == (1, 1, 6, 8, 10) and s.freqs.shape[-1] == 3
    >>> test_volumes()
    """
    st = _hypothesis_strategies()
    lo, hi = _components(components)
    # Validate eagerly: a bad argument should fail where the strategy is built.
    make_bandlimited_signal(np.random.default_rng(0), size, batch, channels, bandwidth, lo,
                            periodic, band, amplitude)

    # What a failing example prints: the call that rebuilds the signal (arguments as passed,
    # those at their defaults left out), not build(k, seed) or the arrays.
    given = {"size": size, "batch": batch, "channels": channels, "bandwidth": bandwidth,
             "periodic": periodic, "band": band, "amplitude": amplitude}
    defaults = {"batch": 1, "channels": 1, "bandwidth": 0.25, "periodic": False, "band": "disc",
                "amplitude": 1.0}
    args = ", ".join(f"{k}={v!r}" for k, v in given.items()
                     if k not in defaults or not _same(v, defaults[k]))

    def build(k: int, seed: int) -> BandlimitedSignal:
        signal = make_bandlimited_signal(np.random.default_rng(seed), size, batch, channels,
                                         bandwidth, k, periodic, band, amplitude)
        object.__setattr__(signal, "_recipe", f"make_bandlimited_signal(np.random.default_rng("
                                              f"{seed}), {args}, components={k})")
        return signal

    return st.builds(build, st.integers(lo, hi), st.integers(0, 2**32 - 1))


def bandlimited_images(
    size: int | Sequence[int] = 32,
    batch: int = 1,
    channels: int = 1,
    bandwidth: float = 0.25,
    components: int | tuple[int, int] = (1, 8),
    periodic: bool = False,
    band: str = "disc",
    amplitude: float = 1.0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Any:
    """Strategy for tensors ``[batch, channels, *size]``: :func:`bandlimited_signals`, rendered.

    Use :func:`bandlimited_signals` instead when the test needs the exact shifted/rotated signal:
    :func:`~bandlimit.testing.assert_translation_equivariant` shifts a tensor numerically, which
    leaves out about ``taps/2 + |shift| + size/8`` samples on each side (nothing of the default
    32 samples with its default 24 taps) and whose interpolation error bounds the PSNR it can
    show; a signal is shifted exactly.

    Parameters
    ----------
    size, batch, channels, bandwidth, components, periodic, band, amplitude
        As in :func:`bandlimited_signals`.
    dtype : torch.dtype, optional
        Real floating-point dtype of the tensors (default ``torch.get_default_dtype()``).
    device : torch.device or str, optional
        Their device (default the CPU, whatever torch's default device); one torch does not
        know raises a ``ValueError`` here, when the strategy is built.

    Returns
    -------
    SearchStrategy
        Of tensors ``[batch, channels, *size]``: ``[N, C, L]``, ``[N, C, H, W]`` (``size`` an
        int: ``[batch, channels, size, size]``) or ``[N, C, D, H, W]``.

    Examples
    --------
    >>> import torch
    >>> from hypothesis import given, settings
    >>> from bandlimit.testing import bandlimited_images
    >>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    ... @given(x=bandlimited_images(size=64, channels=3, bandwidth=0.1, dtype=torch.float64))
    ... def test_range(x):
    ...     assert x.shape == (1, 3, 64, 64) and x.dtype == torch.float64
    ...     assert x.abs().max() <= 1
    >>> test_range()
    """
    if dtype is not None:
        check_float_dtype("dtype", dtype)  # here, not when the first example is drawn
    if device is not None:
        device = check_device("device", device)  # a typo: here, not torch's error at each draw
    return bandlimited_signals(size, batch, channels, bandwidth, components, periodic, band,
                               amplitude).map(_Render(dtype, device))


class _Render:
    """``s.render(dtype=..., device=...)``, shown as code a failing example can be rebuilt
    from: Hypothesis prints ``repr(self)(signal)``, and a lambda's would name the variables
    ``dtype`` and ``device`` instead of their values."""

    def __init__(self, dtype: torch.dtype | None, device: torch.device | None):
        self.dtype, self.device = dtype, device

    def __call__(self, s: BandlimitedSignal) -> torch.Tensor:
        return s.render(dtype=self.dtype, device=self.device)

    def __repr__(self) -> str:
        device = None if self.device is None else f"torch.device({str(self.device)!r})"
        return f"(lambda s: s.render(dtype={self.dtype}, device={device}))"


def subpixel_shifts(
    max_shift: float = 1.0, ndim: int = 2, fractional: bool = False, min_fraction: float = 0.05
) -> Any:
    """Strategy for shifts ``(dx, dy)``, ``(dx,)`` or ``(dx, dy, dz)`` in pixels, each in
    ``[−max_shift, max_shift]``.

    No component is a subnormal float (such values are whole pixels in all but name).

    Parameters
    ----------
    max_shift : float > 0, default 1.0
        Largest magnitude of a component, pixels.
    ndim : {1, 2, 3}, default 2
        Components per shift: ``(dx,)``, ``(dx, dy)`` or ``(dx, dy, dz)``, x first (``dz``
        along D), as :meth:`~bandlimit.testing.BandlimitedSignal.render` and the assertions
        take them.
    fractional : bool, default False
        Keep genuinely sub-pixel shifts only: at least one component is at least
        ``min_fraction`` pixels away from the nearest whole number (the others are free). Such a
        component is built directly, not filtered for, so the strategy rarely rejects a draw.
    min_fraction : float in (0, 0.5], default 0.05
        Pixels; used with ``fractional=True``, which needs ``max_shift >= min_fraction``.

    Returns
    -------
    SearchStrategy
        Of tuples of ``ndim`` floats.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from bandlimit.testing import subpixel_shifts
    >>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    ... @given(d=subpixel_shifts(max_shift=3, fractional=True))
    ... def test_fractional(d):
    ...     assert len(d) == 2 and max(abs(v) for v in d) <= 3
    ...     assert max(abs(v - round(v)) for v in d) >= 0.05
    >>> test_fractional()
    """
    st = _hypothesis_strategies()
    M = check_real("max_shift", max_shift, positive=True)  # max_shift, as passed, for messages
    ndim = check_int("ndim", ndim)
    if ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    fractional = check_bool("fractional", fractional)
    m = check_real("min_fraction", min_fraction)
    if not 0 < m <= 0.5:
        raise ValueError(f"min_fraction must be in (0, 0.5] pixels (0.5 = half-way between whole "
                         f"pixels), got {min_fraction!r}")
    comp = st.floats(-M, M, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    if not fractional:
        return st.tuples(*([comp] * ndim))
    if M < m:
        raise ValueError(f"fractional=True needs max_shift >= min_fraction: no shift within "
                         f"max_shift {max_shift!r} px is {min_fraction!r} px or more away from "
                         f"a whole pixel; raise max_shift or lower min_fraction")
    # Magnitudes k + f, f in [m, 1 − m], that stay within max_shift (checked in floats).
    kmax = math.floor(M - m)
    while kmax > 0 and kmax + m > M:
        kmax -= 1

    def far_from_whole(v: float) -> bool:
        return abs(v) <= M and abs(v - round(v)) >= m

    @st.composite
    def fractional_part(draw: Any) -> float:
        k = draw(st.integers(0, kmax))
        f = draw(st.floats(m, max(m, min(1 - m, M - k)), allow_subnormal=False))
        v, mid = k + f, k + 0.5
        # k + f rounds (2 + 0.05 = 2.0499999…), and Hypothesis likes f = m: step back inside.
        while abs(v - round(v)) < m and v != mid:
            v = math.nextafter(v, mid)
        return min(v, M) * (-1 if draw(st.booleans()) else 1)

    def build(drawn: tuple[int, float, tuple[float, ...]]) -> tuple[float, ...]:
        j, v, others = drawn
        return (*others[:j], v, *others[j:])

    # Which component carries the fraction, its value, then the free components. The filter only
    # drops what max_shift's own rounding leaves outside the band (M = 3.05, m = 0.05): rare.
    # (A map, not st.builds: a failing example then shows the shift, not a call of build.)
    return st.tuples(st.integers(0, ndim - 1), fractional_part().filter(far_from_whole),
                     st.tuples(*([comp] * (ndim - 1)))).map(build)


def rotations(
    max_angle: float = math.pi, degrees: bool = False, min_angle: float | None = None
) -> Any:
    """Strategy for rotation angles ``a`` in radians, ``min_angle <= |a| <= max_angle``, both signs.

    The angles are what :func:`bandlimit.metrics.equivariance.rotate` and
    :func:`~bandlimit.testing.assert_rotation_equivariant` take. No angle is a subnormal float.

    Parameters
    ----------
    max_angle : float > 0, default π
        In degrees if ``degrees``, else radians.
    degrees : bool, default False
        Unit of ``max_angle`` and ``min_angle`` (the drawn angles are radians either way).
    min_angle : float in [0, max_angle], optional
        Same unit as ``max_angle``. Default ``max_angle / 100``: every example rotates the input
        measurably, so an operator that is not rotation-equivariant cannot pass on angles too
        small to show it. Pass 0 to allow the identity (and angles as small as you like).

    Returns
    -------
    SearchStrategy
        Of floats, radians.

    Examples
    --------
    >>> import math
    >>> from hypothesis import given, settings
    >>> from bandlimit.testing import rotations
    >>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    ... @given(a=rotations(max_angle=45, degrees=True))
    ... def test_angles(a):
    ...     assert math.radians(0.45) <= abs(a) <= math.radians(45)
    >>> test_angles()
    """
    st = _hypothesis_strategies()
    hi = check_real("max_angle", max_angle, positive=True)
    degrees = check_bool("degrees", degrees)
    lo = hi / 100 if min_angle is None else check_real("min_angle", min_angle)
    if not 0 <= lo <= hi:
        raise ValueError(f"min_angle must be in [0, max_angle] = [0, {max_angle!r}] (same unit), "
                         f"got {min_angle!r}")
    if degrees:
        lo, hi = math.radians(lo), math.radians(hi)
    magnitude = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    # A sign, not floats(−hi, hi): the band (−lo, lo) is excluded and no draw is rejected.
    return st.builds(lambda a, negative: -a if negative and a else a, magnitude, st.booleans())
