"""Filter-design demo: the StyleGAN3 cutoff schedule and every layer's filter responses.

Writes, into ``--outdir``:

* ``filters_<cfg><res>.png``: one panel per layer with the magnitude responses (dB) of its up and
  down filters, the cutoffs, the stop-band edge and the output Nyquist frequency marked;
  for config R the radial down filters are shown as their ``f_y = 0`` slice,
* ``filters_<cfg><res>_radial2d.png`` (config R only): the 2-D responses of the radial (jinc)
  down filters, with the cutoff and stop-band circles,
* ``schedule_<cfg><res>.png``: cutoff, stop band and sampling rate per layer (log2 axis),
* ``schedule_<cfg><res>.txt``: the schedule as a text table.

Usage::

    python examples/filter_demo.py --outdir runs/demo [--resolution 256] [--config T]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/filter_demo.py`

from afgan.cli import fail, require_plot

try:
    import matplotlib
except ImportError:  # one line naming the extra, not a traceback
    require_plot("matplotlib")
    raise

matplotlib.use("Agg")  # headless: files only

import matplotlib.pyplot as plt
import numpy as np

from bandlimit.filters.plot import plot_frequency_response, plot_schedule
from bandlimit.filters.response import frequency_response
from bandlimit.filters.schedule import Schedule, stylegan3_schedule

DB_RANGE = (-110.0, 8.0)
# The resolutions stylegan3_schedule accepts with each config's default channel_base (32768 for
# T, 65536 for R): every layer needs channel_base > its cutoff, which grows with the resolution.
MIN_RESOLUTION = 4
MAX_RESOLUTION = {"T": 32768, "R": 65536}


def _response_1d(f, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude in dB over 0..fs/2; radial 2-D filters are cut along f_y = 0."""
    if f.ndim == 1:
        return frequency_response(f, fs, n=4096, db=True)
    (_, fx), h_db = frequency_response(f, fs, n=512, db=True)
    centre = fx.size // 2  # index of f = 0
    return fx[centre:], h_db[centre, centre:]


def plot_layer_filters(sched: Schedule, path: Path) -> None:
    layers = sched.layers
    cols = 5
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.1 * rows), squeeze=False)
    for ax in axes.flat[len(layers) :]:
        ax.axis("off")
    handles = None
    legend_ax = None
    any_radial = any(layer.down_radial and layer.down_taps > 1 for layer in layers)
    for layer, ax in zip(layers, axes.flat):
        up, down = sched.layer_filters(layer.index)
        fs = layer.tmp_sampling_rate
        title = (
            f"{layer.name}: s {layer.in_sampling_rate}→{layer.out_sampling_rate}, "
            f"×{layer.up_factor} ÷{layer.down_factor}, taps {layer.up_taps}/{layer.down_taps}"
        )
        if down is not None and down.ndim == 2:
            title += ", radial"
        ax.set_title(title, fontsize=8.5)
        if up is None and down is None:
            ax.text(
                0.5, 0.85, f"{layer.name} (ToRGB):\n1×1 conv, no filters", ha="center",
                va="center", transform=ax.transAxes, fontsize=9,
            )  # fmt: skip
            ax.axis("off")
            legend_ax = ax
            continue
        if up is not None:
            f, h = _response_1d(up, fs)
            ax.plot(f, h, color="C0", lw=1.3, label="up filter (incoming band)")
            ax.axvline(layer.in_cutoff, color="C0", ls=":", lw=1, label="up cutoff")
        if down is not None:
            f, h = _response_1d(down, fs)
            label = "down filter" + (" (radial: $f_y = 0$ slice)" if any_radial else "")
            ax.plot(f, h, color="C3", lw=1.3, label=label)
            ax.axvline(layer.out_cutoff, color="C3", ls=":", lw=1, label="down cutoff $f_c$")
            ax.axvline(layer.out_stopband, color="C3", ls="--", lw=1, label="stopband $f_c + f_h$")
        ax.axvline(
            layer.out_sampling_rate / 2, color="0.3", ls="-.", lw=1, label="output Nyquist $s/2$"
        )
        ax.axhline(-6.02, color="0.6", ls=":", lw=0.8, label="−6 dB")
        ax.set_xlim(0, fs / 2)
        ax.set_ylim(*DB_RANGE)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        if handles is None:
            handles = ax.get_legend_handles_labels()
    if handles is not None and legend_ax is not None:  # the legend fills ToRGB's empty panel
        legend_ax.legend(*handles, loc="lower center", fontsize=9, frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("magnitude (dB)", fontsize=9)
    for ax in axes[-1, :]:
        ax.set_xlabel("frequency (cycles per canvas unit)", fontsize=9)
    fig.suptitle(
        f"StyleGAN3-{sched.config} {sched.img_resolution}² layer filters: magnitude responses "
        "at the internal rate s_tmp (x axis 0 … s_tmp/2)",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=72, pil_kwargs={"optimize": True})
    plt.close(fig)


def plot_radial_filters(sched: Schedule, path: Path) -> bool:
    radial = [layer for layer in sched.layers if layer.down_radial and layer.down_taps > 1]
    if not radial:
        return False
    cols = 4
    rows = math.ceil(len(radial) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(radial) :]:
        ax.axis("off")
    for layer, ax in zip(radial, axes.flat):
        _, down = sched.layer_filters(layer.index)
        plot_frequency_response(
            down,
            layer.tmp_sampling_rate,
            ax=ax,
            cutoff=layer.out_cutoff,
            stopband=layer.out_stopband,
            title=f"{layer.name} down ({layer.down_taps}×{layer.down_taps})",
        )
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"StyleGAN3-{sched.config} {sched.img_resolution}²: 2-D responses of the radial down "
        "filters (solid circle: cutoff, dashed: stopband)",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=60, pil_kwargs={"optimize": True})
    plt.close(fig)
    return True


def plot_cutoff_schedule(sched: Schedule, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 5))
    plot_schedule(sched, ax=ax)
    ax.set_title(
        f"StyleGAN3-{sched.config} {sched.img_resolution}² cutoff schedule "
        f"({sched.num_critical} critically sampled layers + ToRGB)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90, pil_kwargs={"optimize": True})
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=Path("runs/demo"), help="output folder")
    parser.add_argument(
        "--resolution",
        type=int,
        default=256,
        help="image size: a power of two, 4 ... 32768 (T) or 65536 (R)",
    )
    parser.add_argument("--config", default="T", choices=["T", "R"], help="StyleGAN3 config")
    args = parser.parse_args(argv)

    res, top = args.resolution, MAX_RESOLUTION[args.config]
    if res < MIN_RESOLUTION or res > top or res & (res - 1):
        fail(f"--resolution must be a power of two from {MIN_RESOLUTION} to {top} "
             f"(with --config {args.config}), got {res}")  # fmt: skip
    try:
        sched = stylegan3_schedule(res, config=args.config)
    except ValueError as err:
        fail(f"--resolution {res} --config {args.config}: {err}")
    tag = f"{sched.config}{sched.img_resolution}"
    in_the_way = next((d for d in (args.outdir, *args.outdir.parents)
                       if d.exists() and not d.is_dir()), None)  # fmt: skip
    if in_the_way is not None:
        fail(f"--outdir {str(args.outdir)!r}: {str(in_the_way)!r} is a file, not a folder")
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--outdir {str(args.outdir)!r} cannot be created: {exc.strerror or exc}")

    table = sched.table()
    print(table)
    print()
    try:
        written = _write_all(sched, args.outdir, tag, table)
    except OSError as exc:  # an unwritable folder, a full disk
        fail(f"--outdir {str(args.outdir)!r} cannot be written: {exc.strerror or exc}")
    for path, what in written:
        print(f"wrote {path}  ({what})")


def _write_all(sched: Schedule, outdir: Path, tag: str, table: str) -> list[tuple[Path, str]]:
    written = []
    path = outdir / f"schedule_{tag}.txt"
    path.write_text(table + "\n", encoding="utf-8")
    written.append((path, "schedule table"))
    path = outdir / f"schedule_{tag}.png"
    plot_cutoff_schedule(sched, path)
    written.append((path, "cutoff schedule plot"))
    path = outdir / f"filters_{tag}.png"
    plot_layer_filters(sched, path)
    written.append((path, "per-layer filter responses"))
    path = outdir / f"filters_{tag}_radial2d.png"
    if plot_radial_filters(sched, path):
        written.append((path, "2-D responses of the radial down filters"))
    return written


if __name__ == "__main__":
    main()
