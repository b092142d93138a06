"""Turn a folder of images into a training zip for ``train_afgan.py``.

Every PNG/JPEG under ``--source`` (recursively) is centre-cropped to a square, resized to
``--resolution`` (Lanczos) and stored as ``img00000000.png``… in ``--dest``; labels from a
``dataset.json`` in the source (``{"labels": [[relative_path, label], ...]}``, the rules of
:func:`afgan.data.parse_labels`) are checked before anything is written and carried over. A bad
label or an image that does not decode is one ``error:`` line naming it (exit status 2).
``--dest`` must end in ``.zip`` and lie outside ``--source``; an existing ``--dest`` is only
replaced with ``--overwrite`` (and only once the new zip is complete).

Example::

    python examples/dataset_tool.py --source photos/ --dest data.zip --resolution 64
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/dataset_tool.py`

from afgan.cli import fail, require_plot, write_replacing
from afgan.data import (
    ALPHA_BACKGROUNDS,
    IMAGE_EXTENSIONS,
    DatasetError,
    has_alpha,
    one_line,
    parse_labels,
    to_uint8,
)

__all__ = ["main"]


# The largest resolution a StyleGAN3 generator can be built at (config R's default channel_base;
# T stops at 32768); Pillow's sizes are C ints, so a far larger one would crash with OverflowError.
MAX_RESOLUTION = 65536


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the number of images written."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--source", required=True, type=Path, help="folder of images")
    p.add_argument(
        "--dest", required=True, type=Path,
        help="output .zip (outside --source; refused if it exists, unless --overwrite)",
    )  # fmt: skip
    p.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing --dest (once the new zip is complete)",
    )  # fmt: skip
    p.add_argument("--resolution", required=True, type=int, help="output size (power of two)")
    p.add_argument("--greyscale", action="store_true", help="store single-channel images")
    p.add_argument(
        "--alpha", choices=["drop", *ALPHA_BACKGROUNDS], default="drop",
        help="transparent images: drop the transparency, keeping the colour stored under it "
        "(default, as StyleGAN's tool), or composite them over a black or white background",
    )  # fmt: skip
    args = p.parse_args(argv)
    require_plot("PIL")  # (reads and writes the images)

    from PIL import Image

    res = args.resolution
    if res < 8 or res > MAX_RESOLUTION or res & (res - 1):
        fail(f"--resolution must be a power of two from 8 to {MAX_RESOLUTION}, got {res}")
    if not args.source.is_dir():
        fail(f"--source {str(args.source)!r} is not a directory")
    _check_dest(args.source, args.dest, args.overwrite)
    files = sorted(
        f for f in args.source.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        fail(f"--source {str(args.source)!r} contains no PNG/JPEG images")
    labels = None
    meta = args.source / "dataset.json"
    if meta.exists():
        try:
            rel = [f.relative_to(args.source).as_posix() for f in files]
            labels = parse_labels(meta.read_bytes(), rel, str(meta))
        except OSError as exc:
            fail(f"{meta}: cannot be read ({one_line(exc)})")
        except DatasetError as exc:
            fail(str(exc))
    out_labels = []
    # Written next to --dest and renamed at the end: a failure never destroys an existing file.
    try:
        args.dest.parent.mkdir(parents=True, exist_ok=True)
        write_replacing(args.dest, lambda tmp: _write_zip(args, files, labels, out_labels, tmp,
                                                          res, Image),
                        tmp=args.dest.with_name(f".{args.dest.name}.tmp"))
    except OSError as exc:  # a parent that is a file, no permission, a full disk, ...
        fail(f"--dest {str(args.dest)!r} cannot be written: {exc.strerror or one_line(exc)}")
    print(f"wrote {len(files)} images of {res}x{res} to {args.dest}")
    return len(files)


def _check_dest(source: Path, dest: Path, overwrite: bool) -> None:
    """Refuse a --dest that would destroy something the user wrote: a name without ``.zip``
    (a typo for an image, a labels file, notes), a path inside --source (its own input), or an
    existing file without --overwrite."""
    d = repr(str(dest))
    if dest.is_dir():
        fail(f"--dest {d} is a directory; give a .zip file name")
    if dest.suffix.lower() != ".zip":
        fail(f"--dest {d} must be a .zip file name")
    try:
        src, out = source.resolve(), dest.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        fail(f"--dest {d} cannot be resolved ({one_line(exc)})")
    if out == src or src in out.parents:
        fail(f"--dest {d} is inside --source {str(source)!r}; write the zip elsewhere")
    if (dest.exists() or dest.is_symlink()) and not overwrite:
        fail(f"--dest {d} already exists; pass --overwrite to replace it")


def _write_zip(args, files, labels, out_labels, tmp, res, Image) -> None:
    background = None if args.alpha == "drop" else args.alpha
    transparent = []
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for i, f in enumerate(files):
            try:
                with Image.open(f) as im:
                    if has_alpha(im):
                        transparent.append(f)
                    im = Image.fromarray(to_uint8(im, 1 if args.greyscale else 3, background))
            except Exception as exc:
                fail(f"{f}: not a readable image ({one_line(exc)})")
            s = min(im.size)
            left, top = (im.width - s) // 2, (im.height - s) // 2
            try:
                im = im.crop((left, top, left + s, top + s)).resize((res, res), Image.LANCZOS)
            except MemoryError:
                gib = res * res * len(im.getbands()) / 2**30
                fail(f"{f}: out of memory resizing to --resolution {res} ({gib:.1f} GiB an image)")
            name = f"img{i:08d}.png"
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            z.writestr(name, buf.getvalue())
            if labels is not None:  # checked by parse_labels, in the order of files
                out_labels.append([name, labels[i]])
        if labels is not None:
            z.writestr("dataset.json", json.dumps({"labels": out_labels}))
    if transparent:
        n = len(transparent)
        done = (
            f"composited over {args.alpha}" if background else
            "dropped, so transparent pixels keep the colour stored under them (--alpha white|"
            "black composites them over a background instead)"
        )  # fmt: skip
        print(f"note: {n} image{'s' if n > 1 else ''} had transparency (first: {transparent[0]}); "
              f"it was {done}", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
