"""Turn a folder of images into a training zip for ``train_afgan.py``.

Every PNG/JPEG under ``--source`` (recursively) is centre-cropped to a square, resized to
``--resolution`` (Lanczos) and stored as ``img00000000.png``… in ``--dest``; labels from a
``dataset.json`` in the source (``{"labels": [[relative_path, label], ...]}``) are carried over.

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

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the number of images written."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--source", required=True, type=Path, help="folder of images")
    p.add_argument("--dest", required=True, type=Path, help="output .zip")
    p.add_argument("--resolution", required=True, type=int, help="output size (power of two)")
    p.add_argument("--greyscale", action="store_true", help="store single-channel images")
    args = p.parse_args(argv)

    def fail(msg: str) -> None:
        print(f"error: {msg}", file=sys.stderr)
        raise SystemExit(2)

    from PIL import Image

    res = args.resolution
    if res < 8 or res & (res - 1):
        fail(f"--resolution must be a power of two >= 8, got {res}")
    if not args.source.is_dir():
        fail(f"--source {str(args.source)!r} is not a directory")
    files = sorted(
        f for f in args.source.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        fail(f"--source {str(args.source)!r} contains no PNG/JPEG images")
    labels = None
    meta = args.source / "dataset.json"
    if meta.exists():
        table = json.loads(meta.read_text()).get("labels") or []
        labels = {str(k).replace("\\", "/"): v for k, v in table}
    out_labels = []
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.dest, "w", compression=zipfile.ZIP_STORED) as z:
        for i, f in enumerate(files):
            try:
                with Image.open(f) as im:
                    im = im.convert("L" if args.greyscale else "RGB")
            except Exception as exc:
                fail(f"{f}: not a readable image ({exc})")
            s = min(im.size)
            left, top = (im.width - s) // 2, (im.height - s) // 2
            im = im.crop((left, top, left + s, top + s)).resize((res, res), Image.LANCZOS)
            name = f"img{i:08d}.png"
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            z.writestr(name, buf.getvalue())
            if labels is not None:
                rel = f.relative_to(args.source).as_posix()
                if rel not in labels:
                    fail(f"{meta}: no label for {rel!r}")
                out_labels.append([name, labels[rel]])
        if labels is not None:
            z.writestr("dataset.json", json.dumps({"labels": out_labels}))
    print(f"wrote {len(files)} images of {res}x{res} to {args.dest}")
    return len(files)


if __name__ == "__main__":
    main()
