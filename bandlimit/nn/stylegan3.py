"""StyleGAN3's nonlinearity of one synthesis layer, as a module built from a cutoff schedule."""

from __future__ import annotations

import torch
from torch import nn

from bandlimit._checks import check_bool
from bandlimit.filters import Schedule
from bandlimit.nn._module import Module
from bandlimit.ops import filtered_lrelu
from bandlimit.ops._dispatch import _check_impl


class FilteredLReLU(Module):
    r"""The filtered leaky ReLU of one StyleGAN3 synthesis layer: bias → up-sample → leaky
    ReLU → down-sample, fused (:func:`bandlimit.ops.filtered_lrelu`), with everything the
    layer's place in the schedule decides: its Kaiser sinc / jinc filters
    (:meth:`bandlimit.filters.Schedule.layer_filters`), up and down factors, padding, gain
    (√2), slope (0.2) and clamp (``conv_clamp``); for the ToRGB layer (the last) a clamped bias
    only (no filters, gain and slope 1).

    Put it after a layer's convolution in a model of one's own that follows StyleGAN3's
    schedule (:func:`bandlimit.filters.stylegan3_schedule`, configs T and R): an input of the
    convolution's output size, ``[N, out_channels, H, W]`` with ``(W, H) =
    spec.conv_out_size``, gives ``[N, out_channels, H', W']`` with ``(W', H') = spec.out_size``
    (other sizes work; the padding stays the layer's, so the output grows or shrinks with the
    input).

    Parameters
    ----------
    schedule : bandlimit.filters.Schedule
        From :func:`bandlimit.filters.stylegan3_schedule`.
    layer : int or str
        The layer's index (negative counts from the end) or name (``'L3_52_512'``).
    bias : bool, default True (keyword-only)
        A learned per-channel bias ``[out_channels]``, initialised to zeros and added before
        the up-sampling (as StyleGAN3's); False: none.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        The backend of :func:`bandlimit.ops.filtered_lrelu`.

    Attributes
    ----------
    spec : bandlimit.filters.SynthesisLayerSpec
        The layer (name, sizes, channels, rates, cutoffs, factors, padding, gain, slope, clamp).
    bias : torch.nn.Parameter or None
        ``[out_channels]``, the only trainable parameter (None with ``bias=False``).
    up_filter, down_filter : Tensor or None
        Buffers (float32): ``up_filter`` ``[K_u]``, ``down_filter`` ``[K_d]`` or ``[K_d, K_d]``
        (radial, config R), None where the layer does not filter (then not in the state dict).
        The state-dict keys ``bias``, ``up_filter`` and ``down_filter`` are named as in the
        official ``SynthesisLayer``, so those entries of its state dict load into this module.

    Notes
    -----
    Devices, dtypes and gradients as :func:`bandlimit.ops.filtered_lrelu` (the op converts the
    filters to the dtype it computes in and the bias to the input's; the output has the input's
    dtype; gradients reach ``x`` and ``bias``), ``torch.compile`` and ``torch.export`` included.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.filters import stylegan3_schedule
    >>> from bandlimit.nn import FilteredLReLU
    >>> schedule = stylegan3_schedule(256, config="T", channel_max=32)
    >>> flrelu = FilteredLReLU(schedule, 3)
    >>> flrelu.spec.name, flrelu.spec.conv_out_size, flrelu.spec.out_size
    ('L3_52_32', (38, 38), (52, 52))
    >>> flrelu(torch.randn(1, 32, 38, 38)).shape
    torch.Size([1, 32, 52, 52])
    >>> list(flrelu.state_dict())
    ['bias', 'up_filter', 'down_filter']

    The ToRGB layer does not filter:

    >>> to_rgb = FilteredLReLU(schedule, -1)
    >>> to_rgb.up_filter is None, list(to_rgb.state_dict())
    (True, ['bias'])
    """

    _filter_buffers = ("up_filter", "down_filter")

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
        self.register_design("up_filter", fu)
        self.register_design("down_filter", fd)
        channels = self.spec.out_channels
        if check_bool("bias", bias):
            self.bias = nn.Parameter(torch.zeros(channels))
        else:
            self.register_parameter("bias", None)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The designed filters back, and the bias to zero (its initial value)."""
        super().reset_parameters()
        if self.bias is not None and not self.bias.is_meta:
            self.bias.zero_()

    @property
    def output_rate(self) -> float:
        """Output samples per input sample, ``up / down`` (the layer's sampling rates' ratio;
        its sizes add borders of their own)."""
        return self.spec.up_factor / self.spec.down_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer's nonlinearity to ``x`` ``[N, out_channels, H, W]``."""
        s = self.spec
        if isinstance(x, torch.Tensor) and x.ndim == 4 and x.shape[1] != s.out_channels:
            # (the op would blame the bias, which the caller never passed)
            raise ValueError(
                f"x must have {s.out_channels} channels for layer {s.name} (its out_channels), "
                f"got shape {tuple(x.shape)}"
            )
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
        """The layer's name, sizes, factors, cutoffs, padding and clamp, as shown by ``repr``.

        :meta private:
        """
        s = self.spec
        return (
            f"{s.name}: {s.conv_out_size[0]}x{s.conv_out_size[1]} -> "
            f"{s.out_size[0]}x{s.out_size[1]}, up={s.up_factor}, down={s.down_factor}, "
            f"cutoff {s.in_cutoff:g} -> {s.out_cutoff:g}, padding={s.padding}, "
            f"clamp={s.flrelu_clamp}" + ("" if self.bias is not None else ", bias=False")
            + ("" if self.impl == "auto" else f", impl={self.impl!r}")
        )
