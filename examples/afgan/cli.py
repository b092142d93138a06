"""What the example scripts' command lines share: how a problem is reported."""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ["fail"]


def fail(msg: str) -> NoReturn:
    """One ``error: <msg>`` line on stderr and exit status 2 (argparse's status for bad input)."""
    print(f"error: {msg}", file=sys.stderr)
    raise SystemExit(2)
