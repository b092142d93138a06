"""Spectrum of a tone through a plain SnakeBeta vs bandlimit's alias-free SnakeBeta.

A pointwise nonlinearity creates harmonics of its input. Above the Nyquist frequency they fold
back (alias) to frequencies that are not harmonics at all; the alias-free activation evaluates the
nonlinearity at twice the rate and low-pass filters before decimating, so those components are
suppressed. Run ``python examples/snake_spectrum.py --out docs/snake_spectrum.png``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/snake_spectrum.py`

from afgan.cli import fail, require_plot

from bandlimit.nn import SnakeBeta, bigvgan

# In the working directory: run from anywhere, it must not overwrite the repository's figure
# (regenerate that with --out docs/snake_spectrum.png).
DEFAULT_OUT = Path("snake_spectrum.png")


def spectrum_db(y: np.ndarray) -> np.ndarray:
    w = np.kaiser(len(y), 12.0)
    mag = np.abs(np.fft.rfft(y * w)) / w.sum()
    return 20 * np.log10(np.maximum(mag, 1e-12))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="image file; its suffix picks the format (default: snake_spectrum.png "
                   "in the working directory; without a suffix, .png is added)")  # fmt: skip
    p.add_argument("--freq", type=float, default=0.13,
                   help="tone frequency, cycles/sample, in (0, 0.5)")  # fmt: skip
    p.add_argument("--alpha", type=float, default=2.0, help="SnakeBeta alpha, > 0")
    args = p.parse_args(argv)
    if not (math.isfinite(args.freq) and 0 < args.freq < 0.5):
        fail(f"--freq must be in (0, 0.5) cycles/sample (between 0 and the Nyquist frequency), "
             f"got {args.freq}")  # fmt: skip
    if not (math.isfinite(args.alpha) and args.alpha > 0):
        fail(f"--alpha must be a finite number > 0, got {args.alpha}")
    require_plot("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = args.out
    if not out.suffix:  # matplotlib would add .png itself: say so in what is printed
        out = out.with_name(out.name + ".png")
    supported = sorted(plt.figure().canvas.get_supported_filetypes())
    plt.close("all")
    if out.suffix[1:].lower() not in supported:
        fail(f"--out {str(args.out)!r}: unsupported image format {out.suffix!r}; "
             f"use one of {', '.join('.' + s for s in supported)}")
    if out.is_dir():
        fail(f"--out {str(args.out)!r} is a directory; give a file name")
    in_the_way = next((d for d in out.parents if d.exists() and not d.is_dir()), None)
    if in_the_way is not None:
        fail(f"--out {str(args.out)!r}: {str(in_the_way)!r} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {str(args.out)!r}: cannot create the folder {str(out.parent)!r}: "
             f"{exc.strerror or exc}")

    n = 8192
    t = np.arange(n)
    x = torch.tensor(np.sin(2 * math.pi * args.freq * t), dtype=torch.float32)[None, None]
    act = SnakeBeta(1, alpha_logscale=False)
    with torch.no_grad():
        act.alpha.fill_(args.alpha)
        act.beta.fill_(1.0)
        plain = act(x)[0, 0].numpy()
        free = bigvgan.Activation1d(act)(x)[0, 0].numpy()
    freqs = np.fft.rfftfreq(n)
    # Where the harmonics k·f0 land after folding into [0, 0.5]; those with k·f0 > 0.5 are aliases.
    harmonics = [(k * args.freq) % 1.0 for k in range(1, 12)]
    folded = [(h if h <= 0.5 else 1 - h, k * args.freq > 0.5) for k, h in enumerate(harmonics, 1)]

    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True, sharey=True)
    for ax, y, title in [(axes[0], plain, "plain SnakeBeta (evaluated at the signal's rate)"),
                         (axes[1], free, "bandlimit alias-free SnakeBeta (up 2 → act → down 2)")]:
        ax.plot(freqs, spectrum_db(y), lw=0.8)
        for f, aliased in folded:
            ax.axvline(f, color="tab:red" if aliased else "tab:green", lw=0.6, alpha=0.5)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-160, 5)
        ax.set_ylabel("magnitude (dB)")
        ax.grid(alpha=0.3)
    axes[1].set_xlabel("frequency (cycles/sample); green: true harmonics, red: aliased harmonics")
    fig.suptitle(f"Tone at {args.freq} cycles/sample through SnakeBeta (α = {args.alpha})")
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=90)
    except OSError as exc:  # unwritable folder, full disk
        fail(f"--out {str(args.out)!r} cannot be written: {exc.strerror or exc}")
    finally:
        plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
