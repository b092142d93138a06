"""Polyphase upfirdn on ``[P, H, W]`` planes (separable or full 2-D filter), parallel over planes.

Per axis, with filters in correlation form and every gain multiplied in::

    y[o] = Σ_k f[k] · xp[o·down + k],   xp = pad(zero_insert(x, up), p0, p1)

Each plane is scattered into a polyphase buffer, filtered by the planned jobs (see ``_plan``) and
gathered into the output; a separable filter runs its x and y stages in the cheaper order.
"""

from __future__ import annotations

import numpy as np

from bandlimit.ops._numba._kernel import (
    MODE_UPFIRDN,
    Launch,
    launch,
    prepared,
    rows_per_group,
    taps_key,
)
from bandlimit.ops._numba._plan import identity_y, plan_upfirdn, y_moves_nothing

_NO_PARAMS = {np.dtype(np.float32): np.zeros(4, np.float32), np.dtype(np.float64): np.zeros(4)}


def upfirdn(x, fx, fy, f2d, up, down, pad, alloc=np.empty) -> np.ndarray:
    """Upsample, pad/crop, filter (correlation) and downsample every ``[H, W]`` plane of ``x``.

    Parameters
    ----------
    x : ndarray ``[P, H, W]``, float32 or float64, C-contiguous.
    fx, fy : ndarray ``[kw]``, ``[kh]`` — separable filter in correlation form (gains included);
        an identity axis is a one-tap filter. None when ``f2d`` is given.
    f2d : ndarray ``[kh, kw]`` indexed ``[y, x]`` — full 2-D filter, or None.
    up, down : ``(x, y)`` integer factors ≥ 1.
    pad : ``(x0, x1, y0, y1)``; negative values crop.
    alloc : ``(shape, dtype) -> ndarray``, allocates the output (C-contiguous); ``np.empty``.

    Returns
    -------
    ndarray ``[P, Ho, Wo]`` of ``x``'s dtype with ``Wo = (W·ux + x0 + x1 − kw) // dx + 1`` (same
    in y); the caller guarantees ``Ho, Wo ≥ 1``.
    """
    g = prepared(
        lambda nthreads: _geometry(x.shape, x.dtype, fx, fy, f2d, up, down, pad, nthreads),
        "upfirdn", x.shape, x.dtype.str, taps_key(fx, fy, f2d), tuple(up), tuple(down),
        tuple(pad),
    )
    nplanes, h, w = x.shape
    ho, wo = g.out_hw
    y = alloc((nplanes, ho, wo), x.dtype)
    if nplanes == 0:
        return y
    launch(MODE_UPFIRDN, x.reshape(nplanes, h * w), y.reshape(nplanes, ho * wo), g,
           _NO_PARAMS[x.dtype])
    return y


def _geometry(shape, dtype, fx, fy, f2d, up, down, pad, nthreads) -> Launch:
    nplanes, h, w = shape
    full = f2d is not None
    kh, kw = f2d.shape if full else (fy.shape[0], fx.shape[0])
    up = (int(up[0]), int(up[1]))
    down = (int(down[0]), int(down[1]))
    pad = tuple(int(v) for v in pad)
    skip = not full and identity_y(kh, up, down, pad, fy)
    plan, ho, wo = plan_upfirdn(h, w, kh, kw, full, up, down, pad, skip)
    # 1-D signals (one row, y the identity) are stacked as the rows of one plane
    stack = h == 1 and not full and y_moves_nothing(kh, up, down, pad)
    rows = rows_per_group(nplanes, stack, plan.size, dtype.itemsize, nthreads)
    if rows > 1:
        plan = plan_upfirdn(rows, w, kh, kw, full, up, down, pad, skip)[0]
    fcat = f2d.ravel() if full else np.concatenate([fx, fy])
    tcoef = np.ascontiguousarray(fcat[plan.tidx], dtype=dtype)
    dims = (h, w, ho, wo, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return Launch(plan, rows, tcoef, dims, (ho, wo), nthreads)
