"""Polyphase upfirdn on ``[P, H, W]`` planes (separable or full 2-D filter), parallel over planes.

Per axis, with filters in correlation form and every gain multiplied in::

    y[o] = Σ_k f[k] · xp[o·down + k],   xp = pad(zero_insert(x, up), p0, p1)

Each plane is scattered into a polyphase buffer, filtered by the planned jobs (see ``_plan``) and
gathered into the output; a separable filter runs its x and y stages in the cheaper order.
"""

from __future__ import annotations

import numpy as np

from bandlimit.ops._numba._kernel import MODE_UPFIRDN, launch
from bandlimit.ops._numba._plan import plan_upfirdn


def upfirdn(x, fx, fy, f2d, up, down, pad) -> np.ndarray:
    """Upsample, pad/crop, filter (correlation) and downsample every ``[H, W]`` plane of ``x``.

    Parameters
    ----------
    x : ndarray ``[P, H, W]``, float32 or float64, C-contiguous.
    fx, fy : ndarray ``[kw]``, ``[kh]`` — separable filter in correlation form (gains included);
        an identity axis is a one-tap filter. None when ``f2d`` is given.
    f2d : ndarray ``[kh, kw]`` indexed ``[y, x]`` — full 2-D filter, or None.
    up, down : ``(x, y)`` integer factors ≥ 1.
    pad : ``(x0, x1, y0, y1)``; negative values crop.

    Returns
    -------
    ndarray ``[P, Ho, Wo]`` of ``x``'s dtype with ``Wo = (W·ux + x0 + x1 − kw) // dx + 1`` (same
    in y); the caller guarantees ``Ho, Wo ≥ 1``.
    """
    nplanes, h, w = x.shape
    full = f2d is not None
    kh, kw = f2d.shape if full else (fy.shape[0], fx.shape[0])
    plan, ho, wo = plan_upfirdn(
        h,
        w,
        kh,
        kw,
        full,
        (int(up[0]), int(up[1])),
        (int(down[0]), int(down[1])),
        tuple(int(v) for v in pad),
    )
    y = np.empty((nplanes, ho, wo), x.dtype)
    if nplanes == 0:
        return y
    fcat = f2d.ravel() if full else np.concatenate([fx, fy])
    tcoef = np.ascontiguousarray(fcat[plan.tidx], dtype=x.dtype)
    launch(
        MODE_UPFIRDN,
        x.reshape(nplanes, h * w),
        y.reshape(nplanes, ho * wo),
        plan,
        tcoef,
        (h, w, ho, wo, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        np.zeros(4, x.dtype),
        codes=1,
    )
    return y
