r"""Animations from a StyleGAN3 generator: a latent walk, a sub-pixel translation or a rotation.

``--mode walk``: images along a smooth loop through ``--seeds`` (spherical-ish interpolation of
:math:`w` between consecutive seeds' latents, cosine-eased). ``--mode translate``: one latent,
the input Fourier features shifted by a continuous offset each frame (the user transform
``G.synthesis.input.transform``), which an alias-free generator renders as a smooth, texture-
sticking-free pan. ``--mode rotate``: the same with a rotation. Written as an animated GIF (Pillow);
also as MP4 when ``imageio-ffmpeg`` happens to be installed and ``--mp4`` is given.

Example::

    python examples/gen_video.py --network runs/demo/checkpoint-00000750.pt --mode translate \
        --seeds 0-3 --frames 48 --output runs/demo/translate.gif
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/gen_video.py`

from afgan.cli import fail, require_plot
from gen_images import (
    arg_type,
    class_label,
    float32_float,
    generator_for_cli,
    int_at_least,
    make_parent,
    make_transform,
    nonfinite_message,
    parse_range,
    write_replacing,
)

__all__ = ["main", "render_frames", "write_gif"]

MODES = ("walk", "translate", "rotate")


def _grid(frames: list[np.ndarray], cols: int) -> np.ndarray:
    # frames: list of [H, W, C] → one tiled image.
    h, w, c = frames[0].shape
    rows = -(-len(frames) // cols)
    out = np.zeros([rows * h, cols * w, c], np.uint8)
    for i, f in enumerate(frames):
        y, x = divmod(i, cols)
        out[y * h : (y + 1) * h, x * w : (x + 1) * w] = f
    return out


@torch.no_grad()
def render_frames(
    G: torch.nn.Module,
    seeds: Sequence[int],
    mode: str = "translate",
    frames: int = 48,
    truncation_psi: float = 1.0,
    amount: float = 0.25,
    device: str | torch.device = "cpu",
    class_idx: int | None = None,
) -> list[np.ndarray]:
    """uint8 ``[H, W, C]`` frames (all seeds side by side in each frame).

    Parameters
    ----------
    G : Generator
    seeds : sequence of int
        ``walk``: the loop's key latents; ``translate``/``rotate``: one tile per seed.
    mode : {'walk', 'translate', 'rotate'}
    frames : int
        Frames in total (walk: spread over the loop).
    amount : float
        ``translate``: peak offset in image widths (a full back-and-forth cosine loop);
        ``rotate``: ignored (a full turn).
    class_idx : int or None
        Required for a conditional generator (``c_dim > 0``).

    Raises
    ------
    ValueError
        When a frame is not finite (NaN or inf), naming the likely cause.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    if not seeds:
        raise ValueError("seeds must not be empty")
    G = G.to(device).eval()
    c = class_label(G, class_idx, device)
    zs = torch.from_numpy(
        np.stack([np.random.RandomState(int(s)).randn(G.z_dim) for s in seeds])
    ).float()
    ws = G.mapping(zs.to(device), c.expand(len(seeds), -1), truncation_psi=truncation_psi)
    tr = G.synthesis.input.transform
    saved = tr.clone()
    out: list[np.ndarray] = []
    try:
        for t in range(frames):
            u = t / frames
            if mode == "walk":
                pos = u * len(seeds)
                i = int(pos) % len(seeds)
                a = (1 - math.cos(math.pi * (pos - int(pos)))) / 2
                w = ws[i].lerp(ws[(i + 1) % len(seeds)], a)[None]
                imgs = G.synthesis(w)
            else:
                if mode == "translate":
                    m = make_transform((amount * math.sin(2 * math.pi * u), 0.0), 0.0)
                else:
                    m = make_transform((0.0, 0.0), 360.0 * u)
                tr.copy_(torch.from_numpy(np.linalg.inv(m)))
                imgs = G.synthesis(ws)
            if not bool(torch.isfinite(imgs).all()):  # would be black (or garbage) frames
                options = {"amount": amount} if mode == "translate" and amount != 0.25 else {}
                raise ValueError(nonfinite_message(G, f"frame {t}", truncation_psi, **options))
            x = (imgs.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu()
            out.append(_grid(list(x.numpy()), cols=len(x)))
    finally:
        tr.copy_(saved)
    return out


GIF_MAX_SIDE = 65535  # the format's 16-bit width and height
# All frames are kept in memory until the video is written: refuse, before rendering, a video
# whose frames would need more than this.
MEMORY_BUDGET = 8 * 2**30


def frames_nbytes(frames: int, tiles: int, res: int, channels: int, scale: int, gif: bool) -> int:
    """Bytes the ``frames`` (rows of ``tiles`` images of ``res`` px) take while being written:
    the rendered uint8 frames, plus for a GIF their copies enlarged ``scale`` times."""
    rendered = frames * tiles * res * res * channels
    return rendered * (1 + scale * scale) if gif else rendered


def write_gif(path: str | Path, frames: Sequence[np.ndarray], fps: int = 24, scale: int = 1):
    """Animated GIF (loops forever); ``scale`` enlarges with nearest-neighbour."""
    from PIL import Image

    ims = []
    for f in frames:
        im = Image.fromarray(f[..., 0] if f.shape[2] == 1 else f)
        if scale > 1:
            im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
        ims.append(im)
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=round(1000 / fps), loop=0)


def main(argv: Sequence[str] | None = None) -> Path:
    """Command-line entry point; returns the written path."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--network", required=True, help="checkpoint, run directory or official .pkl")
    p.add_argument("--mode", choices=MODES, default="translate")
    p.add_argument("--seeds", type=arg_type(parse_range), default=[0, 1, 2, 3], help="e.g. 0-3")
    p.add_argument("--frames", type=int_at_least(2), default=48)
    p.add_argument("--fps", type=int_at_least(1), default=24)
    p.add_argument("--trunc", type=arg_type(float32_float), default=1.0)
    p.add_argument(
        "--amount",
        type=arg_type(float32_float),
        default=0.25,
        help="translate: peak offset (widths)",
    )
    p.add_argument(
        "--scale", type=int_at_least(0), default=0, help="GIF enlargement (default: to ~128 px)"
    )
    p.add_argument("--class", dest="class_idx", type=int, default=None,
                   help="class index (conditional networks)")  # fmt: skip
    p.add_argument("--output", required=True, type=Path,
                   help=".gif (or .mp4 with --mp4); an existing file is replaced")  # fmt: skip
    p.add_argument("--mp4", action="store_true", help="write MP4 (needs imageio-ffmpeg)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    if not args.mp4:
        require_plot("PIL")  # (GIF frames; before the rendering)

    # Before the (slow) rendering: PIL would pick a format from any other suffix, or fail late.
    if args.output.suffix.lower() != (".mp4" if args.mp4 else ".gif"):
        fail(f"--output must end in .gif, or .mp4 with --mp4; got {str(args.output)!r}")
    if args.output.is_dir():
        fail(f"--output {str(args.output)!r} is a directory; give a file name")
    if not args.mp4 and args.fps > 100:  # a GIF's frame delay counts hundredths of a second
        fail(f"--fps must be at most 100 for a GIF (its frame delays are in 1/100 s), got "
             f"{args.fps}; use --mp4 for more")
    if args.mp4:
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            fail("--mp4 needs imageio-ffmpeg; write a .gif instead")
    G = generator_for_cli(args.network, args.device, args.class_idx)
    res = G.img_resolution
    # a frame is one image for a walk (the seeds are its key latents), else a row of the seeds
    tiles = 1 if args.mode == "walk" else len(args.seeds)
    scale = args.scale or max(1, 128 // res)
    if not args.mp4 and res * tiles * scale > GIF_MAX_SIDE:
        fail(f"{tiles} seeds of {res} px at --scale {scale} make frames "
             f"{res * scale * tiles}x{res * scale} px (width x height); a GIF's sides "
             f"are at most {GIF_MAX_SIDE} px: use fewer --seeds or a smaller --scale")
    channels = getattr(G, "img_channels", 3)
    need = frames_nbytes(args.frames, tiles, res, channels, scale, not args.mp4)
    if need > MEMORY_BUDGET:
        at, smaller = ("", "") if args.mp4 else (f" at --scale {scale}", ", or a smaller --scale")
        what = f"of one {res} px image" if tiles == 1 else f"of {tiles} seeds of {res} px"
        fail(f"--frames {args.frames} {what}{at} would need "
             f"about {need / 2**30:.1f} GiB of memory (every frame is kept until the video is "
             f"written), more than {MEMORY_BUDGET / 2**30:.0f} GiB: use fewer --frames"
             + ("" if tiles == 1 else " or --seeds") + f"{smaller}")  # fmt: skip
    make_parent(args.output, "--output")  # before the rendering, which takes a while
    try:
        frames = render_frames(G, args.seeds, args.mode, args.frames, args.trunc, args.amount,
                               args.device, args.class_idx)  # fmt: skip
    except ValueError as exc:  # non-finite frames: nothing written
        fail(str(exc))
    try:
        if args.mp4:
            write_replacing(args.output, lambda t: imageio.mimwrite(t, frames, fps=args.fps))
        else:
            write_replacing(args.output, lambda t: write_gif(t, frames, fps=args.fps, scale=scale))
    except OSError as exc:  # a full disk, a read-only directory
        fail(f"cannot write {str(args.output)!r}: {exc.strerror or exc}")
    print(f"wrote {args.output} ({len(frames)} frames, {args.mode})")
    return args.output


if __name__ == "__main__":
    main()
