"""The 'ref' backend: the semantics of every op in plain PyTorch.

Readable, runs on any device and dtype, and differentiable to any order through ordinary autograd.
It receives arguments already normalised by :mod:`bandlimit.ops._params` (filters in correlation
form with their gains multiplied in). The other backends are judged against it.

Cost: the up-sampling stage uses ``conv_transpose2d``, which is polyphase by construction (it never
multiplies inserted zeros); the down-sampling stage uses a strided convolution when nothing is
upsampled, so only the kept samples are computed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bandlimit.ops._activations import Activation
from bandlimit.ops._params import Fir, Pad4, Pair, transpose_stage


def pad_axis(x: torch.Tensor, p0: int, p1: int, dim: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) ``x`` along ``dim``; any combination is valid."""
    if p0 == 0 and p1 == 0:
        return x
    length = x.shape[dim]
    new_len = length + p0 + p1
    start, stop = max(-p0, 0), length - max(-p1, 0)
    if stop <= start:  # everything is cropped away: all zeros, still attached to the graph
        x, lo, hi = x.narrow(dim, 0, 0), max(new_len, 0), 0
    else:
        x = x.narrow(dim, start, stop - start)
        lo, hi = max(p0, 0), max(p1, 0)
    if lo or hi:
        widths = [0, 0] * (x.ndim - 1 - (dim % x.ndim)) + [lo, hi]
        x = F.pad(x, widths)
    return x


def _stage(x: torch.Tensor, w: torch.Tensor, up: Pair, down: Pair, pad: Pad4) -> torch.Tensor:
    """One upfirdn on ``x [B, 1, H, W]`` with a correlation filter ``w [kh, kw]``."""
    (ux, uy), (dx, dy) = up, down
    kh, kw = w.shape
    w = w.to(x.dtype)[None, None]
    if ux == 1 and uy == 1:
        x = pad_axis(pad_axis(x, pad[0], pad[1], -1), pad[2], pad[3], -2)
        return F.conv2d(x, w, stride=(dy, dx))
    # conv_transpose computes z[q] = sum_i x[i] w'[q - i*up] (w' = reversed correlation filter),
    # i.e. y_full[o] = z[o + K - 1 - p0]; the pads below turn z into the padded, filtered signal.
    z = F.conv_transpose2d(x, w.flip([2, 3]), stride=(uy, ux))
    z = pad_axis(z, pad[0] - kw + 1, pad[1] + ux - kw, -1)
    z = pad_axis(z, pad[2] - kh + 1, pad[3] + uy - kh, -2)
    if dx > 1 or dy > 1:
        z = z[:, :, ::dy, ::dx]
    return z


def upfirdn(x: torch.Tensor, fir: Fir, up: Pair, down: Pair, pad: Pad4) -> torch.Tensor:
    """Upsample, pad, filter (correlation), downsample ``x [N, C, H, W]`` plane by plane."""
    n, c, h, w = x.shape
    planes = x.reshape(n * c, 1, h, w)
    if fir.separable:
        planes = _stage(planes, fir.fx[None, :], (up[0], 1), (down[0], 1), (*pad[:2], 0, 0))
        planes = _stage(planes, fir.fy[:, None], (1, up[1]), (1, down[1]), (0, 0, *pad[2:]))
    else:
        planes = _stage(planes, fir.f2d, up, down, pad)
    return planes.reshape(n, c, planes.shape[-2], planes.shape[-1])


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    dim: int,
    act: Activation,
    alpha: float,
    gain: float,
    clamp: float | None,
) -> torch.Tensor:
    """``clamp(act(x + b) * gain, -clamp, clamp)`` with ``b`` broadcast along ``dim``."""
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    x = act.fn(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def filtered_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: Activation,
    alpha: float,
    gain: float,
    clamp: float | None,
) -> torch.Tensor:
    """bias → upfirdn(fu, up, pad) → act·gain → clamp → upfirdn(fd, down).

    ``fu`` already carries the up-sampling gain (``up_x·up_y``), as :func:`make_fir` built it.
    """
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    u = upfirdn(x, fu, up, (1, 1), pad)
    a = bias_act(u, None, 1, act, alpha, gain, clamp)
    return upfirdn(a, fd, (1, 1), down, (0, 0, 0, 0))


def filtered_act_vjp(
    x: torch.Tensor,
    b: torch.Tensor | None,
    dy: torch.Tensor,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: Activation,
    alpha: float,
    gain: float,
    clamp: float | None,
) -> torch.Tensor:
    """``∂⟨filtered_act(x, b), dy⟩ / ∂(x + b)`` written out as the transposed pipeline.

    ``dv = T_up(gain · act'(u·gain) · [|a| ≤ clamp] · T_down(dy))`` with ``u`` recomputed from
    ``x``. Made of differentiable ops, so it also serves double backward.
    """
    v = x if b is None else x + b.to(x.dtype).reshape(1, -1, 1, 1)
    u = upfirdn(v, fu, up, (1, 1), pad)
    s = u * gain
    deriv = act.grad(s, alpha) * gain
    if clamp is not None:
        deriv = torch.where(act.fn(s, alpha).abs() > clamp, torch.zeros_like(deriv), deriv)
    hu, wu = u.shape[2:]
    g = upfirdn(dy, *transpose_stage((hu, wu), fd, (1, 1), down, (0, 0, 0, 0)))
    return upfirdn(g * deriv, *transpose_stage(tuple(x.shape[2:]), fu, up, (1, 1), pad))
