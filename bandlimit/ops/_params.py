"""Argument validation and normalisation shared by every backend.

Every public op parses its user-facing arguments here exactly once and hands the backends a
normalised, already-validated description. That way the backends cannot disagree about shapes,
error messages or filter conventions.

Conventions of the normalised form
----------------------------------
* Factors are ``(x, y)`` pairs of ints ≥ 1; padding is ``(x0, x1, y0, y1)`` (negative crops).
* Filters are in *correlation* form: flipped already when the user asked for a true convolution
  (``flip_filter=False``), with every gain multiplied in, and cast to the data's dtype. A filter
  is a
  :class:`Fir`: either separable (``fx`` along W, ``fy`` along H; an identity axis is ``[g]`` of one
  tap) or full 2-D (``f2d`` indexed ``[y, x]``).
* Per axis, with input length ``L``, ``K`` taps, factors ``up``/``down`` and pads ``p0``/``p1``::

      xu[q] = x[q / up] if q % up == 0 else 0          (zero insertion, length L·up)
      xp[m] = xu[m - p0]                               (pad / crop)
      y[o]  = Σ_k f[k] · xp[o·down + k],  o < (L·up + p0 + p1 − K) // down + 1
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import torch
import torch.autograd.forward_ad as _fwAD

from bandlimit._checks import check_bool, check_factor, check_int, check_real, short_repr
from bandlimit.ops._dispatch import forward_ad_active

Pair = tuple[int, int]
Pad4 = tuple[int, int, int, int]
Triple = tuple[int, int, int]  # (x, y, z) of a volume
Pad6 = tuple[int, int, int, int, int, int]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Fir:
    """A normalised FIR filter in correlation form (see module docstring)."""

    fx: torch.Tensor | None = None
    fy: torch.Tensor | None = None
    f2d: torch.Tensor | None = None

    @property
    def separable(self) -> bool:
        return self.f2d is None

    @property
    def size(self) -> Pair:
        """Number of taps ``(kw, kh)``."""
        if self.f2d is not None:
            return int(self.f2d.shape[1]), int(self.f2d.shape[0])
        assert self.fx is not None and self.fy is not None  # separable: both axes are set
        return int(self.fx.shape[0]), int(self.fy.shape[0])

    def reversed(self) -> Fir:
        """The filter of the transposed (adjoint) operation: every axis reversed."""
        if self.f2d is not None:
            return Fir(f2d=self.f2d.flip([0, 1]))
        assert self.fx is not None and self.fy is not None  # separable: both axes are set
        return Fir(fx=self.fx.flip([0]), fy=self.fy.flip([0]))


# ------------------------------------------------------------------------------------------
# Scalar arguments


# What to use instead, for a signal of the other kind.
_VOLUMES = "; for volumes [N, C, D, H, W] use the 3-D op (upfirdn3d, filtered_act3d)"
_OTHER_FORM = {
    ("[N, C, H, W]", 3): "; for one image [C, H, W] add the batch axis (x[None]); for 1-D "
                         "signals [N, C, L] use the 1-D op (upfirdn1d, filtered_act1d)",
    ("[N, C, L]", 2): "; for one signal [C, L] add the batch axis (x[None])",
    ("[N, C, L]", 4): "; for images [N, C, H, W] use the 2-D op (upfirdn2d, filtered_act)",
    ("[N, C, L]", 5): _VOLUMES,
    ("[N, C, H, W]", 5): _VOLUMES,
    ("[N, C, D, H, W]", 4): "; for one volume [C, D, H, W] add the batch axis (x[None]); for "
                            "images [N, C, H, W] use the 2-D op (upfirdn2d, filtered_act)",
    ("[N, C, D, H, W]", 3): "; for 1-D signals [N, C, L] use the 1-D op (upfirdn1d, "
                            "filtered_act1d), for one image [C, H, W] the 2-D op with its batch "
                            "axis (x[None])",
}


def check_tensor(
    x: object, name: str, ndims: tuple[int, ...] | None = None, what: str = ""
) -> torch.Tensor:
    """``x`` if it is a dense floating-point tensor (with ``ndims`` dimensions, shape ``what``,
    when given); else the TypeError / ValueError naming ``name``."""
    if not isinstance(x, torch.Tensor):
        shape = f" of shape {what}" if what else ""
        raise TypeError(f"{name} must be a torch.Tensor{shape}, got {type(x).__name__}")
    if ndims is not None and x.ndim not in ndims:
        raise ValueError(f"{name} must have shape {what}, got shape {tuple(x.shape)}"
                         + _OTHER_FORM.get((what, x.ndim), ""))
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if x.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {x.layout}")
    return x


def as_int(v: object, name: str, minimum: int | None = None) -> int:
    return check_int(name, v, minimum)


@overload
def as_float(
    v: object, name: str, *, nonnegative: bool = False, allow_none: Literal[False] = False
) -> float: ...
@overload
def as_float(
    v: object, name: str, *, nonnegative: bool = False, allow_none: Literal[True]
) -> float | None: ...
def as_float(
    v: object, name: str, *, nonnegative: bool = False, allow_none: bool = False
) -> float | None:
    if v is None and allow_none:
        return None
    return check_real(name, v, nonnegative=nonnegative)


def as_factors(v: object, name: str, ndim: int = 2) -> Pair:
    """An int or an ``(x, y)`` pair (2-D), or an int (1-D), as an ``(x, y)`` pair of ints in
    ``[1, 2**30]``."""
    if ndim == 1 or not isinstance(v, (tuple, list)):
        f = check_factor(name, v)
        return (f, 1) if ndim == 1 else (f, f)
    if len(v) != 2:
        raise ValueError(
            f"{name} must be an int or a pair (x, y), got {short_repr(v)} of length {len(v)}"
        )
    return check_factor(f"{name}[0]", v[0]), check_factor(f"{name}[1]", v[1])


MAX_PADDING = 2**100  # |padding|: one that does not cancel is refused far below (MAX_SIDE)


def _as_pad(v: object, name: str) -> int:
    """One padding value: an int in ``[-2**100, 2**100]``. Past a valid output's size a padding
    only cancels beyond the data (see :func:`reach_padding`); the bound keeps the sizes and
    messages computed from it short (Python cannot print an int of more than 4300 digits)."""
    p = check_int(name, v)
    if not -MAX_PADDING <= p <= MAX_PADDING:
        raise ValueError(f"{name} must be an int in [-2**100, 2**100], got {short_repr(v)}")
    return p


def as_padding(v: object, name: str = "padding", ndim: int = 2) -> Pad4:
    """Padding as ``(x0, x1, y0, y1)``, each an int in ``[-2**100, 2**100]``.

    2-D accepts an int, ``(px, py)`` or ``(x0, x1, y0, y1)``; 1-D accepts an int or ``(p0, p1)``.
    """
    if not isinstance(v, (tuple, list)):
        p = _as_pad(v, name)
        return (p, p, 0, 0) if ndim == 1 else (p, p, p, p)
    vals = [_as_pad(p, f"{name}[{i}]") for i, p in enumerate(v)]
    if ndim == 1:
        if len(vals) != 2:
            raise ValueError(f"{name} must be an int or (p0, p1) for 1-D ops, got {short_repr(v)}")
        return vals[0], vals[1], 0, 0
    if len(vals) == 2:
        return vals[0], vals[0], vals[1], vals[1]
    if len(vals) == 4:
        return vals[0], vals[1], vals[2], vals[3]
    raise ValueError(f"{name} must be an int, (px, py) or (x0, x1, y0, y1), got {short_repr(v)}")


def as_factors_3d(v: object, name: str) -> Triple:
    """An int or an ``(x, y, z)`` triple as an ``(x, y, z)`` triple of ints in ``[1, 2**30]``
    (x = W, y = H, z = D)."""
    if not isinstance(v, (tuple, list)):
        f = check_factor(name, v)
        return f, f, f
    if len(v) != 3:
        raise ValueError(
            f"{name} must be an int or a triple (x, y, z), got {short_repr(v)} of length {len(v)}"
        )
    return check_factor(f"{name}[0]", v[0]), check_factor(f"{name}[1]", v[1]), \
        check_factor(f"{name}[2]", v[2])


def as_padding_3d(v: object, name: str = "padding") -> Pad6:
    """Padding of a volume as ``(x0, x1, y0, y1, z0, z1)`` (x = W, y = H, z = D, the order of
    ``torch.nn.functional.pad``): an int, ``(px, py, pz)`` or the six values."""
    if not isinstance(v, (tuple, list)):
        p = _as_pad(v, name)
        return p, p, p, p, p, p
    vals = [_as_pad(p, f"{name}[{i}]") for i, p in enumerate(v)]
    if len(vals) == 3:
        return vals[0], vals[0], vals[1], vals[1], vals[2], vals[2]
    if len(vals) == 6:
        return vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
    raise ValueError(
        f"{name} must be an int, (px, py, pz) or (x0, x1, y0, y1, z0, z1), got {short_repr(v)}"
    )


def volume_out_size(
    dhw: Triple, taps: Triple, up: Triple, down: Triple, pad: Pad6, what: str,
    pad_name: str = "padding", source: str = "input",
) -> Triple:
    """``(D_out, H_out, W_out)`` of a separable 3-D upfirdn stage (``taps`` per axis, x first)
    on a ``dhw`` volume (``source``: what the message calls it); a ValueError naming the sizes
    and ``pad_name`` if it would be empty or past :data:`MAX_SIDE` per side."""
    d, h, w = dhw
    out = tuple(
        out_length(n, up[k], down[k], pad[2 * k], pad[2 * k + 1], taps[k])
        for k, n in enumerate((w, h, d))
    )[::-1]
    if all(isinstance(n, int) for n in out) and (
        min(out) < 1 or max(out) > MAX_SIDE or out[1] * out[2] > MAX_PLANE
    ):
        sizes = "x".join(map(str, out))
        limit = "expected at least 1 per side" if min(out) < 1 else (
            f"the limit is {MAX_SIDE} samples per side and {MAX_PLANE} per H x W plane")
        factors = "" if up == (1, 1, 1) else f"up (x, y, z) = {up}, "
        factors += "" if down == (1, 1, 1) else f"down (x, y, z) = {down}, "
        kernel = f"{taps[0]} taps" if len(set(taps)) == 1 else f"(x, y, z) = {taps} taps"
        raise ValueError(
            f"{what}: output size {sizes} (D x H x W) for the {source} {d}x{h}x{w}, filter "
            f"{kernel}, {factors}{pad_name}={pad} (x0, x1, y0, y1, z0, z1); {limit}"
        )
    return out  # type: ignore[return-value]


def as_flips(v: object, name: str = "flip_filter") -> tuple[bool, bool]:
    """``flip_filter`` of an op with an up and a down filter: one bool for both, or a pair
    ``(fu, fd)`` of bools, one per filter."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be a bool or a pair (fu, fd) of bools, got {v!r}")
        return check_bool(f"{name}[0]", v[0]), check_bool(f"{name}[1]", v[1])
    flip = check_bool(name, v)
    return flip, flip


def check_fits_dtype(v: float | None, name: str, dtype: torch.dtype, hint: str = "") -> None:
    """``|v|`` at most the largest finite value of ``dtype`` (the data's), where the op applies
    ``v`` in that dtype ('ref' converts it, and fails past the range)."""
    if v is not None and abs(v) > torch.finfo(dtype).max:
        raise ValueError(
            f"{name} must be at most the largest finite {dtype} value "
            f"({torch.finfo(dtype).max:g}){hint}, got {v!r}"
        )


# ------------------------------------------------------------------------------------------
# Filters


@overload
def check_filter(
    f: torch.Tensor, name: str, ndims: tuple[int, ...] = ..., x: torch.Tensor | None = ...
) -> torch.Tensor: ...
@overload
def check_filter(
    f: object, name: str, ndims: tuple[int, ...] = ..., x: torch.Tensor | None = ...
) -> torch.Tensor | None: ...
def check_filter(
    f: object, name: str, ndims: tuple[int, ...] = (1, 2), x: torch.Tensor | None = None
) -> torch.Tensor | None:
    """A filter tensor (any device: the op moves it to ``x``'s), or None."""
    if f is None:
        return None
    if not isinstance(f, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(f).__name__}")
    if f.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {f.layout}")
    if f.is_meta and x is not None and not x.is_meta:  # (shapes only: no taps to move)
        raise ValueError(f"{name} must hold its taps, got a tensor on the meta device")
    if f.ndim not in ndims:
        shapes = " or ".join({1: "[taps]", 2: "[h, w]"}[d] for d in ndims)
        raise ValueError(f"{name} must have shape {shapes}, got shape {tuple(f.shape)}")
    if not f.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {f.dtype}")
    if f.numel() == 0:
        raise ValueError(f"{name} must have at least one tap, got shape {tuple(f.shape)}")
    return f


def _tracing() -> bool:
    """Whether a tracer (torch.compile, make_fx/export, a fake-tensor or other dispatch mode,
    torch.jit.trace) sees the ops: cached real tensors must not enter its graph (jit.trace's check
    compares two traces, and a cache made in the first would be missing from the second)."""
    return (torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack() > 0
            or torch.jit.is_tracing())  # fmt: skip


# tensors, or a Fir of them: each kind of key has its own kind of value (see the makers)
_CONSTANTS: dict[tuple, Any] = {}


def cached_constant(key: tuple, device: torch.device, make: Callable[[], _T]) -> _T:
    """``make()``, tensors on ``device`` that depend only on ``key``, made once per
    ``(key, device)`` outside tracing (each op call needs a few such: a launch each on a GPU)
    and shared; no op writes to it. While a tracer, a torch.func transform or a CUDA graph
    capture sees the ops, ``make()`` runs each time (a tensor made while a CUDA graph captures
    lives in the graph's pool, filled only when the graph replays)."""
    device = torch.device(device)
    if (
        _tracing()
        # made under a torch.func transform it would be the transform's wrapper, which has no
        # storage once the transform has returned
        or torch._C._are_functorch_transforms_active()
        or (device.type == "cuda" and torch.cuda.is_current_stream_capturing())
    ):
        return make()
    key = (*key, device)
    t = _CONSTANTS.get(key)
    if t is None:
        if len(_CONSTANTS) >= 256:  # many distinct gains, geometries or filters: stay bounded
            _CONSTANTS.clear()
        with torch.inference_mode(False):  # usable outside inference mode too
            t = make()
        if device.type == "cuda":  # filled before a kernel on another stream reads it
            torch.cuda.current_stream(device).synchronize()
        _CONSTANTS[key] = t
    return t


def constant_tap(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[value]``: the one-tap filter of an identity axis (shared, see :func:`cached_constant`)."""
    key = ("tap", *_gain_key(value), dtype)
    return cached_constant(key, device, lambda: torch.full((1,), value, dtype=dtype, device=device))


def _scaled(f: torch.Tensor, g: float, fresh: bool, dtype: torch.dtype, device) -> torch.Tensor:
    """``f · g`` cast to ``dtype`` on ``device``, the gain applied in the filter's own precision
    before the cast (the official order). ``fresh``: ``f`` is already a copy (a flip), so a gain
    of 1 needs no multiplication; the caller's own filter is always copied, so that changing it
    in place later cannot reach a backward pass that kept it."""
    if g != 1.0 or not fresh:
        f = f * g
    return f.to(dtype=dtype, device=device).contiguous()


def learns(f: torch.Tensor | None) -> bool:
    """Whether the filter ``f`` is differentiated now: it requires grad under grad mode, or
    carries a forward-mode tangent. The ops then keep it on the graph (the fused kernels, which
    take filters as constants, give way to the reference where they have no filter gradient)."""
    if f is None:
        return False
    if f.requires_grad and torch.is_grad_enabled():
        return True
    return forward_ad_active() and _fwAD.unpack_dual(f).tangent is not None


def _tracked(f: torch.Tensor, learning: bool) -> torch.Tensor:
    """``f`` itself where a gradient (``learning``, decided by the caller: a cache entry is made
    under ``inference_mode(False)``, which turns grad mode back on) or a torch.func transform
    tracks it (detaching a transform's wrapper would drop what it tracks), otherwise detached."""
    return f if learning or torch._C._are_functorch_transforms_active() else f.detach()


def _per_filter(f: torch.Tensor, device: torch.device, key: tuple, build, learning: bool) -> Fir:
    """``build()``, the normalised :class:`Fir` of the user's filter ``f`` and ``key`` on
    ``device``, made once per CPU filter's taps (:func:`cached_constant`): normalising (flip,
    gain, cast: 4-8 tensor ops) cost a fifth of a small call, and layers pass the same filter to
    every call (often as a fresh view, cast or flip of a buffer). Keyed by the taps themselves,
    their bytes read from memory (a numpy view of the user's tensor would make its storage
    unresizable), so a change of any kind makes a new one. CUDA filters are normalised every
    call: reading their taps costs a synchronisation, and nothing cheaper sees every change
    (writes through ``.data``, DLPack or the storage leave the version counter alone). Nothing
    writes to the cached taps, so a backward pass never sees a filter changed after its
    forward."""
    if (
        _tracing()  # first: Dynamo folds it, and traces none of the rest
        or learning  # (a fresh Fir on f's graph each call)
        or type(f) not in (torch.Tensor, torch.nn.Parameter)  # (subclasses: fake, functional)
        or not f.is_cpu
        or f.numel() > 4096
        or torch._C._are_functorch_transforms_active()
    ):
        return build()
    g = f if f.is_contiguous() else f.contiguous()
    taps = ctypes.string_at(g.data_ptr(), g.numel() * g.element_size())  # (no numpy view)
    key = ("fir", f.dtype, f.shape, g.is_neg(), taps, *key)
    if getattr(device, "type", None) == "cpu":  # the common case, without cached_constant's
        hit = _CONSTANTS.get((*key, device))  # checks (a CUDA one must see graph captures)
        if hit is not None:
            return hit
    return cached_constant(key, device, build)


def make_fir(
    f: torch.Tensor | None,
    *,
    flip_filter: bool,
    gain: tuple[float, float],
    dtype: torch.dtype,
    device: torch.device,
    name: str = "f",
) -> Fir:
    """Normalise a user filter (true-convolution form unless ``flip_filter``) to a :class:`Fir`.

    ``gain = (gx, gy)`` multiplies the x and y passes of a separable filter; a full 2-D filter is
    multiplied by ``gx·gy`` once. ``None`` becomes a one-tap identity carrying the gain. A CPU
    filter whose taps (or taps × gain in ``dtype``) are not finite is refused, naming ``name``.
    """
    gx, gy = gain
    if f is None:
        return Fir(fx=constant_tap(gx, dtype, device), fy=constant_tap(gy, dtype, device))

    learning = learns(f)

    def build() -> Fir:
        g = _tracked(f, learning)
        if not flip_filter:  # true convolution == correlation with the reversed filter
            g = g.flip(list(range(g.ndim)))
        if g.ndim == 1:
            fx = _scaled(g, gx, not flip_filter, dtype, device)
            fy = fx if gy == gx else _scaled(g, gy, not flip_filter, dtype, device)
            return _finite_taps(Fir(fx=fx, fy=fy), f, name, max(abs(gx), abs(gy)))
        f2d = _scaled(g, gx * gy, not flip_filter, dtype, device)
        return _finite_taps(Fir(f2d=f2d), f, name, abs(gx * gy))

    key = ("2d", flip_filter, _gain_key(gx), _gain_key(gy), dtype)
    return _per_filter(f, device, key, build, learning)


def make_fir_1d(
    f: torch.Tensor | None,
    *,
    flip_filter: bool,
    gain: float,
    dtype: torch.dtype,
    device: torch.device,
    name: str = "f",
) -> Fir:
    """A 1-D filter along the last axis, as a separable :class:`Fir` with an identity y axis."""
    if f is None:
        return Fir(fx=constant_tap(gain, dtype, device), fy=constant_tap(1.0, dtype, device))

    learning = learns(f)

    def build() -> Fir:
        g = _tracked(f, learning)
        if not flip_filter:
            g = g.flip([0])
        fx = _scaled(g, gain, not flip_filter, dtype, device)
        return _finite_taps(Fir(fx=fx, fy=constant_tap(1.0, dtype, device)), f, name, abs(gain))

    return _per_filter(f, device, ("1d", flip_filter, _gain_key(gain), dtype), build, learning)


def _finite_taps(fir: Fir, f: torch.Tensor, name: str, scale: float) -> Fir:
    """``fir``, checked to hold finite taps where that costs no synchronisation: a CPU filter
    (normalised once per distinct filter, :func:`_per_filter`), outside tracing. NaN or infinite
    taps would not fail: they spread NaN over the output, in places that differ per backend."""
    if not f.is_cpu or _tracing() or torch._C._are_functorch_transforms_active():
        return fir
    if not bool(torch.isfinite(f).all()):
        raise ValueError(f"{name} must have finite taps, got {short_repr(f)}")
    made = [t for t in (fir.fx, fir.fy, fir.f2d) if t is not None and t.is_cpu]
    if not all(bool(torch.isfinite(t).all()) for t in made):
        # The gain multiplies the taps in the filter's own dtype, before the cast to the
        # compute dtype (StyleGAN3's order): say which of the two overflowed.
        dtype = made[0].dtype
        if f.dtype != dtype and float(f.detach().abs().max()) * scale > torch.finfo(f.dtype).max:
            dtype = f.dtype
            hint = f" (the gain is applied in the filter's dtype: pass a {made[0].dtype} filter)"
        else:
            hint = ""
        raise ValueError(
            f"{name}'s taps scaled by the op's gain (×{scale:g}) overflow {dtype} (largest "
            f"finite value {torch.finfo(dtype).max:.3g}){hint}: got {short_repr(f)}"
        )
    return fir


def _gain_key(g: float) -> tuple:
    return math.copysign(1.0, g), g  # -0.0 == 0.0 as a key


# ------------------------------------------------------------------------------------------
# Shapes


def out_length(length: int, up: int, down: int, p0: int, p1: int, taps: int) -> int:
    """Output length of one upfirdn axis (may be ≤ 0 for invalid arguments)."""
    return (length * up + p0 + p1 - taps) // down + 1


def stage_out_size(
    hw: Pair, fir: Fir, up: Sequence[int], down: Sequence[int], pad: Sequence[int]
) -> Pair:
    """``(H_out, W_out)`` of an upfirdn stage on an ``hw`` input (unchecked: may be ≤ 0).
    ``up``/``down``/``pad`` as :data:`Pair`/:data:`Pad4`, or the lists a custom op receives."""
    kw, kh = fir.size
    return (
        out_length(hw[0], up[1], down[1], pad[2], pad[3], kh),
        out_length(hw[1], up[0], down[0], pad[0], pad[1], kw),
    )


def filtered_sizes(
    hw: Pair,
    fu: Fir,
    fd: Fir,
    up: Sequence[int],
    down: Sequence[int],
    pad: Sequence[int],
    dpad: Sequence[int] = (0, 0, 0, 0),
) -> tuple[int, int, int, int]:
    """``(hu, wu, ho, wo)`` of a filtered activation: the up-sampled (pre-activation) plane and
    the output plane (unchecked; the factors and paddings as in :func:`stage_out_size`)."""
    hu, wu = stage_out_size(hw, fu, up, (1, 1), pad)
    return (hu, wu, *stage_out_size((hu, wu), fd, (1, 1), down, dpad))


MAX_SIDE = 2**40  # samples per side of any plane an op computes (an error message, not a tuning)
MAX_PLANE = 2**40  # ... and per plane


def reach_padding(hw: Pair, up: Pair, pad: Pad4) -> Pad4:
    """The same zero padding of an ``hw`` input up-sampled by ``up``, with an axis whose padding
    and cropping cancel beyond the data (say ``(2**40, -2**40)``) cut to the signal's length:
    every output sample reads only zeros there, as before, and a backend that pads explicitly
    does not allocate the excess. Other paddings are returned as they are."""
    out = []
    for length, p0, p1 in ((hw[1] * up[0], pad[0], pad[1]), (hw[0] * up[1], pad[2], pad[3])):
        total = length + p0 + p1  # the padded signal's length
        if p0 >= total:  # the data starts past the end
            p0, p1 = total, -length
        elif p0 <= -length:  # the data ends before the start
            p0, p1 = -length, total
        out += [p0, p1]
    return out[0], out[1], out[2], out[3]


def upfirdn_out_size(
    hw: Pair, fir: Fir, up: Pair, down: Pair, pad: Pad4, what: str, ndim: int = 2
) -> Pair:
    """``(H_out, W_out)`` of an upfirdn stage; raises a ValueError naming the sizes if empty
    (``ndim=1``: a 1-D op's stage on ``[N, C, 1, L]``, named in the caller's 1-D terms)."""
    h, w = hw
    kw, kh = fir.size
    ho, wo = stage_out_size(hw, fir, up, down, pad)
    # The caps only catch a factor or padding far too large before anything is allocated. A
    # symbolic size (torch.export with a dynamic dimension) skips them: comparing it would
    # bound that dimension, and an export whose Dim has no max would fail.
    if (isinstance(ho, int) and ho > MAX_SIDE) or (isinstance(wo, int) and wo > MAX_SIDE):
        if ndim == 1:
            raise ValueError(
                f"{what}: output length {wo} would exceed {MAX_SIDE} samples for input length "
                f"{w}, up={up[0]}, down={down[0]}, padding={pad[:2]}"
            )
        raise ValueError(
            f"{what}: output size {ho}x{wo} (H x W) would exceed {MAX_SIDE} samples per side "
            f"for input {h}x{w}, up={up}, down={down}, padding={pad} (x0, x1, y0, y1)"
        )
    if isinstance(ho, int) and isinstance(wo, int) and ho * wo > MAX_PLANE and min(ho, wo) >= 1:
        raise ValueError(
            f"{what}: output size {ho}x{wo} (H x W) would exceed {MAX_PLANE} samples per plane "
            f"for input {h}x{w}, up={up}, down={down}, padding={pad} (x0, x1, y0, y1)"
        )
    if ndim == 1 and wo < 1:
        raise ValueError(
            f"{what}: output length would be {wo} for input length {w}, filter {kw} taps, "
            f"up={up[0]}, down={down[0]}, padding={pad[:2]}; expected at least 1"
        )
    if wo < 1 or ho < 1:
        raise ValueError(
            f"{what}: output size would be {ho}x{wo} (H x W) for input {h}x{w}, filter {kh}x{kw} "
            f"taps, up={up}, down={down}, padding={pad} (x0, x1, y0, y1); expected at least 1x1"
        )
    return ho, wo


def transpose_axis(length: int, up: int, down: int, p0: int, p1: int, taps: int):
    """``(up', down', p0', p1')`` of the adjoint of one upfirdn axis (filter reversed).

    The adjoint maps an output-shaped gradient back to the input length ``length``.
    """
    lo = out_length(length, up, down, p0, p1, taps)
    return down, up, taps - 1 - p0, length * up - lo * down + p0 - up + 1


def transpose_geometry(hw: Pair, fir: Fir, up: Pair, down: Pair, pad: Pad4):
    """``(up', down', pad')`` of the adjoint of a 2-D upfirdn stage on an ``hw`` input, whose
    filter is ``fir`` reversed along every axis."""
    h, w = hw
    kw, kh = fir.size
    uxt, dxt, x0, x1 = transpose_axis(w, up[0], down[0], pad[0], pad[1], kw)
    uyt, dyt, y0, y1 = transpose_axis(h, up[1], down[1], pad[2], pad[3], kh)
    return (uxt, uyt), (dxt, dyt), (x0, x1, y0, y1)


def transpose_stage(hw: Pair, fir: Fir, up: Pair, down: Pair, pad: Pad4):
    """The adjoint of a 2-D upfirdn stage on an ``hw`` input: ``(fir', up', down', pad')``."""
    return (fir.reversed(), *transpose_geometry(hw, fir, up, down, pad))


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` is a 4-D channels_last tensor (and not also contiguous: a 1×1 image or one
    channel is both, and counts as NCHW)."""
    return (
        x.ndim == 4
        and not x.is_contiguous()
        # (vmap cannot answer the channels_last query: a vmapped sample has no layout of its own)
        and not torch._C._are_functorch_transforms_active()
        and x.is_contiguous(memory_format=torch.channels_last)
    )


def keep_memory_format(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``y`` in ``x``'s memory format, dense: channels_last (channels_last_3d) in, the same
    out, as torch's own ops do (the fused kernels write NCHW), and contiguous otherwise,
    whatever the backend ('ref' ends in crops and strided slices, views that ``y.view(...)``
    would refuse, and keeps a transposed input's layout through its convolutions)."""
    if is_channels_last(x):
        return y.contiguous(memory_format=torch.channels_last)
    if (x.ndim == 5 and y.ndim == 5 and not x.is_contiguous()
            and not torch._C._are_functorch_transforms_active()
            and x.is_contiguous(memory_format=torch.channels_last_3d)):  # fmt: skip
        return y.contiguous(memory_format=torch.channels_last_3d)
    return y.contiguous()


def check_bias(
    b: object, channels: int, device: torch.device, name: str = "b"
) -> torch.Tensor | None:
    """A per-channel bias ``[channels]`` on ``device`` (x's), or None."""
    if b is None:
        return None
    if not isinstance(b, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape [{channels}] or None, got {type(b).__name__}"
        )
    if b.ndim != 1 or b.shape[0] != channels:
        raise ValueError(
            f"{name} must have shape [{channels}] (one value per channel), got {tuple(b.shape)}"
        )
    if not b.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {b.dtype}")
    if b.device != device:  # a meta bias would make a custom op return uninitialised memory
        raise ValueError(f"{name} must be on x's device {device}, got {b.device}")
    return b
