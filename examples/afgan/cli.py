"""What the example scripts' command lines share: how a problem is reported, how a file is
replaced."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

__all__ = ["fail", "write_replacing"]


def fail(msg: str) -> NoReturn:
    """One ``error: <msg>`` line on stderr and exit status 2 (argparse's status for bad input)."""
    print(f"error: {msg}", file=sys.stderr)
    raise SystemExit(2)


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
