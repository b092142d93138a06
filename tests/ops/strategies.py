"""Hypothesis strategies for the ops' arguments, and small shared helpers for the ops tests.

Arrays are not drawn element by element (slow, and shrinking them is useless here): a strategy
draws shapes and parameters plus a seed, and the arrays come from ``numpy.random.default_rng``.
All cases are valid by construction (paddings may be negative but the output is at least 1×1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import assume
from hypothesis import strategies as st

# The backends every numerical test runs on (pytest.mark.parametrize("impl", IMPLS)).
IMPLS = ["ref", "numba"]
DTYPES = [torch.float32, torch.float64]
ACTS = ["linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish"]
# Relative tolerances, w.r.t. the magnitude of the summed terms (see ``assert_close``).
RTOL = {torch.float64: 1e-10, torch.float32: 2e-5}

seeds = st.integers(0, 2**32 - 1)
factors = st.integers(1, 4)
gains = st.one_of(st.sampled_from([1.0, 0.0]), st.floats(0.01, 4.0))
slopes = st.one_of(st.sampled_from([0.0, 0.2, 1.0, -0.5]), st.floats(-1.0, 1.0))  # (< 0 folds over)
clamps = st.one_of(st.none(), st.floats(0.05, 4.0))


@dataclass
class Case:
    """One set of arguments: arrays (float64 NumPy) plus keyword arguments."""

    x: np.ndarray
    kwargs: dict
    seed: int
    f: np.ndarray | None = None
    fu: np.ndarray | None = None
    fd: np.ndarray | None = None
    b: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Building blocks


@st.composite
def filter_shapes(draw, kinds=("none", "separable", "full"), max_taps: int = 13):
    """``None`` (no filter), ``(taps,)`` (separable) or ``(h, w)`` (full 2-D)."""
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    taps = st.integers(1, max_taps)
    if kind == "separable":
        return (draw(taps),)
    return draw(taps), draw(taps)


def filter_hw(shape) -> tuple[int, int]:
    """``(kh, kw)`` taps of a filter shape (None = 1×1)."""
    if shape is None:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


@st.composite
def pad_pair(draw, length: int, taps: int):
    """``(p0, p1)`` with ``length + p0 + p1 >= taps`` (at least one output sample).

    Mostly small paddings of either sign; sometimes the tightest (output of exactly one sample
    before decimation) or a crop of almost the whole signal.
    """
    p0 = draw(st.one_of(st.integers(-3, 6), st.just(-(length - 1)), st.integers(-length, 12)))
    lo = taps - length - p0
    p1 = draw(st.one_of(st.integers(max(lo, -3), max(lo, -3) + 8), st.just(lo)))
    return p0, p1


@st.composite
def padding_arg(draw, lengths: tuple[int, int], taps: tuple[int, int]):
    """A 2-D ``padding`` argument as int, ``(px, py)`` or ``(x0, x1, y0, y1)``.

    ``lengths`` and ``taps`` are ``(x, y)`` pairs: the (upsampled) lengths and effective taps.
    """
    form = draw(st.sampled_from(["int", "pair", "quad"]))
    (Lx, Ly), (Kx, Ky) = lengths, taps
    if form == "quad":
        x0, x1 = draw(pad_pair(Lx, Kx))
        y0, y1 = draw(pad_pair(Ly, Ky))
        return [x0, x1, y0, y1]

    def smallest(L, K):  # smallest symmetric p with L + 2p >= K
        return -((L - K) // 2)

    if form == "pair":
        lx, ly = smallest(Lx, Kx), smallest(Ly, Ky)
        return [draw(st.integers(max(lx, -3), max(lx, -3) + 6) | st.just(lx)),
                draw(st.integers(max(ly, -3), max(ly, -3) + 6) | st.just(ly))]
    lo = max(smallest(Lx, Kx), smallest(Ly, Ky))
    return draw(st.integers(max(lo, -3), max(lo, -3) + 6) | st.just(lo))


def factor_arg(draw, allow_pair: bool = True):
    """An int or an ``(x, y)`` pair of factors."""
    if allow_pair and draw(st.booleans()):
        return [draw(factors), draw(factors)]
    return draw(factors)


def as_pair(v) -> tuple[int, int]:
    return (v[0], v[1]) if isinstance(v, (list, tuple)) else (v, v)


def random_filter(rng: np.random.Generator, shape) -> np.ndarray | None:
    """Random taps (normal, away from 0 so no tap is accidentally exactly zero)."""
    if shape is None:
        return None
    f = rng.standard_normal(shape)
    return np.where(np.abs(f) < 0.05, 0.05, f)


# ---------------------------------------------------------------------------------------------
# Op cases


@st.composite
def upfirdn2d_cases(draw, max_hw: int = 12, max_taps: int = 13):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    up, down = factor_arg(draw), factor_arg(draw)
    fshape = draw(filter_shapes(max_taps=max_taps))
    (ux, uy), kh_kw = as_pair(up), filter_hw(fshape)
    padding = draw(padding_arg((w * ux, h * uy), (kh_kw[1], kh_kw[0])))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    kwargs = dict(up=up, down=down, padding=padding, flip_filter=draw(st.booleans()),
                  gain=draw(gains))
    return Case(x=rng.standard_normal((n, c, h, w)), f=random_filter(rng, fshape), kwargs=kwargs,
                seed=seed)


def conv2d_resample_sizes(hw, k_hw, f_hw, up, down, padding) -> tuple[int, int]:
    """``(H_out, W_out)`` of conv2d_resample by its definition (≤ 0 where a stage is empty)."""
    pads = padding if isinstance(padding, list) and len(padding) == 4 else (
        [padding[0], padding[0], padding[1], padding[1]] if isinstance(padding, list)
        else [padding] * 4)
    out = []
    for length, k, taps, p0, p1 in zip(hw, k_hw, f_hw, pads[2::-2], pads[3::-2]):
        if up > 1:
            p0, p1 = p0 + (taps + up - 1) // 2, p1 + (taps - up) // 2
        if down > 1:
            p0, p1 = p0 + (taps - down + 1) // 2, p1 + (taps - down) // 2
        conv = length * up + p0 + p1 - (taps if up > 1 else 1) + 1 - k + 1
        out.append(((conv - taps) // down + 1 if conv >= taps else 0) if down > 1 else conv)
    return out[0], out[1]


@st.composite
def conv2d_resample_cases(draw, max_hw: int = 7, max_taps: int = 6):
    """conv2d_resample's arguments: factors 1-3, grouped weights up to 4×4, any filter kind,
    paddings of either sign (those that would leave a stage empty are rejected)."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    up, down = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    fshape = draw(filter_shapes(max_taps=max_taps))
    padding = draw(st.one_of(st.integers(-2, 3), st.lists(st.integers(-2, 3), min_size=2,
                                                          max_size=2),
                             st.lists(st.integers(-3, 4), min_size=4, max_size=4)))
    assume(min(conv2d_resample_sizes((h, w), (kh, kw), filter_hw(fshape), up, down, padding))
           >= 1)
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    kwargs = dict(up=up, down=down, padding=padding, groups=groups,
                  flip_weight=draw(st.booleans()), flip_filter=draw(st.booleans()))
    return Case(x=rng.standard_normal((2, c_in, h, w)), f=random_filter(rng, fshape),
                kwargs=kwargs, seed=seed,
                extra=dict(w=rng.standard_normal((c_out, c_in // groups, kh, kw))))


@st.composite
def upfirdn1d_cases(draw, max_len: int = 24, max_taps: int = 13):
    n, c, L = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, max_len))
    up, down = draw(factors), draw(factors)
    fshape = draw(filter_shapes(kinds=("none", "separable"), max_taps=max_taps))
    K = 1 if fshape is None else fshape[0]
    if draw(st.booleans()):
        padding = list(draw(pad_pair(L * up, K)))
    else:
        lo = -((L * up - K) // 2)
        padding = draw(st.integers(max(lo, -3), max(lo, -3) + 6) | st.just(lo))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    kwargs = dict(up=up, down=down, padding=padding, flip_filter=draw(st.booleans()),
                  gain=draw(gains))
    return Case(x=rng.standard_normal((n, c, L)), f=random_filter(rng, fshape), kwargs=kwargs,
                seed=seed)


@st.composite
def filtered_lrelu_cases(draw, max_hw: int = 12, max_taps: int = 13, ups=(1, 2, 3, 4),
                         downs=(1, 2, 3, 4), with_bias=None):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    up, down = draw(st.sampled_from(ups)), draw(st.sampled_from(downs))
    fu_shape = draw(filter_shapes(max_taps=max_taps))
    fd_shape = draw(filter_shapes(max_taps=max_taps))
    (uh, uw), (dh, dw) = filter_hw(fu_shape), filter_hw(fd_shape)
    padding = draw(padding_arg((w * up, h * up), (uw + dw - 1, uh + dh - 1)))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    has_b = draw(st.booleans()) if with_bias is None else with_bias
    kwargs = dict(up=up, down=down, padding=padding, gain=draw(gains), slope=draw(slopes),
                  clamp=draw(clamps), flip_filter=draw(st.booleans()))
    # Filters scaled so that pre-activations are O(1) and the clamp actually bites sometimes.
    fu = random_filter(rng, fu_shape)
    fd = random_filter(rng, fd_shape)
    if fu is not None:
        fu = fu / np.sqrt(fu.size if fu.ndim == 2 else fu.size**2) / up
    if fd is not None:
        fd = fd / np.sqrt(fd.size if fd.ndim == 2 else fd.size**2)
    return Case(x=rng.standard_normal((n, c, h, w)), fu=fu, fd=fd,
                b=rng.standard_normal(c) if has_b else None, kwargs=kwargs, seed=seed)


@st.composite
def bias_act_cases(draw, acts=tuple(ACTS)):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    dim = draw(st.integers(0, ndim - 1))
    act = draw(st.sampled_from(acts))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    kwargs = dict(dim=dim, act=act, alpha=draw(st.none() | st.floats(0.0, 1.0)),
                  gain=draw(st.none() | st.floats(0.0, 3.0)), clamp=draw(clamps))
    # |x + b| stays well below softplus's linear-threshold region (20) of torch.
    x = rng.uniform(-4, 4, size=shape)
    b = rng.uniform(-2, 2, size=shape[dim]) if draw(st.booleans()) else None
    return Case(x=x, b=b, kwargs=kwargs, seed=seed)


# ---------------------------------------------------------------------------------------------
# Helpers


def to_torch(a, dtype=torch.float64):
    return None if a is None else torch.from_numpy(np.asarray(a)).to(dtype)


def to_np(t) -> np.ndarray | None:
    return None if t is None else t.detach().to(torch.float64).numpy()


def rounded(a, dtype):
    """The float64 values of ``a`` after rounding to ``dtype`` (oracle input for that dtype)."""
    return None if a is None else to_np(to_torch(a, dtype))


def assert_close(actual: torch.Tensor, expected: np.ndarray, rtol: float,
                 scale: float | None = None, what: str = ""):
    """``|actual − expected| <= rtol · scale`` elementwise, shapes equal, no NaN.

    ``scale`` defaults to ``max(1, max|expected|)``; pass the magnitude of the summed terms when
    cancellation can make the result much smaller than the terms.
    """
    a = to_np(actual)
    assert a.shape == expected.shape, f"{what}: shape {a.shape} != expected {expected.shape}"
    if scale is None:
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    err = np.abs(a - expected)
    bad = ~(err <= rtol * scale)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())}/{a.size} elements differ; max abs err "
            f"{np.nanmax(err):.3e} > {rtol:.1e}·{scale:.3e}; first at {i}: "
            f"actual {a[i]!r}, expected {expected[i]!r}"
        )


# ---------------------------------------------------------------------------------------------
# resample_poly

# Padtypes for which scipy has no defined answer on a one-sample signal (NaN, garbage, a crash).
SCIPY_UNDEFINED_AT_ONE_SAMPLE = ("line", "smooth", "antireflect", "reflect")


@st.composite
def resample_cases(draw, max_len: int = 40, max_factor: int = 7):
    """``x`` of shape ``[..., L, ...]`` with the resampled axis at a random position, factors
    (not reduced: a common divisor is part of the case), a padtype (with ``cval`` sometimes) and
    a window: scipy's default, another window, or explicit taps (``case.f``)."""
    from bandlimit.ops.resample import PADTYPES

    n = draw(st.integers(1, max_len))
    padtype = draw(st.sampled_from(PADTYPES))
    if n == 1 and padtype in SCIPY_UNDEFINED_AT_ONE_SAMPLE:
        n = 2
    shape = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    axis = draw(st.integers(0, len(shape)))
    shape.insert(axis, n)
    kw = dict(up=draw(st.integers(1, max_factor)), down=draw(st.integers(1, max_factor)),
              padtype=padtype)  # fmt: skip
    if padtype == "constant" and draw(st.booleans()):
        kw["cval"] = draw(st.floats(-3, 3))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    window = draw(st.sampled_from(["default", "kaiser", "hann", "taps"]))
    f = None
    if window == "kaiser":
        kw["window"] = ("kaiser", draw(st.floats(0.0, 12.0)))
    elif window == "hann":
        kw["window"] = "hann"
    elif window == "taps":
        f = rng.standard_normal(draw(st.integers(1, 15)))
    x = rng.standard_normal(shape) * draw(st.sampled_from([1.0, 1e-3, 1e3]))
    return Case(x=x, kwargs=kw, seed=seed, f=f, extra={"axis": axis})


@contextlib.contextmanager
def ref_as_composition() -> Iterator[None]:
    """Within it, 'ref' runs autograd through its composition of PyTorch ops (the convolutions',
    the activation's own backward) instead of its backward formulas (the adjoint upfirdn,
    ``reference.filtered_act_vjp``): the independent oracle of every backend's backward."""
    from bandlimit.ops import reference

    saved = reference._records_eagerly
    reference._records_eagerly = lambda *args: False  # type: ignore[assignment]
    try:
        yield
    finally:
        reference._records_eagerly = saved  # type: ignore[assignment]


def saved_bytes(fn) -> tuple[torch.Tensor, int]:
    """``fn()`` and the bytes of the tensors autograd saved for its backward."""
    saved: list[int] = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn()
    return y, sum(saved)
