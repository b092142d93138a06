r"""The StyleGAN2/3 training loss: non-saturating logistic + lazy R1, with the config-R blur fade.

Phases (each a separate optimiser step in :mod:`afgan.training`):

``'Gmain'``
    :math:`L_G = \mathrm{softplus}(-D(G(z)))` (mean over the batch).
``'Dmain'``
    :math:`L_D = \mathrm{softplus}(D(G(z))) + \mathrm{softplus}(-D(x))`; the generator pass runs
    with ``update_emas=True`` (moves ``w_avg`` and the layers' ``magnitude_ema``) and no gradient.
``'Dreg'``
    Lazy R1, every ``reg_interval`` steps: :math:`\frac{\gamma}{2}\sum_{c,h,w}(\partial D(x)/
    \partial x)^2`, averaged over the batch and multiplied by the phase gain (the interval), so
    that its expected contribution per step is unchanged. The gradient is taken with
    ``create_graph=True`` (double backward through D's ops) with respect to the *raw* real batch:
    the blur is part of the differentiated function.

Blur (config R): every image D sees is low-passed by the separable filter
:math:`f[x] \propto 2^{-(x/\sigma)^2}`, :math:`x \in [-\lfloor 3\sigma\rfloor, \lfloor 3\sigma
\rfloor]`, with :math:`\sigma = \max(1 - n/(1000\,\mathrm{fade\_kimg}), 0)\,\sigma_0` after
:math:`n` real images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from bandlimit.ops import filter2d

__all__ = ["PHASES", "StyleGAN2Loss", "blur_filter", "blur_sigma"]

PHASES = ("Gmain", "Dmain", "Dreg")


def blur_sigma(cur_nimg: int, blur_init_sigma: float, blur_fade_kimg: float) -> float:
    r""":math:`\sigma = \max(1 - n / (1000 k), 0)\,\sigma_0`; 0 (no blur) when ``k = 0``, as
    in the official loss (a fade over no images is already over)."""
    if blur_fade_kimg > 0:
        return max(1.0 - cur_nimg / (blur_fade_kimg * 1e3), 0.0) * blur_init_sigma
    return 0.0


def blur_filter(sigma: float) -> torch.Tensor | None:
    r"""Normalised float32 taps :math:`2^{-(x/\sigma)^2}` on :math:`|x| \le \lfloor 3\sigma\rfloor`.

    ``None`` when :math:`\lfloor 3\sigma\rfloor = 0` (no blur).
    """
    size = int(np.floor(sigma * 3))
    if size <= 0:
        return None
    x = torch.arange(-size, size + 1, dtype=torch.float32)
    f = torch.exp2(-(x / sigma).square())
    return f / f.sum()


class StyleGAN2Loss:
    """Loss of the official StyleGAN3 trainer (no path-length reg., no style mixing).

    Parameters
    ----------
    G, D : nn.Module
        The (possibly DDP-wrapped) generator and discriminator, called as ``G(z, c,
        update_emas=...)`` and ``D(img, c, update_emas=...)``.
    r1_gamma : float ≥ 0
    blur_init_sigma, blur_fade_kimg : float
        Config R: 10 px faded over ``batch·200/32`` kimg; config T: 0.
    augment_pipe : afgan.augment.AugmentPipe or None
        ADA: applied (after the blur) to every image D sees, with the phase's random numbers.
    """

    def __init__(
        self,
        G: torch.nn.Module,
        D: torch.nn.Module,
        r1_gamma: float = 10.0,
        blur_init_sigma: float = 0.0,
        blur_fade_kimg: float = 0.0,
        augment_pipe: torch.nn.Module | None = None,
    ) -> None:
        if not math.isfinite(r1_gamma) or r1_gamma < 0:
            raise ValueError(f"r1_gamma must be a finite number >= 0, got {r1_gamma!r}")
        self.G = G
        self.D = D
        self.r1_gamma = float(r1_gamma)
        self.blur_init_sigma = float(blur_init_sigma)
        self.blur_fade_kimg = float(blur_fade_kimg)
        self.augment_pipe = augment_pipe

    def _blur(self, img: torch.Tensor, cur_nimg: int) -> torch.Tensor:
        f = blur_filter(blur_sigma(cur_nimg, self.blur_init_sigma, self.blur_fade_kimg))
        if f is None:
            return img
        return filter2d(img, f.to(device=img.device, dtype=img.dtype))  # size-preserving

    def run_D(self, img: torch.Tensor, c: torch.Tensor, cur_nimg: int, update_emas=False,
              draws: torch.Tensor | None = None):  # fmt: skip
        img = self._blur(img, cur_nimg)
        if self.augment_pipe is not None and draws is not None:
            img = self.augment_pipe(img, draws)
        return self.D(img, c, update_emas=update_emas)

    def accumulate_gradients(
        self,
        phase: str,
        real_img: torch.Tensor,
        real_c: torch.Tensor,
        gen_z: torch.Tensor,
        gen_c: torch.Tensor,
        gain: float,
        cur_nimg: int,
        augment_draws: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run one phase's forward and ``backward()`` (gradients accumulate into ``.grad``).

        ``augment_draws [2, batch, K]``: the augmentation's random numbers for the phase's
        generated (0) and real (1) images (with an ``augment_pipe``; None: no augmentation).

        Returns the phase's scalars for logging (``loss_G``, ``loss_D_real``, ``loss_D_fake``,
        ``r1_penalty``, ``scores_real``, ``scores_fake``; ``signs_real``, the mean sign of D's
        scores of reals, ADA's overfitting measure) as detached 0-d tensors on the networks'
        device: reading them (``float(t)``) waits for the device, so a trainer reads
        them once per log line, not per step, and the GPU never idles between phases.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        stats: dict[str, torch.Tensor] = {}
        fake_draws, real_draws = (None, None) if augment_draws is None else augment_draws
        if phase == "Gmain":
            gen_img = self.G(gen_z, gen_c)
            logits = self.run_D(gen_img, gen_c, cur_nimg, draws=fake_draws)
            loss = F.softplus(-logits).mean()
            (loss * gain).backward()
            stats["loss_G"] = loss.detach()
            stats["scores_fake_G"] = logits.detach().mean()
        elif phase == "Dmain":
            with torch.no_grad():
                gen_img = self.G(gen_z, gen_c, update_emas=True)
            logits_fake = self.run_D(gen_img, gen_c, cur_nimg, update_emas=True, draws=fake_draws)
            logits_real = self.run_D(real_img.detach(), real_c, cur_nimg, draws=real_draws)
            loss_fake = F.softplus(logits_fake).mean()
            loss_real = F.softplus(-logits_real).mean()
            loss = loss_fake + loss_real
            (loss * gain).backward()
            stats["loss_D_fake"] = loss_fake.detach()
            stats["loss_D_real"] = loss_real.detach()
            stats["loss_D"] = loss.detach()
            stats["scores_fake"] = logits_fake.detach().mean()
            stats["scores_real"] = logits_real.detach().mean()
            stats["signs_real"] = logits_real.detach().sign().mean()
        else:  # Dreg
            real = real_img.detach().requires_grad_(True)
            logits = self.run_D(real, real_c, cur_nimg, draws=real_draws)
            (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
            penalty = grad.square().sum(dim=[1, 2, 3])
            loss = (penalty * (self.r1_gamma / 2)).mean()
            (loss * gain).backward()
            stats["r1_penalty"] = penalty.detach().mean()
            stats["signs_real"] = logits.detach().sign().mean()  # (ADA counts these too)
            stats["loss_Dr1"] = loss.detach()
        return stats
