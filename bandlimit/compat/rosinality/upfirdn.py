"""``upfirdn2d`` with the signature and padding convention of rosinality's ``op``."""

from __future__ import annotations

import torch

from bandlimit._checks import short_repr
from bandlimit.ops import upfirdn2d as _upfirdn2d
from bandlimit.ops._params import as_padding, check_tensor

__all__ = ["upfirdn2d"]


def upfirdn2d(
    input: torch.Tensor,
    kernel: torch.Tensor,
    up: int | tuple[int, int] = 1,
    down: int | tuple[int, int] = 1,
    pad: tuple[int, int] | tuple[int, int, int, int] = (0, 0),
    *,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample ``[N, C, H, W]`` images, as rosinality's
    ``op.upfirdn2d`` (and BasicSR's and mmcv's copies) does.

    Along each axis: insert ``up − 1`` zeros after every sample, pad with ``p0`` zeros before
    and ``p1`` after (negative values crop), take the "valid" true convolution with ``kernel``
    (no gain: the kernel is used as it is) and keep every ``down``-th sample. This is
    :func:`bandlimit.ops.upfirdn2d` with a different reading of a two-element padding:
    ``pad=(p0, p1)`` pads **both axes** by ``p0`` before and ``p1`` after, where
    ``bandlimit.ops.upfirdn2d``'s ``padding=(px, py)`` pads x by ``px`` and y by ``py`` at both
    ends.

    Parameters
    ----------
    input : Tensor ``[N, C, H, W]``
        Floating point, any device.
    kernel : Tensor ``[kh, kw]``
        The FIR filter, indexed ``[y, x]`` (a ``[taps]`` kernel is applied separably along x
        and y). Cast to ``input``'s dtype and device. A kernel that requires grad is learned.
    up, down : int or ``(x, y)``, default 1
        Integer factors in [1, 2**30]; an int applies to both axes.
    pad : ``(p0, p1)`` or ``(x0, x1, y0, y1)``, default ``(0, 0)``
        Zeros added to the upsampled image before filtering, in upsampled pixels.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend (keyword only; not in the original), see :mod:`bandlimit.ops`.

    Returns
    -------
    Tensor ``[N, C, H_out, W_out]``
        ``H_out = (H·up_y + y0 + y1 − kh) // down_y + 1``, ``W_out = (W·up_x + x0 + x1 − kw)
        // down_x + 1``; ``input``'s dtype and device.

    Raises
    ------
    TypeError, ValueError
        As :func:`bandlimit.ops.upfirdn2d`; ``pad`` of another length than 2 or 4 is a
        ``ValueError``.

    Notes
    -----
    Differentiable to any order with respect to ``input`` and ``kernel``, on every backend.

    Examples
    --------
    rosinality's ``Downsample`` (``factor=2``, kernel ``[1, 3, 3, 1]``: ``pad=(1, 1)``):

    >>> import torch
    >>> from bandlimit.compat.rosinality import upfirdn2d
    >>> k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    >>> kernel = k[None, :] * k[:, None] / 64
    >>> upfirdn2d(torch.randn(2, 3, 16, 16), kernel, down=2, pad=(1, 1)).shape
    torch.Size([2, 3, 8, 8])
    """
    # (named checks here, so that messages say input/kernel/pad, not x/f/padding)
    check_tensor(input, "input", (4,), "[N, C, H, W]")
    check_tensor(kernel, "kernel", (1, 2), "[kh, kw] or [taps]")
    if isinstance(pad, (tuple, list)) and len(pad) == 2:
        pad = (pad[0], pad[1], pad[0], pad[1])
    elif isinstance(pad, (tuple, list)) and len(pad) != 4:
        raise ValueError(f"pad must be (p0, p1) or (x0, x1, y0, y1), got {short_repr(pad)}")
    padding = as_padding(pad, "pad")
    return _upfirdn2d(input, kernel, up=up, down=down, padding=padding, impl=impl)
