"""Numba CPU kernels (float32/float64) behind ``impl='numba'``.

Internal: the callers hand over already-normalised arguments (numpy arrays of planes, filters in
correlation form with gains included). See :mod:`._plan` for how the polyphase jobs are laid out.
"""

from bandlimit.ops._numba._core import ACT_CODES, ACT_LINEAR, ACT_LRELU, ACT_RELU
from bandlimit.ops._numba.filtered_act import (
    filtered_act_backward,
    filtered_act_forward,
    mask_shape,
)
from bandlimit.ops._numba.upfirdn import upfirdn

__all__ = [
    "ACT_CODES",
    "ACT_LINEAR",
    "ACT_LRELU",
    "ACT_RELU",
    "filtered_act_backward",
    "filtered_act_forward",
    "mask_shape",
    "upfirdn",
]
