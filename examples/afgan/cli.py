"""What the example scripts' command lines share: how a problem is reported, how a file is
replaced."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

__all__ = ["fail", "require_plot", "write_replacing"]


def fail(msg: str) -> NoReturn:
    """One ``error: <msg>`` line on stderr and exit status 2 (argparse's status for bad input)."""
    # one write: the ranks of a distributed run may report at once, and print's two writes (the
    # text, then the newline) let their lines run into each other
    sys.stderr.write(f"error: {msg}\n")
    sys.stderr.flush()
    raise SystemExit(2)


def require_plot(*modules: str) -> None:
    """Exit with one line naming the extra when the image libraries an example needs are not
    installed (``matplotlib``; ``PIL``, Pillow, which matplotlib brings): before any work, not a
    traceback after a run directory was made."""
    missing = []
    for m in modules:
        try:
            importlib.import_module(m)  # (they are used right after: no cost in the end)
        except ImportError:
            missing.append(m)
    if missing:
        names = ", ".join("Pillow" if m == "PIL" else m for m in missing)
        fail(f"{names} {'is' if len(missing) == 1 else 'are'} not installed: the examples' "
             f"images and plots need pip install '.[plot]' (or pip install matplotlib)")


def write_replacing(
    path: str | os.PathLike[str], write: Callable[[Path], object], tmp: Path | None = None
) -> None:
    """``write(tmp)`` to a temporary file next to ``path``, then rename it onto ``path``.

    A failed write (a full disk, an error, an interrupt) removes the temporary file and leaves
    any earlier ``path`` as it was; a successful one replaces it. The default temporary name
    keeps ``path``'s suffix, so writers that pick a format from it still do.
    """
    path = Path(path)
    if tmp is None:
        tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
