"""The fused bias + leaky ReLU of rosinality's ``op`` (``fused_leaky_relu``,
``FusedLeakyReLU``) and mmcv's names for it, on :func:`bandlimit.ops.bias_act`."""

from __future__ import annotations

import math

import torch
from torch import nn

from bandlimit.ops import bias_act
from bandlimit.ops._params import as_float, as_int, check_bias, check_tensor

__all__ = ["FusedBiasLeakyReLU", "FusedLeakyReLU", "fused_bias_leakyrelu", "fused_leaky_relu"]


def fused_leaky_relu(
    input: torch.Tensor,
    bias: torch.Tensor | None = None,
    negative_slope: float = 0.2,
    scale: float = math.sqrt(2),
    *,
    impl: str = "auto",
) -> torch.Tensor:
    r"""``leaky_relu(input + bias, negative_slope) · scale``, the bias added along axis 1.

    .. math:: y = s \cdot \begin{cases} u & u > 0 \\ \alpha u & u \le 0 \end{cases},
              \qquad u = x + b_c

    Parameters
    ----------
    input : Tensor ``[N, C, ...]``
        Floating point, at least 2-D (``[N, C]`` after a linear layer, ``[N, C, H, W]`` after
        a convolution), any device.
    bias : Tensor ``[C]`` or None, default None
        Per-channel bias, on ``input``'s device (cast to its dtype).
    negative_slope : float, default 0.2
        The slope :math:`\alpha` for :math:`u \le 0`. (rosinality's CPU path ignored it and
        used 0.2; its CUDA path and this function use it.)
    scale : float ≥ 0, default √2
        The gain :math:`s` that keeps the signal's magnitude for a slope of 0.2.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend (keyword only; not in the original), see :func:`bandlimit.ops.bias_act`.

    Returns
    -------
    Tensor
        Shaped like ``input``, same dtype and device.

    Notes
    -----
    Differentiable to any order with respect to ``input`` and ``bias`` (R1's double backward
    runs through it); at :math:`u = 0` the derivative is :math:`\alpha s`, as PyTorch's.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.compat.rosinality import fused_leaky_relu
    >>> x = torch.tensor([[-1.0, 1.0]])
    >>> fused_leaky_relu(x, torch.tensor([0.0, 1.0]), scale=1).tolist()
    [[-0.20000000298023224, 2.0]]
    """
    check_tensor(input, "input")
    if input.ndim < 2:
        raise ValueError(
            f"input must have a channel axis (shape [N, C, ...]), got shape {tuple(input.shape)}"
        )
    check_bias(bias, input.shape[1], input.device, name="bias")
    alpha = as_float(negative_slope, "negative_slope")
    gain = as_float(scale, "scale", nonnegative=True)
    return bias_act(input, bias, dim=1, act="lrelu", alpha=alpha, gain=gain, impl=impl)


def fused_bias_leakyrelu(
    input: torch.Tensor,
    bias: torch.Tensor | None,
    negative_slope: float = 0.2,
    scale: float = math.sqrt(2),
) -> torch.Tensor:
    """mmcv's name for :func:`fused_leaky_relu` (same arguments)."""
    return fused_leaky_relu(input, bias, negative_slope, scale)


class FusedLeakyReLU(nn.Module):
    """Learned per-channel bias, then :func:`fused_leaky_relu`.

    Parameters
    ----------
    channel : int
        Number of channels ``C`` (axis 1 of the input).
    bias : bool, default True
        Learn a bias (the parameter ``bias``, initialised to zeros; None otherwise); a bool or
        an int, as rosinality's. BasicSR's copy has no ``bias`` argument (``channel,
        negative_slope, scale``): a float in this place is refused (pass its slope and scale
        by keyword), where it would silently read as a bias and the slope as the scale.
    negative_slope : float, default 0.2
    scale : float, default √2

    Examples
    --------
    >>> import torch
    >>> from bandlimit.compat.rosinality import FusedLeakyReLU
    >>> act = FusedLeakyReLU(3)
    >>> act(torch.randn(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    >>> sorted(act.state_dict())
    ['bias']
    """

    bias: nn.Parameter | None

    def __init__(
        self,
        channel: int,
        bias: bool = True,
        negative_slope: float = 0.2,
        scale: float = math.sqrt(2),
    ) -> None:
        super().__init__()
        self.channel = as_int(channel, "channel", minimum=1)
        self.negative_slope = as_float(negative_slope, "negative_slope")
        self.scale = as_float(scale, "scale", nonnegative=True)
        if isinstance(bias, float):
            raise TypeError(
                f"bias must be a bool (rosinality's FusedLeakyReLU(channel, bias=True, "
                f"negative_slope, scale)), got {bias!r}: BasicSR's FusedLeakyReLU(channel, "
                f"negative_slope, scale) takes no bias, pass negative_slope= and scale= by keyword"
            )
        self.bias = nn.Parameter(torch.zeros(self.channel)) if bias else None

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``input [N, C, ...]`` → same shape."""
        return fused_leaky_relu(input, self.bias, self.negative_slope, self.scale)

    def extra_repr(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        slope, scale = self.negative_slope, self.scale
        return f"channel={self.channel}{bias}, negative_slope={slope}, scale={scale:g}"


class FusedBiasLeakyReLU(FusedLeakyReLU):
    """mmcv's name for :class:`FusedLeakyReLU` (always with a bias).

    Parameters
    ----------
    num_channels : int
    negative_slope : float, default 0.2
    scale : float, default √2
    """

    def __init__(
        self, num_channels: int, negative_slope: float = 0.2, scale: float = math.sqrt(2)
    ) -> None:
        super().__init__(num_channels, True, negative_slope, scale)
