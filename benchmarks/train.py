"""Training-throughput benchmark of the Alias-Free GAN example (``examples/afgan``).

Run ``python -m benchmarks.train`` (add ``--device cuda`` on a GPU machine). For each resolution
(32², 64²) and each bandlimit backend (``numba``, ``ref`` on CPU; ``cuda``, ``ref`` on a GPU) it
builds the demo-sized StyleGAN3-T generator and the StyleGAN2 discriminator, runs full training
steps (Gmain + Dmain + R1 every 16 steps, the optimiser steps and the G_ema update — the real
:mod:`afgan.training` phase code, without data loading or logging), and reports images/s and
seconds per kimg (median over the timed steps, after warm-up). Backends alternate inside each
repetition so machine noise hits them alike. ``--aug-p P`` adds, per backend, the same step with
ADA's augmentation at probability ``P`` (fresh random numbers each phase; ``--augpipe``, 'bgc'
by default) next to it.
Results go to ``benchmarks/results/train-*.json``; paste the table into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from afgan.augment import AugmentPipe
from afgan.loss import StyleGAN2Loss
from afgan.training import TrainConfig, build_networks

from bandlimit.ops import set_default_impl
from benchmarks._record import RESULTS, environment, write


class _Trainer:
    """One process-local training step, as in :func:`afgan.training.train` (no data, no I/O)."""

    def __init__(self, cfg: TrainConfig, device: torch.device, aug_p: float | None = None,
                 augpipe: str = "bgc") -> None:
        torch.manual_seed(0)
        self.cfg = cfg
        self.device = device
        self.G, self.D = build_networks(cfg, 0, 3)
        self.G.to(device).requires_grad_(False)
        self.D.to(device).requires_grad_(False)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.G_opt = torch.optim.Adam(self.G.parameters(), lr=cfg.glr, betas=(0.0, 0.99))
        self.D_opt = torch.optim.Adam(self.D.parameters(), lr=cfg.dlr, betas=(0.0, 0.99))
        self.augment = AugmentPipe(augpipe, aug_p) if aug_p is not None else None
        self.loss = StyleGAN2Loss(self.G, self.D, r1_gamma=0.1, augment_pipe=self.augment)
        self.draws = torch.Generator().manual_seed(0)
        self.step_idx = 0
        self.real = torch.rand(cfg.batch, 3, cfg.resolution, cfg.resolution, device=device) * 2 - 1

    def step(self) -> None:
        b, c = self.cfg.batch, torch.zeros(self.cfg.batch, 0, device=self.device)
        phases = [("Gmain", self.G, self.G_opt, 1), ("Dmain", self.D, self.D_opt, 1)]
        if self.step_idx % 16 == 0:
            phases.append(("Dreg", self.D, self.D_opt, 16))
        for name, module, opt, gain in phases:
            module.requires_grad_(True)
            opt.zero_grad(set_to_none=True)
            z = torch.randn(b, self.cfg.z_dim, device=self.device)
            draws = None
            if self.augment is not None:
                draws = AugmentPipe.draw(2 * b, self.draws).reshape(2, b, -1)
            self.loss.accumulate_gradients(name, self.real, c, z, c, gain, 0, draws)
            opt.step()
            module.requires_grad_(False)
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
                pe.copy_(p.lerp(pe, 0.99))
        self.step_idx += 1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(resolutions, impls, batch, steps, warmup, device, cfg_kwargs, aug_p=None,
        augpipe="bgc") -> list[dict]:
    rows = []
    variants = [(impl, p) for impl in impls for p in ([None] if aug_p is None else [None, aug_p])]
    for res in resolutions:
        cfg = TrainConfig(resolution=res, batch=batch, **cfg_kwargs)
        trainers = {}
        for impl, p in variants:
            set_default_impl(impl)
            trainers[impl, p] = _Trainer(cfg, device, p, augpipe)
            for _ in range(warmup):  # JIT compilation, allocator warm-up, R1 at step 0
                trainers[impl, p].step()
        times: dict[tuple, list[float]] = {v: [] for v in variants}
        for _ in range(steps):
            for impl, p in variants:  # interleaved
                set_default_impl(impl)
                _sync(device)
                t0 = time.perf_counter()
                trainers[impl, p].step()
                _sync(device)
                times[impl, p].append(time.perf_counter() - t0)
        for impl, p in variants:
            med = statistics.median(times[impl, p])
            rows.append({
                "resolution": res, "impl": impl, "aug_p": p,
                "augpipe": None if p is None else augpipe, "batch": batch, "step_s": med,
                "img_per_s": batch / med, "s_per_kimg": med * 1000 / batch,
                "G_params": sum(q.numel() for q in trainers[impl, p].G.parameters()),
                "D_params": sum(q.numel() for q in trainers[impl, p].D.parameters()),
            })  # fmt: skip
            name = impl if p is None else f"{impl}+{augpipe}{p:g}"
            print(f"{res:4d}²  {name:12s}  {batch / med:8.2f} img/s  "
                  f"{med * 1000 / batch:8.1f} s/kimg  (step {med:.3f} s, median of {steps})",
                  flush=True)  # fmt: skip
    set_default_impl(None)
    return rows


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--resolutions", default="32,64")
    p.add_argument("--impls", default=None, help="default: numba,ref on CPU; cuda,ref on CUDA")
    p.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    p.add_argument("--aug-p", type=float, default=None,
                   help="also time each backend with ADA's augmentation at this probability")
    p.add_argument("--augpipe", default="bgc", help="ADA's transform groups (with --aug-p)")
    d = TrainConfig()  # the trainer's defaults
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--num-layers", type=int, default=d.num_layers)
    p.add_argument("--cbase", type=int, default=d.cbase)
    p.add_argument("--cmax", type=int, default=d.cmax)
    p.add_argument("--dcbase", type=int, default=d.dcbase)
    p.add_argument("--dcmax", type=int, default=d.dcmax)
    p.add_argument("--margin", type=int, default=d.margin)
    p.add_argument("--z-dim", type=int, default=d.z_dim)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    impls = (args.impls.split(",") if args.impls else
             (["numba", "ref"] if device.type == "cpu" else ["cuda", "ref"]))  # fmt: skip
    cfg_kwargs = dict(num_layers=args.num_layers, cbase=args.cbase, cmax=args.cmax,
                      dcbase=args.dcbase, dcmax=args.dcmax, margin=args.margin,
                      z_dim=args.z_dim, w_dim=args.z_dim)  # fmt: skip
    res = [int(r) for r in args.resolutions.split(",")]
    rows = run(res, impls, args.batch, args.steps, args.warmup, device, cfg_kwargs, args.aug_p,
               args.augpipe)
    meta = environment(torch.get_num_threads(), str(device), platform=platform.platform(),
                       config=cfg_kwargs)
    return write(f"train-{device.type}", {"meta": meta, "rows": rows}, args.results)


if __name__ == "__main__":
    main()
