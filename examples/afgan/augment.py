r"""Adaptive discriminator augmentation (ADA; Karras et al., "Training Generative Adversarial
Networks with Limited Data", NeurIPS 2020): the paper's transform groups (pipelines 'bgc' up
to 'bgcfnc') and the adaptive probability.

Every image the discriminator sees, real or generated, goes through the same random
transforms, each applied with probability :math:`p` independently per image and per
transform. Because they are applied to both, and each is invertible in distribution for
:math:`p < 0.8`, they do not leak into the generated images; they keep D from memorising a small
dataset. :math:`p` is adjusted during training (:class:`AdaptiveP`) so that the fraction of
reals D scores positive, :math:`r_t = \mathrm{E}[\mathrm{sign}(D(x))]`, stays near 0.6.

Transforms (the paper's groups and strengths, its appendix B), in order:

- blit: x-flip (:math:`i \sim U\{0, 1\}`), rotation by :math:`i \cdot 90°`
  (:math:`i \sim U\{0, 3\}`), integer translation by up to 1/8 of the image per axis;
- geometric: isotropic scaling :math:`2^{N(0, 0.2^2)}`, rotation :math:`U(-\pi, \pi)`,
  anisotropic scaling :math:`\mathrm{diag}(s, 1/s)`, :math:`s = 2^{N(0, 0.2^2)}`, rotation
  again, fractional translation :math:`N(0, 0.125^2)` of the image size per axis. Each
  rotation uses :math:`p_{rot} = 1 - \sqrt{1 - p}`, so that an image is rotated with
  probability :math:`p`;
- colour (RGB about the grey axis :math:`v = (1, 1, 1)/\sqrt3`, images in [−1, 1]): brightness
  :math:`+N(0, 0.2^2)`, contrast :math:`\times 2^{N(0, 0.5^2)}`, luma flip
  (:math:`I - 2vv^\top`, :math:`i \sim U\{0, 1\}`), hue rotation about :math:`v` by
  :math:`U(-\pi, \pi)`, saturation :math:`\times 2^{N(0, 1)}` of the part orthogonal to
  :math:`v`. Images with another channel count than 3 are treated as grey: brightness,
  contrast and the luma flip (a negation) act on them, hue and saturation do not;
- image-space filtering ('filter'): four frequency bands, each amplified with probability
  :math:`p` by :math:`\lambda_i = 2^{N(0, 1)}` (1 when not; the bands drawn independently),
  normalised so that an image with the expected spectrum keeps its energy (below), applied
  separably: along x, then along y, with one 1-D filter;
- additive noise ('noise'): with probability :math:`p`, i.i.d. :math:`N(0, \sigma^2)` added to
  every pixel and channel, :math:`\sigma = |N(0, 0.1^2)|` (half-normal) per image;
- cutout ('cutout'): with probability :math:`p`, a rectangle of half the image's width and
  height, centred at a uniform position :math:`(U(0, W), U(0, H))` (clipped by the borders),
  set to 0 (mid-grey for images in [−1, 1]) in every channel.

The filter bands are the 1-D bands between the edges 0, 1/16, 1/8, 1/4 and 1/2 cycles/pixel
(octaves, :math:`\pi/8, \pi/4, \pi/2` rad/pixel), as ADA's. They are made with bandlimit's
Kaiser sincs (ADA's release uses a wavelet filter bank with the same edges): low-passes
:math:`l_k` (:func:`~bandlimit.filters.kaiser_sinc` cut off at the edge :math:`f_k`, transition
:math:`f_k/2` wide, :math:`6/f_k + 1` taps: 51 dB), and band :math:`i` is :math:`b_i = l_i -
l_{i-1}` (:math:`l_0 = 0`, :math:`l_4 = \delta`): the bands sum to the identity exactly, whatever
the low-passes' ripple, and an image none of whose bands fired is returned untouched. The gains
are normalised as ADA's: one band at a time, for the expected band powers :math:`e = (10, 1, 1,
1)/13` (a :math:`1/f` spectrum: equal octaves, the lowest band holding the rest),
:math:`g_j = \lambda_j \prod_i (1 + e_i(\lambda_i^2 - 1))^{-1/2}` (one band fired:
:math:`\sum_k e_k g_k^2 = 1` exactly; several: the product of their normalisations), and the
1-D filter :math:`h = \sum_i g_i b_i` is applied along each axis: the 2-D response is
:math:`\hat h(f_x)\,\hat h(f_y)` (where both frequencies lie in band :math:`i`, the gain is
:math:`g_i^2`). Each pass is :math:`g_4 x + \sum_k (g_k - g_{k+1})\, l_k * x`, the image
extended by reflection.

The noise field of an image comes from a ``torch.Generator`` seeded by one of its draws (the
draws are per image, not per pixel): the same draws give the same noise, whatever the batch, on
one device type (CPU and CUDA generators differ). Filtering and noise act on every channel
alike (noise independent per channel), cutout on all channels: any channel count works.

The geometric transforms of an image compose into one affine map. An image moved by whole
pixels only (flips, quarter turns, integer translations) is copied exactly, extended by
reflection; the others are resampled band-limited with bandlimit's ops: reflect-pad, upsample
2× with a Kaiser-windowed sinc, sample bicubically at the mapped positions (reflecting beyond
the padding), filter and downsample 2×. Content up to 0.2 cycles/pixel comes out within ~2 % of
the exact transform (the interpolation's attenuation); the official pipeline's bilinear
sampling gives ~3 %. Images none of whose geometric transforms fired skip both and are
returned untouched (colour aside). Everything is differentiable (R1 takes the gradient
through it, to second order): filtering and cutout are linear in the image, the noise is
additive.

Randomness comes from the caller: :meth:`AugmentPipe.draw` makes the per-image random numbers
from a ``torch.Generator`` (the trainer draws them for the global batch, so that every process
count augments alike and a resumed run repeats them). The columns are drawn in blocks, each
block's uniforms then its normals after the previous block's: the filter, noise and cutout
columns (a later block) leave the earlier columns' values, and so the 'bgc' pipelines'
augmentations, as they were (a call advances the generator further than before).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from bandlimit.filters import kaiser_sinc
from bandlimit.ops import downsample2d, filter2d, upsample2d

__all__ = ["PIPES", "AdaptiveP", "AugmentPipe"]

# Which transform groups each pipeline string enables (the official names; 'c' stays colour,
# so cutout alone is 'cutout' only).
_BGC = ("blit", "geom", "color")
PIPES = {"bgc": _BGC, "bg": ("blit", "geom"), "b": ("blit",), "g": ("geom",), "c": ("color",),
         "blit": ("blit",), "geom": ("geom",), "color": ("color",),
         "bgcf": (*_BGC, "filter"), "bgcfn": (*_BGC, "filter", "noise"),
         "bgcfnc": (*_BGC, "filter", "noise", "cutout"), "f": ("filter",), "n": ("noise",),
         "filter": ("filter",), "noise": ("noise",), "cutout": ("cutout",)}  # fmt: skip

# The random numbers per image: (name, kind) in column order; 'u' ~ U[0, 1), 'n' ~ N(0, 1).
_COLUMNS = (
    ("xflip_on", "u"), ("xflip", "u"),
    ("rot90_on", "u"), ("rot90", "u"),
    ("xint_on", "u"), ("xint_x", "u"), ("xint_y", "u"),
    ("scale_on", "u"), ("scale", "n"),
    ("rot_pre_on", "u"), ("rot_pre", "u"),
    ("aniso_on", "u"), ("aniso", "n"),
    ("rot_post_on", "u"), ("rot_post", "u"),
    ("xfrac_on", "u"), ("xfrac_x", "n"), ("xfrac_y", "n"),
    ("brightness_on", "u"), ("brightness", "n"),
    ("contrast_on", "u"), ("contrast", "n"),
    ("lumaflip_on", "u"), ("lumaflip", "u"),
    ("hue_on", "u"), ("hue", "u"),
    ("saturation_on", "u"), ("saturation", "n"),
    # (second block: drawn after the first's, which keeps its values)
    ("band1_on", "u"), ("band1", "n"), ("band2_on", "u"), ("band2", "n"),
    ("band3_on", "u"), ("band3", "n"), ("band4_on", "u"), ("band4", "n"),
    ("noise_on", "u"), ("noise", "n"), ("noise_seed", "u"),
    ("cutout_on", "u"), ("cutout_x", "u"), ("cutout_y", "u"),
)  # fmt: skip
_COL = {name: i for i, (name, _) in enumerate(_COLUMNS)}
# Where each block of columns ends (a block: its uniforms, then its normals, after the last's).
_BLOCKS = (_COL["saturation"] + 1, len(_COLUMNS))

# Strengths (the paper's): translations as fractions of the image size, log2 std devs.
XINT_MAX, SCALE_STD, ANISO_STD, XFRAC_STD = 0.125, 0.2, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.5, 1.0
# Filter band gains 2^N(0, 1); noise sigma |N(0, 0.1^2)|; cutout size as a fraction per axis.
BAND_STD, NOISE_STD, CUTOUT_SIZE = 1.0, 0.1, 0.5
# The band edges (cycles/pixel) between 0 and 1/2, and each low-pass's taps per 1/edge (its
# transition, edge/2 wide, then reaches 51 dB).
BAND_EDGES, _BAND_TAPS = (1 / 16, 1 / 8, 1 / 4), 6
# The bands' expected shares of an image's power (1-D, a 1/f spectrum), for the normalisation.
BAND_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)

# The resampling filter of the geometric path: a Kaiser sinc at twice the image rate, cut off
# at the image's Nyquist frequency (0.5 cycles/pixel), transition 0.35-0.65 (75 dB).
_TAPS, _CUTOFF, _WIDTH = 32, 0.5, 0.3


class AugmentPipe(torch.nn.Module):
    """ADA's augmentation pipeline; ``pipe(images, draws)`` augments with probability ``p``.

    Parameters
    ----------
    pipe : str, default 'bgc'
        Transform groups: a key of :data:`PIPES` ('bgc', 'bg', 'b', 'g', 'c' (colour),
        'bgcf', 'bgcfn', 'bgcfnc', 'f', 'n', 'cutout', ...).
    p : float in [0, 1], default 0
        The probability of each transform (the attribute ``p``; :class:`AdaptiveP` moves it).

    Examples
    --------
    >>> import torch
    >>> pipe = AugmentPipe("bgc", p=0.5)
    >>> draws = pipe.draw(4, torch.Generator().manual_seed(0))
    >>> pipe(torch.zeros(4, 3, 16, 16), draws).shape
    torch.Size([4, 3, 16, 16])
    """

    def __init__(self, pipe: str = "bgc", p: float = 0.0) -> None:
        super().__init__()
        if pipe not in PIPES:
            raise ValueError(f"pipe must be one of {', '.join(PIPES)}, got {pipe!r}")
        self.pipe = pipe
        self.groups = PIPES[pipe]
        self.p = _probability(p, "p")

    @staticmethod
    def draw(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The random numbers for ``batch`` images, ``[batch, K]`` float64 on the CPU: uniform
        in [0, 1) or standard normal, per column (the transforms read their own columns)."""
        out = []
        for start, end in zip((0, *_BLOCKS[:-1]), _BLOCKS):
            # (block by block: a new block does not change the earlier ones' numbers)
            k = end - start
            u = torch.rand([batch, k], generator=generator, dtype=torch.float64)
            n = torch.randn([batch, k], generator=generator, dtype=torch.float64)
            normal = torch.tensor([kind == "n" for _, kind in _COLUMNS[start:end]])
            out.append(torch.where(normal, n, u))
        return torch.cat(out, dim=1)

    def forward(self, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """``images [N, C, H, W]`` (values around [−1, 1]), ``draws [N, K]`` from
        :meth:`draw` → augmented images, same shape, dtype and device."""
        if images.ndim != 4 or not images.is_floating_point():
            raise ValueError(
                f"images must be a floating-point [N, C, H, W] tensor, got "
                f"{images.dtype} of shape {tuple(images.shape)}"
            )
        if draws.shape != (images.shape[0], len(_COLUMNS)):
            raise ValueError(
                f"draws must have shape [{images.shape[0]}, {len(_COLUMNS)}] (AugmentPipe.draw "
                f"for the batch), got {tuple(draws.shape)}"
            )
        p = _probability(self.p, "p")
        if p <= 0:
            return images
        draws = draws.to(torch.float64).cpu()
        if "blit" in self.groups or "geom" in self.groups:
            images = self._geometric(images, draws, p)
        if "color" in self.groups:
            images = self._color(images, draws, p)
        if "filter" in self.groups:
            images = self._filter(images, draws, p)
        if "noise" in self.groups:
            images = self._noise(images, draws, p)
        if "cutout" in self.groups:
            images = self._cutout(images, draws, p)
        return images

    def extra_repr(self) -> str:
        return f"pipe={self.pipe!r}, p={self.p:.4f}"

    # -- geometric ------------------------------------------------------------------------------

    def _geometric(self, images: torch.Tensor, r: torch.Tensor, p: float) -> torch.Tensor:
        n, _, h, w = images.shape
        g = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)  # output → input, centred pixels
        fired = torch.zeros(n, dtype=torch.bool)

        def on(name: str, prob: float = p) -> torch.Tensor:
            return r[:, _COL[name + "_on"]] < prob

        if "blit" in self.groups:
            i = torch.floor(r[:, _COL["xflip"]] * 2)
            g, fired = _then(g, fired, on("xflip"), _scale(1 - 2 * i, torch.ones(n)))
            i = torch.floor(r[:, _COL["rot90"]] * 4)
            g, fired = _then(g, fired, on("rot90"), _rotate(-math.pi / 2 * i))
            tx = torch.round((r[:, _COL["xint_x"]] * 2 - 1) * XINT_MAX * w)
            ty = torch.round((r[:, _COL["xint_y"]] * 2 - 1) * XINT_MAX * h)
            g, fired = _then(g, fired, on("xint"), _translate(tx, ty))
        blits = fired.clone()  # (transforms that move whole pixels only)
        if "geom" in self.groups:
            p_rot = 1 - math.sqrt(1 - p)
            s = torch.exp2(r[:, _COL["scale"]] * SCALE_STD)
            g, fired = _then(g, fired, on("scale"), _scale(s, s))
            theta = (r[:, _COL["rot_pre"]] * 2 - 1) * math.pi
            g, fired = _then(g, fired, on("rot_pre", p_rot), _rotate(-theta))
            s = torch.exp2(r[:, _COL["aniso"]] * ANISO_STD)
            g, fired = _then(g, fired, on("aniso"), _scale(s, 1 / s))
            theta = (r[:, _COL["rot_post"]] * 2 - 1) * math.pi
            g, fired = _then(g, fired, on("rot_post", p_rot), _rotate(-theta))
            tx = r[:, _COL["xfrac_x"]] * XFRAC_STD * w
            ty = r[:, _COL["xfrac_y"]] * XFRAC_STD * h
            g, fired = _then(g, fired, on("xfrac"), _translate(tx, ty))
        if not bool(fired.any()):
            return images
        # Images moved by whole pixels only (flips, quarter turns, integer shifts) are copied
        # exactly; the rest are resampled.
        # (a quarter turn keeps pixel centres on pixel centres when H − W is even)
        # (g's entries are cosines and sines: a quarter turn's cos is 6e-17, not 0)
        exact = blits if (w - h) % 2 == 0 else blits & (g[:, 0, 0].abs() > 0.5)
        out = images
        for mask, move in ((exact, _blit), (fired & ~exact, _warp)):
            if bool(mask.any()):
                index = mask.nonzero().squeeze(1).to(images.device)
                out = out.index_copy(0, index, move(images.index_select(0, index), g[mask]))
        return out

    # -- colour ---------------------------------------------------------------------------------

    def _color(self, images: torch.Tensor, r: torch.Tensor, p: float) -> torch.Tensor:
        n, channels = images.shape[:2]
        c = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)

        def on(name: str) -> torch.Tensor:
            return (r[:, _COL[name + "_on"]] < p).to(torch.float64)

        b = r[:, _COL["brightness"]] * BRIGHTNESS_STD * on("brightness")
        c = _translate3(b) @ c
        k = torch.exp2(r[:, _COL["contrast"]] * CONTRAST_STD * on("contrast"))
        c = _scale3(k) @ c
        v = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64) / math.sqrt(3)
        vv = torch.outer(v, v)
        i = torch.floor(r[:, _COL["lumaflip"]] * 2) * on("lumaflip")
        c = (torch.eye(4, dtype=torch.float64) - 2 * vv * i[:, None, None]) @ c
        theta = (r[:, _COL["hue"]] * 2 - 1) * math.pi * on("hue")
        c = _rotate3(v[:3], theta) @ c
        s = torch.exp2(r[:, _COL["saturation"]] * SATURATION_STD * on("saturation"))
        c = (vv + (torch.eye(4, dtype=torch.float64) - vv) * s[:, None, None]) @ c
        if bool((c == torch.eye(4, dtype=torch.float64)).all()):
            return images
        c = c.to(device=images.device, dtype=images.dtype)
        if channels == 3:
            x = images.reshape(n, 3, -1)
            return (c[:, :3, :3] @ x + c[:, :3, 3:]).reshape(images.shape)
        # Other channel counts: the transform's mean gain and offset (brightness, contrast and
        # the luma flip's −1; hue and saturation leave grey, the row sums, alone).
        gain = c[:, :3, :3].sum(dim=2).mean(dim=1)
        offset = c[:, :3, 3].mean(dim=1)
        return images * gain[:, None, None, None] + offset[:, None, None, None]

    # -- filtering, noise, cutout ---------------------------------------------------------------

    def _filter(self, images: torch.Tensor, r: torch.Tensor, p: float) -> torch.Tensor:
        bands = len(BAND_EDGES) + 1
        on = torch.stack([r[:, _COL[f"band{i + 1}_on"]] < p for i in range(bands)], dim=1)
        gains = torch.stack([r[:, _COL[f"band{i + 1}"]] for i in range(bands)], dim=1)
        lam = torch.where(on, torch.exp2(gains * BAND_STD), torch.ones(()))
        fired = on.any(dim=1)
        if not bool(fired.any()):
            return images
        # One band at a time, each keeping the expected spectrum's energy (ADA's normalisation).
        lam = lam[fired]
        power = torch.tensor(BAND_POWER, dtype=lam.dtype)
        g = lam * (1 + power * (lam**2 - 1)).rsqrt().prod(dim=1, keepdim=True)
        coef = (g[:, :-1] - g[:, 1:]).T  # (the weights of the low-passes l_1 .. l_3)
        index = fired.nonzero().squeeze(1).to(images.device)
        x = images.index_select(0, index)
        dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        lows = [low.to(x.device, dtype) for low in _band_lowpasses()]
        m = (lows[0].shape[0] - 1) // 2  # (the longest: every low-pass fits in its pad)

        def weights(w: torch.Tensor) -> torch.Tensor:
            return w.to(device=x.device, dtype=dtype)[:, None, None, None]

        y = _reflect_pad(x.to(dtype), m)
        for _ in range(2):  # along x, then along y (the image transposed); [H + 2m, W] between
            out = y[..., m:-m] * weights(g[:, -1])
            for c, low in zip(coef, lows):
                out = out + weights(c) * filter2d(y, low[None, :], padding=(-m, -m, 0, 0))
            y = out.transpose(-1, -2)
        return images.index_copy(0, index, y.to(images.dtype))

    def _noise(self, images: torch.Tensor, r: torch.Tensor, p: float) -> torch.Tensor:
        fired = r[:, _COL["noise_on"]] < p
        if not bool(fired.any()):
            return images
        sigma = r[:, _COL["noise"]].abs() * NOISE_STD
        seeds = (r[:, _COL["noise_seed"]] * 2**53).long()
        shape, dev = images.shape[1:], images.device
        index = fired.nonzero().squeeze(1)
        noise = []
        for i in index.tolist():
            # (one generator per image, seeded by its draw: the batch does not matter)
            g = torch.Generator(device=dev).manual_seed(int(seeds[i]))
            z = torch.randn(shape, generator=g, device=dev, dtype=torch.float32)
            noise.append(z.to(images.dtype) * float(sigma[i]))
        return images.index_add(0, index.to(dev), torch.stack(noise))

    def _cutout(self, images: torch.Tensor, r: torch.Tensor, p: float) -> torch.Tensor:
        fired = r[:, _COL["cutout_on"]] < p
        if not bool(fired.any()):
            return images
        h, w = images.shape[-2:]
        # Pixel k (centre k + 1/2) is cut when c − s/2 ≤ k + 1/2 < c + s/2, c the centre and s
        # the size in pixels: s columns (rows) when s is whole, fewer where clipped.
        cx, cy = r[:, _COL["cutout_x"]] * w, r[:, _COL["cutout_y"]] * h
        xs = torch.arange(w, dtype=torch.float64) + 0.5
        ys = torch.arange(h, dtype=torch.float64) + 0.5
        sx, sy = CUTOUT_SIZE * w / 2, CUTOUT_SIZE * h / 2
        inx = (xs >= (cx - sx)[:, None]) & (xs < (cx + sx)[:, None])  # [n, w]
        iny = (ys >= (cy - sy)[:, None]) & (ys < (cy + sy)[:, None]) & fired[:, None]  # [n, h]
        inx, iny = inx.to(images.device), iny.to(images.device)  # (the [n, h, w] mask: there)
        keep = (~(iny[:, :, None] & inx[:, None, :])).to(images.dtype)
        return images * keep[:, None]


class AdaptiveP:
    r"""ADA's controller: every ``interval`` steps, :math:`p \leftarrow \mathrm{clip}(p +
    \mathrm{sign}(r_t - t)\cdot B\cdot\mathrm{interval} / (1000\,k), 0, 1)`, with :math:`r_t`
    the mean of :math:`\mathrm{sign}(D(x))` over the reals scored since the last update,
    :math:`t` the target, :math:`B` the global batch and :math:`k` the kimg over which
    :math:`p` can go from 0 to 1.

    The running sum and count of the signs are :meth:`state`: a resumed run continues exactly.
    """

    def __init__(self, target: float = 0.6, kimg: float = 500.0, batch: int = 32,
                 interval: int = 4) -> None:  # fmt: skip
        self.target = float(target)
        self.kimg = float(kimg)
        if not (math.isfinite(self.kimg) and self.kimg > 0):
            raise ValueError(f"kimg must be a positive number, got {kimg!r}")
        self.batch = int(batch)
        self.interval = int(interval)
        self.sign_sum: torch.Tensor | float = 0.0
        self.sign_count = 0

    def accumulate(self, sign_sum: torch.Tensor | float, count: int) -> None:
        r"""Add the sum of :math:`\mathrm{sign}(D(x))` over ``count`` reals (a tensor stays on
        its device until :meth:`update`: no synchronisation per step)."""
        self.sign_sum = self.sign_sum + (
            sign_sum.detach() if isinstance(sign_sum, torch.Tensor) else sign_sum
        )
        self.sign_count += int(count)

    def update(self, p: float, sums: tuple[float, float] | None = None) -> float:
        """The new :math:`p` (``sums``: the signs' sum and count over every process, when
        distributed); the accumulator starts over. No scores yet: :math:`p` unchanged."""
        total, count = sums if sums is not None else (float(self.sign_sum), self.sign_count)
        self.sign_sum, self.sign_count = 0.0, 0
        if count <= 0:
            return p
        rt = total / count
        step = math.copysign(1.0, rt - self.target) if rt != self.target else 0.0
        p = p + step * self.batch * self.interval / (self.kimg * 1000)
        return min(max(p, 0.0), 1.0)

    def state(self) -> dict[str, float]:
        return {"sign_sum": float(self.sign_sum), "sign_count": self.sign_count}

    def load_state(self, state: dict[str, float]) -> None:
        self.sign_sum = float(state["sign_sum"])
        self.sign_count = int(state["sign_count"])


# -- helpers ---------------------------------------------------------------------------------


def _probability(v: object, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
    return float(v)


def _then(
    g: torch.Tensor, fired: torch.Tensor, mask: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``g @ t`` where ``mask`` (the map from output to input coordinates composes on the
    right: the transforms apply to the image in the order they are listed)."""
    t = torch.where(mask[:, None, None], t, torch.eye(3, dtype=torch.float64))
    return g @ t, fired | mask


def _matrices(rows: list[list[torch.Tensor | float]], n: int) -> torch.Tensor:
    out = torch.empty(n, len(rows), len(rows[0]), dtype=torch.float64)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            out[:, i, j] = v
    return out


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return _matrices([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx.shape[0])


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrices([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta.shape[0])


def _translate(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    return _matrices([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx.shape[0])


def _translate3(t: torch.Tensor) -> torch.Tensor:
    return _matrices([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], t.shape[0])


def _scale3(s: torch.Tensor) -> torch.Tensor:
    return _matrices([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], s.shape[0])


def _rotate3(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by ``theta`` about the unit ``axis`` (Rodrigues), as 4×4 matrices."""
    x, y, z = (float(a) for a in axis)
    c, s = torch.cos(theta), torch.sin(theta)
    cc = 1 - c
    return _matrices([
        [x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
        [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
        [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
        [0, 0, 0, 1],
    ], theta.shape[0])  # fmt: skip


def _reflect_pad(x: torch.Tensor, margin: int) -> torch.Tensor:
    """Reflection padding by any margin, each axis about its own edges (``np.pad``'s
    'reflect'); a one-pixel axis is repeated. ``F.pad`` reflects less than the size at a time:
    every step but the last reflects a whole period, so that the next reflects about a point
    where the extension is symmetric too."""
    for axis in (-1, -2):
        size, left = x.shape[axis], margin
        while left > 0:
            step = left if size == 1 else min(left, size - 1)
            pads = [step, step, 0, 0] if axis == -1 else [0, 0, step, step]
            x = F.pad(x, pads, mode="replicate" if size == 1 else "reflect")
            size, left = size + 2 * step, left - step
    return x


def _blit(images: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``images`` at ``g @ (output pixel)`` for maps that move whole pixels: a gather, exact,
    the image extended by reflection (as the resampled path pads it)."""
    n, c, h, w = images.shape
    ys = torch.arange(h, device=images.device, dtype=torch.float64) + 0.5 - h / 2
    xs = torch.arange(w, device=images.device, dtype=torch.float64) + 0.5 - w / 2
    mx, my = _mapped(g, xs, ys)
    sx, sy = mx + w / 2 - 0.5, my + h / 2 - 0.5  # (pixel indices)
    src = _reflect_index(sy.round().long(), h) * w + _reflect_index(sx.round().long(), w)
    flat = images.reshape(n, c, h * w)
    return flat.gather(2, src.reshape(n, 1, h * w).expand(n, c, h * w)).reshape(n, c, h, w)


def _mapped(
    g: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The points of the grid ``xs × ys`` (centred pixel coordinates) mapped by each ``g``:
    ``(x, y)``, each ``[n, len(ys), len(xs)]``, computed on the grid's device and dtype (the
    3×3 maps are all that moves there)."""
    gd = g.to(xs.device, xs.dtype)[:, :2, :, None, None]  # [n, 2, 3, 1, 1]
    mx = gd[:, 0, 0] * xs + gd[:, 0, 1] * ys[:, None] + gd[:, 0, 2]
    my = gd[:, 1, 0] * xs + gd[:, 1, 1] * ys[:, None] + gd[:, 1, 2]
    return mx, my


def _reflect_index(i: torch.Tensor, size: int) -> torch.Tensor:
    """Indices mirrored into ``[0, size)`` without repeating the edge (``F.pad``'s 'reflect',
    any number of times)."""
    if size == 1:
        return torch.zeros_like(i)
    period = 2 * (size - 1)
    i = i.remainder(period)
    return torch.where(i >= size, period - i, i)


@functools.cache
def _resampling_filter() -> torch.Tensor:
    """The geometric path's Kaiser sinc (float64, designed once)."""
    return kaiser_sinc(_TAPS, _CUTOFF, _WIDTH, fs=2, dtype=torch.float64)


@functools.cache
def _band_lowpasses() -> tuple[torch.Tensor, ...]:
    """The filter bands' low-passes :math:`l_k` (1-D, float64, odd lengths: centred alike), for
    the edges :data:`BAND_EDGES`, longest first."""
    return tuple(
        kaiser_sinc(round(_BAND_TAPS / f) + 1, f, f / 2, fs=1, dtype=torch.float64)
        for f in BAND_EDGES
    )


def _warp(images: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Resample ``images`` at ``g @ (output pixel)`` (centred pixel coordinates), band-limited:
    reflect-pad, upsample 2×, bicubic sampling, filter and downsample 2×."""
    if images.dtype in (torch.float16, torch.bfloat16):
        # grid_sample computes pixel indices in the grid's dtype: half precision reads out of
        # bounds (a crash on the CPU) and rounds the positions; warp in float32
        return _warp(images.float(), g).to(images.dtype)
    h, w = images.shape[-2:]
    f = _resampling_filter().to(images.device, images.dtype)
    # The padding the mapped image corners reach past the edges (plus the filters' reach).
    corners = torch.tensor([[-w / 2, -h / 2, 1], [w / 2, -h / 2, 1], [-w / 2, h / 2, 1],
                            [w / 2, h / 2, 1]], dtype=torch.float64)  # fmt: skip
    reach = (g @ corners.T)[:, :2].abs()
    beyond = float(torch.maximum(reach[:, 0] - w / 2, reach[:, 1] - h / 2).max())
    extra = _TAPS // 4  # output pixels computed past each edge, for the down filter's reach
    margin = max(math.ceil(beyond + extra + _TAPS / 4), 0)
    x = _reflect_pad(images, margin)
    x = upsample2d(x, f)  # sample k of the padded image's 2x grid sits at k/2 - 1/4
    # Output samples on the 2x grid (extended by `extra` pixels a side), in centred pixel
    # coordinates, mapped by g; grid_sample's normalised coordinate of a centred position q is
    # q / (size/2 + margin).
    dev, dt = images.device, images.dtype
    ys = (torch.arange(-2 * extra, 2 * (h + extra), device=dev, dtype=dt) + 0.5) / 2 - h / 2
    xs = (torch.arange(-2 * extra, 2 * (w + extra), device=dev, dtype=dt) + 0.5) / 2 - w / 2
    mx, my = _mapped(g, xs, ys)
    grid = torch.stack([mx / (w / 2 + margin), my / (h / 2 + margin)], dim=-1)
    x = F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
    return downsample2d(x, f)[:, :, extra : extra + h, extra : extra + w]
