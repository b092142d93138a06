"""StyleGAN3's nonlinearity of one synthesis layer, as a module built from a cutoff schedule."""

from __future__ import annotations

import torch
from torch import nn

from bandlimit._checks import check_bool
from bandlimit.filters import Schedule
from bandlimit.ops import filtered_lrelu
from bandlimit.ops._dispatch import _check_impl


class FilteredLReLU(nn.Module):
    r"""The filtered leaky ReLU of one StyleGAN3 synthesis layer: bias → up-sample → leaky
    ReLU → down-sample, fused (:func:`bandlimit.ops.filtered_lrelu`), with everything the
    layer's place in the schedule decides: its Kaiser sinc / jinc filters
    (:meth:`~bandlimit.filters.Schedule.layer_filters`), up and down factors, padding, gain
    (√2), slope (0.2) and clamp (``conv_clamp``); for the ToRGB layer a clamped bias only.

    Put it after a layer's convolution in a model of one's own that follows StyleGAN3's
    schedule (:func:`~bandlimit.filters.stylegan3_schedule`, configs T and R): an input of the
    convolution's output size, ``[N, out_channels, H, W]`` with ``(W, H) = layer.conv_out_size``,
    gives ``[N, out_channels, *reversed(layer.out_size)]`` (other sizes work; the padding stays
    the layer's, so the output grows or shrinks with the input).

    Parameters
    ----------
    schedule : Schedule
        From :func:`~bandlimit.filters.stylegan3_schedule`.
    layer : int or str
        The layer's index (negative counts from the end) or name (``'L3_52_512'``).
    bias : bool
        A learned per-channel bias ``[out_channels]``, initialised to zeros and added before
        the up-sampling (as StyleGAN3's); False: none.
    impl : {'auto', 'ref', 'numba', 'cuda'}
        The backend of :func:`~bandlimit.ops.filtered_lrelu`.

    Attributes
    ----------
    spec : SynthesisLayerSpec
        The layer (sizes, rates, cutoffs, factors, padding).
    up_filter, down_filter : Tensor or None
        Buffers (float32), None where the layer does not filter; with ``bias``, the state-dict
        keys ``bias``, ``up_filter``, ``down_filter`` are those of the official
        ``SynthesisLayer``, so its values load into this module.

    Notes
    -----
    Devices, dtypes and gradients as :func:`~bandlimit.ops.filtered_lrelu` (the filters are
    cast to the input's dtype; gradients reach ``x`` and ``bias``), ``torch.compile`` and
    ``torch.export`` included.
    """

    bias: torch.Tensor | None
    up_filter: torch.Tensor | None
    down_filter: torch.Tensor | None

    def __init__(self, schedule: Schedule, layer: int | str, *, bias: bool = True,
                 impl: str = "auto"):  # fmt: skip
        super().__init__()
        if not isinstance(schedule, Schedule):
            raise TypeError(
                f"schedule must be a bandlimit.filters.Schedule (from stylegan3_schedule), got "
                f"{type(schedule).__name__}"
            )
        self.spec = schedule.layer(layer)
        self.impl = _check_impl(impl)
        fu, fd = schedule.layer_filters(layer)
        self.register_buffer("up_filter", fu)
        self.register_buffer("down_filter", fd)
        channels = self.spec.out_channels
        if check_bool("bias", bias):
            self.bias = nn.Parameter(torch.zeros(channels))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.spec
        return filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias,
            up=s.up_factor,
            down=s.down_factor,
            padding=s.padding,
            gain=s.flrelu_gain,
            slope=s.flrelu_slope,
            clamp=s.flrelu_clamp,
            impl=self.impl,
        )

    def extra_repr(self) -> str:
        s = self.spec
        return (
            f"{s.name}: {s.conv_out_size[0]}x{s.conv_out_size[1]} -> "
            f"{s.out_size[0]}x{s.out_size[1]}, up={s.up_factor}, down={s.down_factor}, "
            f"cutoff {s.in_cutoff:g} -> {s.out_cutoff:g}, padding={s.padding}, "
            f"clamp={s.flrelu_clamp}"
        )
