r"""Train an Alias-Free GAN (StyleGAN3-T or -R) on bandlimit — on a laptop CPU or many GPUs.

The official StyleGAN3 recipe (non-saturating logistic loss, lazy R1, G_ema with ramp-up, the
config-R blur fade, ADA augmentation with ``--data``; see :mod:`afgan.training`) with small
defaults that make visible progress on 2 CPU cores. With no ``--data`` it trains on an embedded
procedural dataset (anti-aliased shapes on smooth backgrounds) that needs no download.

Examples::

    # CPU demo (2 cores, 8 1/2 minutes of training, what `make demo` runs): 32x32 shapes,
    # a small StyleGAN3-T (the default --kimg, 10, would end it after about 1 1/2 minutes)
    python examples/train_afgan.py --run-name demo --kimg 100 --tick 2 --snap 5 \
        --minutes 8.5 --metrics eqt,eqt_frac

    # FID at each snapshot, under your feature extractor (a TorchScript file; or 'torchvision'
    # with torchvision's Inception-v3 weights already in the torch hub cache)
    python examples/train_afgan.py --data data.zip --metrics eqt,fid \
        --fid-features inception.pt --fid-samples 5000

    # your images (folder or zip of square PNG/JPEG of one size)
    python examples/dataset_tool.py --source my_images/ --dest data.zip --resolution 64
    python examples/train_afgan.py --data data.zip --kimg 200 --cbase 8192 --cmax 256 \
        --num-layers 6 --batch 8

    # continue a run exactly where it stopped (Ctrl-C or SIGTERM writes a final checkpoint)
    python examples/train_afgan.py --resume runs/demo

    # 8 GPUs (NCCL); several nodes: add --nnodes N --rdzv-backend c10d --rdzv-endpoint HOST:29500
    torchrun --nproc_per_node=8 examples/train_afgan.py --device cuda --data ffhq256.zip \
        --batch 32 --gamma 2 --cbase 32768 --cmax 512 --num-layers 14 --z-dim 512 --w-dim 512 \
        --kimg 25000 --tick 4 --snap 50 --workers 3

Output (``--outdir/<run>/``): ``config.json``, ``log.jsonl`` (one line per tick), ``reals.png``,
``fakes_init.png``, ``fakes<step>.png`` (fixed latents, G_ema), ``losses.png``,
``checkpoint-<step>.pt`` (the last ``--keep``; readable by ``gen_images.py``), ``summary.json``,
``fid_reals.npz`` (with ``--metrics fid``: the dataset's feature statistics, cached).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/train_afgan.py`

from afgan.augment import PIPES
from afgan.cli import fail, require_plot
from afgan.training import (
    AUG_MODES,
    CONFIGS,
    IMPLS,
    METRIC_NAMES,
    TrainConfig,
    TrainingError,
    format_metric,
    train,
)

__all__ = ["build_parser", "config_from_args", "main"]


def _metrics(text: str) -> list[str]:
    items = [m.strip() for m in text.split(",") if m.strip() and m.strip() != "none"]
    bad = [m for m in items if m not in METRIC_NAMES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown metric {bad[0]!r}; choose from {', '.join(sorted(METRIC_NAMES))} or none"
        )
    return items


def _grid(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"grid must look like 8x4, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"grid must be at least 1x1, got {text!r}")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (every default is None: TrainConfig holds the real ones)."""
    d = TrainConfig()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    a = p.add_argument
    a("--cfg", help=f"{' | '.join(CONFIGS)} (default {d.cfg})")
    a("--data", help="folder or zip of square PNG/JPEG images (default: embedded shapes)")
    a("--outdir", help=f"parent of run directories (default {d.outdir})")
    a("--run-name", help="run directory name (default: NNNNN-cfg-data-rRES-bBATCH)")
    a("--resolution", type=int, help=f"embedded-data resolution (default {d.resolution})")
    a("--mirror", type=int, choices=[0, 1], help="add x-flipped copies (default 0)")
    a("--cond", type=int, choices=[0, 1], help="use dataset.json labels (default 0)")
    a("--batch", type=int, help=f"global batch size (default {d.batch})")
    a("--gamma", type=float, help="R1 weight (default 0.001·res²/batch, the official rule)")
    a("--kimg", type=float, help=f"training length in thousands of images (default {d.kimg})")
    a("--tick", type=float, help=f"kimg per log line (default {d.tick})")
    a("--snap", type=int, help=f"ticks per snapshot: grid+checkpoint (default {d.snap})")
    a("--grid", type=_grid, help="sample grid columns x rows (default 8x4)")
    a("--keep", type=int, help=f"checkpoints kept (default {d.keep})")
    a("--cbase", type=int, help=f"channel base (default {d.cbase}; official 32768)")
    a("--cmax", type=int, help=f"max channels (default {d.cmax}; official 512)")
    a("--num-layers", type=int, help=f"synthesis layers (default {d.num_layers}; official 14)")
    a("--num-critical", type=int,
      help=f"critically sampled last layers (default {d.num_critical}; official 2)")
    a("--dcbase", type=int, help="D channel base (default: --cbase)")
    a("--dcmax", type=int, help="D max channels (default: --cmax)")
    a("--map-depth", type=int, help=f"mapping network layers (default {d.map_depth}; official 2)")
    a("--ema-kimg", type=float, help="G_ema half-life in kimg (default batch·10/32, official)")
    a("--mag-ema-kimg", type=float,
      help=f"half-life of the layers' input-magnitude EMA in kimg (default {d.mag_ema_kimg:g})")
    a("--margin", type=int, help=f"synthesis margin in pixels (default {d.margin}; official 10)")
    a("--z-dim", type=int, help=f"latent size (default {d.z_dim}; official 512)")
    a("--w-dim", type=int, help=f"intermediate latent size (default {d.w_dim}; official 512)")
    a("--glr", type=float, help=f"G learning rate (default {d.glr}; official 0.0025)")
    a("--dlr", type=float, help=f"D learning rate (default {d.dlr}; official 0.002)")
    a("--mbstd-group", type=int, help=f"minibatch-stddev group (default {d.mbstd_group})")
    a("--aug", choices=AUG_MODES,
      help="discriminator augmentation: ada (adaptive; the default with --data), fixed (--aug-p), "
           "noaug (the default on the embedded shapes)")
    a("--augpipe", choices=list(PIPES),
      help=f"ADA transform groups: 'bgc' blit, geom, color; 'bgcfnc' adds filter, noise, "
           f"cutout (default {d.augpipe})")  # fmt: skip
    # (not the official --p: torchrun's own parser takes --p for an abbreviation of its options)
    a("--aug-p", type=float,
      help="augmentation probability: fixed's (default 0.2), ada's start (default 0)")
    a("--target", type=float, help="ADA target of E[sign(D(real))] (default 0.6)")
    a("--ada-kimg", type=float,
      help="ADA speed: kimg for p to move by 1 (default 500; 100 from another run's weights)")
    a("--seed", type=int, help=f"random seed (default {d.seed})")
    a("--resume", help="run directory or checkpoint to continue; or an official .pkl")
    a("--metrics", type=_metrics,
      help="snapshot metrics: eqt,eqt_frac,eqr (equivariance, dB), fid (needs --fid-features) "
           "or none (default none)")
    a("--metrics-samples", type=int,
      help=f"latents per equivariance metric (default {d.metrics_samples})")
    a("--fid-features",
      help="FID feature extractor: a TorchScript (torch.jit.save) or torch.export .pt2 file "
           "mapping images [N, 3, H, W] in [-1, 1] to [N, D], or 'torchvision' (Inception-v3, "
           "weights from the local torch hub cache; nothing is downloaded)")
    a("--fid-samples", type=int,
      help=f"FID: generated images, and dataset images at most (default {d.fid_samples}; the "
           f"papers use 50000)")
    a("--workers", type=int, help=f"data-loader processes (default {d.workers})")
    a("--device", help=f"cpu or cuda (default {d.device})")
    a("--impl", choices=IMPLS, help="bandlimit ops backend (default auto)")
    a("--minutes", type=float, help="wall-clock budget: stop (with a checkpoint) after this")
    a("--stop-at-step", type=int, help=argparse.SUPPRESS)  # testing: stop as on Ctrl-C
    a("--quiet", action="store_true", help="no progress bar")
    return p


_RENAMES = {"mirror": bool, "cond": bool}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig defaults overridden by the options given on the command line."""
    cfg = TrainConfig()
    for key, value in vars(args).items():
        if value is None or key in ("resume", "quiet"):
            continue
        if key in _RENAMES:
            value = _RENAMES[key](value)
        setattr(cfg, key, value)
    return cfg


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the training summary."""
    args = build_parser().parse_args(argv)
    require_plot("matplotlib", "PIL")  # (grids and loss plots; before a run directory is made)
    cfg = config_from_args(args)
    try:
        given = {k for k, v in vars(args).items() if v is not None and k not in ("resume", "quiet")}
        summary = train(cfg, resume=args.resume, progress=not args.quiet, given=given)
    except TrainingError as exc:
        if not exc.reported:  # another rank of this run says it
            raise SystemExit(2) from None
        fail(str(exc))
    if summary["rank"] == 0:
        run = Path(summary["run_dir"])
        state = "stopped early" if summary["stopped"] else "done"
        print(f"{state} at {summary['kimg']:.3f} kimg (step {summary['step']}); run: {run}")
        print(f"  samples:    {run / 'fakes_init.png'} ... latest fakes*.png; reals: reals.png")
        print(f"  losses:     {run / 'losses.png'}, log {run / 'log.jsonl'}")
        print(f"  checkpoint: {summary['checkpoint']}")
        for k, v in summary["metrics"].items():
            print(f"  {format_metric(k, v).replace(' ', ': ', 1)}")
    return summary


if __name__ == "__main__":
    main()
