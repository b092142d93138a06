"""``python -m bandlimit {info,precompile}``.

``info`` prints the versions, the backends and their caches -- what a bug report needs (exit
status 0 whatever it finds). ``precompile`` compiles the numba kernels ahead of time (and, with
``--cuda``, builds the CUDA extension) and prints where they went; exit status 1 on failure,
and where numba finds no writable directory to keep the kernels in.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time

_DTYPES = ("float32", "float64", "float16", "bfloat16")
_PACKAGES = ("torch", "numpy", "scipy", "numba", "hypothesis", "matplotlib")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _info() -> list[tuple[str, object]]:
    import torch

    import bandlimit
    from bandlimit.ops import cuda, get_default_impl
    from bandlimit.ops._dispatch import ENV_VAR, numba_problem

    rows: list[tuple[str, object]] = [
        ("bandlimit", f"{bandlimit.__version__} ({os.path.dirname(bandlimit.__file__)})"),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
    ]
    rows += [(p, _version(p)) for p in _PACKAGES]
    try:
        default = get_default_impl()
    except ValueError as e:
        default = f"invalid: {e}"
    env = os.environ.get(ENV_VAR)
    rows.append(("impl='auto' resolves through", f"{default} ({ENV_VAR}={env!r})"))
    rows.append(("torch threads", torch.get_num_threads()))
    problem = numba_problem()
    if problem is None:
        import numba

        from bandlimit.ops.precompile import numba_cache

        cache = numba_cache()
        if cache["dir"] is None:
            where = "none: no writable directory, the kernels compile in every process (set "
            where += "NUMBA_CACHE_DIR to a writable directory)"
        else:
            where = f"{cache['dir']} ({cache['files']} cached kernel files; "
            where += f"{'writable' if cache['writable'] else 'read-only'})"
        rows += [
            ("numba backend", "available"),
            (
                "numba threads",
                f"{numba.get_num_threads()} (threading layer: "
                f"{getattr(numba.config, 'THREADING_LAYER', 'unknown')})",
            ),
            ("numba kernel cache", where),
        ]
    else:
        rows.append(("numba backend", f"unavailable: {problem}"))
    c = cuda.info()
    rows.append(("cuda devices", ", ".join(c["gpus"]) or "none visible"))
    if c["buildable"]:
        state = f"built: {c['library']}" if c["built"] else "buildable, not built yet"
    else:
        state = f"not buildable: {c['problem']}"
    rows.append(("cuda backend", state))
    rows.append(("cuda details", "python -m bandlimit.ops.cuda info"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bandlimit",
        description="Report the installation, or compile the kernels ahead of time.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, backends and caches (for bug reports)")
    pre = sub.add_parser(
        "precompile", help="compile the numba kernels now (e.g. in a Docker image's build)"
    )
    pre.add_argument(
        "--dtype",
        nargs="+",
        choices=_DTYPES,
        default=["float32"],
        help="tensor dtypes to prepare for (default: float32; float16/bfloat16 use float32's)",
    )
    pre.add_argument("--cuda", action="store_true", help="also build the CUDA extension")
    args = parser.parse_args(argv)

    if args.command == "info":
        for key, value in _info():
            print(f"{key}: {value}")
        return 0

    import torch

    from bandlimit.ops import cuda, precompile_numba
    from bandlimit.ops.precompile import numba_cache

    try:
        taken = precompile_numba([getattr(torch, d) for d in args.dtype])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    where = numba_cache()
    for dtype, seconds in taken.items():
        print(f"numba {str(dtype).removeprefix('torch.')}: ready ({seconds:.1f} s)")
    if where["dir"] is None:
        # (a build step that precompiles must not pass while keeping nothing)
        given = os.environ.get("NUMBA_CACHE_DIR")
        print(f"error: numba found no writable directory to cache the kernels in"
              f"{f' (NUMBA_CACHE_DIR={given!r} is not writable)' if given else ''}: they were "
              f"compiled in this process only; set NUMBA_CACHE_DIR to a writable directory",
              file=sys.stderr)  # fmt: skip
        return 1
    else:
        print(f"numba kernel cache: {where['dir']}")
    if args.cuda:
        t0 = time.perf_counter()
        try:
            path = cuda.build()
        except cuda.CudaBuildError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"cuda extension: {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
