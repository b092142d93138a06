r"""The StyleGAN3 (Alias-Free GAN) generator, configs T and R, on bandlimit.

Written from the paper (Karras et al., "Alias-Free Generative Adversarial Networks", NeurIPS
2021) and a restatement of the official model's formulas; no NVIDIA code is used. The classes map
onto the boxes of the paper's Figure 4(b) ("StyleGAN3 generator architecture"):

=======================  ===========================================================================
paper box                class here
=======================  ===========================================================================
Mapping network (z→w)    :class:`MappingNetwork` (2 :class:`FullyConnectedLayer` layers, lr × 0.01)
Fourier features + "A"   :class:`SynthesisInput`: band-limited sinusoids (:math:`f_c = 2`) whose
                         rotation/translation comes from w through an affine layer, then a 1×1 mix
Layer L0 … L13           :class:`SynthesisLayer`: "A" (affine → styles) + "Mod/Demod" 3×3 (T) or
                         1×1 (R) modulated convolution + the filtered nonlinearity (↑ m, leaky ReLU,
                         low-pass, ↓ 2) of :func:`bandlimit.ops.filtered_lrelu`
ToRGB (L14)              :class:`SynthesisLayer` with ``is_torgb``: 1×1 modulated conv, no
                         demodulation, bias, clamp, no filtering
Crop / "×0.25"           the final layers' canvas shrinks to the image (L13) and
                         :class:`SynthesisNetwork` multiplies by ``output_scale``
Generator                :class:`Generator` = ``synthesis`` (first) + ``mapping``
=======================  ===========================================================================

Every per-layer number (cutoffs, sampling rates, canvas sizes, channels, factors, paddings, fp16
flags) comes from :func:`bandlimit.filters.stylegan3_schedule` and every filter from
:meth:`bandlimit.filters.Schedule.layer_filters`. Constructor keyword arguments, forward
signatures and state_dict keys are those of the official implementation, so a state_dict moves
between the two unchanged (keys such as ``synthesis.L0_36_512.weight``, ``mapping.fc0.bias``).

Precision: layers flagged ``use_fp16`` by the schedule run in float16 on CUDA (unless
``force_fp32=True``); on any other device everything is float32, as in the official model.
A model converted with ``.double()`` computes (and returns) float64 instead of float32 — for
float64 gradient checks and equivariance measurements free of float32 rounding.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from bandlimit._checks import check_int, check_real
from bandlimit.filters import Schedule, SynthesisLayerSpec, stylegan3_schedule
from bandlimit.ops import bias_act, filtered_lrelu

__all__ = [
    "FullyConnectedLayer",
    "Generator",
    "MappingNetwork",
    "SynthesisInput",
    "SynthesisLayer",
    "SynthesisNetwork",
    "modulated_conv2d",
    "normalize_2nd_moment",
]

_NOISE_MODES = ("random", "const", "none")

# torch < 2.7 has no is_exporting (and 2.7's is True under torch.compile as well): there,
# compiling takes the export form too (the same result up to rounding)
_is_exporting = getattr(torch.compiler, "is_exporting", torch.compiler.is_compiling)


# ---------------------------------------------------------------------------------------------
# Argument checks.


def _check_int(name: str, value: Any, minimum: int) -> int:
    return check_int(name, value, minimum)


def _check_tensor(name: str, x: Any, ndim: int, shape_desc: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape {shape_desc}, got {type(x).__name__}"
        )
    if x.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_desc}, got {tuple(x.shape)}")
    return x


def _check_layer_kwargs(noise_mode: str) -> None:
    # SG3 has no noise inputs; the argument exists only for call compatibility.
    if noise_mode not in _NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {_NOISE_MODES}, got {noise_mode!r}")


def full_precision(module: nn.Module) -> torch.dtype:
    """The dtype a network computes in where the official model uses float32: float64 for a
    ``.double()`` model, else float32 (bf16/fp16 parameters still compute in float32)."""
    param = next(module.parameters(), None)
    return torch.float64 if param is not None and param.dtype == torch.float64 else torch.float32


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    r"""Scale ``x`` to unit second moment along ``dim``.

    :math:`x / \sqrt{\mathrm{mean}(x^2) + \epsilon}`.
    """
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


# ---------------------------------------------------------------------------------------------
# Mapping network.


class FullyConnectedLayer(nn.Module):
    r"""Fully connected layer with equalised learning rate.

    The stored parameters are the *raw* values: weight ``[out, in]`` initialised
    :math:`\mathcal N(0,1) \cdot w_\mathrm{init} / \mathrm{lr}`, bias ``bias_init / lr``. At run
    time :math:`W = W_\mathrm{stored} \cdot \mathrm{lr} / \sqrt{\mathrm{in}}`,
    :math:`b = b_\mathrm{stored} \cdot \mathrm{lr}` and

    .. math:: y = \mathrm{act}(x W^\top + b) \cdot g_\mathrm{act}

    (``activation='lrelu'``: slope 0.2, gain :math:`\sqrt 2`, via :func:`bandlimit.ops.bias_act`).

    Parameters
    ----------
    in_features, out_features : int
    activation : str
        Any :func:`bandlimit.ops.bias_act` activation; ``'linear'`` uses one fused matmul + add.
    bias : bool
    lr_multiplier : float
        Learning-rate multiplier :math:`\mathrm{lr}` (the mapping network uses 0.01).
    weight_init : float
    bias_init : float or sequence of float
        Broadcast to ``[out_features]`` (the Fourier-feature affine uses ``[1, 0, 0, 0]``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "linear",
        bias: bool = True,
        lr_multiplier: float = 1.0,
        weight_init: float = 1.0,
        bias_init: float | Sequence[float] = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = _check_int("in_features", in_features, 1)
        self.out_features = _check_int("out_features", out_features, 1)
        self.activation = activation
        lr = check_real("lr_multiplier", lr_multiplier)
        if lr <= 0:
            raise ValueError(f"lr_multiplier must be > 0, got {lr_multiplier!r}")
        self.weight = nn.Parameter(
            torch.randn([out_features, in_features]) * (float(weight_init) / lr)
        )
        if bias:
            init = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features])
            self.bias = nn.Parameter(torch.from_numpy((init / lr).astype(np.float32)))
        else:
            self.register_parameter("bias", None)
        self.weight_gain = lr / math.sqrt(in_features)
        self.bias_gain = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, in_features]`` → ``[B, out_features]``."""
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"activation={self.activation}"
        )


class MappingNetwork(nn.Module):
    r"""StyleGAN3 mapping network: :math:`z` (and class :math:`c`) → :math:`w`, times ``num_ws``.

    :math:`x = \mathrm{norm}(z)` (unit second moment); if conditional, :math:`y =
    \mathrm{norm}(\mathrm{embed}(c))` and :math:`x = [x, y]`; then ``num_layers`` lrelu FC
    layers (lr × ``lr_multiplier``). The tracked average :math:`\bar w` (buffer ``w_avg``) moves
    as :math:`\bar w \leftarrow \mathrm{mean}_B(w) + \beta(\bar w - \mathrm{mean}_B(w))` when
    ``update_emas``. Truncation: :math:`w \leftarrow \bar w + \psi (w - \bar w)` for the first
    ``truncation_cutoff`` entries (all when None).

    Parameters
    ----------
    z_dim, c_dim, w_dim : int
        Latent, conditioning (0 = unconditional) and intermediate latent sizes.
    num_ws : int
        Number of copies of w produced (the synthesis network's ``num_ws``).
    num_layers : int
        FC layers (StyleGAN3 uses 2).
    lr_multiplier : float
    w_avg_beta : float
        Decay of ``w_avg``.
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
    ) -> None:
        super().__init__()
        self.z_dim = _check_int("z_dim", z_dim, 0)
        self.c_dim = _check_int("c_dim", c_dim, 0)
        self.w_dim = _check_int("w_dim", w_dim, 1)
        self.num_ws = _check_int("num_ws", num_ws, 1)
        self.num_layers = _check_int("num_layers", num_layers, 1)
        if self.z_dim + self.c_dim == 0:
            raise ValueError("z_dim and c_dim must not both be 0 (the mapping needs an input)")
        self.w_avg_beta = check_real("w_avg_beta", w_avg_beta)

        embed_features = w_dim if c_dim > 0 else 0
        features = [z_dim + embed_features] + [w_dim] * num_layers
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx, (fin, fout) in enumerate(itertools.pairwise(features)):
            layer = FullyConnectedLayer(fin, fout, activation="lrelu", lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``z [B, z_dim]``, ``c [B, c_dim]`` → ``ws [B, num_ws, w_dim]`` (float32)."""
        dtype = full_precision(self)
        x = None
        if self.z_dim > 0:
            _check_tensor("z", z, 2, f"[batch, z_dim={self.z_dim}]")
            if z.shape[1] != self.z_dim:
                raise ValueError(f"z must have shape [batch, {self.z_dim}], got {tuple(z.shape)}")
            x = normalize_2nd_moment(z.to(dtype))
        if self.c_dim > 0:
            _check_tensor("c", c, 2, f"[batch, c_dim={self.c_dim}]")
            if c.shape[1] != self.c_dim or (x is not None and c.shape[0] != x.shape[0]):
                raise ValueError(
                    f"c must have shape [batch, {self.c_dim}] matching z, got {tuple(c.shape)}"
                )
            y = normalize_2nd_moment(self.embed(c.to(dtype)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        assert x is not None
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)

        if update_emas:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                cutoff = _check_int("truncation_cutoff", truncation_cutoff, 0)
                x[:, :cutoff] = self.w_avg.lerp(x[:, :cutoff], truncation_psi)
        return x

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"


# ---------------------------------------------------------------------------------------------
# Synthesis network.


class SynthesisInput(nn.Module):
    r"""Fourier-feature input: band-limited sinusoids transformed per sample by w.

    Construction draws ``channels`` frequencies uniformly in the disc of radius ``bandwidth``
    (:math:`g \sim \mathcal N(0, I_2)`, :math:`f = g\,/\,(|g| e^{|g|^2/4}) \cdot \mathrm{bw}`,
    whose radius is :math:`\sqrt U \cdot \mathrm{bw}`) and phases :math:`\varphi \sim U[-1/2, 1/2)`
    (buffers ``freqs``, ``phases``). Forward, for each sample:

    1. :math:`t = \mathrm{affine}(w) = (r_c, r_s, t_x, t_y)`, all divided by
       :math:`\sqrt{r_c^2 + r_s^2}`;
    2. :math:`M = R(r_c, r_s)\, T(-t_x, -t_y)\, U` with :math:`U` = the user buffer ``transform``
       (an *inverse* transform: output coordinates → feature coordinates);
    3. :math:`f' = f A`, :math:`\varphi' = \varphi + f \cdot b` (:math:`A = M_{:2,:2}`,
       :math:`b = M_{:2,2}`), amplitude :math:`a = \mathrm{clip}(1 - (|f'| - \mathrm{bw}) /
       (s/2 - \mathrm{bw}), 0, 1)`;
    4. features :math:`\sin(2\pi(f' \cdot p + \varphi'))\, a` at the pixel centres
       :math:`p = ((j + 1/2 - n/2)/s, (i + 1/2 - n/2)/s)` of an ``size``-pixel canvas;
    5. a 1×1 mix by ``weight / sqrt(channels)``.

    Parameters
    ----------
    w_dim, channels : int
    size : int or (int, int)
        Canvas ``(width, height)`` in pixels, margins included.
    sampling_rate : float
        Pixels per canvas unit :math:`s`.
    bandwidth : float
        Radius of the frequency disc (cycles per unit).
    """

    def __init__(
        self,
        w_dim: int,
        channels: int,
        size: int | Sequence[int],
        sampling_rate: float,
        bandwidth: float,
    ) -> None:
        super().__init__()
        self.w_dim = _check_int("w_dim", w_dim, 1)
        self.channels = _check_int("channels", channels, 1)
        self.size = np.broadcast_to(np.asarray(size), [2]).astype(np.int64)
        self._size_ints = (int(self.size[0]), int(self.size[1]))
        self.sampling_rate = check_real("sampling_rate", sampling_rate)
        self.bandwidth = check_real("bandwidth", bandwidth)
        if not 0 < self.bandwidth < self.sampling_rate / 2:
            raise ValueError(
                f"bandwidth must be in (0, sampling_rate / 2 = {self.sampling_rate / 2}), "
                f"got {bandwidth!r}"
            )

        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        phases = torch.rand([channels]) - 0.5

        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def _grid(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        # Pixel-centre coordinates in canvas units, [H, W, 2] as (x, y).
        w, h = self._size_ints  # Python ints: torch.compile traces them as constants
        xs = (torch.arange(w, dtype=dtype, device=device) + 0.5 - w / 2) / self.sampling_rate
        ys = (torch.arange(h, dtype=dtype, device=device) + 0.5 - h / 2) / self.sampling_rate
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([gx, gy], dim=-1)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """``w [B, w_dim]`` → features ``[B, channels, height, width]`` (float32)."""
        _check_tensor("w", w, 2, f"[batch, w_dim={self.w_dim}]")
        batch = w.shape[0]
        user = self.transform.unsqueeze(0)  # [1, 3, 3]
        freqs = self.freqs.unsqueeze(0)  # [1, C, 2]
        phases = self.phases.unsqueeze(0)  # [1, C]

        t = self.affine(w)  # [B, 4] = (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)  # translation is divided by the same norm
        m_r = torch.eye(3, dtype=t.dtype, device=w.device).unsqueeze(0).repeat([batch, 1, 1])
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, dtype=t.dtype, device=w.device).unsqueeze(0).repeat([batch, 1, 1])
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        transforms = m_r @ m_t @ user  # [B, 3, 3]

        # Apply the affine map to the sinusoids analytically (frequencies are row vectors).
        phases = phases + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # Fade out frequencies pushed beyond the band by a scaling user transform.
        amplitudes = (
            1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)
        ).clamp(0, 1)

        grid = self._grid(w.device, freqs.dtype)  # [H, W, 2]
        x = grid.unsqueeze(0) @ freqs.permute(0, 2, 1).unsqueeze(1)  # [B, H, W, C]
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (2 * math.pi))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)

        weight = self.weight / math.sqrt(self.channels)
        x = x @ weight.t()
        return x.permute(0, 3, 1, 2)  # [B, C, H, W]

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, channels={self.channels}, size={list(self.size)}, "
            f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}"
        )


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    padding: int = 0,
    demodulate: bool = True,
    input_gain: torch.Tensor | None = None,
    *,
    grouped: bool | None = None,
) -> torch.Tensor:
    r"""Style-modulated convolution: per-sample weights, as one grouped or one shared-weight conv.

    With :math:`W` ``[O, I, k, k]`` and styles :math:`s` ``[B, I]``:

    * if ``demodulate``: :math:`W \leftarrow W / \sqrt{\mathrm{mean}_{I,k,k} W^2}` per output
      channel and :math:`s \leftarrow s / \sqrt{\mathrm{mean}_{B,I} s^2}` (one scalar for the
      batch) — range pre-normalisations that cancel below except through the epsilon;
    * :math:`W'_{b,o,i} = W_{o,i} s_{b,i}`; if ``demodulate``, :math:`W'_{b,o} \leftarrow W'_{b,o}
      / \sqrt{\sum_{i,k,k} W'^2_{b,o} + 10^{-8}}`;
    * :math:`W'_{b,o,i} \leftarrow W'_{b,o,i} \, g_{b,i}` with ``input_gain`` (after
      demodulation, so it is not normalised away);
    * :math:`y_b = \mathrm{conv2d}(x_b, W'_b)` (cross-correlation, zero ``padding``), weights
      cast to ``x.dtype``.

    Parameters
    ----------
    x : Tensor ``[B, I, H, W]``
    weight : Tensor ``[O, I, k, k]``
    styles : Tensor ``[B, I]``
    padding : int
    demodulate : bool
    input_gain : Tensor broadcastable to ``[B, I]`` or None
    grouped : bool or None
        ``True``: one grouped conv, the weights modulated per sample (faster on the CPU, what
        training uses); ``False``: the same map as :math:`y_b = d_b \odot
        \mathrm{conv2d}(x_b \odot s_b g_b, W)`, one shared-weight conv with the input and output
        scaled per sample and channel; ``None`` (default): ``False`` under ``torch.export`` (and
        so ``torch.onnx.export``, whose ``Conv`` takes the group count as a constant: the shared
        form keeps the batch size dynamic), else ``True``.

    Returns
    -------
    Tensor ``[B, O, H + 2p - k + 1, W + 2p - k + 1]``, dtype of ``x``.
    """
    batch = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if styles.shape != (batch, in_ch):
        raise ValueError(f"styles must have shape [{batch}, {in_ch}], got {tuple(styles.shape)}")
    if grouped is None:
        grouped = not _is_exporting()

    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    gain = None if input_gain is None else input_gain.expand(batch, in_ch)

    if not grouped:
        scale = styles if gain is None else styles * gain
        y = torch.nn.functional.conv2d(
            x * scale.to(x.dtype)[:, :, None, None], weight.to(x.dtype), padding=padding
        )
        if demodulate:  # Σ_{i,k,k} (W_oi s_bi)² = Σ_i s_bi² Σ_{k,k} W_oi²
            dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).T + 1e-8).rsqrt()
            y = y * dcoefs.to(y.dtype)[:, :, None, None]
        return y

    w = weight.unsqueeze(0) * styles.unsqueeze(1).unsqueeze(3).unsqueeze(4)  # [B, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [B, O]
        w = w * dcoefs.unsqueeze(2).unsqueeze(3).unsqueeze(4)
    if gain is not None:
        w = w * gain.unsqueeze(1).unsqueeze(3).unsqueeze(4)

    x = x.reshape(1, batch * in_ch, *x.shape[2:])
    w = w.reshape(batch * out_ch, in_ch, kh, kw)
    y = torch.nn.functional.conv2d(x, w.to(x.dtype), padding=padding, groups=batch)
    return y.reshape(batch, out_ch, *y.shape[2:])


class SynthesisLayer(nn.Module):
    r"""One synthesis layer: modulated conv → filtered leaky ReLU (or ToRGB).

    Forward for input ``x [B, C_in, N_in, N_in]`` and latent ``w [B, w_dim]``:

    1. ``update_emas``: ``magnitude_ema`` ← lerp(mean(x²), ema, β) (float32, whole batch);
       input gain :math:`g = \mathrm{ema}^{-1/2}` (always applied);
    2. styles :math:`s = \mathrm{affine}(w)` (bias init 1); ToRGB:
       :math:`s / \sqrt{C_\mathrm{in} k^2}`;
    3. :func:`modulated_conv2d` with padding :math:`k - 1` (the map grows by :math:`k-1`),
       demodulated except in ToRGB;
    4. :func:`bandlimit.ops.filtered_lrelu` with the layer's bias, up/down filters and factors,
       padding, gain (:math:`\sqrt 2`; ToRGB 1), slope (0.2; ToRGB 1 = linear) and clamp.

    The layer is fully described by its :class:`bandlimit.filters.SynthesisLayerSpec`; the
    filters are the schedule's (:meth:`bandlimit.filters.Schedule.layer_filters`) and stored as
    buffers ``up_filter`` / ``down_filter`` (absent when the layer does not filter).

    Parameters
    ----------
    spec : SynthesisLayerSpec
    up_filter, down_filter : Tensor or None
        float32 ``[taps]`` (separable) or ``[taps, taps]`` (radial); shapes must match ``spec``.
    """

    #: Device types on which ``use_fp16`` layers compute in float16. The official model uses
    #: float16 only on CUDA; tests may add ``'cpu'`` to exercise the float16 code path.
    fp16_device_types: tuple[str, ...] = ("cuda",)

    def __init__(
        self,
        spec: SynthesisLayerSpec,
        up_filter: torch.Tensor | None,
        down_filter: torch.Tensor | None,
    ) -> None:
        super().__init__()
        if not isinstance(spec, SynthesisLayerSpec):
            raise TypeError(f"spec must be a SynthesisLayerSpec, got {type(spec).__name__}")
        for name, f, shape in (
            ("up_filter", up_filter, spec.up_filter_shape),
            ("down_filter", down_filter, spec.down_filter_shape),
        ):
            got = None if f is None else tuple(f.shape)
            if got != shape:
                raise ValueError(f"{name} must have shape {shape} for layer {spec.name}, got {got}")
        self.spec = spec
        self.name = spec.name
        # Official attribute names, for introspection and cross-checks with official pickles.
        for field in (
            "w_dim", "is_torgb", "is_critically_sampled", "use_fp16", "in_channels",
            "out_channels", "in_size", "out_size", "in_sampling_rate", "out_sampling_rate",
            "tmp_sampling_rate", "in_cutoff", "out_cutoff", "in_half_width", "out_half_width",
            "conv_kernel", "conv_clamp", "magnitude_ema_beta", "up_factor", "down_factor",
            "up_taps", "down_taps", "down_radial", "padding",
        ):  # fmt: skip
            setattr(self, field, getattr(spec, field))
        self.conv_padding = spec.conv_kernel - 1

        self.affine = FullyConnectedLayer(spec.w_dim, spec.in_channels, bias_init=1)
        self.weight = nn.Parameter(
            torch.randn([spec.out_channels, spec.in_channels, spec.conv_kernel, spec.conv_kernel])
        )
        self.bias = nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", None if up_filter is None else up_filter.float())
        self.register_buffer("down_filter", None if down_filter is None else down_filter.float())

    def compute_dtype(self, x: torch.Tensor, force_fp32: bool = False) -> torch.dtype:
        """float16 for a ``use_fp16`` layer on CUDA (``fp16_device_types``) unless forced."""
        fp16 = self.use_fp16 and not force_fp32 and x.device.type in self.fp16_device_types
        return torch.float16 if fp16 else full_precision(self)

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``x [B, C_in, *in_size]``, ``w [B, w_dim]`` → ``[B, C_out, *out_size]``."""
        _check_layer_kwargs(noise_mode)
        expected = (self.in_channels, self.in_size[1], self.in_size[0])
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x must have shape [batch, {expected[0]}, {expected[1]}, {expected[2]}] for "
                f"layer {self.name}, got {tuple(x.shape)}"
            )

        if update_emas:
            with torch.autograd.no_grad():
                magnitude = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(
                    magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta)
                )
        input_gain = self.magnitude_ema.rsqrt()

        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel**2))

        dtype = self.compute_dtype(x, force_fp32)
        x = modulated_conv2d(
            x.to(dtype),
            self.weight,
            styles,
            padding=self.conv_padding,
            demodulate=not self.is_torgb,
            input_gain=input_gain,
        )
        x = filtered_lrelu(
            x,
            fu=self.up_filter,
            fd=self.down_filter,
            b=self.bias.to(x.dtype),
            up=self.up_factor,
            down=self.down_factor,
            padding=self.padding,
            gain=self.spec.flrelu_gain,
            slope=self.spec.flrelu_slope,
            clamp=self.spec.flrelu_clamp,
        )
        return x

    def extra_repr(self) -> str:
        s = self.spec
        return (
            f"name={s.name}, {s.in_channels}->{s.out_channels}, size {s.in_size[0]}->"
            f"{s.out_size[0]}, rate {s.in_sampling_rate}->{s.out_sampling_rate} (tmp "
            f"{s.tmp_sampling_rate}), up={s.up_factor}, down={s.down_factor}, "
            f"kernel={s.conv_kernel}, radial={s.down_radial}, fp16={s.use_fp16}"
        )


# SynthesisLayer keyword arguments that SynthesisNetwork forwards (constructor routing).
_LAYER_KWARGS = {
    "conv_kernel": 3,
    "filter_size": 6,
    "lrelu_upsampling": 2,
    "use_radial_filters": False,
    "conv_clamp": 256,
    "magnitude_ema_beta": 0.999,
}


class SynthesisNetwork(nn.Module):
    r"""Fourier input, ``num_layers`` filtered layers and ToRGB, then ``× output_scale``.

    The layer schedule is :func:`bandlimit.filters.stylegan3_schedule` with these arguments
    (available as :attr:`schedule`); layers are registered under their schedule names
    (``L{i}_{size}_{channels}``), giving the official state_dict keys. ``num_ws = num_layers + 2``:
    ``ws[:, 0]`` drives the input, ``ws[:, 1 + j]`` layer ``j``.

    Parameters
    ----------
    w_dim, img_resolution, img_channels : int
    channel_base, channel_max : int
        Channels :math:`C = \mathrm{rint}(\min(\mathrm{base}/2/f_c, \mathrm{max}))`.
    num_layers, num_critical : int
    first_cutoff, first_stopband, last_stopband_rel : float
    margin_size : int
    output_scale : float
    num_fp16_res : int
    **layer_kwargs
        Forwarded to every layer: ``conv_kernel`` (3; R: 1), ``filter_size`` (6),
        ``lrelu_upsampling`` (2), ``use_radial_filters`` (False; R: True), ``conv_clamp`` (256;
        None = no clamp), ``magnitude_ema_beta`` (0.999). Any other name raises ``TypeError``.
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_layers: int = 14,
        num_critical: int = 2,
        first_cutoff: float = 2,
        first_stopband: float = 2**2.1,
        last_stopband_rel: float = 2**0.3,
        margin_size: int = 10,
        output_scale: float = 0.25,
        num_fp16_res: int = 4,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        unknown = sorted(set(layer_kwargs) - set(_LAYER_KWARGS))
        if unknown:
            raise TypeError(
                f"SynthesisNetwork got unexpected keyword arguments {unknown}; layers accept "
                f"{sorted(_LAYER_KWARGS)}"
            )
        lk = {**_LAYER_KWARGS, **layer_kwargs}
        self.schedule: Schedule = stylegan3_schedule(
            img_resolution,
            config="R" if lk["use_radial_filters"] else "T",  # a label only: all values explicit
            num_layers=num_layers,
            num_critical=num_critical,
            first_cutoff=first_cutoff,
            first_stopband=first_stopband,
            last_stopband_rel=last_stopband_rel,
            margin_size=margin_size,
            channel_base=channel_base,
            channel_max=channel_max,
            img_channels=img_channels,
            filter_size=lk["filter_size"],
            lrelu_upsampling=lk["lrelu_upsampling"],
            conv_kernel=lk["conv_kernel"],
            use_radial_filters=lk["use_radial_filters"],
            num_fp16_res=num_fp16_res,
            conv_clamp=lk["conv_clamp"],
            w_dim=w_dim,
            output_scale=output_scale,
            magnitude_ema_beta=lk["magnitude_ema_beta"],
        )
        sched = self.schedule
        self.w_dim = sched.w_dim
        self.img_resolution = sched.img_resolution
        self.img_channels = sched.img_channels
        self.num_layers = sched.num_layers
        self.num_critical = sched.num_critical
        self.margin_size = sched.margin_size
        self.output_scale = sched.output_scale
        self.num_fp16_res = sched.num_fp16_res
        self.num_ws = sched.num_ws
        self.layer_names = list(sched.layer_names)

        inp = sched.input
        self.input = SynthesisInput(
            w_dim=inp.w_dim,
            channels=inp.channels,
            size=inp.size,
            sampling_rate=inp.sampling_rate,
            bandwidth=inp.bandwidth,
        )
        for i, spec in enumerate(sched.layers):
            up_filter, down_filter = sched.layer_filters(i)
            setattr(self, spec.name, SynthesisLayer(spec, up_filter, down_filter))

    def forward(
        self,
        ws: torch.Tensor,
        update_emas: bool = False,
        force_fp32: bool = False,
        noise_mode: str = "random",
    ) -> torch.Tensor:
        """``ws [B, num_ws, w_dim]`` → image ``[B, img_channels, res, res]`` (float32, ≈[-1, 1]).

        ``noise_mode`` is accepted for compatibility and ignored (StyleGAN3 has no noise).
        """
        _check_tensor("ws", ws, 3, f"[batch, num_ws={self.num_ws}, w_dim={self.w_dim}]")
        if tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(
                f"ws must have shape [batch, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}"
            )
        dtype = full_precision(self)
        ws_list = ws.to(dtype).unbind(dim=1)
        x = self.input(ws_list[0])
        for name, w in zip(self.layer_names, ws_list[1:]):
            x = getattr(self, name)(
                x, w, noise_mode=noise_mode, force_fp32=force_fp32, update_emas=update_emas
            )
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(dtype)

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, "
            f"img_channels={self.img_channels}, num_layers={self.num_layers}, "
            f"num_critical={self.num_critical}, margin_size={self.margin_size}, "
            f"num_fp16_res={self.num_fp16_res}"
        )


class Generator(nn.Module):
    r"""StyleGAN3 generator: ``synthesis(mapping(z, c))``.

    Constructor routing as in the official model: ``mapping_kwargs`` go to
    :class:`MappingNetwork`; all other keyword arguments go to :class:`SynthesisNetwork`, which
    forwards the layer-level ones (``conv_kernel``, ``use_radial_filters``, ``conv_clamp``,
    ``magnitude_ema_beta``, ``filter_size``, ``lrelu_upsampling``) to every layer.

    Config T: the defaults (training used ``channel_base=32768, channel_max=512``).
    Config R: ``conv_kernel=1, use_radial_filters=True, channel_base=65536, channel_max=1024``.

    Parameters
    ----------
    z_dim, c_dim, w_dim, img_resolution, img_channels : int
    mapping_kwargs : dict, optional
        ``num_layers`` (2), ``lr_multiplier`` (0.01), ``w_avg_beta`` (0.998).
    **synthesis_kwargs
        See :class:`SynthesisNetwork`.

    Attributes
    ----------
    init_kwargs : dict
        The constructor arguments (deep copy): ``Generator(**G.init_kwargs)`` rebuilds the
        architecture, the state_dict the weights.
    num_ws : int
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict[str, Any] | None = None,
        **synthesis_kwargs: Any,
    ) -> None:
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = copy.deepcopy(
            dict(
                z_dim=z_dim,
                c_dim=c_dim,
                w_dim=w_dim,
                img_resolution=img_resolution,
                img_channels=img_channels,
                mapping_kwargs=mapping_kwargs,
                **synthesis_kwargs,
            )
        )
        self.z_dim = _check_int("z_dim", z_dim, 0)
        self.c_dim = _check_int("c_dim", c_dim, 0)
        self.w_dim = _check_int("w_dim", w_dim, 1)
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            **synthesis_kwargs,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        """``z [B, z_dim]``, ``c [B, c_dim]`` → image ``[B, img_channels, res, res]`` (float32).

        ``synthesis_kwargs``: ``force_fp32``, ``noise_mode`` (ignored).
        """
        ws = self.mapping(
            z,
            c,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            update_emas=update_emas,
        )
        return self.synthesis(ws, update_emas=update_emas, **synthesis_kwargs)
