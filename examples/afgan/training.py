r"""The Alias-Free GAN training loop (the official StyleGAN3 recipe) on bandlimit.

One *step* (iteration) on every rank, each phase with a fresh latent batch and its own optimiser
step (Adam, β = (0, 0.99), ε = 1e-8):

1. ``Gmain``: :math:`\mathrm{softplus}(-D(G(z)))`, G's parameters only.
2. ``Dmain``: :math:`\mathrm{softplus}(D(G(z))) + \mathrm{softplus}(-D(x))`; the G pass moves
   ``w_avg`` and the magnitude EMAs.
3. ``Dreg`` on steps ``0, 16, 32, …``: R1 × 16. D's Adam runs with ``lr·16/17`` and
   ``β₂^{16/17}`` (lazy-regularisation adjustment).

Before each optimiser step the gradients are averaged over ranks (one flat all-reduce) and
NaN/±Inf are replaced by 0/±1e5. After the step, G_ema's parameters move as
:math:`\theta_\mathrm{ema} \leftarrow \theta + \beta(\theta_\mathrm{ema} - \theta)`,
:math:`\beta = 0.5^{B / n_\mathrm{ema}}`, :math:`n_\mathrm{ema} = \min(1000\,k_\mathrm{ema},
0.05\,n_\mathrm{img})` (ramp-up; none after an official-pickle resume), :math:`k_\mathrm{ema} =
10 B / 32`; G_ema's buffers are copied from G.

Augmentation (:mod:`afgan.augment`, ``--aug``): every image D sees (after the config-R blur)
goes through ADA's pipeline with probability ``p``; with ``ada`` (the default with ``--data``)
``p`` starts at ``--aug-p`` (0) and moves every 4 steps by ``±batch·4/(1000·ada_kimg)`` as the
sign of D's scores of reals (in the Dmain and R1 phases since the last update) averages above
or below ``--target`` (0.6); ``fixed`` keeps
``--aug-p`` (0.2).
Its random numbers are drawn for the whole batch from a generator seeded by ``(seed, s)``, as
the latents.

Determinism: networks are initialised from ``seed`` on every rank; the latents of step ``s``
are drawn for the whole batch from a generator seeded by ``(seed, s)``, each rank taking its
share, so they do not depend on the number of processes; the data order is a function of the
step (:class:`afgan.data.StepBatchSampler`). A checkpoint stores the networks, both Adam
states, the step/image counters and the torch RNG state, so a resumed run reproduces the
uninterrupted one exactly on CPU.

Distributed: started by ``torchrun``, every rank runs this loop on ``batch / world`` images; the
gradient all-reduce is ``torch.distributed`` (gloo on CPU, NCCL on GPU); the magnitude EMAs and
``w_avg`` are averaged over ranks after each step, so all ranks hold identical networks. Rank 0
writes the run directory. The snapshot metrics run on every rank, each on its share of the
latents (and of the real images for FID), and are all-reduced: every rank gets the same values.

Metrics (``--metrics``, at each snapshot, on G_ema): the equivariance PSNRs in dB
(:func:`bandlimit.metrics.equivariance.evaluate`, ``--metrics-samples`` latents) and FID
(:func:`bandlimit.metrics.fid.fid`, lower is better): ``--fid-samples`` generated images against
the features of ``min(--fid-samples, dataset size)`` dataset images (a fixed random subset, the
``fid50k`` convention), under the extractor ``--fid-features`` (a TorchScript / ``torch.export``
file, or ``torchvision`` for torchvision's Inception-v3 with its weights already in the torch
hub cache: nothing is downloaded). The real statistics are computed once per run and cached in
``fid_reals.npz`` (recomputed when the extractor, dataset or count changes). FID values are
comparable only under the same extractor and sample counts.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import os
import pickle
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from afgan.augment import PIPES, AdaptiveP, AugmentPipe
from afgan.cli import write_replacing
from afgan.data import DatasetError, make_loader, one_line, open_dataset
from afgan.discriminator import Discriminator
from afgan.legacy import load_network, save_checkpoint
from afgan.loss import StyleGAN2Loss
from afgan.networks import Generator

__all__ = [
    "CONFIGS",
    "TrainConfig",
    "TrainingError",
    "build_networks",
    "default_gamma",
    "find_latest_checkpoint",
    "format_metric",
    "state_digest",
    "train",
]

CONFIGS = ("stylegan3-t", "stylegan3-r")
IMPLS = ("auto", "ref", "numba", "cuda")
METRIC_NAMES = {"eqt": "eqt_int", "eqt_int": "eqt_int", "eqt_frac": "eqt_frac", "eqr": "eqr",
                "fid": "fid"}
FID_REALS = "fid_reals.npz"  # the dataset's feature statistics, cached in the run directory
FID_BATCH = 16  # images per generator / extractor call when measuring FID
CHECKPOINT_GLOB = "checkpoint-*.pt"
CHECKPOINT_RE = re.compile(r"checkpoint-(\d+)\.pt")  # the trainer's own (fullmatch)
GRID_RE = re.compile(r"fakes(\d+)\.png")  # its sample grids (fullmatch)
REWIND_JSON = "rewind.json"  # in superseded-<n>/: the step that rewind went back to
D_REG_INTERVAL = 16
AUG_MODES = ("auto", "noaug", "ada", "fixed")  # auto: ada with --data, none on the shapes
ADA_INTERVAL = 4  # steps between p updates


class TrainingError(ValueError):
    """A configuration or input problem, reported to the user as one line.

    ``reported`` is False on the ranks of a distributed run other than the one that found
    the problem and says it: they exit with the same status, silently."""

    def __init__(self, msg: str, *, reported: bool = True) -> None:
        super().__init__(msg)
        self.reported = reported


@dataclass
class TrainConfig:
    """Everything a run depends on (written to ``config.json``).

    Defaults are sized for a 2-core CPU (they are what ``make demo`` runs): 32², batch 16, 4
    synthesis layers (official: 14), 16 channels at most in G and D (official: 512), z/w
    64-dimensional (official: 512) and learning rates 0.0075 (official: 0.0025 / 0.002). This
    model trains ~3× more images per second than the defaults until 2026-12-04 (6 layers, 32
    channels, batch 8, learning rates 0.005), so the demo's 8½ minutes reach ~63 kimg instead of
    ~25: a round object in most samples instead of soft blobs (the seeds and alternatives tried
    are in ``benchmarks/README.md``). The synthesis margin stays the official 10 pixels: a 4-pixel
    margin makes a step ~1.25× faster at 32² but drops EQ-T from ~99 dB to 43–49 dB, because the
    metric translates by up to 1/8 of the image (4 px) and content then reaches the zero-padded
    border. The official architecture is ``num_layers=14, cbase=32768, cmax=512,
    z_dim=w_dim=512, margin=10``.
    """

    cfg: str = "stylegan3-t"
    data: str | None = None
    resolution: int = 32
    mirror: bool = False
    cond: bool = False
    outdir: str = "runs"
    run_name: str | None = None
    batch: int = 16
    gamma: float | None = None
    kimg: float = 10.0
    tick: float = 0.4
    snap: int = 2
    keep: int = 3
    cbase: int = 1024
    cmax: int = 16
    dcbase: int | None = None
    dcmax: int | None = None
    num_layers: int = 4
    num_critical: int = 2
    margin: int = 10
    z_dim: int = 64
    w_dim: int = 64
    map_depth: int = 2
    glr: float = 0.0075
    dlr: float = 0.0075
    mbstd_group: int = 4
    ema_kimg: float | None = None
    mag_ema_kimg: float = 20.0
    ema_rampup: float | None = 0.05
    blur_sigma: float | None = None
    blur_fade_kimg: float | None = None
    aug: str = "auto"
    augpipe: str = "bgc"
    aug_p: float | None = None
    target: float | None = None
    ada_kimg: float | None = None
    seed: int = 0
    metrics: list[str] = field(default_factory=list)
    metrics_samples: int = 64
    fid_features: str | None = None  # a TorchScript / .pt2 file, or "torchvision"
    fid_samples: int = 2000
    workers: int = 0
    device: str = "cpu"
    impl: str = "auto"
    grid: tuple[int, int] = (8, 4)
    minutes: float | None = None
    stop_at_step: int | None = None  # testing aid: stop (as on Ctrl-C) once this step is done

    def validate(self) -> None:
        if self.cfg not in CONFIGS:
            raise TrainingError(f"--cfg must be one of {', '.join(CONFIGS)}, got {self.cfg!r}")
        for name in ("resolution", "batch", "snap", "keep", "cbase", "cmax", "num_layers",
                     "z_dim", "w_dim", "map_depth", "mbstd_group", "metrics_samples"):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                flag = name.replace("_", "-")
                raise TrainingError(f"--{flag} must be an integer >= 1, got {v!r}")
        for name in ("dcbase", "dcmax"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise TrainingError(f"--{name} must be an integer >= 1, got {v!r}")
        if self.ema_kimg is not None and not (math.isfinite(self.ema_kimg) and self.ema_kimg > 0):
            raise TrainingError(f"--ema-kimg must be a positive number, got {self.ema_kimg!r}")
        nc = self.num_critical
        if isinstance(nc, bool) or not isinstance(nc, int) or not 0 <= nc < self.num_layers:
            raise TrainingError(
                f"--num-critical must be an integer in [0, --num-layers={self.num_layers}), "
                f"got {nc!r}"
            )
        if isinstance(self.margin, bool) or not isinstance(self.margin, int) or self.margin < 0:
            raise TrainingError(f"--margin must be an integer >= 0, got {self.margin!r}")
        res = self.resolution
        if res < 8 or res & (res - 1):
            raise TrainingError(f"--resolution must be a power of two >= 8, got {res}")
        for name in ("kimg", "tick", "glr", "dlr", "mag_ema_kimg"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                flag = name.replace("_", "-")
                raise TrainingError(f"--{flag} must be a positive number, got {v!r}")
        if round(self.kimg * 1000) < 1:  # (0 images: no step, no checkpoint)
            raise TrainingError(f"--kimg must be at least 0.001 (one image), got {self.kimg!r}")
        if self.gamma is not None and not (math.isfinite(self.gamma) and self.gamma >= 0):
            raise TrainingError(f"--gamma must be a number >= 0, got {self.gamma!r}")
        for name in ("ema_rampup", "blur_sigma", "blur_fade_kimg"):  # Python API only
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v) or v < 0):
                raise TrainingError(f"{name} must be None or a number >= 0, got {v!r}")
        if self.aug not in AUG_MODES:
            raise TrainingError(f"--aug must be one of {', '.join(AUG_MODES)}, got {self.aug!r}")
        if self.augpipe not in PIPES:
            raise TrainingError(
                f"--augpipe must be one of {', '.join(PIPES)}, got {self.augpipe!r}"
            )
        for name in ("aug_p", "target"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not 0 <= v <= 1):  # fmt: skip
                flag = name.replace("_", "-")
                raise TrainingError(f"--{flag} must be a number in [0, 1], got {v!r}")
        mode = self.aug_mode()
        for name, modes in (("aug_p", ("ada", "fixed")), ("target", ("ada",)),
                            ("ada_kimg", ("ada",))):  # fmt: skip
            if getattr(self, name) is not None and mode not in modes:
                flag = "--" + name.replace("_", "-")
                why = " (auto: none on the embedded shapes)" if self.aug == "auto" else ""
                raise TrainingError(
                    f"{flag} has no effect: this run's augmentation is {mode}{why}; it applies "
                    f"with --aug {' or '.join(modes)}"
                )
        if self.ada_kimg is not None and not (
            isinstance(self.ada_kimg, (int, float)) and math.isfinite(self.ada_kimg)
            and self.ada_kimg > 0
        ):  # fmt: skip
            raise TrainingError(f"--ada-kimg must be a positive number, got {self.ada_kimg!r}")
        for m in self.metrics:
            if m not in METRIC_NAMES:
                raise TrainingError(
                    f"--metrics entries must be among {', '.join(sorted(METRIC_NAMES))}, got {m!r}"
                )
        fs = self.fid_samples
        if isinstance(fs, bool) or not isinstance(fs, int) or fs < 2:
            raise TrainingError(f"--fid-samples must be an integer >= 2, got {fs!r}")
        if self.fid_features is not None and (not isinstance(self.fid_features, str)
                                              or not self.fid_features):  # fmt: skip
            raise TrainingError(f"--fid-features must be a file path or 'torchvision', got "
                                f"{self.fid_features!r}")
        if "fid" in self.metrics and self.fid_features is None:
            raise TrainingError(
                "--metrics fid needs --fid-features: a TorchScript (torch.jit.save) or "
                "torch.export (.pt2) file mapping images [N, 3, H, W] in [-1, 1] to features "
                "[N, D], or 'torchvision' for torchvision's Inception-v3 with its weights "
                "already in the torch hub cache (nothing is downloaded)"
            )
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise TrainingError(f"--seed must be an integer in [0, 2**32), got {self.seed!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise TrainingError(f"--workers must be an integer >= 0, got {self.workers!r}")
        if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes > 0):
            raise TrainingError(f"--minutes must be a positive number, got {self.minutes!r}")
        if self.impl not in IMPLS:
            raise TrainingError(f"--impl must be one of {', '.join(IMPLS)}, got {self.impl!r}")
        if self.impl == "cuda" and not self.device.startswith("cuda"):
            raise TrainingError(f"--impl cuda needs --device cuda, got --device {self.device!r}")
        check_device(self.device)
        name = self.run_name
        if name is not None and (
            not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\:")
        ):  # ':' too: on Windows 'C:x' is a drive-relative path, outside --outdir
            raise TrainingError(
                f"--run-name must be a plain directory name (no '/', '\\' or ':', not '.' or "
                f"'..'): it is created inside --outdir, got {name!r}"
            )

    def aug_mode(self) -> str:
        """The augmentation: ``aug``, with 'auto' resolved ('ada' with ``data``, else none)."""
        if self.aug != "auto":
            return self.aug
        return "ada" if self.data is not None else "noaug"

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["grid"] = list(self.grid)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d.setdefault("margin", 10)  # runs written before --margin existed used 10
        d.setdefault("num_critical", 2)  # and before --num-critical, the official 2
        d.setdefault("aug", "noaug")  # and before --aug, without augmentation
        if "grid" in d:
            d["grid"] = tuple(d["grid"])
        return cls(**d)


def check_device(device: str) -> None:
    """``--device``: cpu, or cuda[:N] with a GPU that torch can see."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda"):
        raise TrainingError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            f"--device {device} but torch sees no CUDA GPU (torch {torch.__version__}, "
            f"CUDA {torch.version.cuda or 'none: a CPU-only build'}); use --device cpu"
        )
    index = torch.device(device).index
    if kind == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise TrainingError(
            f"--device {device}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0"
        )


def default_gamma(resolution: int, batch: int) -> float:
    r"""R1 weight, official guidance: :math:`\gamma = 0.001\,R^2 / B` (γ ≈ 2 at 256², B = 32)."""
    return 0.001 * resolution**2 / batch


# ---------------------------------------------------------------------------------------------
# Networks.


def build_networks(cfg: TrainConfig, c_dim: int, img_channels: int) -> tuple[Generator, Any]:
    """G and D for ``cfg`` (config R: 1×1 convs, radial filters, G channels ×2)."""
    g_kwargs: dict[str, Any] = dict(
        z_dim=cfg.z_dim,
        c_dim=c_dim,
        w_dim=cfg.w_dim,
        img_resolution=cfg.resolution,
        img_channels=img_channels,
        mapping_kwargs={"num_layers": cfg.map_depth},
        channel_base=cfg.cbase,
        channel_max=cfg.cmax,
        magnitude_ema_beta=0.5 ** (cfg.batch / (cfg.mag_ema_kimg * 1e3)),
    )
    if cfg.num_layers != 14:
        g_kwargs["num_layers"] = cfg.num_layers
    g_kwargs["num_critical"] = cfg.num_critical
    g_kwargs["margin_size"] = cfg.margin
    if cfg.cfg == "stylegan3-r":
        g_kwargs.update(
            conv_kernel=1,
            use_radial_filters=True,
            channel_base=cfg.cbase * 2,
            channel_max=cfg.cmax * 2,
        )
    G = Generator(**g_kwargs)
    D = Discriminator(
        c_dim=c_dim,
        img_resolution=cfg.resolution,
        img_channels=img_channels,
        channel_base=cfg.dcbase or cfg.cbase,
        channel_max=cfg.dcmax or cfg.cmax,
        epilogue_kwargs={"mbstd_group_size": cfg.mbstd_group},
    )
    return G, D


def state_digest(*modules: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer (bit-exact identity of network states)."""
    h = hashlib.sha256()
    for m in modules:
        for k, v in m.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Distributed helpers.


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this module initialised the process group, so it tears it down

    @property
    def active(self) -> bool:
        return self.world > 1


def _init_distributed(device: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    owns = not dist.is_initialized()
    if owns:
        # torch.distributed.nn.functional binds `group=group.WORLD` as defaults when imported, and
        # the first optimizer imports it (through torch._dynamo). Imported after the group exists,
        # those defaults keep it alive past destroy_process_group, and gloo's threads are then
        # torn down at interpreter exit: "terminate called without an active exception"
        # (SIGABRT) in about 1 run of 20. Imported first, the defaults are None.
        import torch.distributed.nn  # noqa: F401

        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return _Dist(dist.get_rank(), dist.get_world_size(), local_rank, owns)


def _shutdown_distributed(d: _Dist, finished: bool) -> None:
    # A process group left to interpreter exit destroys gloo's worker threads while they are
    # still joinable: "terminate called without an active exception" (SIGABRT) on some ranks.
    # The barrier (skipped after an error, where peers may never reach it) lets every rank
    # finish its last collective before any rank tears the group down.
    if not (d.owns_group and dist.is_initialized()):
        return
    if finished:
        dist.barrier()
    dist.destroy_process_group()


def _tick_means(stats: dict[str, list[torch.Tensor]], d: _Dist) -> dict[str, float]:
    """Each statistic's mean over the tick's steps and every rank's share of the batch (rank
    0's alone was logged). Every rank ran the same phases: the keys agree."""
    if not stats:
        return {}
    keys = sorted(stats)
    means = torch.stack([torch.stack(stats[k]).double().mean() for k in keys])
    if d.active:
        dist.all_reduce(means)
        means /= d.world
    return dict(zip(keys, means.tolist()))


def _sync_gradients(module: torch.nn.Module, d: _Dist) -> None:
    # Parameters the phase did not reach (D's last bias in Dreg) keep no gradient, so that Adam
    # skips them as upstream does. Every rank runs the same phase: the set is the same on all.
    params = [p for p in module.parameters() if p.requires_grad and p.grad is not None]
    if not params:
        return
    if d.active:
        flat = torch.cat([p.grad.flatten() for p in params])
        dist.all_reduce(flat)
        flat /= d.world
        for p, g in zip(params, flat.split([p.numel() for p in params])):
            p.grad.copy_(g.view_as(p))
    for p in params:
        torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)


def _sync_buffers(module: torch.nn.Module, d: _Dist) -> None:
    # magnitude_ema and w_avg move with each rank's batch: average them so ranks stay identical.
    if not d.active:
        return
    bufs = [b for n, b in module.named_buffers() if n.endswith(("magnitude_ema", "w_avg"))]
    flat = torch.cat([b.flatten() for b in bufs])
    dist.all_reduce(flat)
    flat /= d.world
    for b, v in zip(bufs, flat.split([b.numel() for b in bufs])):
        b.copy_(v.view_as(b))


def _any_rank(flag: bool, d: _Dist, device: torch.device) -> bool:
    if not d.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


# ---------------------------------------------------------------------------------------------
# FID (--metrics fid).


class _ImageBatches(Sequence):
    """Dataset items ``order`` as uint8 batches ``[B, C, H, W]`` of ``batch`` images: a Sequence,
    so that under torch.distributed each rank decodes only its own batches."""

    def __init__(self, dataset: Any, order: np.ndarray, batch: int) -> None:
        self.dataset, self.order, self.batch = dataset, order, batch

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch)

    def __getitem__(self, k: int) -> torch.Tensor:  # type: ignore[override]
        if not 0 <= k < len(self):
            raise IndexError(k)
        idx = self.order[k * self.batch : (k + 1) * self.batch]
        return torch.from_numpy(np.stack([self.dataset[int(i)][0] for i in idx]))


class _FIDMetric:
    """The FID of G_ema at snapshots: the extractor (loaded once, checked on dataset images at
    start-up) and the dataset's statistics (computed at the first snapshot, cached in the run
    directory as :data:`FID_REALS` and reused while the extractor, dataset and count match)."""

    def __init__(self, cfg: TrainConfig, dataset: Any, device: torch.device) -> None:
        from bandlimit.metrics.fid import load_feature_extractor

        spec = cfg.fid_features
        assert spec is not None  # (validate: --metrics fid needs it)
        self.spec, self.cfg, self.dataset, self.device = spec, cfg, dataset, device
        try:
            self.extractor = load_feature_extractor(spec, device=device)
            self.identity = _fid_identity(spec)
        except (OSError, ImportError, ValueError, TypeError) as exc:
            raise TrainingError(f"--fid-features {spec!r}: {one_line(exc)}") from None
        self.reals: Any = None  # FeatureStatistics, once known
        self._probe()

    def _probe(self) -> None:
        """Fail at start-up, not at the first snapshot: run the extractor on dataset images."""
        try:
            imgs = np.stack([self.dataset[i][0] for i in range(min(2, len(self.dataset)))])
        except DatasetError as exc:
            raise TrainingError(str(exc)) from None
        if imgs.shape[1] not in (1, 3):
            raise TrainingError(f"--metrics fid needs RGB or grayscale images, the dataset's "
                                f"have {imgs.shape[1]} channels")
        x = torch.from_numpy(imgs).to(self.device).float() / 127.5 - 1
        x = x.expand(-1, 3, -1, -1)
        try:
            with torch.no_grad():
                out = self.extractor(x)
        except Exception as exc:  # (whatever the user's network raises)
            raise TrainingError(f"--fid-features {self.spec!r} fails on the dataset's images "
                                f"{list(x.shape)}: {one_line(exc)}") from None
        ok = (isinstance(out, torch.Tensor) and out.ndim >= 2 and out.shape[0] == len(x)
              and all(n == 1 for n in out.shape[2:]))  # fmt: skip
        if not ok:
            got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise TrainingError(f"--fid-features {self.spec!r} must map images {list(x.shape)} "
                                f"to features [{len(x)}, D], got {got}")

    def _real_statistics(self, run_dir: Path, d: _Dist) -> Any:
        from bandlimit.metrics.fid import FeatureStatistics, feature_statistics

        cfg, dataset = self.cfg, self.dataset
        n = min(len(dataset), cfg.fid_samples)
        meta = {"features": self.identity, "images": str(n), "seed": str(cfg.seed),
                "dataset": json.dumps(dataset.describe(), sort_keys=True)}  # fmt: skip
        path = run_dir / FID_REALS
        cached = None
        if d.rank == 0 and path.is_file():
            try:
                stats = FeatureStatistics.load(path, device=self.device)
            except (OSError, ValueError):
                stats = None  # unreadable: computed again and replaced
            if stats is not None and stats.metadata == meta and stats.count == n:
                cached = stats
        if d.active:  # rank 0 read the run directory: share what it found
            obj = [None if cached is None else cached.to_tensor().cpu()]
            dist.broadcast_object_list(obj, src=0)
            if obj[0] is not None:
                cached = FeatureStatistics.from_tensor(obj[0].to(self.device), metadata=meta)
        if cached is not None:
            return cached
        # a fixed random subset when the dataset is larger (not its first files)
        order = (np.random.RandomState(cfg.seed).permutation(len(dataset))[:n]
                 if n < len(dataset) else np.arange(n))  # fmt: skip
        stats = feature_statistics(_ImageBatches(dataset, order, FID_BATCH), self.extractor,
                                   device=self.device)  # fmt: skip
        stats.metadata = meta
        if d.rank == 0:
            try:
                _write_run_file(path, stats.save, "the FID statistics ")
            except TrainingError as exc:  # (a cache: the run goes on without it)
                print(f"{exc}; they are computed again on resume", file=sys.stderr)
        return stats

    def measure(self, G: Any, run_dir: Path, d: _Dist) -> float:
        """FID of ``G`` (collective under torch.distributed: every rank calls it)."""
        from bandlimit.metrics.equivariance import NonFiniteImagesError
        from bandlimit.metrics.fid import fid

        dataset, device = self.dataset, self.device
        c_dim = getattr(G, "c_dim", 0)

        def generate(n: int) -> torch.Tensor:
            # fid() seeds torch's global RNG per batch (and restores it): the latents and the
            # labels are the same at every snapshot and with any number of ranks
            z = torch.randn([n, G.z_dim]).to(device)
            if c_dim > 0:
                idx = torch.randint(len(dataset), [n])
                c = torch.from_numpy(np.stack([dataset.get_label(int(i)) for i in idx]))
            else:
                c = torch.zeros([n, 0])
            return G(z, c.to(device))

        try:
            if self.reals is None:
                self.reals = self._real_statistics(run_dir, d)
            return fid(generate, self.reals, self.extractor, num_fake=self.cfg.fid_samples,
                       batch_size=FID_BATCH, seed=self.cfg.seed, device=device)  # fmt: skip
        except NonFiniteImagesError:
            raise  # (a diverged G_ema: reported in the log, the run goes on)
        except DatasetError as exc:
            raise TrainingError(str(exc)) from None
        except (ValueError, TypeError, RuntimeError) as exc:
            elsewhere = str(exc).startswith("the FID computation failed on another rank")
            raise TrainingError(f"FID with --fid-features {self.spec!r} failed: "
                                f"{one_line(exc)}", reported=not elsewhere) from None


def _fid_identity(spec: str) -> str:
    """What the cached real statistics must have been computed with: torchvision's weights,
    or the extractor file's content (not its name: a file replaced in place is another one)."""
    if spec == "torchvision":
        return "torchvision inception_v3 IMAGENET1K_V1 (torch hub cache)"
    h = hashlib.sha256()
    with open(spec, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


# ---------------------------------------------------------------------------------------------
# Run directory, images, plots.


def _run_dir(cfg: TrainConfig, dataset_name: str) -> Path:
    out = Path(cfg.outdir)
    if cfg.run_name:
        return out / cfg.run_name
    ids = [int(m.group(1)) for p in (out.iterdir() if out.is_dir() else ())
           if (m := re.match(r"^(\d+)-", p.name))]  # fmt: skip
    idx = max(ids, default=-1) + 1
    return out / f"{idx:05d}-{cfg.cfg}-{dataset_name}-r{cfg.resolution}-b{cfg.batch}"


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def save_grid(images: np.ndarray, grid: tuple[int, int], path: Path, min_tile: int = 96) -> None:
    """uint8 ``[N, H, W, C]`` → one PNG of ``gw × gh`` tiles, upscaled (nearest) to ≥ min_tile
    (written whole or not at all: :func:`_write_run_file`)."""
    from PIL import Image

    gw, gh = grid
    n, h, w, c = images.shape
    canvas = np.zeros([gh * h, gw * w, c], np.uint8)
    for i in range(min(n, gw * gh)):
        y, x = divmod(i, gw)
        canvas[y * h : (y + 1) * h, x * w : (x + 1) * w] = images[i]
    im = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    scale = max(1, -(-min_tile // w))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    _write_run_file(path, lambda tmp: im.save(tmp, format="PNG"), "the sample grid ")


def format_metric(name: str, value: float) -> str:
    """``'eqt_int 45.67 dB'`` for the equivariance PSNRs, ``'fid 12.34'`` for FID (no unit)."""
    return f"{name} {value:.2f}" + ("" if name == "fid" else " dB")


def plot_log(log_path: Path, out_path: Path) -> None:
    """Loss curves (and metrics, when logged) against kimg, from ``log.jsonl`` (written whole
    or not at all: :func:`_write_run_file`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in map(_log_row, log_path.read_text().splitlines()) if "kimg" in r]
    if not rows:
        return
    kimg = [r["kimg"] for r in rows]
    metric_keys = sorted({k for r in rows for k in r.get("metrics", {})})
    fig, axes = plt.subplots(1, 2 if metric_keys else 1, figsize=(11 if metric_keys else 6, 4))
    ax = axes[0] if metric_keys else axes
    for key in ("loss_G", "loss_D", "loss_D_real", "loss_D_fake", "r1_penalty"):
        ys = [r.get(key) for r in rows]
        if any(y is not None for y in ys):
            ax.plot(kimg, [np.nan if y is None else y for y in ys], label=key)
    ax.set_xlabel("kimg")
    ax.set_ylabel("loss")
    ax.set_title("training losses (tick means)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if metric_keys:
        ax2 = axes[1]
        eq_keys = [k for k in metric_keys if k != "fid"]
        # FID is not in dB: its own axis (on the right when the equivariance PSNRs are shown)
        ax_fid = None if "fid" not in metric_keys else ax2.twinx() if eq_keys else ax2
        plotted = [(ax2, key, {}) for key in eq_keys]
        if ax_fid is not None:
            plotted.append((ax_fid, "fid", {"color": "black", "linestyle": "--"}))
        handles = []
        for where, key, style in plotted:
            pts = [(r["kimg"], r["metrics"][key]) for r in rows if key in r.get("metrics", {})]
            handles += where.plot(*zip(*pts), marker="o", label=key, **style)
        ax2.set_xlabel("kimg")
        ax2.grid(alpha=0.3)
        if eq_keys:
            ax2.set_ylabel("PSNR (dB)")
        if ax_fid is not None:
            ax_fid.set_ylabel("FID (lower is better)")
        ax2.set_title("equivariance and FID (G_ema)" if eq_keys and ax_fid is not None
                      else "equivariance (G_ema)" if eq_keys else "FID (G_ema)")  # fmt: skip
        # one legend for both axes, on the upper one (the twin is drawn over ax2)
        (ax2 if ax_fid is None else ax_fid).legend(handles=handles, fontsize=8)
    try:
        fig.tight_layout()
        _write_run_file(out_path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"),
                        "the loss plot ")  # fmt: skip
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Checkpoints.


def _own_checkpoints(folder: Path) -> list[tuple[Path, int]]:
    """The checkpoints this trainer wrote in ``folder`` (exactly ``checkpoint-<digits>.pt``),
    with their steps, oldest first. A user's copy (``checkpoint-best.pt``,
    ``checkpoint-00000008-keep.pt``) is not one: never taken as the latest, never pruned."""
    found = [(p, int(m.group(1))) for p in Path(folder).glob(CHECKPOINT_GLOB)
             if (m := CHECKPOINT_RE.fullmatch(p.name)) and p.is_file()]  # fmt: skip
    return sorted(found, key=lambda ps: (ps[1], ps[0].name))


def find_latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the highest step in ``run_dir`` (None if there is none)."""
    files = _own_checkpoints(run_dir)
    return files[-1][0] if files else None


def _write_run_file(
    path: Path,
    write: Callable[[Path], object],
    what: str = "",
    kept: str = "",
    errors: tuple[type[Exception], ...] = (OSError,),
) -> None:
    """``write(tmp)`` and rename it onto ``path`` in a run directory (:func:`write_replacing`),
    through ``.<name>.tmp`` (a crash may leave it: a new start recognises it as the run's own).
    A failed write (``errors``: a full disk, no permission) is a TrainingError, one line naming
    ``what`` and ``path`` and why, ``kept`` added; the temporary file is removed and an earlier
    ``path`` left as it was."""
    try:
        write_replacing(path, write, tmp=path.with_name(f".{path.name}.tmp"))
    except errors as exc:
        raise TrainingError(
            f"cannot write {what}{str(path)!r}: {_write_failure(exc, path.parent)}{kept}"
        ) from None


def _write_checkpoint(run_dir: Path, keep: int, **payload: Any) -> Path:
    step = payload["training_state"]["step"]
    path = run_dir / f"checkpoint-{step:08d}.pt"
    # atomic: a crash never leaves a truncated checkpoint behind; a full disk: torch's writer
    # says "unexpected pos" (a RuntimeError)
    _write_run_file(
        path,
        lambda tmp: save_checkpoint(tmp, **payload),
        "the checkpoint ",
        " (the earlier checkpoints are kept)",
        errors=(OSError, RuntimeError),
    )
    for old, _ in _own_checkpoints(run_dir)[:-keep]:  # only the trainer's own files
        old.unlink(missing_ok=True)
    return path


def _write_failure(exc: BaseException, folder: Path) -> str:
    """Why a write in ``folder`` failed, in words: the OS reason when there is one (torch's
    writer loses it: then a full disk is recognised by the free space left)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    try:
        if shutil.disk_usage(folder).free < 1 << 20:
            return "no space left on device"
    except OSError:
        pass
    return one_line(exc)


def _check_writable(run_dir: Path) -> None:
    """Continuing a run writes in its directory: say so up front when it cannot (read-only)."""
    try:
        with tempfile.TemporaryFile(dir=run_dir):  # leaves nothing behind, even on a crash
            pass
    except OSError as exc:
        raise TrainingError(
            f"cannot continue {str(run_dir)!r}: the run directory is not writable "
            f"({_write_failure(exc, run_dir)}); copy it somewhere writable and resume the copy"
        ) from None


def _append_line(path: Path, text: str) -> None:
    """Append ``text`` as one line (or several, each ended), whole or not at all: a failed write
    (a full disk) cuts the file back to its earlier end and raises. A last line cut short
    otherwise (a crash mid-write) is ended first, so it stays alone."""
    data = text.encode()
    if not data.endswith(b"\n"):
        data += b"\n"
    # unbuffered: a failed write raises here, not when closing; appends whatever the position
    with path.open("ab+", buffering=0) as f:
        end = f.seek(0, os.SEEK_END)
        if end:
            f.seek(end - 1)
            if f.read(1) != b"\n":
                data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                view = view[f.write(view) :]
        except BaseException:
            with contextlib.suppress(OSError):
                f.truncate(end)
            raise


def _log_row(line: str) -> dict[str, Any]:
    """One ``log.jsonl`` line as a dict; {} for a blank, cut (a full disk) or hand-edited one."""
    try:
        row = json.loads(line)
    except ValueError:
        return {}
    return row if isinstance(row, dict) else {}


def _log_step(line: str) -> int:
    try:
        return int(_log_row(line)["step"])
    except (ValueError, KeyError, TypeError):  # such a line stays where it is
        return -1


def _numbered_files(folder: Path) -> list[tuple[Path, int]]:
    """The checkpoints and sample grids in ``folder`` with the step each was written at."""
    return [(p, int(m.group(1))) for pat, rx in ((CHECKPOINT_GLOB, CHECKPOINT_RE),
                                                   ("fakes*.png", GRID_RE))
            for p in folder.glob(pat) if (m := rx.fullmatch(p.name))]  # fmt: skip


def _split_log(folder: Path, moves: Callable[[int], bool]) -> tuple[list[str], list[str]]:
    """``folder``'s ``log.jsonl`` lines as ``(moving, staying)``, by ``moves(step)`` (a line
    without a readable step has step -1)."""
    log = folder / "log.jsonl"
    rows = log.read_text().splitlines(keepends=True) if log.is_file() else []
    flags = [moves(_log_step(r)) for r in rows]
    return ([r for r, f in zip(rows, flags) if f],
            [r for r, f in zip(rows, flags) if not f])  # fmt: skip


def _move_log_lines(src: Path, dst: Path, moving: list[str], staying: list[str]) -> None:
    """Append ``moving`` to ``dst``'s log and keep ``staying`` in ``src``'s (replaced
    atomically)."""
    if not moving:
        return
    _append_line(dst / "log.jsonl", "".join(r if r.endswith("\n") else r + "\n" for r in moving))
    text = "".join(staying)
    write_replacing(src / "log.jsonl", lambda tmp: tmp.write_text(text),
                    tmp=src / ".log.jsonl.tmp")  # fmt: skip


def _set_aside_later(run_dir: Path, step: int) -> Path | None:
    """Resuming a run from an older checkpoint rewinds it: move the later checkpoints, sample
    grids and log lines into ``superseded-<n>/`` (nothing is deleted), so the run directory is
    again the history of one run and ``--keep`` prunes the new checkpoints, not these."""
    later = [p for p, s in _numbered_files(run_dir) if s > step]
    if later and (run_dir / "summary.json").is_file():
        later.append(run_dir / "summary.json")  # it describes the later end of the run
    late_rows, kept_rows = _split_log(run_dir, lambda s: s > step)
    if not later and not late_rows:
        return None
    n = 1 + max((int(m.group(1)) for p in run_dir.glob("superseded-*")
                 if (m := re.fullmatch(r"superseded-(\d+)", p.name))), default=0)  # fmt: skip
    aside = run_dir / f"superseded-{n}"
    aside.mkdir()
    # where this branch left the run: resuming one of its checkpoints restores it (_restore_branch)
    try:
        (aside / REWIND_JSON).write_text(json.dumps({"rewound_to_step": step}) + "\n")
    except OSError:  # a full disk: no empty superseded-<n>/ with a truncated marker is left
        with contextlib.suppress(OSError):
            (aside / REWIND_JSON).unlink(missing_ok=True)
            aside.rmdir()
        raise
    for p in later:
        os.replace(p, aside / p.name)
    _move_log_lines(run_dir, aside, late_rows, kept_rows)
    print(f"resuming at step {step}: the run's later checkpoints, grids and log lines are in "
          f"{aside}", file=sys.stderr)  # fmt: skip
    return aside


# What a run writes in its directory (besides checkpoint-<step>.pt and fakes<step>.png), and
# the folders it makes there; ``<name>.tmp`` / ``.<name>.tmp`` are these being written.
RUN_FILES = ("config.json", "log.jsonl", "reals.png", "fakes_init.png", "losses.png",
             "summary.json", FID_REALS)  # fmt: skip
RUN_FOLDER_RE = re.compile(r"(earlier|superseded)-\d+")


def _is_run_file(p: Path) -> bool:
    """``p`` (in a run directory) is one of the files this trainer writes there."""
    name = p.name
    if name.endswith(".tmp"):
        name = name[: -len(".tmp")]
        if name.startswith("."):
            name = name[1:]
    if not p.is_file() or p.is_symlink():
        return False
    return name in RUN_FILES or bool(CHECKPOINT_RE.fullmatch(name) or GRID_RE.fullmatch(name))


def _foreign_entries(run_dir: Path) -> list[str]:
    """The names in ``run_dir`` that are not this trainer's run files or folders."""
    return sorted(p.name for p in run_dir.iterdir()
                  if not (_is_run_file(p) or (p.is_dir() and not p.is_symlink()
                                              and RUN_FOLDER_RE.fullmatch(p.name))))  # fmt: skip


def _check_new_run_dir(run_dir: Path, data: str | None, foreign: bool = True) -> None:
    """A new run writes only into a directory of its own: never into the --data folder, and not
    where files it did not write are (they would be set aside or overwritten)."""
    if data is not None:
        src = Path(data).resolve()
        where = run_dir.resolve()
        if src.is_dir() and (where == src or src in where.parents):
            raise TrainingError(
                f"the run directory {str(run_dir)!r} is the --data folder {data!r} or inside it, "
                f"which the run would change (its images are searched recursively); choose "
                f"an --outdir outside it"
            )
    if not (foreign and run_dir.is_dir()):
        return
    names = _foreign_entries(run_dir)
    if names:
        shown = ", ".join(repr(n) for n in names[:3])
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        raise TrainingError(
            f"the run directory {str(run_dir)!r} already holds files this trainer did not "
            f"write ({shown}{more}); a new run leaves them alone: choose another --run-name "
            f"or --outdir"
        )


def _set_aside_earlier_start(run_dir: Path) -> Path | None:
    """A new run in a directory where an earlier start left files but no checkpoint (stopped
    before its first snapshot): move them into ``earlier-<n>/`` rather than overwrite them.
    Only the trainer's own files (:func:`_check_new_run_dir` refused any other)."""
    files = [p for p in run_dir.iterdir() if _is_run_file(p)]
    if not files:
        return None
    n = 1 + max((int(m.group(1)) for p in run_dir.glob("earlier-*")
                 if (m := re.fullmatch(r"earlier-(\d+)", p.name))), default=0)  # fmt: skip
    aside = run_dir / f"earlier-{n}"
    aside.mkdir()
    for p in files:
        os.replace(p, aside / p.name)
    print(f"{run_dir} held the files of an earlier start without a checkpoint: they are in "
          f"{aside}", file=sys.stderr)  # fmt: skip
    return aside


def _restore_branch(run_dir: Path, ckpt: Path, step: int) -> Path:
    """Resuming from a checkpoint that a rewind set aside (``superseded-<n>/``): the run's own
    files after that rewind's step go aside in turn, and the set-aside branch's checkpoints,
    grids and log lines up to ``step`` come back, so the run directory is again the history of
    one run. Returns the checkpoint's path in the run directory."""
    aside = ckpt.parent
    s0 = int(json.loads((aside / REWIND_JSON).read_text())["rewound_to_step"])
    _set_aside_later(run_dir, s0)
    for p, s in _numbered_files(aside):
        if s <= step:
            os.replace(p, run_dir / p.name)
    _move_log_lines(aside, run_dir, *_split_log(aside, lambda s: 0 <= s <= step))
    print(f"resuming {ckpt}: its branch (rewound at step {s0}) is the run's again, up to step "
          f"{step}", file=sys.stderr)  # fmt: skip
    return run_dir / ckpt.name


# ---------------------------------------------------------------------------------------------
# The loop.


class _StopFlag:
    """Ctrl-C (SIGINT), SIGTERM (``kill``, ``timeout``, ``docker stop``, a batch system's time
    limit; torchrun passes it on) or SIGHUP: the first asks the loop to stop after the step and
    write a checkpoint; a second aborts."""

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, n))  # fmt: skip  (no SIGHUP on Windows)

    def __init__(self, quiet: bool = False) -> None:
        self.requested = False
        self.quiet = quiet  # (the ranks other than 0: one notice per run)
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        with contextlib.suppress(ValueError):  # not in the main thread
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.quiet:
            return
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{name}: finishing this step and writing a checkpoint (again to abort)",
              file=sys.stderr, flush=True)  # fmt: skip

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            if previous is not None:
                signal.signal(sig, previous)


def _step_generator(seed: int, step: int, stream: int = 1) -> torch.Generator:
    """The generator of a step's draws for the whole batch: every rank draws them all and takes
    its share (:func:`_share`), so the latents do not depend on the number of processes. (The
    1 and 0 in the seed: the sequence a single process always drew; ``stream`` 2: the
    augmentations'.)"""
    s = np.random.SeedSequence([seed, stream, 0, step]).generate_state(2, np.uint64)
    return torch.Generator().manual_seed(int(s[0] >> np.uint64(1)))


def _ada_sums(ada: AdaptiveP, d: _Dist, device: torch.device) -> tuple[float, float]:
    """The signs' sum and count since the last update, over every rank (one all-reduce)."""
    sums = torch.tensor([float(ada.sign_sum), float(ada.sign_count)], dtype=torch.float64)
    if d.active:
        sums = sums.to(device)
        dist.all_reduce(sums)
    return float(sums[0]), float(sums[1])


def _gather_ada(ada: AdaptiveP, d: _Dist, device: torch.device) -> None:
    """The signs' sums over every rank, held by rank 0 (the others hold none), so that rank 0's
    checkpoint has the run's whole state and the next update sees the same totals."""
    total, count = _ada_sums(ada, d, device)
    ada.sign_sum, ada.sign_count = (total, int(count)) if d.rank == 0 else (0.0, 0)


def _share(draws: torch.Tensor, rank: int, per_rank: int) -> torch.Tensor:
    """This rank's part of ``draws [3, batch, ...]``: samples ``rank·per_rank`` onwards."""
    return draws[:, rank * per_rank : (rank + 1) * per_rank]


def _fmt_time(s: float) -> str:
    s = int(max(s, 0))
    if s >= 3600:
        return f"{s // 3600}h{s // 60 % 60:02d}m{s % 60:02d}s"
    return f"{s // 60}m{s % 60:02d}s"


def _progress_line(
    cur_nimg: int, total_nimg: int, spent: float, budget: tuple[float, float] | None
) -> str:
    """The progress bar: images done of ``total_nimg``, ``spent`` seconds (the whole run), and
    with ``--minutes`` ``budget = (seconds allowed, seconds used)`` in this session: then the bar
    and the ETA follow whichever ends the run first, the images or the time."""
    frac = cur_nimg / total_nimg
    eta = spent * (total_nimg - cur_nimg) / cur_nimg if cur_nimg else 0.0
    if budget is not None:
        allowed, used = budget
        frac = max(frac, used / allowed)
        eta = min(eta, allowed - used) if cur_nimg else allowed - used
    bar = "#" * int(min(frac, 1) * 30)
    return (f"\r[{bar:<30}] {cur_nimg / 1000:7.2f}/{total_nimg / 1000:g} kimg  "
            f"{_fmt_time(spent)} elapsed, ETA {_fmt_time(eta)}   ")  # fmt: skip


def _load_resume(resume: str) -> tuple[Path | None, Path]:
    """``--resume`` → (run directory to continue or None, checkpoint file)."""
    p = Path(resume).absolute()  # (a checkpoint named from inside its folder has a parent)
    if not p.exists():
        raise TrainingError(f"--resume {resume!r} does not exist")
    if p.is_dir():
        ckpt = find_latest_checkpoint(p)
        if ckpt is None:
            raise TrainingError(
                f"--resume {resume!r} is a directory without checkpoint-<step>.pt"
            )
        return p, ckpt
    if re.fullmatch(r"checkpoint-\d+\.pt", p.name):
        if (p.parent / "config.json").exists():
            return p.parent, p
        # One that a rewind set aside (superseded-<n>/): its run continues from it, with that
        # branch restored (_restore_branch).
        run = p.parent.parent
        if re.fullmatch(r"superseded-\d+", p.parent.name) and (run / "config.json").exists():
            if not (p.parent / REWIND_JSON).is_file():
                raise TrainingError(
                    f"--resume {resume!r}: {p.parent} has no {REWIND_JSON} (set aside by an older "
                    f"version), so where its branch left the run is unknown; to continue it, "
                    f"copy the checkpoint out of the run directory and resume that copy (a new run)"
                )
            return run, p
    return None, p


def train(
    cfg: TrainConfig,
    resume: str | None = None,
    progress: bool = True,
    given: Collection[str] | None = None,
) -> dict[str, Any]:
    """Train (or continue) a run; returns a summary dict (run_dir, kimg, final losses, ...).

    ``resume``: a run directory or one of its checkpoints (exact continuation, same directory),
    another bandlimit checkpoint or an official network pickle (weights only, new directory).
    ``given``: the ``cfg`` fields the user set (the command line's options); None means all.
    Continuing a run keeps its stored ``kimg``, ``tick``, ... unless they are given, and with
    ``cfg.data`` the dataset's own size is used unless ``resolution`` is given (then checked).
    """
    check_device(cfg.device)  # before torch.distributed picks a backend from it
    d = _init_distributed(cfg.device)
    try:
        summary = _train(cfg, d, resume, progress, given)
    except TrainingError as exc:
        _shutdown_distributed(d, finished=False)
        if d.active and d.rank != 0 and exc.reported:  # (a file one node lacks: which rank)
            raise TrainingError(f"(rank {d.rank}) {exc}") from None
        raise
    except BaseException:
        _shutdown_distributed(d, finished=False)
        raise
    _shutdown_distributed(d, finished=True)
    return summary


# Resuming a run: what the command line may change (else stored), what is always this
# invocation's, and what does not apply (the run directory is --resume's).
RESUME_MAY_CHANGE = ("kimg", "tick", "snap", "keep", "metrics", "metrics_samples",
                     "fid_features", "fid_samples")
RESUME_ENVIRONMENT = ("workers", "device", "impl", "stop_at_step", "minutes")
_RESUME_IGNORED = ("outdir", "data", *RESUME_MAY_CHANGE, *RESUME_ENVIRONMENT)


def _stored_dataset(run_dir: Path) -> dict[str, Any] | None:
    """The dataset description a run's ``config.json`` holds (None if unreadable)."""
    try:
        desc = json.loads((run_dir / "config.json").read_text())["derived"]["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return desc if isinstance(desc, dict) else None


def _check_resume_options(
    cfg: TrainConfig, stored: TrainConfig, given: Collection[str] | None, run_dir: Path,
    ckpt: Path,
) -> None:
    """A resumed run keeps its configuration: an option given with another value than the
    run's is an error naming it (it was silently ignored), not a half-applied change."""
    if not given:
        return
    differ = [
        f"--{name.replace('_', '-')} {getattr(cfg, name)!r} (the run has "
        f"{getattr(stored, name)!r})"
        for name in sorted(given)
        if name not in _RESUME_IGNORED and hasattr(stored, name)
        and getattr(cfg, name) != getattr(stored, name)
        # --run-name naming the run's own directory names this run (auto-named or renamed)
        and not (name == "run_name" and cfg.run_name == run_dir.name)
    ]
    if differ:
        raise TrainingError(
            f"--resume {str(run_dir)!r} continues that run with its own configuration, but "
            f"{', '.join(differ)}; drop those options, or start a new run from its weights: "
            f"--resume {str(ckpt)!r} --run-name <new name> with the options you want"
        )


def _check_metric_options(cfg: TrainConfig, given: Collection[str] | None) -> None:
    """A metric's option given without its metric would be silently ignored: an error naming
    what to add (options a resumed run stored are not checked: only those given)."""
    metrics = {METRIC_NAMES[m] for m in cfg.metrics}
    for name, needs, what in (
        ("fid_features", "fid", "fid"),
        ("fid_samples", "fid", "fid"),
        ("metrics_samples", "eq", "eqt, eqt_frac or eqr"),
    ):
        if given and name in given and not any(m.startswith(needs) for m in metrics):
            flag = "--" + name.replace("_", "-")
            on = ",".join(cfg.metrics) or "none"
            raise TrainingError(f"{flag} has no effect: this run's --metrics are {on}; it "
                                f"applies with {what} among them (e.g. --metrics "
                                f"{','.join([*cfg.metrics, what.split(',')[0]])})")


def _set_up_run_dir(d: Any, cfg: TrainConfig, run_dir: Path | None, resume_ckpt: Any,
                    step: int, dataset_name: str, meta: dict[str, Any]) -> tuple[Path | None, Any]:
    """On rank 0: make (or continue) the run directory and write config.json; returns it (None
    for a new run on the other ranks) and the checkpoint resumed from (moved back into the run
    directory when it continues a set-aside branch). A problem raises :class:`TrainingError`
    there only."""
    if d.rank == 0 and run_dir is not None:
        _check_writable(run_dir)
        try:
            if resume_ckpt.parent != run_dir:  # a set-aside branch: restore it first
                resume_ckpt = _restore_branch(run_dir, resume_ckpt, step)
            _set_aside_later(run_dir, step)
        except OSError as exc:  # a read-only run directory, a full disk
            raise TrainingError(
                f"cannot continue {str(run_dir)!r} at step {step}: setting its later files "
                f"aside failed: {_write_failure(exc, run_dir)}"
            ) from None
    if d.rank == 0:
        if run_dir is None:
            run_dir = _run_dir(cfg, dataset_name)
            _check_new_run_dir(run_dir, cfg.data, foreign=False)  # before mkdir
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # --outdir is a file, read-only, ...
                raise TrainingError(
                    f"cannot create the run directory {str(run_dir)!r} (--outdir "
                    f"{cfg.outdir!r}): {exc.strerror or exc}"
                ) from None
            if _own_checkpoints(run_dir):
                raise TrainingError(
                    f"run directory {str(run_dir)!r} already holds checkpoints; pass --resume "
                    f"{str(run_dir)!r} to continue it or choose another --run-name"
                )
            _check_new_run_dir(run_dir, None)
            _set_aside_earlier_start(run_dir)
        text = json.dumps({"config": cfg.to_json(), "derived": meta}, indent=2, default=str)
        # replaced whole: a full disk never truncates it
        _write_run_file(run_dir / "config.json", lambda tmp: tmp.write_text(text))
    return run_dir, resume_ckpt


def _train(
    cfg: TrainConfig, d: _Dist, resume: str | None, progress: bool, given: Collection[str] | None
) -> dict[str, Any]:
    device = torch.device(cfg.device)
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
        # The official recipe trains with TF32 off (it changes results at the 1e-3 level).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    if cfg.impl != "auto":
        from bandlimit.ops import set_default_impl

        set_default_impl(cfg.impl)

    resume_dir, resume_ckpt = (None, None) if resume is None else _load_resume(resume)
    if resume_dir is not None and given and "run_name" in given and cfg.run_name != resume_dir.name:
        resume_dir = None  # another --run-name: a new run that starts from these weights
    exact = None
    run_dataset: dict[str, Any] | None = None  # the continued run's dataset, when --data moves it
    if resume_ckpt is not None:
        try:
            nets = load_network(resume_ckpt)
        except (ValueError, OSError, RuntimeError, pickle.UnpicklingError) as exc:
            earlier = [p for p, _ in _own_checkpoints(resume_ckpt.parent) if p != resume_ckpt]
            hint = (f"; the run's previous checkpoint: --resume {str(earlier[-1])!r}"
                    if earlier and resume_dir is not None else "")  # fmt: skip
            raise TrainingError(
                f"--resume {str(resume_ckpt)!r} cannot be loaded: {one_line(exc)}{hint}"
            ) from None
        exact = nets.get("training_state")
        if exact is not None and resume_dir is not None:
            if not isinstance(exact, dict) or not isinstance(exact.get("config"), dict):
                raise TrainingError(
                    f"--resume {str(resume_ckpt)!r}: its training_state holds no run "
                    "configuration (not a checkpoint this trainer wrote?)"
                )
            # Continue the stored run; the caller's cfg may only change these fields.
            stored = TrainConfig.from_json(exact["config"])
            _check_resume_options(cfg, stored, given, resume_dir, resume_ckpt)
            # The run's length and reporting: stored unless given again. This invocation's
            # environment and budget (device, backend, workers, --minutes): always the caller's.
            # The dataset: where it is now, if given (a moved dataset; the networks check it).
            if cfg.data is not None and (given is None or "data" in given):
                if stored.data is None:
                    raise TrainingError(
                        f"--resume {str(resume_dir)!r} continues a run trained on the embedded "
                        f"shapes, but --data {cfg.data!r} would change its training data (on "
                        f"resume --data only names where the run's dataset moved); drop --data, "
                        f"or start a new run from its weights: --resume {str(resume_ckpt)!r} "
                        f"--run-name <new name> --data {cfg.data!r}"
                    )
                stored.data = cfg.data  # a moved dataset: checked against the run's below
                run_dataset = _stored_dataset(resume_dir)
            for name in RESUME_MAY_CHANGE:
                if given is None or name in given:
                    setattr(stored, name, getattr(cfg, name))
            for name in RESUME_ENVIRONMENT:
                setattr(stored, name, getattr(cfg, name))
            cfg = stored
        else:
            # Official rule for resuming from weights only: no EMA ramp-up, no blur. In cfg,
            # which the checkpoints store, so that continuing this run keeps them off.
            cfg.ema_rampup, cfg.blur_sigma = None, 0.0
            if cfg.ada_kimg is None and cfg.aug_mode() == "ada":  # (ADA reacts faster)
                cfg.ada_kimg = 100.0
    try:
        cfg.validate()
        _check_metric_options(cfg, given)
    except TrainingError as exc:  # (every rank finds the same: rank 0 says it)
        raise TrainingError(str(exc), reported=d.rank == 0) from None
    if cfg.fid_features not in (None, "torchvision") and os.path.exists(cfg.fid_features):
        cfg.fid_features = os.path.abspath(cfg.fid_features)  # (stored: as --data below)
    if cfg.data is not None:
        if os.path.exists(cfg.data):  # stored absolute: the run resumes from any directory
            cfg.data = os.path.abspath(cfg.data)
        elif exact is not None and resume_dir is not None and not (given and "data" in given):
            raise TrainingError(
                f"--resume {str(resume_dir)!r}: the run's dataset {cfg.data!r} is not found "
                f"from {os.getcwd()!r} (a relative path is relative to where the run was "
                f"started); pass --data <where it is now>"
            )

    try:
        want = cfg.resolution if cfg.data is None or (given and "resolution" in given) else None
        dataset = open_dataset(cfg.data, want, mirror=cfg.mirror, seed=cfg.seed,
                               use_labels=cfg.cond)  # fmt: skip
    except DatasetError as exc:
        raise TrainingError(str(exc)) from None
    if run_dataset is not None:
        now = dataset.describe()
        differ = [f"{k} {now.get(k)!r} (the run's: {run_dataset[k]!r})"
                  for k in ("kind", "size", "resolution", "label_dim")
                  if k in run_dataset and now.get(k) != run_dataset[k]]  # fmt: skip
        if differ:
            raise TrainingError(
                f"--resume {str(resume_dir)!r} --data {cfg.data!r}: not the run's dataset "
                f"moved, it has {', '.join(differ)}; on resume --data only names where the "
                f"run's dataset moved (a new run from its weights: --resume "
                f"{str(resume_ckpt)!r} --run-name <new name> --data {cfg.data!r})"
            )
    note = dataset.transparency_note()
    if note is not None and d.rank == 0:
        print(note, file=sys.stderr)
    if cfg.cond and dataset.label_dim == 0:
        raise TrainingError(
            "--cond 1 needs labels: a dataset.json with a 'labels' list next to the images "
            "(the embedded shapes have none)"
        )
    if cfg.data is not None and dataset.resolution != cfg.resolution:
        cfg.resolution = dataset.resolution
    everywhere = d.rank == 0  # (problems every rank finds alike: rank 0 says them)
    if cfg.batch % d.world:
        raise TrainingError(f"--batch {cfg.batch} must be divisible by the {d.world} processes",
                            reported=everywhere)  # fmt: skip
    batch_gpu = cfg.batch // d.world
    if batch_gpu % min(cfg.mbstd_group, batch_gpu):
        raise TrainingError(
            f"the per-process batch {batch_gpu} must be divisible by the minibatch-stddev group "
            f"size {cfg.mbstd_group} (use --batch a multiple of {cfg.mbstd_group * d.world})",
            reported=everywhere,
        )
    c_dim = dataset.label_dim
    gamma = cfg.gamma if cfg.gamma is not None else default_gamma(cfg.resolution, cfg.batch)
    is_r = cfg.cfg == "stylegan3-r"
    blur_sigma = cfg.blur_sigma if cfg.blur_sigma is not None else (10.0 if is_r else 0.0)
    blur_fade = cfg.blur_fade_kimg if cfg.blur_fade_kimg is not None else cfg.batch * 200 / 32
    ema_kimg = cfg.ema_kimg if cfg.ema_kimg is not None else cfg.batch * 10 / 32
    aug = cfg.aug_mode()
    augment: AugmentPipe | None = None
    ada: AdaptiveP | None = None
    if aug != "noaug":
        p0 = cfg.aug_p if cfg.aug_p is not None else (0.2 if aug == "fixed" else 0.0)
        augment = AugmentPipe(cfg.augpipe, p=p0).to(device)
        if aug == "ada":
            ada_kimg = cfg.ada_kimg if cfg.ada_kimg is not None else 500.0
            target = cfg.target if cfg.target is not None else 0.6
            ada = AdaptiveP(target, ada_kimg, cfg.batch, ADA_INTERVAL)

    # The FID extractor: loaded and tried on the dataset before anything is written.
    fid_metric = _FIDMetric(cfg, dataset, device) if "fid" in cfg.metrics else None

    # Networks: identical initialisation on every rank.
    torch.manual_seed(cfg.seed)
    try:
        G, D = build_networks(cfg, c_dim, dataset.num_channels)
    except ValueError as exc:  # e.g. too few channels for the resolution
        raise TrainingError(
            f"the networks cannot be built for {cfg.resolution}x{cfg.resolution} images: "
            f"{one_line(exc)} (G's channels come from --cbase / --cmax, D's from --dcbase / "
            f"--dcmax, the magnitude EMA from --mag-ema-kimg)",
            reported=everywhere,
        ) from None
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    G.train().requires_grad_(False).to(device)
    D.train().requires_grad_(False).to(device)
    G_ema.to(device)

    mb = D_REG_INTERVAL / (D_REG_INTERVAL + 1)
    G_opt = torch.optim.Adam(G.parameters(), lr=cfg.glr, betas=(0.0, 0.99), eps=1e-8)
    D_opt = torch.optim.Adam(D.parameters(), lr=cfg.dlr * mb, betas=(0.0, 0.99**mb), eps=1e-8)
    step, cur_nimg, tick = 0, 0, 0
    elapsed_before = 0.0

    if resume_ckpt is not None:
        _load_weights(nets, G, D, G_ema, resume_ckpt)
        if exact is not None and resume_dir is not None:
            G_opt.load_state_dict(exact["G_opt"])
            D_opt.load_state_dict(exact["D_opt"])
            step, cur_nimg, tick = exact["step"], exact["cur_nimg"], exact["tick"]
            elapsed_before = exact.get("elapsed", 0.0)
            torch.set_rng_state(exact["torch_rng"])
            stored_aug = exact.get("augment")
            if augment is not None and isinstance(stored_aug, dict):
                augment.p = float(stored_aug["p"])
                if ada is not None and d.rank == 0:  # (the global sums: rank 0 holds them)
                    ada.load_state(stored_aug)
            ran_on = exact.get("world_size")
            if isinstance(ran_on, int) and ran_on != d.world and d.rank == 0:
                print(f"--resume: the run trained on {ran_on} process(es), this is {d.world}: "
                      f"it continues with the same batches and latents, but not "
                      f"bit-identically (the minibatch-stddev groups are per process, and the "
                      f"gradients are summed in another order)", file=sys.stderr)

    run_dir = resume_dir if (exact is not None and resume_dir is not None) else None
    setup_error: str | None = None
    meta = {"dataset": dataset.describe(), "gamma": gamma, "blur_sigma": blur_sigma,
            "blur_fade_kimg": blur_fade, "ema_kimg": ema_kimg, "ema_rampup": cfg.ema_rampup,
            "world_size": d.world, "batch_per_process": batch_gpu, "aug": aug,
            "G_kwargs": G.init_kwargs, "D_kwargs": D.init_kwargs,
            "G_params": sum(p.numel() for p in G.parameters()),
            "D_params": sum(p.numel() for p in D.parameters()),
            "resume": resume}  # fmt: skip
    if d.active and resume_ckpt is not None:
        dist.barrier()  # every rank has read the checkpoint before rank 0 moves it (a branch)
    try:
        run_dir, resume_ckpt = _set_up_run_dir(d, cfg, run_dir, resume_ckpt, step, dataset.name,
                                               meta)  # fmt: skip
    except TrainingError as exc:  # (rank 0's alone: the other ranks must hear of it)
        if not d.active:
            raise
        setup_error = str(exc)
    if d.active:
        obj = [(str(run_dir) if run_dir is not None else None, setup_error)
               if d.rank == 0 else None]  # fmt: skip
        dist.broadcast_object_list(obj, src=0)
        shared, setup_error = obj[0]
        if setup_error is not None:
            raise TrainingError(setup_error, reported=d.rank == 0)
        run_dir = Path(shared)
    assert run_dir is not None

    loss = StyleGAN2Loss(G, D, r1_gamma=gamma, blur_init_sigma=blur_sigma,
                         blur_fade_kimg=blur_fade, augment_pipe=augment)  # fmt: skip
    loader = make_loader(dataset, cfg.batch, d.rank, d.world, start_step=step, seed=cfg.seed,
                         workers=cfg.workers)  # fmt: skip

    # Fixed latents and labels for the sample grids.
    gw, gh = cfg.grid
    grid_rng = np.random.RandomState(cfg.seed)
    grid_z = torch.from_numpy(grid_rng.randn(gw * gh, cfg.z_dim).astype(np.float32)).to(device)
    grid_idx = grid_rng.randint(len(dataset), size=gw * gh)
    try:
        grid_items = [dataset[int(i)] for i in grid_idx]
    except DatasetError as exc:  # an image that passed the up-front checks but does not decode
        raise TrainingError(str(exc)) from None
    grid_c = torch.from_numpy(np.stack([it[1] for it in grid_items]).astype(np.float32)).to(device)

    def snapshot_images(name: str) -> Path:
        imgs = []
        with torch.no_grad():
            for z, c in zip(grid_z.split(8), grid_c.split(8)):
                imgs.append(_to_uint8(G_ema(z, c)))
        path = run_dir / name
        save_grid(np.concatenate(imgs), cfg.grid, path)
        return path

    log_path = run_dir / "log.jsonl"
    if d.rank == 0 and step == 0:
        reals = np.stack([it[0] for it in grid_items]).transpose(0, 2, 3, 1)
        save_grid(reals, cfg.grid, run_dir / "reals.png")
        snapshot_images("fakes_init.png")
        _write_run_file(log_path, lambda tmp: tmp.write_text(""), "the log ")

    total_nimg = round(cfg.kimg * 1000)
    tick_nimg = max(round(cfg.tick * 1000), 1)
    tick_start_nimg = cur_nimg
    tick_start_time = time.time()
    start_time = time.time() - elapsed_before
    session_start = time.time()
    stats_acc: dict[str, list[torch.Tensor]] = {}  # read (a device sync) once per tick
    # A finished run resumed again reports the checkpoint it was resumed from.
    last_ckpt: Path | None = resume_ckpt if run_dir == resume_dir else None
    metrics_result: dict[str, float] = {}
    stopped = False

    def save(final: bool = False) -> Path | None:
        if d.rank != 0:
            return None
        tstate = {"step": step, "cur_nimg": cur_nimg, "tick": tick,
                  "elapsed": time.time() - start_time, "config": cfg.to_json(),
                  "G_opt": G_opt.state_dict(), "D_opt": D_opt.state_dict(),
                  "torch_rng": torch.get_rng_state(), "world_size": d.world}  # fmt: skip
        if augment is not None:
            tstate["augment"] = {"p": augment.p, **(ada.state() if ada else {})}
        return _write_checkpoint(run_dir, cfg.keep, G=G, D=D, G_ema=G_ema,
                                 training_state=tstate)  # fmt: skip

    with _StopFlag(quiet=d.rank != 0) as stop:
        done = cur_nimg >= total_nimg
        while not done:
            try:
                real_u8, real_c = next(loader)
            except DatasetError as exc:
                raise TrainingError(str(exc)) from None
            real = (real_u8.to(device, torch.float32) / 127.5 - 1).contiguous()
            real_c = real_c.to(device)
            gen = _step_generator(cfg.seed, step)
            zs = _share(torch.randn([3, cfg.batch, cfg.z_dim], generator=gen), d.rank,
                        batch_gpu).to(device)  # fmt: skip
            if c_dim > 0:
                ci = _share(torch.randint(len(dataset), [3, cfg.batch], generator=gen), d.rank,
                            batch_gpu)  # fmt: skip
                cs = torch.stack([torch.from_numpy(np.stack([dataset.get_label(i) for i in row]))
                                  for row in ci]).to(device)  # fmt: skip
            else:
                cs = torch.zeros([3, batch_gpu, 0], device=device)

            draws = None
            if augment is not None:  # [phase, fake/real, batch, K]
                agen = _step_generator(cfg.seed, step, stream=2)
                draws = AugmentPipe.draw(6 * cfg.batch, agen).reshape(3, 2, cfg.batch, -1)
                draws = draws[:, :, d.rank * batch_gpu : (d.rank + 1) * batch_gpu]

            phases = [("Gmain", G, G_opt, 1), ("Dmain", D, D_opt, 1)]
            if gamma > 0 and step % D_REG_INTERVAL == 0:
                phases.append(("Dreg", D, D_opt, D_REG_INTERVAL))
            for i, (name, module, opt, gain) in enumerate(phases):
                module.requires_grad_(True)
                opt.zero_grad(set_to_none=True)
                st = loss.accumulate_gradients(name, real, real_c, zs[i], cs[i], gain, cur_nimg,
                                               None if draws is None else draws[i])  # fmt: skip
                _sync_gradients(module, d)
                opt.step()
                module.requires_grad_(False)
                for k, v in st.items():
                    stats_acc.setdefault(k, []).append(v)
                if ada is not None and "signs_real" in st:  # D's scores of reals (Dmain, Dreg)
                    ada.accumulate(st["signs_real"] * batch_gpu, batch_gpu)
            _sync_buffers(G, d)
            if augment is not None and ada is not None and step % ADA_INTERVAL == 0:
                augment.p = ada.update(augment.p, _ada_sums(ada, d, device))

            # G_ema (parameters lerp, buffers copied).
            ema_nimg = ema_kimg * 1000
            if cfg.ema_rampup is not None:
                ema_nimg = min(ema_nimg, cur_nimg * cfg.ema_rampup)
            beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                    p_ema.copy_(p.detach().lerp(p_ema, beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                    b_ema.copy_(b)

            cur_nimg += cfg.batch
            step += 1
            done = cur_nimg >= total_nimg
            want_stop = (
                stop.requested
                or (cfg.stop_at_step is not None and step >= cfg.stop_at_step)
                or (cfg.minutes is not None and time.time() - session_start > cfg.minutes * 60)
            )
            want_stop = _any_rank(want_stop, d, device)

            if progress and d.rank == 0:
                now = time.time()
                budget = None if cfg.minutes is None else (cfg.minutes * 60, now - session_start)
                line = _progress_line(cur_nimg, total_nimg, now - start_time, budget)
                print(line, end="", file=sys.stderr, flush=True)

            if not (done or want_stop or cur_nimg >= tick_start_nimg + tick_nimg):
                continue

            # Tick: log, and at snapshot ticks write images, metrics and a checkpoint.
            tick += 1
            now = time.time()
            tick_kimg = (cur_nimg - tick_start_nimg) / 1000
            row: dict[str, Any] = {
                "tick": tick, "step": step, "kimg": cur_nimg / 1000,
                "time_s": now - start_time, "sec_per_tick": now - tick_start_time,
                "sec_per_kimg": (now - tick_start_time) / max(tick_kimg, 1e-9),
                "img_per_s": tick_kimg * 1000 / max(now - tick_start_time, 1e-9),
                **_tick_means(stats_acc, d),
            }  # fmt: skip
            if augment is not None:
                row["augment_p"] = augment.p
            stats_acc.clear()
            snap = done or want_stop or tick % cfg.snap == 0
            if snap and ada is not None:  # the checkpoint needs every rank's signs
                _gather_ada(ada, d, device)
            if snap and d.rank == 0:  # the checkpoint first: nothing after it can lose the run
                row["grid"] = snapshot_images(f"fakes{step:08d}.png").name
                last_ckpt = save()
                row["checkpoint"] = last_ckpt.name if last_ckpt else None
            # (every rank reaches a snapshot together: this agreement is collective-safe)
            signalled = snap and bool(cfg.metrics) and _any_rank(stop.requested, d, device)
            if signalled:
                # stopped by a signal: exit now (the metrics take a while, and a second signal
                # would abort them); a planned stop (--minutes, --stop-at-step) measures
                row["metrics_skipped"] = "stopped by a signal"
            elif snap and cfg.metrics:
                from bandlimit.metrics.equivariance import NonFiniteImagesError, evaluate

                names = tuple(dict.fromkeys(METRIC_NAMES[m] for m in cfg.metrics
                                            if METRIC_NAMES[m] != "fid"))  # fmt: skip
                try:
                    result: dict[str, float] = {}
                    if names:
                        result.update(evaluate(G_ema, num_samples=cfg.metrics_samples,
                                               batch_size=4, metrics=names, seed=cfg.seed,
                                               device=device, progress=False))  # fmt: skip
                    if fid_metric is not None:  # (not in dB: FID, lower is better)
                        result["fid"] = fid_metric.measure(G_ema, run_dir, d)
                    metrics_result = result
                    row["metrics"] = {k: float(v) for k, v in metrics_result.items()}
                except NonFiniteImagesError as e:
                    # A diverged G_ema: say so in the log and keep training (the checkpoint
                    # above is written; every rank raised, none waits).
                    row["metrics_error"] = str(e)
                    if d.rank == 0:
                        print(f"metrics skipped: {e}", file=sys.stderr)
            if d.rank == 0:
                try:
                    _append_line(log_path, json.dumps(row))
                except OSError as exc:
                    raise TrainingError(
                        f"cannot write the log {str(log_path)!r}: "
                        f"{_write_failure(exc, run_dir)} (its earlier lines are kept)"
                    ) from None
                plot_log(log_path, run_dir / "losses.png")
                if progress:
                    losses = [f"{k} {row[k]:.3f}" for k in ("loss_G", "loss_D", "r1_penalty")
                              if k in row]  # fmt: skip
                    mets = [format_metric(k, v) for k, v in row.get("metrics", {}).items()]
                    if "augment_p" in row:
                        losses.append(f"p {row['augment_p']:.3f}")
                    msg = (f"\rtick {tick:<4d} kimg {row['kimg']:<8.3f} "
                           f"{row['sec_per_kimg']:.1f} s/kimg  " + "  ".join(losses + mets))
                    print(msg.ljust(100), file=sys.stderr, flush=True)
            tick_start_nimg = cur_nimg
            tick_start_time = time.time()
            if want_stop and not done:
                stopped = True
                break

    summary = {
        "run_dir": str(run_dir), "step": step, "kimg": cur_nimg / 1000, "stopped": stopped,
        "checkpoint": str(last_ckpt) if last_ckpt else None, "metrics": metrics_result,
        "digest": state_digest(G, D, G_ema), "rank": d.rank, "world_size": d.world,
    }  # fmt: skip
    if d.active:
        digests = [None] * d.world
        dist.all_gather_object(digests, summary["digest"])
        summary["rank_digests"] = digests
    if d.rank == 0:
        text = json.dumps(summary, indent=2)
        _write_run_file(run_dir / "summary.json", lambda tmp: tmp.write_text(text))
    return summary


def _state_mismatch(here: dict[str, torch.Tensor], there: dict[str, torch.Tensor]) -> str:
    """How a checkpoint's state dict (``there``) differs from a network's (``here``), in a few
    words with one example each (torch's own message lists every key)."""
    missing = [k for k in here if k not in there]
    extra = [k for k in there if k not in here]
    shaped = [k for k in here if k in there and here[k].shape != there[k].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing from it (e.g. {missing[0]!r})")
    if extra:
        parts.append(f"{len(extra)} it has that this network lacks (e.g. {extra[0]!r})")
    if shaped:
        k = shaped[0]
        parts.append(f"{len(shaped)} of another shape (e.g. {k!r}: {list(there[k].shape)} in the "
                     f"checkpoint, {list(here[k].shape)} here)")  # fmt: skip
    return "; ".join(parts) or "its tensors do not load"


def _load_weights(nets: dict[str, Any], G, D, G_ema, path: Path) -> None:
    src_G = nets.get("G") if nets.get("G") is not None else nets.get("G_ema")
    src_ema = nets.get("G_ema") if nets.get("G_ema") is not None else src_G
    if src_G is None:
        raise TrainingError(f"--resume {str(path)!r} holds no generator")
    g_options = ("--cfg/--resolution/--cbase/--cmax/--num-layers/--num-critical/--margin/"
                 "--z-dim/--w-dim/--map-depth/--cond")
    nets_and_options = [
        (G, src_G, "G", g_options),
        (G_ema, src_ema, "G_ema", g_options),
        (D, nets.get("D"), "D", "--resolution/--dcbase/--dcmax/--mbstd-group/--cond"),
    ]
    if nets.get("D") is None and nets.get("D_error"):
        # (an official pickle whose discriminator this trainer cannot rebuild): say so, since
        # the run then trains a fresh D against the loaded G
        print(f"--resume {str(path)!r}: its discriminator was not loaded ({nets['D_error']}); "
              f"training starts with a new one", file=sys.stderr)
    for dst, src, name, options in nets_and_options:
        if src is None:
            continue
        try:
            dst.load_state_dict(src.state_dict())
        except RuntimeError:
            raise TrainingError(
                f"--resume {str(path)!r}: its {name} does not match this configuration: "
                f"{_state_mismatch(dst.state_dict(), src.state_dict())}; pass the options it "
                f"was trained with ({options}; a --data of its "
                f"resolution and channels)"
            ) from None

