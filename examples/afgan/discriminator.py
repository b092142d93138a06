r"""The StyleGAN2 residual discriminator used unchanged by StyleGAN3, on bandlimit's ops.

Written from the StyleGAN2 paper (Karras et al., CVPR 2020, Fig. 7 "residual" D) and a restatement
of the official model's hyper-parameters; no NVIDIA code is used. Constructor arguments, forward
signature and state_dict names are those of the official ``Discriminator``, so a state_dict moves
between the two unchanged (``b32.fromrgb.weight``, ``b32.conv1.resample_filter``,
``b4.fc.weight``, ``b4.out.bias``, ``mapping.fc0.weight``...).

Structure for an image of resolution :math:`R` (blocks named ``b{res}``, channels
:math:`C_r = \min(\mathrm{base}/r, \mathrm{max})`)::

    b{R}:   fromRGB 1×1 lrelu → conv0 3×3 lrelu → conv1 3×3 lrelu ↓2 ┐
                             └──────────── skip 1×1 ↓2, no bias ───── + · √½
    b{R/2} … b8: the same without fromRGB
    b4 (epilogue): minibatch-stddev → conv 3×3 lrelu → fc (16·C₄ → C₄) lrelu → out (C₄ → 1 or
                   cmap_dim) [→ projection onto mapping(c) / √cmap_dim when conditional]

Every layer uses the equalised learning rate (weights stored :math:`\mathcal N(0, 1)`, scaled at
run time by :math:`1/\sqrt{\mathrm{fan\_in}}`), the leaky ReLU has slope 0.2 and gain √2, the 2×
down-sampling is the [1, 3, 3, 1] FIR (:func:`bandlimit.ops.setup_filter`: 4×4 outer product,
unit sum) around the convolution, by :func:`bandlimit.ops.conv2d_resample`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from afgan.networks import FullyConnectedLayer, MappingNetwork, normalize_2nd_moment
from bandlimit.ops import bias_act, conv2d_resample, setup_filter

__all__ = [
    "Conv2dLayer",
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "MinibatchStdLayer",
]

_ACT_GAIN = {"linear": 1.0, "lrelu": math.sqrt(2.0)}


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


class Conv2dLayer(nn.Module):
    r"""Convolution with equalised LR, optional 2× FIR down-sampling, bias, activation, clamp.

    .. math:: y = \mathrm{clamp}(\mathrm{act}(\mathrm{conv}(\mathrm{FIR}(x), W/\sqrt{C_i k^2})
              + b)\cdot g_\mathrm{act} g, \pm c\,g)

    ``down=2``: :func:`bandlimit.ops.conv2d_resample` with ``resample_filter`` (the
    convolution, then the FIR filter and every second sample, aligned so that the "same"
    padding gives exactly ``H/2``); ``down=1``: a plain "same" convolution.
    ``g`` is the per-call ``gain`` (the residual blocks use √½), ``c`` the ``conv_clamp``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
    bias : bool
    activation : {'linear', 'lrelu'}
    down : {1, 2}
    resample_filter : sequence of float
        Low-pass taps for ``down=2`` (stored as the buffer ``resample_filter``).
    conv_clamp : float or None
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        down: int = 1,
        resample_filter: tuple[float, ...] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.out_channels = _check_int("out_channels", out_channels, 1)
        self.kernel_size = _check_int("kernel_size", kernel_size, 1)
        if activation not in _ACT_GAIN:
            raise ValueError(f"activation must be one of {sorted(_ACT_GAIN)}, got {activation!r}")
        if down not in (1, 2):
            raise ValueError(f"down must be 1 or 2, got {down!r}")
        self.activation = activation
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = _ACT_GAIN[activation]
        self.weight = nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        )
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        """``x [B, C_in, H, W]`` → ``[B, C_out, H/down, W/down]``."""
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = conv2d_resample(x, w, self.resample_filter, down=self.down, padding=self.padding)
        act_gain = self.act_gain * gain
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        b = None if self.bias is None else self.bias.to(x.dtype)
        return bias_act(x, b, act=self.activation, gain=act_gain, clamp=clamp)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}->{self.out_channels}, kernel={self.kernel_size}, "
            f"activation={self.activation}, down={self.down}"
        )


class DiscriminatorBlock(nn.Module):
    """One residual block ``b{resolution}``: (fromRGB) → conv0 → conv1↓2, plus skip↓2, × √½.

    Parameters
    ----------
    in_channels : int
        0 for the first block (it then has ``fromrgb``).
    tmp_channels, out_channels, resolution, img_channels : int
    conv_clamp : float or None
    use_fp16 : bool
        Compute in float16 on CUDA (the official top-4-resolution rule); float32 elsewhere.
    """

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        resample_filter: tuple[float, ...] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(
                img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp
            )
        self.conv0 = Conv2dLayer(
            tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.conv1 = Conv2dLayer(
            tmp_channels,
            out_channels,
            3,
            activation="lrelu",
            down=2,
            resample_filter=resample_filter,
            conv_clamp=conv_clamp,
        )
        self.skip = Conv2dLayer(
            tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=resample_filter
        )

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool = False
    ) -> tuple[torch.Tensor, None]:
        """Returns ``(features [B, C_out, res/2, res/2], None)`` (``img`` is consumed)."""
        src = img if x is None else x
        fp16 = self.use_fp16 and not force_fp32 and src.device.type == "cuda"
        # float64 stays float64 (for gradient checks); everything else computes in fp32/fp16.
        dtype = torch.float16 if fp16 else _compute_dtype(src)
        if self.in_channels == 0:
            assert img is not None
            x = self.fromrgb(img.to(dtype))
        assert x is not None
        x = x.to(dtype)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=math.sqrt(0.5))
        return y + x, None


class MinibatchStdLayer(nn.Module):
    r"""Append the mean within-group standard deviation of the features as extra channels.

    Groups of :math:`G = \min(\mathrm{group\_size}, N)` samples (sample ``n`` is in group
    ``n mod N/G``); for each group and each of ``num_channels`` channel slices:
    :math:`\mathrm{mean}_{c,h,w}\sqrt{\mathrm{Var}_g(x) + 10^{-8}}` (biased variance), broadcast to
    ``[H, W]``.
    """

    def __init__(self, group_size: int, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        if n % g != 0:
            raise ValueError(
                f"the discriminator's per-device batch ({n}) must be divisible by the minibatch-"
                f"stddev group size min({self.group_size}, {n}) = {g}"
            )
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1)
        y = y.repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


class DiscriminatorEpilogue(nn.Module):
    """The 4×4 head ``b4``: minibatch-stddev → conv 3×3 → fc → out (→ conditional projection)."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int = 4,
        img_channels: int = 3,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.mbstd = (
            MinibatchStdLayer(mbstd_group_size, mbstd_num_channels)
            if mbstd_num_channels > 0
            else None
        )
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels,
            in_channels,
            3,
            activation="lrelu",
            conv_clamp=conv_clamp,
        )
        self.fc = FullyConnectedLayer(in_channels * resolution**2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None) -> torch.Tensor:
        x = x.to(_compute_dtype(x))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            assert cmap is not None
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class _ConditionMapping(MappingNetwork):
    """D's label embedding: the SG2 mapping net with ``z_dim=0`` and no ``w_avg`` tracking."""

    def __init__(self, c_dim: int, cmap_dim: int, num_layers: int = 8, lr_multiplier=0.01):
        super().__init__(
            z_dim=0,
            c_dim=c_dim,
            w_dim=cmap_dim,
            num_ws=1,
            num_layers=num_layers,
            lr_multiplier=lr_multiplier,
        )
        del self.w_avg  # the official conditional D keeps no w_avg

    def forward(self, c: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = normalize_2nd_moment(self.embed(c.to(torch.float32)))
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator (the official StyleGAN3 training D).

    Parameters
    ----------
    c_dim : int
        Label size (0 = unconditional).
    img_resolution : int
        Power of two ≥ 8.
    img_channels : int
    architecture : str
        Only ``'resnet'`` (the StyleGAN3 training setting).
    channel_base, channel_max : int
        Block ``b{r}`` has ``min(channel_base // r, channel_max)`` channels.
    num_fp16_res : int
        The top resolutions that compute in float16 on CUDA.
    conv_clamp : float or None
    cmap_dim : int or None
        Conditional projection size (default: the 4×4 channel count).
    block_kwargs, mapping_kwargs, epilogue_kwargs : dict
        ``epilogue_kwargs``: ``mbstd_group_size`` (4), ``mbstd_num_channels`` (1);
        ``mapping_kwargs``: ``num_layers`` (8), ``lr_multiplier`` (0.01). ``block_kwargs`` may
        carry ``resample_filter``; other official keys (``freeze_layers``, ``channels_last``)
        are accepted and have no effect here.

    Attributes
    ----------
    init_kwargs : dict
        The constructor arguments: ``Discriminator(**D.init_kwargs)`` rebuilds the architecture.
    """

    def __init__(
        self,
        c_dim: int,
        img_resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 4,
        conv_clamp: float | None = 256,
        cmap_dim: int | None = None,
        block_kwargs: dict[str, Any] | None = None,
        mapping_kwargs: dict[str, Any] | None = None,
        epilogue_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.init_kwargs = copy.deepcopy(
            dict(
                c_dim=c_dim,
                img_resolution=img_resolution,
                img_channels=img_channels,
                architecture=architecture,
                channel_base=channel_base,
                channel_max=channel_max,
                num_fp16_res=num_fp16_res,
                conv_clamp=conv_clamp,
                cmap_dim=cmap_dim,
                block_kwargs=dict(block_kwargs or {}),
                mapping_kwargs=dict(mapping_kwargs or {}),
                epilogue_kwargs=dict(epilogue_kwargs or {}),
            )
        )
        self.c_dim = _check_int("c_dim", c_dim, 0)
        res = _check_int("img_resolution", img_resolution, 8)
        if res & (res - 1):
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        self.img_resolution = res
        self.img_channels = _check_int("img_channels", img_channels, 1)
        if architecture != "resnet":
            raise ValueError(f"architecture must be 'resnet' (StyleGAN3's D), got {architecture!r}")
        self.architecture = architecture
        self.img_resolution_log2 = int(math.log2(res))
        self.block_resolutions = [2**i for i in range(self.img_resolution_log2, 2, -1)]
        channels = {
            r: min(channel_base // r, channel_max) for r in [*self.block_resolutions, 4]
        }
        for r, ch in channels.items():
            if ch < 1:
                raise ValueError(
                    f"channel_base={channel_base} gives {ch} channels at resolution {r}; it must "
                    f"be >= the image resolution ({res})"
                )
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        if cmap_dim is None:
            cmap_dim = channels[4]
        if c_dim == 0:
            cmap_dim = 0
        self.cmap_dim = cmap_dim

        bk = dict(block_kwargs or {})
        resample_filter = tuple(bk.pop("resample_filter", (1, 3, 3, 1)))
        for ignored in ("freeze_layers", "channels_last", "architecture", "activation"):
            bk.pop(ignored, None)
        if bk:
            raise TypeError(f"block_kwargs has unsupported keys {sorted(bk)}")
        for r in self.block_resolutions:
            in_channels = channels[r] if r < res else 0
            block = DiscriminatorBlock(
                in_channels,
                channels[r],
                channels[r // 2],
                resolution=r,
                img_channels=img_channels,
                conv_clamp=conv_clamp,
                use_fp16=r >= fp16_resolution,
                resample_filter=resample_filter,
            )
            setattr(self, f"b{r}", block)
        if c_dim > 0:
            mk = dict(mapping_kwargs or {})
            self.mapping = _ConditionMapping(
                c_dim,
                cmap_dim,
                num_layers=mk.get("num_layers", 8),
                lr_multiplier=mk.get("lr_multiplier", 0.01),
            )
        ek = {"mbstd_group_size": 4, "mbstd_num_channels": 1, **dict(epilogue_kwargs or {})}
        self.b4 = DiscriminatorEpilogue(
            channels[4],
            cmap_dim=cmap_dim,
            resolution=4,
            img_channels=img_channels,
            mbstd_group_size=ek["mbstd_group_size"],
            mbstd_num_channels=ek["mbstd_num_channels"],
            conv_clamp=conv_clamp,
        )

    def forward(
        self, img: torch.Tensor, c: torch.Tensor | None, update_emas: bool = False, **_: Any
    ) -> torch.Tensor:
        """``img [B, img_channels, R, R]`` (≈[-1, 1]), ``c [B, c_dim]`` → logits ``[B, 1]``."""
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if not isinstance(img, torch.Tensor) or img.ndim != 4 or tuple(img.shape[1:]) != expected:
            got = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
            want = ", ".join(map(str, expected))
            raise ValueError(f"img must have shape [batch, {want}], got {got}")
        x = None
        for r in self.block_resolutions:
            x, img = getattr(self, f"b{r}")(x, img)
        cmap = None
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"c must have shape [batch, {self.c_dim}], got {c!r:.60}")
            cmap = self.mapping(c)
        return self.b4(x, cmap)

    def extra_repr(self) -> str:
        return (
            f"c_dim={self.c_dim}, img_resolution={self.img_resolution}, "
            f"img_channels={self.img_channels}"
        )
