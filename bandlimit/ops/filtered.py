"""Filtered activations: upsample → nonlinearity → downsample as one op.

A pointwise nonlinearity creates frequencies above the signal's band; evaluated at the original
sampling rate they alias. Alias-Free GAN therefore evaluates it on a temporarily upsampled signal
and low-pass filters before decimating. Per channel::

    v = x + b
    u = upfirdn(v, fu, up, padding, gain=up²)        (zero insertion → pad → FIR)
    a = clamp(act(u) · gain, −clamp, clamp)
    y = upfirdn(a, fd, down)                           (FIR → keep every down-th sample)

The backends differ only in cost: 'ref' composes PyTorch ops and keeps the upsampled
pre-activation for autograd; 'numba' is one fused polyphase pass per plane whose backward reads a
2-bit sign/clamp mask instead.
"""

from __future__ import annotations

import math

import torch

from bandlimit.ops import reference
from bandlimit.ops._activations import Activation, get_activation
from bandlimit.ops._dispatch import resolve_impl
from bandlimit.ops._params import (
    Fir,
    Pad4,
    Pair,
    as_factors,
    as_float,
    as_padding,
    check_bias,
    check_filter,
    check_tensor,
    make_fir,
    upfirdn_out_size,
)


def _run_filtered_act(
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
    impl: str,
) -> torch.Tensor:
    if impl == "numba":
        from bandlimit.ops._library import filtered_act_numba

        return filtered_act_numba(
            x,
            b,
            fu.fx,
            fu.fy,
            fu.f2d,
            fd.fx,
            fd.fy,
            fd.f2d,
            list(up),
            list(down),
            list(pad),
            act.name,
            alpha,
            gain,
            math.inf if clamp is None else clamp,
        )
    return reference.filtered_act(x, b, fu, fd, up, down, pad, act, alpha, gain, clamp)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, ...] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    impl: str = "auto",
) -> torch.Tensor:
    """Bias, upsample, leaky ReLU, clamp, downsample — StyleGAN3's fused nonlinearity.

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        Floating point; any device ('ref'); CPU float32/float64 ('numba').
    fu, fd : Tensor ``[taps]`` (separable), ``[h, w]`` (full 2-D, e.g. a radial jinc) or None
        Up- and down-sampling filters in true-convolution orientation (correlation with
        ``flip_filter``). Constants: no gradient flows to them.
    b : Tensor ``[C]`` or None
        Bias added before upsampling.
    up, down : int ≥ 1
        Factors, the same along x and y.
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``
        Padding of the upsampled signal before ``fu`` (negative crops).
    gain : float ≥ 0
        Multiplies the upsampled signal before the activation (the up-stage also carries ``up²``).
    slope : float ≥ 0
        Negative slope of the leaky ReLU (applied where the value is < 0).
    clamp : float ≥ 0 or None
        Clamp after the activation; the gradient is zero where ``|value| > clamp``.
    flip_filter : bool
    impl : {'auto', 'ref', 'numba', 'cuda'}

    Returns
    -------
    Tensor ``[N, C, H_out, W_out]`` with
    ``W_out = (W·up + x0 + x1 − (fu_w − 1) − (fd_w − 1) − 1) // down + 1`` (likewise H).

    Notes
    -----
    Gradients with respect to ``x`` and ``b``, of any order ('ref'; 'numba' computes the first
    order with its fused backward kernel and higher orders through the reference formula).
    """
    x = check_tensor(x, "x", (4,), "[N, C, H, W]")
    fu, fd = check_filter(fu, "fu"), check_filter(fd, "fd")
    b = check_bias(b, x.shape[1], x.dtype)
    b = None if b is None else b.to(x.dtype)
    upx, downx = as_factors(up, "up", ndim=1)[0], as_factors(down, "down", ndim=1)[0]
    pad = as_padding(padding)
    gain = as_float(gain, "gain", nonnegative=True)
    slope = as_float(slope, "slope", nonnegative=True)
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    impl = resolve_impl(impl, x, "filtered_lrelu")

    kw = dict(flip_filter=bool(flip_filter), dtype=x.dtype, device=x.device)
    fu_n = make_fir(fu, gain=(float(upx), float(upx)), **kw)
    fd_n = make_fir(fd, gain=(1.0, 1.0), **kw)
    up2, down2 = (upx, upx), (downx, downx)
    hu, wu = upfirdn_out_size(tuple(x.shape[2:]), fu_n, up2, (1, 1), pad, "filtered_lrelu (fu)")
    upfirdn_out_size((hu, wu), fd_n, (1, 1), down2, (0, 0, 0, 0), "filtered_lrelu (fd)")
    return _run_filtered_act(
        x, b, fu_n, fd_n, up2, down2, pad, get_activation("lrelu"), slope, gain, clamp, impl
    )
