"""``python -m bandlimit.ops.cuda {info,build} [--verbose]``.

``info`` prints what a build would use and why (exit status 0 whether or not it is buildable);
``build`` builds ahead of time (e.g. in a Docker image) and prints where the library went, or the
error and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bandlimit.ops.cuda")
    parser.add_argument("command", choices=["info", "build"])
    parser.add_argument("--verbose", action="store_true", help="show the compiler commands")
    args = parser.parse_args(argv)
    from bandlimit.ops import cuda

    try:
        if args.command == "info":
            for key, value in cuda.info().items():
                print(f"{key}: {value}")
            return 0
        t0 = time.perf_counter()
        path = cuda.build(verbose=args.verbose)
    except cuda.CudaBuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted (the next build resumes where this one stopped)", file=sys.stderr)
        return 130
    print(f"built: {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
