"""``torch_utils.ops.conv2d_resample``: :func:`bandlimit.ops.conv2d_resample` itself (the
original has no ``impl`` argument; here its FIR stages run on ``impl='auto'``)."""

from bandlimit.ops import conv2d_resample

__all__ = ["conv2d_resample"]
