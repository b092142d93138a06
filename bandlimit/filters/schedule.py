r"""Cutoff schedules: per-layer cutoff, stop band, sampling rate and canvas size of a network.

An alias-free network keeps, at every layer :math:`i`, a band-limited signal described by

* the cutoff :math:`f_c` (the highest frequency the layer is meant to carry),
* the stop band :math:`f_t` (the target start of the filter's stop band, :math:`f_t > f_c`),
* the sampling rate :math:`s` (pixels per canvas unit, a power of two),
* the transition half-width :math:`f_h` (the filter runs from :math:`f_c - f_h` to
  :math:`f_c + f_h`),
* the canvas size (the sampled width in pixels, including margins).

All frequencies are in cycles per canvas unit, where the visible output image spans one unit: an
image of ``resolution`` pixels therefore has sampling rate ``resolution`` and Nyquist frequency
``resolution / 2``.

:func:`~bandlimit.filters.geometric_schedule` computes the StyleGAN3 (Karras et al. 2021,
Sec. 3.2 and App. F) geometric progression for any number of layers;
:func:`~bandlimit.filters.stylegan3_schedule` builds on it to give every attribute of the official
StyleGAN3 synthesis network (names, channels, up/down factors, tap counts, paddings, fp16
flags...) and :meth:`~bandlimit.filters.Schedule.layer_filters` designs each layer's filters.

The float64 expressions are evaluated in the same order as the official implementation. This
matters: at 256² the stop band of layer 9 is *exactly* :math:`2^6`, on a power-of-two boundary,
and a result one ulp larger would double that layer's sampling rate (and rename its checkpoint
key from ``L9_148_362`` to ``L9_276_362``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bandlimit._checks import check_bool, check_int, check_real, short_repr

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "GeometricSchedule",
    "Schedule",
    "SynthesisInputSpec",
    "SynthesisLayerSpec",
    "geometric_schedule",
    "stylegan3_schedule",
]


# ---------------------------------------------------------------------------------------------
# Argument validation.


# Sizes, rates and channel counts are computed in float64: integers beyond 2**53 would be
# rounded (a margin of 2**60 + 1 came out as 2**60) or overflow (10**400).
_MAX_INT = 2**53


def _int_arg(name: str, value: Any, minimum: int, maximum: int = _MAX_INT) -> int:
    out = check_int(name, value, minimum)
    if out > maximum:
        bound = "2**53" if maximum == _MAX_INT else str(maximum)
        raise ValueError(f"{name} must be an int in [{minimum}, {bound}], got {short_repr(value)}")
    return out


def _positive_arg(name: str, value: Any) -> float:
    return check_real(name, value, positive=True)


def _python_number(value: float) -> float:
    """A validated number as the Python int or float it is (a numpy scalar's ``.item()``)."""
    return value.item() if isinstance(value, np.generic) else value


def _power_of_two_arg(name: str, value: Any) -> int:
    out = _int_arg(name, value, 1)
    if out & (out - 1):
        raise ValueError(f"{name} must be a power of two (4, 8, ..., 1024), got {value!r}")
    return out


# ---------------------------------------------------------------------------------------------
# The geometric core.


@dataclass(frozen=True)
class GeometricSchedule:
    r"""Per-entry band limits of a geometric cutoff schedule (see :func:`geometric_schedule`).

    Every sequence has ``num_layers + 1`` entries, indexed :math:`i = 0 \dots N`: entry
    :math:`i` describes the signal *produced by* layer :math:`i` (entry 0 also describes the
    network input), entry :math:`N` the final output.

    Frequencies are in cycles per canvas unit, sampling rates in pixels per canvas unit (the
    output image spans one unit).

    Attributes
    ----------
    resolution : int
        Output resolution in pixels, the cap on every sampling rate.
    num_layers : int
        :math:`N`, as passed to :func:`geometric_schedule`.
    num_critical : int
        :math:`N_\mathrm{crit}`, the number of final layers that keep the last cutoff.
    margin_size : int
        Pixels of margin on each side of every canvas but the last ``num_unpadded``.
    num_unpadded : int
        Number of final entries whose canvas is exactly ``resolution`` pixels.
    first_cutoff : float
        :math:`f_{c,0}`, the first cutoff.
    last_cutoff : float
        :math:`f_{c,N}`, the last cutoff.
    first_stopband : float
        :math:`f_{t,0}`, the first stop-band target.
    last_stopband : float
        :math:`f_{t,N}`, the last stop-band target.
    exponents : tuple of float
        :math:`e_i = \min(i / (N - N_\mathrm{crit}), 1)`.
    cutoffs : tuple of float
        :math:`f_c[i]`.
    stopbands : tuple of float
        :math:`f_t[i]` (the stop-band *target*; the filters' actual stop-band edge is
        :attr:`stopband_edges`).
    sampling_rates : tuple of int
        :math:`s[i]`, powers of two.
    half_widths : tuple of float
        :math:`f_h[i] = \max(f_t[i], s[i]/2) - f_c[i]`.
    sizes : tuple of int
        Canvas width in pixels: :math:`s[i] + 2\,\mathrm{margin}`, except the last
        ``num_unpadded`` entries, which equal ``resolution``.
    is_critically_sampled : tuple of bool
        True for :math:`i \ge N - N_\mathrm{crit}`, the entries that have reached the final
        cutoff (critically sampled, :math:`f_c = s/2`, when ``last_cutoff == resolution / 2``).

    Examples
    --------
    Four layers from cutoff 2 to 8 at 16 pixels per unit, the last one critically sampled;
    where the sampling rate leaves room, the transition band widens up to Nyquist, so the
    actual stop-band edges lie at or above the targets 3 … 12:

    >>> from bandlimit.filters import geometric_schedule
    >>> g = geometric_schedule(4, first_cutoff=2, last_cutoff=8, first_stopband=3,
    ...                        last_stopband=12, num_critical=1, resolution=16)
    >>> len(g), g.sampling_rates, g.sizes
    (5, (8, 16, 16, 16, 16), (8, 16, 16, 16, 16))
    >>> [round(c, 3) for c in g.cutoffs]
    [2.0, 3.175, 5.04, 8.0, 8.0]
    >>> [round(e, 3) for e in g.stopband_edges]
    [4.0, 8.0, 8.0, 12.0, 12.0]
    >>> g.is_critically_sampled
    (False, False, False, True, True)
    """

    resolution: int
    num_layers: int
    num_critical: int
    margin_size: int
    num_unpadded: int
    first_cutoff: float
    last_cutoff: float
    first_stopband: float
    last_stopband: float
    exponents: tuple[float, ...]
    cutoffs: tuple[float, ...]
    stopbands: tuple[float, ...]
    sampling_rates: tuple[int, ...]
    half_widths: tuple[float, ...]
    sizes: tuple[int, ...]
    is_critically_sampled: tuple[bool, ...]

    def __len__(self) -> int:
        return len(self.cutoffs)

    @property
    def stopband_edges(self) -> tuple[float, ...]:
        r"""Actual stop-band edges :math:`f_c + f_h = \max(f_t, s/2)` (up to rounding)."""
        return tuple(c + h for c, h in zip(self.cutoffs, self.half_widths))


def geometric_schedule(
    num_layers: int,
    *,
    first_cutoff: float,
    last_cutoff: float,
    first_stopband: float,
    last_stopband: float,
    num_critical: int,
    resolution: int,
    margin_size: int = 0,
    num_unpadded: int = 2,
) -> GeometricSchedule:
    r"""Geometric cutoff/stop-band progression of an alias-free network (StyleGAN3, App. F).

    With :math:`N` = ``num_layers`` and :math:`N_\mathrm{crit}` = ``num_critical``, for
    :math:`i = 0 \dots N`:

    .. math::
        e_i &= \min\big(i / (N - N_\mathrm{crit}),\ 1\big) \\
        f_c[i] &= f_{c,0}\,(f_{c,N}/f_{c,0})^{e_i}, \qquad
        f_t[i] = f_{t,0}\,(f_{t,N}/f_{t,0})^{e_i} \\
        s[i] &= 2^{\lceil \log_2 \min(2 f_t[i],\ \mathrm{resolution}) \rceil} \\
        f_h[i] &= \max(f_t[i],\ s[i]/2) - f_c[i] \\
        \mathrm{size}[i] &= s[i] + 2\,\mathrm{margin}
            \quad(\text{the last } \texttt{num\_unpadded} \text{ entries: resolution})

    i.e. cutoff and stop band move log-linearly from their first to their last value over the
    first :math:`N - N_\mathrm{crit}` layers and stay there for the last :math:`N_\mathrm{crit}`;
    each layer gets the smallest power-of-two rate that puts the Nyquist frequency at or above
    the stop band (capped at the output resolution), and the filter's transition band is widened
    up to Nyquist when the rate leaves room. Expressions are evaluated in float64 in the same order
    as the official StyleGAN3 code, so its schedules are reproduced bit for bit (the introduction of
    the cutoff schedules says why that matters). A decreasing progression (``first_cutoff >
    last_cutoff``) is allowed too.

    All frequencies are in cycles per canvas unit (the output image spans one unit), sampling
    rates in pixels per canvas unit. Every argument but ``num_layers`` is keyword-only.

    Parameters
    ----------
    num_layers : int
        :math:`N \ge 1`; the schedule has :math:`N + 1` entries (StyleGAN3: 14 layers plus ToRGB).
    first_cutoff, last_cutoff : float
        :math:`f_{c,0}`, :math:`f_{c,N} > 0`, both :math:`\le` ``resolution / 2``
        (StyleGAN3: 2 and ``resolution / 2``).
    first_stopband, last_stopband : float
        :math:`f_{t,0} > f_{c,0}` and :math:`f_{t,N} > f_{c,N}`, both :math:`> 1/4` so that every
        sampling rate is at least one pixel per unit (StyleGAN3: :math:`2^{2.1}` and
        :math:`f_{c,N} \cdot 2^{0.3}`).
    num_critical : int
        :math:`0 \le N_\mathrm{crit} < N`: number of final layers that keep the last cutoff
        (StyleGAN3: 2).
    resolution : int
        Output resolution in pixels, a power of two; the cap on every sampling rate.
    margin_size : int
        Pixels of margin added on each side of every canvas but the last ``num_unpadded``
        (default 0; StyleGAN3: 10).
    num_unpadded : int
        Number of final entries whose canvas is exactly ``resolution`` pixels (default and
        StyleGAN3: 2, the cropping layer and ToRGB), ``0 … num_layers + 1``.

    Returns
    -------
    GeometricSchedule
        The per-entry cutoffs, stop bands, sampling rates, half-widths and canvas sizes.

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. a float ``resolution``).
    ValueError
        An argument is out of range; the message names it, its value and what was expected.

    Examples
    --------
    StyleGAN3's schedule at 256×256 (:func:`stylegan3_schedule` adds everything else). Layer 9's
    stop band is exactly :math:`2^6`, so its sampling rate is 128, not 256:

    >>> from bandlimit.filters import geometric_schedule
    >>> g = geometric_schedule(14, first_cutoff=2, last_cutoff=128, first_stopband=2**2.1,
    ...                        last_stopband=128 * 2**0.3, num_critical=2, resolution=256,
    ...                        margin_size=10)
    >>> g.sampling_rates
    (16, 16, 16, 32, 32, 64, 64, 128, 128, 128, 256, 256, 256, 256, 256)
    >>> g.sizes
    (36, 36, 36, 52, 52, 84, 84, 148, 148, 148, 276, 276, 276, 256, 256)
    >>> [round(c, 2) for c in g.cutoffs]
    [2.0, 2.83, 4.0, 5.66, 8.0, 11.31, 16.0, 22.63, 32.0, 45.25, 64.0, 90.51, 128.0, 128.0, 128.0]
    >>> g.stopbands[9]
    64.0
    """
    num_layers = _int_arg("num_layers", num_layers, 1, 2**16)  # (one spec per layer)
    num_critical = _int_arg("num_critical", num_critical, 0)
    if num_critical >= num_layers:
        raise ValueError(
            f"num_critical must satisfy 0 <= num_critical < num_layers = {num_layers}, "
            f"got {num_critical!r}"
        )
    resolution = _power_of_two_arg("resolution", resolution)
    margin_size = _int_arg("margin_size", margin_size, 0)
    num_unpadded = _int_arg("num_unpadded", num_unpadded, 0)
    if num_unpadded > num_layers + 1:
        raise ValueError(
            f"num_unpadded must be <= num_layers + 1 = {num_layers + 1}, got {num_unpadded!r}"
        )
    first_cutoff = _positive_arg("first_cutoff", first_cutoff)
    last_cutoff = _positive_arg("last_cutoff", last_cutoff)
    first_stopband = _positive_arg("first_stopband", first_stopband)
    last_stopband = _positive_arg("last_stopband", last_stopband)
    for name, cutoff in (("first_cutoff", first_cutoff), ("last_cutoff", last_cutoff)):
        if cutoff > resolution / 2:
            raise ValueError(
                f"{name} must be <= resolution / 2 = {resolution / 2!r} (the output Nyquist "
                f"frequency; resolution = {resolution}), got {cutoff!r}: increase resolution"
            )
    if first_stopband <= first_cutoff:
        raise ValueError(
            f"first_stopband must be > first_cutoff = {first_cutoff!r}, got {first_stopband!r}"
        )
    if last_stopband <= last_cutoff:
        raise ValueError(
            f"last_stopband must be > last_cutoff = {last_cutoff!r}, got {last_stopband!r}"
        )
    for name, stopband in (("first_stopband", first_stopband), ("last_stopband", last_stopband)):
        if stopband <= 0.25:
            raise ValueError(
                f"{name} must be > 0.25 (so that every sampling rate is >= 1 pixel per unit), "
                f"got {stopband!r}"
            )

    # Official expression order (do not "simplify": see the module docstring).
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + margin_size * 2
    if num_unpadded:
        sizes[-num_unpadded:] = resolution

    return GeometricSchedule(
        resolution=resolution,
        num_layers=num_layers,
        num_critical=num_critical,
        margin_size=margin_size,
        num_unpadded=num_unpadded,
        first_cutoff=first_cutoff,
        last_cutoff=last_cutoff,
        first_stopband=first_stopband,
        last_stopband=last_stopband,
        exponents=tuple(float(e) for e in exponents),
        cutoffs=tuple(float(c) for c in cutoffs),
        stopbands=tuple(float(t) for t in stopbands),
        sampling_rates=tuple(int(s) for s in sampling_rates),
        half_widths=tuple(float(h) for h in half_widths),
        sizes=tuple(int(n) for n in sizes),
        is_critically_sampled=tuple(i >= num_layers - num_critical for i in range(num_layers + 1)),
    )


# ---------------------------------------------------------------------------------------------
# StyleGAN3 synthesis network.


@dataclass(frozen=True)
class SynthesisInputSpec:
    """The Fourier-feature input of a StyleGAN3 synthesis network.

    Attributes
    ----------
    channels : int
        Number of Fourier features :math:`C[0]`.
    size : tuple of int
        Canvas ``(width, height)`` in pixels (``size[0]`` of the schedule, margins included).
    sampling_rate : float
        :math:`s[0]` (pixels per canvas unit).
    bandwidth : float
        :math:`f_c[0]`, cycles per canvas unit: frequencies are drawn uniformly in the disc of
        this radius.
    w_dim : int
        Latent dimension of the affine layer that makes the per-sample transform.

    Examples
    --------
    >>> from bandlimit.filters import stylegan3_schedule
    >>> stylegan3_schedule(256).input
    SynthesisInputSpec(channels=512, size=(36, 36), sampling_rate=16.0, bandwidth=2.0, w_dim=512)
    """

    channels: int
    size: tuple[int, int]
    sampling_rate: float
    bandwidth: float
    w_dim: int


@dataclass(frozen=True)
class SynthesisLayerSpec:
    r"""Every attribute of one StyleGAN3 synthesis layer (``L{i}_{size}_{channels}``).

    Field names and values match the official ``SynthesisLayer`` attributes (sizes and shapes
    are tuples here, lists in JSON dumps). Frequencies are in cycles per canvas unit; ``in_*``
    describe the incoming signal (the previous entry of the schedule), ``out_*`` the produced one.

    Attributes
    ----------
    name : str
        State-dict prefix ``L{index}_{out_size[0]}_{out_channels}``.
    index : int
        Position :math:`i` in the network (0 … num_layers; ``num_layers`` is ToRGB).
    is_torgb : bool
        True for the last layer, ToRGB (1×1 conv, no filters, linear activation).
    is_critically_sampled : bool
        True when the layer keeps the final cutoff (the last ``num_critical`` layers and ToRGB).
    use_fp16 : bool
        True when the layer runs in fp16 on CUDA,
        :math:`s_\mathrm{out} \cdot 2^{\mathrm{num\_fp16\_res}} > \mathrm{img\_resolution}`.
    in_channels : int
        Channels of the incoming signal.
    out_channels : int
        Channels produced.
    in_size : tuple of int
        Canvas ``(width, height)`` of the incoming signal, in pixels (margins included).
    out_size : tuple of int
        Canvas ``(width, height)`` produced, in pixels.
    in_sampling_rate : int
        :math:`s_\mathrm{in}`, pixels per canvas unit.
    out_sampling_rate : int
        :math:`s_\mathrm{out}`, pixels per canvas unit.
    tmp_sampling_rate : int
        Internal (upsampled) rate of the nonlinearity, at which both filters run:
        :math:`s_\mathrm{tmp} = \max(s_\mathrm{in}, s_\mathrm{out}) \cdot m` with :math:`m` =
        ``lrelu_upsampling`` (1 for ToRGB).
    in_cutoff : float
        Cutoff :math:`f_c` of the incoming signal (the up filter's cutoff).
    out_cutoff : float
        Cutoff of the produced signal (the down filter's cutoff).
    in_half_width : float
        Transition half-width :math:`f_h` of the incoming signal (the up filter's full width is
        twice this).
    out_half_width : float
        Transition half-width of the produced signal (the down filter's full width is twice
        this).
    w_dim : int
        Latent dimension of the layer's affine (style) input.
    conv_kernel : int
        Modulated-conv kernel size (1 for ToRGB).
    conv_clamp : float or None
        Activation clamp (None: no clamp).
    magnitude_ema_beta : float
        Decay of the input-magnitude EMA.
    filter_size : int
        Filter support in samples of the lower rate.
    lrelu_upsampling : int
        Oversampling :math:`m` of the nonlinearity.
    use_radial_filters : bool
        The layer-level flag (config R); the down filter is radial only if ``down_radial``.
    up_factor : int
        :math:`s_\mathrm{tmp}/s_\mathrm{in}`.
    down_factor : int
        :math:`s_\mathrm{tmp}/s_\mathrm{out}`.
    up_taps : int
        ``filter_size * up_factor`` when ``up_factor > 1`` and the layer is not ToRGB, else 1
        (no filter).
    down_taps : int
        ``filter_size * down_factor`` when ``down_factor > 1`` and the layer is not ToRGB, else
        1 (no filter).
    down_radial : bool
        ``use_radial_filters and not is_critically_sampled``.
    up_filter_shape : tuple of int or None
        ``(up_taps,)`` (always separable), or None for no filter.
    down_filter_shape : tuple of int or None
        ``(down_taps,)`` for a separable filter, ``(down_taps, down_taps)`` for a radial one,
        None for no filter.
    padding : tuple of int
        ``(x0, x1, y0, y1)`` of the filtered activation (negative = crop), for an input of
        ``in_size + conv_kernel - 1`` pixels (the conv output, :attr:`conv_out_size`).
    flrelu_gain : float
        Gain of the activation: :math:`\sqrt 2` (ToRGB: 1).
    flrelu_slope : float
        Negative slope of the leaky ReLU: 0.2 (ToRGB: 1, i.e. linear).
    flrelu_clamp : float or None
        Clamp of the filtered activation, equal to ``conv_clamp``.

    Examples
    --------
    Layer 9 of StyleGAN3-T at 256×256: 2× up to 256 pixels per unit, leaky ReLU, 2× down:

    >>> from bandlimit.filters import stylegan3_schedule
    >>> layer = stylegan3_schedule(256).layers[9]
    >>> layer.name, layer.in_size, layer.tmp_sampling_rate, layer.out_sampling_rate
    ('L9_148_362', (148, 148), 256, 128)
    >>> layer.up_taps, layer.down_taps, layer.down_filter_shape, layer.padding
    (12, 12, (12,), (9, 8, 9, 8))
    >>> round(layer.out_cutoff, 4), round(layer.out_stopband, 4)
    (45.2548, 64.0)
    """

    name: str
    index: int
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    in_sampling_rate: int
    out_sampling_rate: int
    tmp_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    w_dim: int
    conv_kernel: int
    conv_clamp: float | None
    magnitude_ema_beta: float
    filter_size: int
    lrelu_upsampling: int
    use_radial_filters: bool
    up_factor: int
    down_factor: int
    up_taps: int
    down_taps: int
    down_radial: bool
    up_filter_shape: tuple[int, ...] | None
    down_filter_shape: tuple[int, ...] | None
    padding: tuple[int, int, int, int]
    flrelu_gain: float
    flrelu_slope: float
    flrelu_clamp: float | None

    @property
    def in_stopband(self) -> float:
        """Stop-band edge of the incoming signal's filter, ``in_cutoff + in_half_width``."""
        return self.in_cutoff + self.in_half_width

    @property
    def out_stopband(self) -> float:
        """Stop-band edge of the down filter, ``out_cutoff + out_half_width``."""
        return self.out_cutoff + self.out_half_width

    @property
    def conv_out_size(self) -> tuple[int, int]:
        """Size of the modulated conv's output (the filtered activation's input)."""
        k = self.conv_kernel - 1
        return (self.in_size[0] + k, self.in_size[1] + k)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of the fields (tuples as lists, as in a JSON dump)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# Official SynthesisNetwork / SynthesisLayer constructor defaults (config T), used to list the
# keyword arguments a network needs in `Schedule.synthesis_kwargs`.
_OFFICIAL_DEFAULTS: dict[str, Any] = {
    "num_layers": 14,
    "num_critical": 2,
    "first_cutoff": 2,
    "first_stopband": 2**2.1,
    "last_stopband_rel": 2**0.3,
    "margin_size": 10,
    "output_scale": 0.25,
    "num_fp16_res": 4,
    "conv_kernel": 3,
    "filter_size": 6,
    "lrelu_upsampling": 2,
    "use_radial_filters": False,
    "conv_clamp": 256,
    "magnitude_ema_beta": 0.999,
}

# Per-config defaults of the released training setups (train.py doubles G's capacity for R).
_CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "T": {"conv_kernel": 3, "use_radial_filters": False, "channel_base": 32768, "channel_max": 512},
    "R": {"conv_kernel": 1, "use_radial_filters": True, "channel_base": 65536, "channel_max": 1024},
}


@dataclass(frozen=True)
class Schedule:
    r"""A StyleGAN3 synthesis network's complete layer schedule (see :func:`stylegan3_schedule`).

    The scalar attributes are the arguments of :func:`stylegan3_schedule`, with the config's
    defaults filled in. Frequencies are in cycles per canvas unit.

    Attributes
    ----------
    config : str
        ``'T'`` or ``'R'``.
    img_resolution : int
        Output resolution in pixels, a power of two.
    img_channels : int
        Output channels (of ToRGB).
    w_dim : int
        Latent dimension.
    num_layers : int
        :math:`N`, the layers excluding ToRGB.
    num_critical : int
        Critically sampled layers at the end (ToRGB excluded).
    first_cutoff : float
        :math:`f_{c,0}`, the Fourier features' bandwidth (as passed).
    first_stopband : float
        :math:`f_{t,0}` (as passed).
    last_stopband_rel : float
        :math:`f_{t,N} / f_{c,N}` (as passed).
    margin_size : int
        Pixels of margin on each side of every canvas but the last two.
    output_scale : float
        Final multiplier of the network.
    num_fp16_res : int
        Layers at the ``num_fp16_res`` highest sampling rates (octaves below
        ``img_resolution``) run in fp16 on CUDA.
    channel_base : int
        Capacity: layer :math:`i` has :math:`\mathrm{rint}(\mathrm{base}/2 / f_c[i])` channels,
        at most ``channel_max``.
    channel_max : int
        Largest channel count.
    conv_kernel : int
        Modulated-conv kernel size of every layer but ToRGB.
    filter_size : int
        Filter support in samples of the lower rate.
    lrelu_upsampling : int
        Oversampling of the nonlinearity.
    use_radial_filters : bool
        Radial (jinc) down filters in non-critical layers.
    conv_clamp : float or None
        Activation clamp (as passed; None: no clamp).
    magnitude_ema_beta : float
        Decay of the input-magnitude EMA.
    geometric : GeometricSchedule
        The band limits the layers are built from (``geometric.stopbands`` holds the stop-band
        targets :math:`f_t`).
    input : SynthesisInputSpec
        The Fourier-feature input.
    layers : tuple of SynthesisLayerSpec
        ``num_layers + 1`` layers, the last one ToRGB.

    Examples
    --------
    >>> from bandlimit.filters import stylegan3_schedule
    >>> sched = stylegan3_schedule(256, config="R")
    >>> len(sched), sched.num_ws, sched.layer_names[:2]
    (15, 16, ('L0_36_1024', 'L1_36_1024'))
    >>> sched.layer("L1_36_1024").index, sched.layer(-1).is_torgb
    (1, True)
    >>> sched.synthesis_kwargs
    {'channel_base': 65536, 'channel_max': 1024, 'conv_kernel': 1, 'use_radial_filters': True}
    >>> up, down = sched.layer_filters(2)     # separable up, radial (jinc) down
    >>> up.shape, down.shape
    (torch.Size([12]), torch.Size([12, 12]))
    >>> print(sched.table().splitlines()[0])
    StyleGAN3-R synthesis schedule, 256x256, channel_base 65536, channel_max 1024, conv_kernel 1
    """

    config: str
    img_resolution: int
    img_channels: int
    w_dim: int
    num_layers: int
    num_critical: int
    first_cutoff: float
    first_stopband: float
    last_stopband_rel: float
    margin_size: int
    output_scale: float
    num_fp16_res: int
    channel_base: int
    channel_max: int
    conv_kernel: int
    filter_size: int
    lrelu_upsampling: int
    use_radial_filters: bool
    conv_clamp: float | None
    magnitude_ema_beta: float
    geometric: GeometricSchedule
    input: SynthesisInputSpec
    layers: tuple[SynthesisLayerSpec, ...]

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def num_ws(self) -> int:
        """Number of latents consumed, one for the input plus one per layer (``num_layers + 2``)."""
        return self.num_layers + 2

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layers' names, ``L{index}_{size}_{channels}``, in order (state-dict prefixes)."""
        return tuple(layer.name for layer in self.layers)

    @property
    def synthesis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments the official ``SynthesisNetwork`` needs to build this network.

        ``channel_base`` and ``channel_max`` are always listed (as the official training script
        does); every other argument only when it differs from the official constructor default.
        ``img_resolution``, ``img_channels`` and ``w_dim`` are not included.
        """
        out: dict[str, Any] = {"channel_base": self.channel_base, "channel_max": self.channel_max}
        for key, default in _OFFICIAL_DEFAULTS.items():
            value = getattr(self, key)
            if value != default:
                out[key] = value
        return out

    def layer(self, key: int | str) -> SynthesisLayerSpec:
        """The layer at index ``key`` (negative counts from the end) or with name ``key``.

        Parameters
        ----------
        key : int or str
            Layer index in ``[-len(layers), len(layers) - 1]``, or a name from
            :attr:`layer_names`.

        Returns
        -------
        SynthesisLayerSpec

        Raises
        ------
        TypeError
            ``key`` is neither an int nor a str.
        ValueError
            No layer has that index or name.
        """
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise ValueError(f"key must be one of the layer names {self.layer_names}, got {key!r}")
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise TypeError(
                f"key must be a layer index or name, got {key!r} ({type(key).__name__})"
            )
        n = len(self.layers)
        if not -n <= key < n:
            raise ValueError(f"layer index must be in [{-n}, {n - 1}], got {key!r}")
        return self.layers[int(key)]

    def layer_filters(
        self, key: int | str, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        r"""Design the up and down filters of one layer exactly as StyleGAN3 does.

        * Up filter (describes the *incoming* signal): ``up_taps`` taps, cutoff ``in_cutoff``,
          full transition width :math:`2 f_{h,\mathrm{in}}`, rate ``tmp_sampling_rate``,
          always separable (shape ``[up_taps]``).
        * Down filter: ``down_taps`` taps, cutoff ``out_cutoff``, width
          :math:`2 f_{h,\mathrm{out}}`, rate ``tmp_sampling_rate``; radial
          (``[down_taps, down_taps]``, jinc) when ``down_radial``, else separable.
        * A filter with one tap is ``None`` (the layer does not filter on that side).

        A width too wide for a finite Kaiser window (see :func:`~bandlimit.filters.kaiser_sinc`)
        raises a ``ValueError`` naming the layer and the schedule arguments it follows from.

        Parameters
        ----------
        key : int or str
            Layer index (negative counts from the end) or name, as in :meth:`layer`.
        dtype : torch.dtype
            Real floating-point output dtype (designs are float64, cast at the end; default
            float32, as StyleGAN3 stores them).

        Returns
        -------
        up_filter : torch.Tensor or None
            ``[up_taps]``, or None when ``up_taps == 1``.
        down_filter : torch.Tensor or None
            ``[down_taps]`` or, when ``down_radial``, ``[down_taps, down_taps]``; None when
            ``down_taps == 1``.

        Both are ``dtype`` tensors on the CPU, whatever torch's default device and dtype.

        Examples
        --------
        >>> from bandlimit.filters import stylegan3_schedule
        >>> sched = stylegan3_schedule(256)
        >>> up, down = sched.layer_filters("L9_148_362")
        >>> up.shape, down.shape, down.dtype, round(float(down.sum()), 4)
        (torch.Size([12]), torch.Size([12]), torch.float32, 1.0)
        >>> sched.layer_filters(-1)               # ToRGB does not filter
        (None, None)
        """
        from bandlimit.filters.kaiser import lowpass

        layer = self.layer(key)

        def design(
            side: str, taps: int, cutoff: float, hw: str, radial: bool
        ) -> torch.Tensor | None:
            half_width = getattr(layer, hw)
            try:
                return lowpass(
                    taps,
                    cutoff,
                    2 * half_width,
                    layer.tmp_sampling_rate,
                    radial=radial,
                    dtype=dtype,
                )
            except ValueError as e:
                # The schedule computed these parameters: point at the arguments behind them.
                raise ValueError(
                    f"layer {layer.name}: {side} filter ({taps} taps, cutoff {cutoff!r}, width "
                    f"2 * {hw} = {2 * half_width!r}, fs {layer.tmp_sampling_rate!r}): {e}; the "
                    f"half-widths follow the schedule's stop bands (first_stopband = "
                    f"{self.first_stopband!r}, last_stopband_rel = {self.last_stopband_rel!r})"
                ) from e

        up = design("up", layer.up_taps, layer.in_cutoff, "in_half_width", False)
        down = design(
            "down", layer.down_taps, layer.out_cutoff, "out_half_width", layer.down_radial
        )
        return up, down

    def table(self) -> str:
        """A fixed-width text table of the schedule, one row per layer.

        Columns: index, name, cutoff :math:`f_c`, stop-band target :math:`f_t`, sampling rate
        :math:`s`, half-width :math:`f_h`, stop-band edge :math:`f_c + f_h`, canvas size,
        channels, critically-sampled / fp16 / radial-down flags, internal rate, up/down factors,
        tap counts and padding (low, high; identical for x and y).
        """
        g = self.geometric
        inp = self.input
        head = (
            f"StyleGAN3-{self.config} synthesis schedule, {self.img_resolution}x"
            f"{self.img_resolution}, channel_base {self.channel_base}, channel_max "
            f"{self.channel_max}, conv_kernel {self.conv_kernel}\n"
            f"input: {inp.channels} Fourier features, bandwidth {inp.bandwidth:g}, sampling rate "
            f"{inp.sampling_rate:g}, size {inp.size[0]}x{inp.size[1]}"
        )
        cols = (
            "i", "name", "f_c", "f_t", "s", "f_h", "f_c+f_h", "size", "C_in->C_out",
            "crit", "fp16", "radial", "s_tmp", "up,down", "taps u,d", "pad lo,hi",
        )  # fmt: skip
        rows = []
        for layer in self.layers:
            i = layer.index
            rows.append(
                (
                    str(i),
                    layer.name + (" (ToRGB)" if layer.is_torgb else ""),
                    f"{layer.out_cutoff:.4f}",
                    f"{g.stopbands[i]:.4f}",
                    str(layer.out_sampling_rate),
                    f"{layer.out_half_width:.4f}",
                    f"{layer.out_stopband:.4f}",
                    str(layer.out_size[0]),
                    f"{layer.in_channels}->{layer.out_channels}",
                    "Y" if layer.is_critically_sampled else "",
                    "Y" if layer.use_fp16 else "",
                    "Y" if layer.down_radial else "",
                    str(layer.tmp_sampling_rate),
                    f"{layer.up_factor},{layer.down_factor}",
                    f"{layer.up_taps},{layer.down_taps}",
                    f"{layer.padding[0]},{layer.padding[1]}",
                )
            )
        widths = [max(len(c), *(len(r[j]) for r in rows)) for j, c in enumerate(cols)]
        left = {1, 8}  # text columns; numbers are right-aligned

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(
                c.ljust(w) if j in left else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        lines = [head, fmt(cols), fmt(["-" * w for w in widths])]
        lines.extend(fmt(r) for r in rows)
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Any:
        """Plot the cutoff schedule with :func:`~bandlimit.filters.plot_schedule`.

        Needs matplotlib. ``ax`` (a matplotlib Axes, or None for a new figure) is the Axes to draw
        into; returns the Axes drawn into.
        """
        from bandlimit.filters.plot import plot_schedule

        return plot_schedule(self, ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict in the layout of the reference ``schedules.json`` records."""
        out = {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("geometric", "input", "layers")
        }
        out["synthesis_kwargs"] = self.synthesis_kwargs
        out["num_ws"] = self.num_ws
        out["layer_names"] = list(self.layer_names)
        out["input"] = {f.name: _plain(getattr(self.input, f.name)) for f in fields(self.input)}
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out


def stylegan3_schedule(
    img_resolution: int,
    *,
    config: str = "T",
    num_layers: int = 14,
    num_critical: int = 2,
    first_cutoff: float = 2,
    first_stopband: float = 2**2.1,
    last_stopband_rel: float = 2**0.3,
    margin_size: int = 10,
    channel_base: int | None = None,
    channel_max: int | None = None,
    img_channels: int = 3,
    filter_size: int = 6,
    lrelu_upsampling: int = 2,
    conv_kernel: int | None = None,
    use_radial_filters: bool | None = None,
    num_fp16_res: int = 4,
    conv_clamp: float | None = 256,
    w_dim: int = 512,
    output_scale: float = 0.25,
    magnitude_ema_beta: float = 0.999,
) -> Schedule:
    r"""The layer schedule of a StyleGAN3 synthesis network (configs T and R).

    Builds :func:`geometric_schedule` with ``last_cutoff = img_resolution / 2``,
    ``last_stopband = last_cutoff * last_stopband_rel`` and ``num_unpadded = 2``, then derives
    every layer attribute of the official network. For layer :math:`i` (input = entry
    :math:`\max(i-1, 0)`, output = entry :math:`i`, ToRGB is :math:`i = N`):

    * channels :math:`C[i] = \mathrm{rint}(\min(\mathrm{base}/2 / f_c[i],\ \mathrm{max}))`
      (round half to even), :math:`C[N]` = ``img_channels``;
    * :math:`s_\mathrm{tmp} = \max(s_\mathrm{in}, s_\mathrm{out}) \cdot m` (:math:`m` =
      ``lrelu_upsampling``, 1 for ToRGB), up/down factors :math:`s_\mathrm{tmp}/s`, taps
      ``filter_size * factor`` (1 = no filter; always 1 for ToRGB);
    * padding: with :math:`n_\mathrm{in}`, :math:`n_\mathrm{out}` the canvas sizes, :math:`k`
      the conv kernel (1 for ToRGB), :math:`u`, :math:`d` the factors and :math:`K_u`,
      :math:`K_d` the taps,
      :math:`p = (n_\mathrm{out}-1)d + 1 - (n_\mathrm{in}+k-1)u + K_u + K_d - 2`,
      :math:`p_\mathrm{lo} = \lfloor (p + u)/2 \rfloor`, :math:`p_\mathrm{hi} = p - p_\mathrm{lo}`
      (same for x and y), which centres the output canvas on the input canvas;
    * fp16 when :math:`s \cdot 2^{\mathrm{num\_fp16\_res}} > \mathrm{res}`; radial down filter
      when ``use_radial_filters`` and the layer is not critically sampled;
    * name ``L{i}_{size}_{C}``.

    Frequencies are in cycles per canvas unit (the output image spans one unit). Every argument
    but ``img_resolution`` is keyword-only.

    Parameters
    ----------
    img_resolution : int
        Output resolution, a power of two :math:`\ge 2\,` ``first_cutoff`` (4 with defaults).
    config : {'T', 'R'}
        Selects the defaults of ``conv_kernel`` (3 / 1), ``use_radial_filters`` (False / True),
        ``channel_base`` (32768 / 65536) and ``channel_max`` (512 / 1024), as the official
        training script does (case-insensitive).
    num_layers : int
        Layers :math:`N` excluding ToRGB (the network has :math:`N + 1`).
    num_critical : int
        Critically sampled layers at the end, ``0 … num_layers - 1`` (ToRGB is flagged too).
    first_cutoff, first_stopband : float
        :math:`f_{c,0}` (the Fourier features' bandwidth) and :math:`f_{t,0} > f_{c,0}`.
    last_stopband_rel : float
        :math:`f_{t,N} / f_{c,N} > 1`.
    margin_size : int
        Pixels of margin on each side of every canvas but the last two.
    channel_base, channel_max : int or None
        Capacity; None selects the config's default.
    img_channels : int
        Output channels.
    filter_size : int
        Filter support in samples of the lower rate (taps = ``filter_size * factor``).
    lrelu_upsampling : int
        Oversampling :math:`m` of the nonlinearity.
    conv_kernel : int or None
        Modulated-conv kernel size; None selects the config's default.
    use_radial_filters : bool or None
        Radial (jinc) down filters in non-critical layers; None selects the config's default.
    num_fp16_res : int
        Layers with :math:`s > \mathrm{res}/2^{\mathrm{num\_fp16\_res}}` run in fp16 on CUDA.
    conv_clamp : float or None
        Activation clamp (None: no clamp, as with ``--fp32``).
    w_dim : int
        Latent dimension.
    output_scale : float
        Final multiplier of the network (recorded only).
    magnitude_ema_beta : float
        Decay of the input-magnitude EMA, in (0, 1) (recorded only; training sets
        :math:`0.5^{\mathrm{batch}/20000}`).

    Returns
    -------
    Schedule
        The input, the ``num_layers + 1`` layers and the :class:`GeometricSchedule` behind them.

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. a float ``img_resolution``).
    ValueError
        An argument is out of range (unknown ``config``, non-power-of-two ``img_resolution``,
        ``num_critical`` out of range, non-positive cutoffs...); the message names the argument,
        its value and what was expected.

    Examples
    --------
    >>> from bandlimit.filters import stylegan3_schedule
    >>> sched = stylegan3_schedule(256)
    >>> len(sched.layers), sched.layers[9].name, sched.layers[9].out_sampling_rate
    (15, 'L9_148_362', 128)
    >>> [layer.out_sampling_rate for layer in sched.layers[:4]]
    [16, 16, 16, 32]
    >>> up, down = sched.layer_filters(9)     # 12-tap 2x up and down filters at 256 px/unit
    >>> up.shape, down.shape
    (torch.Size([12]), torch.Size([12]))
    """
    if not isinstance(config, str) or config.upper() not in _CONFIG_DEFAULTS:
        raise ValueError(f"config must be 'T' or 'R', got {config!r}")
    config = config.upper()
    defaults = _CONFIG_DEFAULTS[config]
    channel_base = defaults["channel_base"] if channel_base is None else channel_base
    channel_max = defaults["channel_max"] if channel_max is None else channel_max
    conv_kernel = defaults["conv_kernel"] if conv_kernel is None else conv_kernel
    if use_radial_filters is None:
        use_radial_filters = defaults["use_radial_filters"]

    img_resolution = _power_of_two_arg("img_resolution", img_resolution)
    channel_base = _int_arg("channel_base", channel_base, 1)
    channel_max = _int_arg("channel_max", channel_max, 1)
    img_channels = _int_arg("img_channels", img_channels, 1)
    filter_size = _int_arg("filter_size", filter_size, 1)
    lrelu_upsampling = _int_arg("lrelu_upsampling", lrelu_upsampling, 1)
    conv_kernel = _int_arg("conv_kernel", conv_kernel, 1)
    use_radial_filters = check_bool("use_radial_filters", use_radial_filters)
    num_fp16_res = _int_arg("num_fp16_res", num_fp16_res, 0)
    fp16_scale = 2 ** min(num_fp16_res, 64)  # (2**num_fp16_res itself: a huge int, a hang)
    w_dim = _int_arg("w_dim", w_dim, 1)
    if conv_clamp is not None:
        _positive_arg("conv_clamp", conv_clamp)  # validated, kept as given (int 256 officially)
    output_scale = _positive_arg("output_scale", output_scale)
    magnitude_ema_beta = _positive_arg("magnitude_ema_beta", magnitude_ema_beta)
    if magnitude_ema_beta >= 1:
        raise ValueError(f"magnitude_ema_beta must be in (0, 1), got {magnitude_ema_beta!r}")
    first_cutoff_f = _positive_arg("first_cutoff", first_cutoff)
    if img_resolution < 2 * first_cutoff_f:
        raise ValueError(
            f"img_resolution must be >= 2 * first_cutoff = {2 * first_cutoff_f!r} (the output "
            f"must carry the input band), got {img_resolution!r}"
        )
    last_stopband_rel_f = _positive_arg("last_stopband_rel", last_stopband_rel)
    if last_stopband_rel_f <= 1:
        raise ValueError(
            f"last_stopband_rel must be > 1 (stop band above the last cutoff), "
            f"got {last_stopband_rel!r}"
        )

    # kept as given (int 256 stays an int), but as Python numbers: to_dict() must be JSON
    first_cutoff, first_stopband = _python_number(first_cutoff), _python_number(first_stopband)
    last_stopband_rel = _python_number(last_stopband_rel)
    conv_clamp = None if conv_clamp is None else _python_number(conv_clamp)
    last_cutoff = img_resolution / 2
    if not math.isfinite(last_cutoff * last_stopband_rel_f):  # (else blamed on last_stopband)
        raise ValueError(
            f"last_stopband_rel must keep last_stopband = img_resolution / 2 * last_stopband_rel "
            f"finite, got {last_stopband_rel!r} (img_resolution={img_resolution})"
        )
    geo = geometric_schedule(
        num_layers,
        first_cutoff=first_cutoff,
        last_cutoff=last_cutoff,
        first_stopband=first_stopband,
        last_stopband=last_cutoff * last_stopband_rel_f,
        num_critical=num_critical,
        resolution=img_resolution,
        margin_size=margin_size,
        num_unpadded=2,
    )
    n = geo.num_layers

    channels = np.rint(np.minimum((channel_base / 2) / np.asarray(geo.cutoffs), channel_max))
    channels[-1] = img_channels
    if channels.min() < 1:
        # rint(base / 2 / f_c) >= 1 needs base > f_c (round half to even sends 0.5 to 0).
        raise ValueError(
            f"channel_base must be > the largest cutoff {max(geo.cutoffs)!r} so that every layer "
            f"has at least one channel, got {channel_base!r}"
        )
    channels_i = [int(c) for c in channels]

    layers = []
    for i in range(n + 1):
        prev = max(i - 1, 0)
        is_torgb = i == n
        critical = geo.is_critically_sampled[i]
        s_in, s_out = geo.sampling_rates[prev], geo.sampling_rates[i]
        s_tmp = max(s_in, s_out) * (1 if is_torgb else lrelu_upsampling)
        up, down = s_tmp // s_in, s_tmp // s_out
        up_taps = filter_size * up if up > 1 and not is_torgb else 1
        down_taps = filter_size * down if down > 1 and not is_torgb else 1
        down_radial = use_radial_filters and not critical
        k = 1 if is_torgb else conv_kernel
        n_in, n_out = geo.sizes[prev], geo.sizes[i]
        pad_total = (n_out - 1) * down + 1 - (n_in + k - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2  # floor, also for negative totals
        pad_hi = pad_total - pad_lo
        layers.append(
            SynthesisLayerSpec(
                name=f"L{i}_{n_out}_{channels_i[i]}",
                index=i,
                is_torgb=is_torgb,
                is_critically_sampled=critical,
                use_fp16=s_out * fp16_scale > img_resolution,
                in_channels=channels_i[prev],
                out_channels=channels_i[i],
                in_size=(n_in, n_in),
                out_size=(n_out, n_out),
                in_sampling_rate=s_in,
                out_sampling_rate=s_out,
                tmp_sampling_rate=s_tmp,
                in_cutoff=geo.cutoffs[prev],
                out_cutoff=geo.cutoffs[i],
                in_half_width=geo.half_widths[prev],
                out_half_width=geo.half_widths[i],
                w_dim=w_dim,
                conv_kernel=k,
                conv_clamp=conv_clamp,
                magnitude_ema_beta=magnitude_ema_beta,
                filter_size=filter_size,
                lrelu_upsampling=lrelu_upsampling,
                use_radial_filters=use_radial_filters,
                up_factor=up,
                down_factor=down,
                up_taps=up_taps,
                down_taps=down_taps,
                down_radial=down_radial,
                up_filter_shape=(up_taps,) if up_taps > 1 else None,
                down_filter_shape=(
                    None
                    if down_taps == 1
                    else (down_taps, down_taps)
                    if down_radial
                    else (down_taps,)
                ),
                padding=(pad_lo, pad_hi, pad_lo, pad_hi),
                flrelu_gain=1.0 if is_torgb else math.sqrt(2),
                flrelu_slope=1.0 if is_torgb else 0.2,
                flrelu_clamp=conv_clamp,
            )
        )

    torgb = layers[-1]
    if torgb.up_factor != 1 or torgb.down_factor != 1:
        # (the official formulas do the same; the network's output is then zero-stuffed)
        warnings.warn(
            f"the ToRGB layer resamples from {torgb.in_sampling_rate} to "
            f"{torgb.out_sampling_rate} samples per unit (up={torgb.up_factor}, "
            f"down={torgb.down_factor}) with no filter, as StyleGAN3's formulas give for "
            f"num_critical={geo.num_critical}: its output is zero-stuffed, not band-limited; "
            f"use num_critical >= 1 (StyleGAN3: 2) so that the last layer runs at "
            f"img_resolution",
            UserWarning,
            stacklevel=2,
        )
    return Schedule(
        config=config,
        img_resolution=img_resolution,
        img_channels=img_channels,
        w_dim=w_dim,
        num_layers=n,
        num_critical=geo.num_critical,
        first_cutoff=first_cutoff,
        first_stopband=first_stopband,
        last_stopband_rel=last_stopband_rel,
        margin_size=geo.margin_size,
        output_scale=output_scale,
        num_fp16_res=num_fp16_res,
        channel_base=channel_base,
        channel_max=channel_max,
        conv_kernel=conv_kernel,
        filter_size=filter_size,
        lrelu_upsampling=lrelu_upsampling,
        use_radial_filters=use_radial_filters,
        conv_clamp=conv_clamp,
        magnitude_ema_beta=magnitude_ema_beta,
        geometric=geo,
        input=SynthesisInputSpec(
            channels=channels_i[0],
            size=(geo.sizes[0], geo.sizes[0]),
            sampling_rate=float(geo.sampling_rates[0]),
            bandwidth=geo.cutoffs[0],
            w_dim=w_dim,
        ),
        layers=tuple(layers),
    )
