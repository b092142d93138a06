"""What the backends' ``torch.library`` registrations share.

:func:`define_upfirdn` registers one backend's upfirdn kernel as a custom op with its fake
(meta) implementation, for ``torch.compile`` / ``torch.export`` / ``opcheck``, and its autograd
formula: the gradient of an upfirdn is the transposed upfirdn (:func:`transpose_stage`), which is
the same op again, so gradients of any order follow. The Numba (CPU) and CUDA backends differ
only in the kernel they pass.

Annotations stay real types (no ``from __future__ import annotations``): ``custom_op`` reads them
to build the schema.
"""

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from bandlimit.ops._params import Fir, stage_out_size, transpose_stage

UpfirdnKernel = Callable[
    [Tensor, Tensor | None, Tensor | None, Tensor | None, list, list, list], Tensor
]


def upfirdn_setup(ctx, inputs, output) -> None:
    """Autograd context of an upfirdn custom op: the input size and the stage."""
    x, fx, fy, f2d, up, down, pad = inputs
    ctx.hw = (x.shape[2], x.shape[3])
    ctx.stage = (Fir(fx, fy, f2d), tuple(up), tuple(down), tuple(pad))


def upfirdn_backward(op, ctx, grad: Tensor) -> tuple:
    """The gradient of upfirdn ``op``: ``op`` again on the transposed stage."""
    fir, up, down, pad = transpose_stage(ctx.hw, *ctx.stage)
    dx = op(grad.contiguous(), fir.fx, fir.fy, fir.f2d, list(up), list(down), list(pad))
    return dx, None, None, None, None, None, None


def define_upfirdn(name: str, device_type: str, kernel: UpfirdnKernel):
    """Register ``bandlimit::<name>(x, fx, fy, f2d, up, down, pad) -> Tensor`` for one device.

    ``kernel`` computes the op on normalised arguments (see :mod:`bandlimit.ops._params`):
    ``x`` ``[N, C, H, W]``, a separable (``fx``, ``fy``) or full 2-D (``f2d``) filter in
    correlation form, factors ``up``/``down`` as ``[x, y]`` and ``pad`` as ``[x0, x1, y0, y1]``.
    Returns the custom op (callable with the same arguments).
    """

    @torch.library.custom_op(f"bandlimit::{name}", mutates_args=(), device_types=device_type)
    def op(
        x: Tensor,
        fx: Tensor | None,
        fy: Tensor | None,
        f2d: Tensor | None,
        up: list[int],
        down: list[int],
        pad: list[int],
    ) -> Tensor:
        return kernel(x, fx, fy, f2d, up, down, pad)

    @op.register_fake
    def _(x, fx, fy, f2d, up, down, pad):
        n, c, h, w = x.shape
        return x.new_empty(n, c, *stage_out_size((h, w), Fir(fx, fy, f2d), up, down, pad))

    op.register_autograd(functools.partial(upfirdn_backward, op), setup_context=upfirdn_setup)
    return op
