"""Numba CPU kernels (float32/float64) behind ``impl='numba'``.

Internal: the callers hand over already-normalised arguments (numpy arrays of planes, filters in
correlation form with gains included). See :mod:`._plan` for how the polyphase jobs are laid out.

Numba's OpenMP threading layer loads its own copy of libgomp beside PyTorch's. With the default
"active" wait policy the two pools busy-wait against each other on small machines (measured on
2 cores: a 38-px layer took 8.4 ms instead of 0.73 ms). Unless the user chose a policy, numba's
pool is created passive; PyTorch's, loaded earlier, is unaffected.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The environment must be set before numba (imported by the modules below) starts OpenMP.
from bandlimit.ops._numba._core import ACT_CODES, ACT_LINEAR, ACT_LRELU, ACT_RELU
from bandlimit.ops._numba._smooth import ACT_ALL_CODES, EXT_CODES, EXT_NONE
from bandlimit.ops._numba.filtered_act import (
    filtered_act_any_backward,
    filtered_act_any_forward,
    filtered_act_backward,
    filtered_act_forward,
    mask_shape,
)
from bandlimit.ops._numba.upfirdn import upfirdn

__all__ = [
    "ACT_ALL_CODES",
    "ACT_CODES",
    "ACT_LINEAR",
    "ACT_LRELU",
    "ACT_RELU",
    "EXT_CODES",
    "EXT_NONE",
    "filtered_act_any_backward",
    "filtered_act_any_forward",
    "filtered_act_backward",
    "filtered_act_forward",
    "mask_shape",
    "upfirdn",
]
