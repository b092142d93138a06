"""A naive float64 NumPy oracle for ``bandlimit.ops``, written only for the tests.

Everything here follows the textual definitions of the ops step by step (explicit zero insertion,
explicit padding/cropping by index, explicit loops over the filter taps, explicit decimation) and
shares no code with the library; torch is not used. It is deliberately slow and simple.

Conventions (one axis, input length ``L``, filter ``h`` with ``K`` taps)::

    xu[q] = x[q / up] if q % up == 0 else 0              q < L·up        (zero insertion)
    xp[m] = xu[m − p0] if 0 ≤ m − p0 < L·up else 0       m < L·up+p0+p1  (pad / crop)
    z[n]  = Σ_j h[j] · xp[n + K − 1 − j]                 n ≤ len(xp) − K (valid true convolution)
    y[o]  = z[o · down]                                  o·down < len(z) (decimation)

``flip_filter=True`` turns the convolution into a correlation, i.e. the filter is reversed before
the true convolution. The output length is *not* taken from a formula: it falls out of the steps.

Gradients are given as vector-Jacobian products made of the transposes of the very same steps
(decimation ↔ zero insertion, crop ↔ pad, convolution ↔ scatter), so they can be checked with the
dot-product identity ``<A x, dy> == <x, Aᵀ dy>`` independently of any autograd.

Filters keep their own dtype while the gain is multiplied in and are cast to float64 afterwards,
which mirrors the official order of operations (a float32 filter scaled in float32).
"""

from __future__ import annotations

import math

import numpy as np

# ---------------------------------------------------------------------------------------------
# Argument helpers


def _pair(v) -> tuple[int, int]:
    """int or (x, y) → (x, y)."""
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _pad4(v) -> tuple[int, int, int, int]:
    """int, (px, py) or (x0, x1, y0, y1) → (x0, x1, y0, y1)."""
    if isinstance(v, (tuple, list)):
        if len(v) == 2:
            return int(v[0]), int(v[0]), int(v[1]), int(v[1])
        return int(v[0]), int(v[1]), int(v[2]), int(v[3])
    return int(v), int(v), int(v), int(v)


def _pad2(v) -> tuple[int, int]:
    """int or (p0, p1) → (p0, p1)."""
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _scaled(f: np.ndarray, g: float) -> np.ndarray:
    """``f · g`` computed in the filter's own precision, then cast to float64."""
    f = np.asarray(f)
    if not np.issubdtype(f.dtype, np.floating):
        f = f.astype(np.float64)
    return (f * np.asarray(g, dtype=f.dtype)).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# The four steps along the LAST axis, and their transposes


def zero_insert(x: np.ndarray, up: int) -> np.ndarray:
    """``up − 1`` zeros after every sample: length ``L·up``."""
    L = x.shape[-1]
    out = np.zeros((*x.shape[:-1], L * up))
    for i in range(L):
        out[..., i * up] = x[..., i]
    return out


def zero_insert_T(d: np.ndarray, up: int, L: int) -> np.ndarray:
    """Transpose of :func:`zero_insert`: pick samples ``0, up, 2·up, …`` (L of them)."""
    out = np.zeros((*d.shape[:-1], L))
    for i in range(L):
        out[..., i] = d[..., i * up]
    return out


def pad_crop(x: np.ndarray, p0: int, p1: int) -> np.ndarray:
    """``xp[m] = x[m − p0]`` where defined, else 0; length ``L + p0 + p1`` (negative = crop)."""
    L = x.shape[-1]
    Lp = L + p0 + p1
    if Lp < 0:
        raise ValueError(f"padding ({p0}, {p1}) crops more than the {L} samples")
    out = np.zeros((*x.shape[:-1], Lp))
    for m in range(Lp):
        q = m - p0
        if 0 <= q < L:
            out[..., m] = x[..., q]
    return out


def pad_crop_T(d: np.ndarray, p0: int, L: int) -> np.ndarray:
    """Transpose of :func:`pad_crop` back to length ``L``."""
    Lp = d.shape[-1]
    out = np.zeros((*d.shape[:-1], L))
    for q in range(L):
        m = q + p0
        if 0 <= m < Lp:
            out[..., q] = d[..., m]
    return out


def conv_valid(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Valid TRUE convolution along the last axis: ``z[n] = Σ_j h[j] · x[n + K − 1 − j]``."""
    K = h.shape[0]
    Lo = x.shape[-1] - K + 1
    if Lo < 1:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than the {K}-tap filter")
    out = np.zeros((*x.shape[:-1], Lo))
    for j in range(K):
        s = K - 1 - j
        out += h[j] * x[..., s : s + Lo]
    return out


def conv_valid_T(d: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Transpose of :func:`conv_valid`: scatter ``h[j]·d[n]`` to ``n + K − 1 − j``."""
    K = h.shape[0]
    Lo = d.shape[-1]
    out = np.zeros((*d.shape[:-1], Lo + K - 1))
    for j in range(K):
        s = K - 1 - j
        out[..., s : s + Lo] += h[j] * d
    return out


def conv_valid_2d(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Valid TRUE 2-D convolution over the last two axes (``h`` indexed ``[y, x]``)."""
    Kh, Kw = h.shape
    Ho, Wo = x.shape[-2] - Kh + 1, x.shape[-1] - Kw + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"image {x.shape[-2:]} is smaller than the {h.shape} filter")
    out = np.zeros((*x.shape[:-2], Ho, Wo))
    for a in range(Kh):
        for b in range(Kw):
            sy, sx = Kh - 1 - a, Kw - 1 - b
            out += h[a, b] * x[..., sy : sy + Ho, sx : sx + Wo]
    return out


def conv_valid_2d_T(d: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Transpose of :func:`conv_valid_2d`."""
    Kh, Kw = h.shape
    Ho, Wo = d.shape[-2:]
    out = np.zeros((*d.shape[:-2], Ho + Kh - 1, Wo + Kw - 1))
    for a in range(Kh):
        for b in range(Kw):
            sy, sx = Kh - 1 - a, Kw - 1 - b
            out[..., sy : sy + Ho, sx : sx + Wo] += h[a, b] * d
    return out


def decimate(x: np.ndarray, down: int) -> np.ndarray:
    """Keep samples ``0, down, 2·down, …``."""
    idx = list(range(0, x.shape[-1], down))
    return x[..., idx]


def decimate_T(d: np.ndarray, down: int, L: int) -> np.ndarray:
    """Transpose of :func:`decimate` back to length ``L``."""
    out = np.zeros((*d.shape[:-1], L))
    for o in range(d.shape[-1]):
        out[..., o * down] = d[..., o]
    return out


def _on_axis(fn, x: np.ndarray, axis: int, *args):
    """Apply a last-axis function along ``axis``."""
    return np.moveaxis(fn(np.moveaxis(x, axis, -1), *args), -1, axis)


# ---------------------------------------------------------------------------------------------
# Filters


def prepare_filter_2d(f, gain: float, flip_filter: bool):
    """``('sep', h)`` or ``('full', h2d)`` in TRUE-convolution form, gain multiplied in.

    ``gain`` multiplies a full filter once and each pass of a separable filter by ``√gain``;
    ``None`` is a 1×1 filter of value ``gain``.
    """
    if f is None:
        return "full", np.array([[float(gain)]])
    f = np.asarray(f)
    if f.ndim == 1:
        h = _scaled(f, gain ** (1 / 2))
        return "sep", (h[::-1].copy() if flip_filter else h)
    h = _scaled(f, gain)
    return "full", (h[::-1, ::-1].copy() if flip_filter else h)


# ---------------------------------------------------------------------------------------------
# upfirdn2d / upfirdn1d


def _upfirdn2d_plan(x_shape, f, up, down, padding, flip_filter, gain):
    ux, uy = _pair(up)
    dx, dy = _pair(down)
    x0, x1, y0, y1 = _pad4(padding)
    kind, h = prepare_filter_2d(f, gain, flip_filter)
    return dict(ux=ux, uy=uy, dx=dx, dy=dy, x0=x0, x1=x1, y0=y0, y1=y1, kind=kind, h=h)


def _filter_2d(xp: np.ndarray, kind: str, h: np.ndarray) -> np.ndarray:
    if kind == "sep":  # along x (W) first, then along y (H)
        return _on_axis(conv_valid, _on_axis(conv_valid, xp, -1, h), -2, h)
    return conv_valid_2d(xp, h)


def _filter_2d_T(d: np.ndarray, kind: str, h: np.ndarray) -> np.ndarray:
    if kind == "sep":
        return _on_axis(conv_valid_T, _on_axis(conv_valid_T, d, -2, h), -1, h)
    return conv_valid_2d_T(d, h)


def upfirdn2d(x, f=None, up=1, down=1, padding=0, flip_filter=False, gain=1.0) -> np.ndarray:
    """Zero-insert, pad/crop, valid true convolution, decimate — per axis, on ``[..., H, W]``."""
    p = _upfirdn2d_plan(np.shape(x), f, up, down, padding, flip_filter, gain)
    v = np.asarray(x, dtype=np.float64)
    v = _on_axis(zero_insert, _on_axis(zero_insert, v, -1, p["ux"]), -2, p["uy"])
    v = _on_axis(pad_crop, _on_axis(pad_crop, v, -1, p["x0"], p["x1"]), -2, p["y0"], p["y1"])
    v = _filter_2d(v, p["kind"], p["h"])
    return _on_axis(decimate, _on_axis(decimate, v, -1, p["dx"]), -2, p["dy"])


def upfirdn2d_vjp(x_shape, dy, f=None, up=1, down=1, padding=0, flip_filter=False, gain=1.0):
    """``Aᵀ dy`` for the linear map ``A = upfirdn2d(·, f, …)`` on inputs of shape ``x_shape``."""
    p = _upfirdn2d_plan(x_shape, f, up, down, padding, flip_filter, gain)
    H, W = x_shape[-2:]
    Hp, Wp = H * p["uy"] + p["y0"] + p["y1"], W * p["ux"] + p["x0"] + p["x1"]
    Kh, Kw = (p["h"].shape[0],) * 2 if p["kind"] == "sep" else p["h"].shape
    Hz, Wz = Hp - Kh + 1, Wp - Kw + 1
    d = np.asarray(dy, dtype=np.float64)
    d = _on_axis(decimate_T, _on_axis(decimate_T, d, -2, p["dy"], Hz), -1, p["dx"], Wz)
    d = _filter_2d_T(d, p["kind"], p["h"])
    d = _on_axis(pad_crop_T, _on_axis(pad_crop_T, d, -2, p["y0"], H * p["uy"]), -1, p["x0"],
                 W * p["ux"])
    return _on_axis(zero_insert_T, _on_axis(zero_insert_T, d, -2, p["uy"], H), -1, p["ux"], W)


def _prepare_filter_1d(f, gain: float, flip_filter: bool) -> np.ndarray:
    if f is None:
        return np.array([float(gain)])
    h = _scaled(np.asarray(f), gain)
    return h[::-1].copy() if flip_filter else h


def upfirdn1d(x, f=None, up=1, down=1, padding=0, flip_filter=False, gain=1.0) -> np.ndarray:
    """The same steps along the last axis of ``[..., L]``; ``gain`` multiplies the filter once."""
    p0, p1 = _pad2(padding)
    h = _prepare_filter_1d(f, gain, flip_filter)
    v = zero_insert(np.asarray(x, dtype=np.float64), int(up))
    v = conv_valid(pad_crop(v, p0, p1), h)
    return decimate(v, int(down))


def upfirdn1d_vjp(x_shape, dy, f=None, up=1, down=1, padding=0, flip_filter=False, gain=1.0):
    """``Aᵀ dy`` for ``A = upfirdn1d(·, f, …)``."""
    p0, p1 = _pad2(padding)
    h = _prepare_filter_1d(f, gain, flip_filter)
    L = x_shape[-1]
    Lz = L * int(up) + p0 + p1 - h.shape[0] + 1
    d = decimate_T(np.asarray(dy, dtype=np.float64), int(down), Lz)
    d = pad_crop_T(conv_valid_T(d, h), p0, L * int(up))
    return zero_insert_T(d, int(up), L)


# ---------------------------------------------------------------------------------------------
# Convenience wrappers, by their definitions


def filter_size(f) -> tuple[int, int]:
    """``(fw, fh)``: None → 1×1, ``[taps]`` → taps×taps, ``[h, w]`` → w×h."""
    if f is None:
        return 1, 1
    f = np.asarray(f)
    if f.ndim == 1:
        return f.shape[0], f.shape[0]
    return f.shape[1], f.shape[0]


def setup_filter(f, normalize=True, flip_filter=False, gain=1.0, separable=None) -> np.ndarray:
    """StyleGAN filter preparation, in float32 (see the ops contract)."""
    f = np.asarray(1.0 if f is None else f, dtype=np.float32)
    if f.ndim == 0:
        f = f.reshape(1)
    if separable is None:
        separable = f.ndim == 1 and f.size >= 8
    if f.ndim == 1 and not separable:
        f = np.outer(f, f).astype(np.float32)
    if normalize:
        f = (f / f.sum(dtype=np.float32)).astype(np.float32)
    if flip_filter:
        f = np.flip(f, axis=tuple(range(f.ndim))).copy()
    return (f * np.float32(gain ** (f.ndim / 2))).astype(np.float32)


def filter2d(x, f, padding=0, flip_filter=False, gain=1.0) -> np.ndarray:
    fw, fh = filter_size(f)
    x0, x1, y0, y1 = _pad4(padding)
    pad = (x0 + fw // 2, x1 + (fw - 1) // 2, y0 + fh // 2, y1 + (fh - 1) // 2)
    return upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, gain=gain)


def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1.0) -> np.ndarray:
    ux, uy = _pair(up)
    fw, fh = filter_size(f)
    x0, x1, y0, y1 = _pad4(padding)
    pad = (x0 + (fw + ux - 1) // 2, x1 + (fw - ux) // 2, y0 + (fh + uy - 1) // 2,
           y1 + (fh - uy) // 2)
    return upfirdn2d(x, f, up=(ux, uy), padding=pad, flip_filter=flip_filter, gain=gain * ux * uy)


def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1.0) -> np.ndarray:
    dx, dy = _pair(down)
    fw, fh = filter_size(f)
    x0, x1, y0, y1 = _pad4(padding)
    pad = (x0 + (fw - dx + 1) // 2, x1 + (fw - dx) // 2, y0 + (fh - dy + 1) // 2,
           y1 + (fh - dy) // 2)
    return upfirdn2d(x, f, down=(dx, dy), padding=pad, flip_filter=flip_filter, gain=gain)


def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True,
                    flip_filter=False) -> np.ndarray:
    """StyleGAN2's conv2d_resample by its definition: pad once, at the start, by ``padding``
    plus the aligning pads of the up- and the down-sampling; up-sample (zero insertion, ``f``
    at gain up², only if up > 1); a valid grouped convolution, explicit loops over output and
    input channels; filter with ``f`` and decimate (only if down > 1)."""
    fw, fh = filter_size(f)
    x0, x1, y0, y1 = _pad4(padding)
    if up > 1:
        x0, x1 = x0 + (fw + up - 1) // 2, x1 + (fw - up) // 2
        y0, y1 = y0 + (fh + up - 1) // 2, y1 + (fh - up) // 2
    if down > 1:
        x0, x1 = x0 + (fw - down + 1) // 2, x1 + (fw - down) // 2
        y0, y1 = y0 + (fh - down + 1) // 2, y1 + (fh - down) // 2
    a = upfirdn2d(x, f if up > 1 else None, up=up, padding=(x0, x1, y0, y1), gain=up * up,
                  flip_filter=flip_filter)
    w = np.asarray(w, dtype=np.float64)
    c_out, c_in_g = w.shape[:2]
    per_group = c_out // groups
    b = None
    for o in range(c_out):
        g = o // per_group
        for i in range(c_in_g):
            # correlation = true convolution with the kernel reversed
            h = w[o, i, ::-1, ::-1] if flip_weight else w[o, i]
            term = conv_valid_2d(a[:, g * c_in_g + i], h)
            if b is None:
                b = np.zeros((a.shape[0], c_out, *term.shape[1:]))
            b[:, o] += term
    assert b is not None
    return upfirdn2d(b, f, down=down, flip_filter=flip_filter) if down > 1 else b


# ---------------------------------------------------------------------------------------------
# bias_act

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
SQRT2 = math.sqrt(2.0)


def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def _act_table(alpha: float):
    """name → (f(u), f'(u), f''(u), default gain).

    The derivative exactly at a kink (u == 0) is an arbitrary one-sided choice; tests avoid it.
    """
    s = _sigmoid

    def zeros(u):
        return np.zeros_like(u)

    return {
        "linear": (lambda u: u, np.ones_like, zeros, 1.0),
        "relu": (lambda u: np.where(u > 0, u, 0.0), lambda u: np.where(u > 0, 1.0, 0.0), zeros,
                 SQRT2),
        "lrelu": (lambda u: np.where(u < 0, alpha * u, u), lambda u: np.where(u < 0, alpha, 1.0),
                  zeros, SQRT2),
        "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2,
                 lambda u: -2 * np.tanh(u) * (1 - np.tanh(u) ** 2), 1.0),
        "sigmoid": (s, lambda u: s(u) * (1 - s(u)),
                    lambda u: s(u) * (1 - s(u)) * (1 - 2 * s(u)), 1.0),
        "elu": (lambda u: np.where(u > 0, u, np.expm1(np.minimum(u, 0))),
                lambda u: np.where(u > 0, 1.0, np.exp(np.minimum(u, 0))),
                lambda u: np.where(u > 0, 0.0, np.exp(np.minimum(u, 0))), 1.0),
        "selu": (lambda u: SELU_SCALE * np.where(u > 0, u, SELU_ALPHA * np.expm1(np.minimum(u, 0))),
                 lambda u: SELU_SCALE * np.where(u > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(u, 0))),
                 lambda u: SELU_SCALE * np.where(u > 0, 0.0, SELU_ALPHA * np.exp(np.minimum(u, 0))),
                 1.0),
        # past PyTorch's threshold (20) softplus is u itself
        "softplus": (lambda u: np.where(u > 20, u, np.logaddexp(0.0, u)),
                     lambda u: np.where(u > 20, 1.0, s(u)),
                     lambda u: np.where(u > 20, 0.0, s(u) * (1 - s(u))), 1.0),
        "swish": (lambda u: u * s(u), lambda u: s(u) + u * s(u) * (1 - s(u)),
                  lambda u: 2 * s(u) * (1 - s(u)) + u * s(u) * (1 - s(u)) * (1 - 2 * s(u)),
                  SQRT2),
    }


ACTIVATIONS = tuple(_act_table(0.2))
DEFAULT_ALPHA = {"lrelu": 0.2}


def _bias_act_parts(x, b, dim, act, alpha, gain, clamp):
    x = np.asarray(x, dtype=np.float64)
    alpha = DEFAULT_ALPHA.get(act, 0.0) if alpha is None else float(alpha)
    fn, d1, d2, def_gain = _act_table(alpha)[act]
    gain = def_gain if gain is None else float(gain)
    u = x
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        u = x + np.asarray(b, dtype=np.float64).reshape(shape)
    y = fn(u) * gain
    # The clamp lets the gradient through where |y| <= clamp (boundary included).
    mask = np.ones_like(y) if clamp is None else (np.abs(y) <= clamp).astype(np.float64)
    if clamp is not None:
        y = np.clip(y, -clamp, clamp)
    return u, y, mask, gain, d1, d2


def bias_act(x, b=None, dim=1, act="linear", alpha=None, gain=None, clamp=None) -> np.ndarray:
    """``clamp(act(x + b) · gain, −clamp, clamp)``, the bias broadcast along ``dim``."""
    return _bias_act_parts(x, b, dim, act, alpha, gain, clamp)[1]


def bias_act_grads(x, b, dy, v, dim=1, act="linear", alpha=None, gain=None, clamp=None):
    """``(dx, db, ggx)``: ``dx = ∂<y, dy>/∂x``, ``db = ∂<y, dy>/∂b``, ``ggx = ∂<dx, v>/∂x``."""
    u, _, mask, gain, d1, d2 = _bias_act_parts(x, b, dim, act, alpha, gain, clamp)
    dy = np.asarray(dy, dtype=np.float64)
    dx = dy * d1(u) * gain * mask
    axes = tuple(i for i in range(dx.ndim) if i != dim)
    db = None if b is None else dx.sum(axis=axes)
    ggx = np.asarray(v, dtype=np.float64) * dy * d2(u) * gain * mask
    return dx, db, ggx


# ---------------------------------------------------------------------------------------------
# filtered_lrelu


def _flrelu_plan(x_shape, fu, fd, up, down, padding, flip_filter):
    ku, hu = prepare_filter_2d(fu, float(up * up), flip_filter)
    kd, hd = prepare_filter_2d(fd, 1.0, flip_filter)
    return ku, hu, kd, hd, _pad4(padding)


def _flrelu_forward(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter):
    ku, hu, kd, hd, (x0, x1, y0, y1) = _flrelu_plan(np.shape(x), fu, fd, up, down, padding,
                                                    flip_filter)
    v = np.asarray(x, dtype=np.float64)
    if b is not None:  # 1. bias
        v = v + np.asarray(b, dtype=np.float64)[:, None, None]
    v = _on_axis(zero_insert, _on_axis(zero_insert, v, -1, up), -2, up)  # 2. upsample
    v = _on_axis(pad_crop, _on_axis(pad_crop, v, -1, x0, x1), -2, y0, y1)  # 3. pad / crop
    z = _filter_2d(v, ku, hu)  # 4. FIR with fu (gain up² already in hu)
    a = z * gain  # 5. gain
    r = np.where(a < 0, a * slope, a)  # 6. leaky ReLU
    c = r if clamp is None else np.clip(r, -clamp, clamp)  # 7. clamp
    w = _filter_2d(c, kd, hd)  # 8. FIR with fd
    y = _on_axis(decimate, _on_axis(decimate, w, -1, down), -2, down)  # 9. decimate
    return y, dict(a=a, r=r, z_shape=z.shape, w_shape=w.shape)


def filtered_lrelu(x, fu=None, fd=None, b=None, up=1, down=1, padding=0, gain=SQRT2, slope=0.2,
                   clamp=None, flip_filter=False) -> np.ndarray:
    """The nine steps of the ops contract, one after the other, on ``[N, C, H, W]``."""
    return _flrelu_forward(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)[0]


def filtered_lrelu_preactivation(x, fu=None, fd=None, b=None, up=1, down=1, padding=0, gain=SQRT2,
                                 slope=0.2, clamp=None, flip_filter=False):
    """``(a, c)``: the value entering the leaky ReLU (after the gain) and the clamp's output."""
    _, st = _flrelu_forward(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    r = st["r"]
    return st["a"], (r if clamp is None else np.clip(r, -clamp, clamp))


def filtered_lrelu_vjp(x, dy, fu=None, fd=None, b=None, up=1, down=1, padding=0, gain=SQRT2,
                       slope=0.2, clamp=None, flip_filter=False):
    """``(dx, db)`` of ``<filtered_lrelu(x, …), dy>`` (db is None when b is None)."""
    x = np.asarray(x, dtype=np.float64)
    ku, hu, kd, hd, (x0, _, y0, _) = _flrelu_plan(x.shape, fu, fd, up, down, padding,
                                                  flip_filter)
    _, st = _flrelu_forward(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    H, W = x.shape[-2:]
    Hw, Ww = st["w_shape"][-2:]
    d = np.asarray(dy, dtype=np.float64)
    d = _on_axis(decimate_T, _on_axis(decimate_T, d, -2, down, Hw), -1, down, Ww)
    d = _filter_2d_T(d, kd, hd)
    if clamp is not None:
        d = d * (np.abs(st["r"]) <= clamp)
    d = d * np.where(st["a"] < 0, slope, 1.0) * gain
    d = _filter_2d_T(d, ku, hu)
    d = _on_axis(pad_crop_T, _on_axis(pad_crop_T, d, -2, y0, H * up), -1, x0, W * up)
    dx = _on_axis(zero_insert_T, _on_axis(zero_insert_T, d, -2, up, H), -1, up, W)
    db = None if b is None else dx.sum(axis=(0, 2, 3))
    return dx, db
