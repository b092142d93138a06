"""Rational-rate resampling: ``bandlimit.ops.resample_poly`` vs scipy and julius.

Audio-sized cases (4 signals of 10 s; the usual rate changes) and an image case, float32, on the
CPU. Per case the variants run interleaved (each repetition times every variant once, so load on
the machine hits them alike); the table shows medians in milliseconds. The numba and ref columns
are bandlimit's backends; scipy runs one thread (its C upfirdn), so the default is one thread for
torch and numba too (``--threads`` to change). Multiply-adds: the polyphase schedule's ``K / up``
per output sample (``K = 20·max(up, down) + 1`` taps after the gcd), so GMAC/s compares the
variants' arithmetic rates.

The peers: scipy (``scipy.signal.resample_poly``, the semantics resample_poly follows) and, where
installed (``pip install -e '.[bench]'``), julius (``julius.resample_frac``, plain PyTorch: the
torch peer of the 'ref' backend). julius runs with ``zeros=10``: ten zero crossings a side, the
filter length of scipy's default design (its own default, 24, has 2.4× the taps), its module
(``ResampleFrac``, the kernel made once); its window and cutoff differ, so its outputs are not
compared, only its time.

    python -m benchmarks.resample [--threads N] [--repeat R] [--scale S]
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.signal
import torch

from bandlimit import ops
from benchmarks._record import RESULTS, environment, write

# (name, up, down, shape of x, resampled dims)
CASES = [
    ("22.05k -> 24k", 160, 147, (4, 220500), -1),
    ("44.1k -> 48k", 160, 147, (4, 441000), -1),
    ("48k -> 44.1k", 147, 160, (4, 480000), -1),
    ("48k -> 16k", 1, 3, (4, 480000), -1),
    ("16k -> 24k", 3, 2, (4, 160000), -1),
    ("8k -> 44.1k", 441, 80, (4, 80000), -1),
    ("image 512² ×3/4", 3, 4, (8, 3, 512, 512), (-2, -1)),
]


def _macs(up: int, down: int, n_out: int) -> float:
    g = math.gcd(up, down)
    u, d = up // g, down // g
    taps = 20 * max(u, d) + 1
    return n_out * taps / u


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the signal lengths")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"# resample — {stamp}, {os.cpu_count()} CPUs, {args.threads} threads, torch "
          f"{torch.__version__}, numba {numba.__version__}, scipy {scipy.__version__}, "
          f"{platform.processor() or platform.machine()}")  # fmt: skip
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    try:
        import julius
    except ImportError:
        julius = None
        print("julius is not installed (pip install -e '.[bench]'): no julius column\n")
    print("| case | up/down | shape | scipy ms | numba ms | ref ms | julius ms | scipy/numba | "
          "julius/ref | numba GMAC/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    rows = []
    for name, up, down, shape, dims in CASES:
        axes = dims if isinstance(dims, tuple) else (dims,)
        shape = tuple(max(1, round(n * args.scale)) if i - len(shape) in axes else n
                      for i, n in enumerate(shape))  # fmt: skip
        x = rng.standard_normal(shape).astype(np.float32)
        xt = torch.from_numpy(x)

        def run_scipy(x=x, up=up, down=down, axes=axes):
            y = x
            for a in axes:
                y = scipy.signal.resample_poly(y, up, down, axis=a)
            return y

        g = math.gcd(up, down)
        resampler = julius and julius.ResampleFrac(down // g, up // g, zeros=10)  # kernel made once

        def run_julius(xt=xt, axes=axes, resampler=resampler):
            y = xt
            for a in axes:
                y = resampler(y.movedim(a, -1)).movedim(-1, a)
            return y

        def run_bandlimit(xt=xt, up=up, down=down, dims=dims, impl="ref"):
            return ops.resample_poly(xt, up, down, dims, impl=impl)

        torch_variants = {"numba": functools.partial(run_bandlimit, impl="numba"),
                          "ref": run_bandlimit}  # fmt: skip
        # julius keeps floor(L·up/down) samples, and fails on none (a signal shrunk by --scale)
        if julius is not None and all(shape[a] * up // down > 0 for a in axes):
            torch_variants["julius"] = run_julius
        variants = {"scipy": run_scipy, **torch_variants}
        xg = xt.clone().requires_grad_(True)
        for k, fn in torch_variants.items():  # forward+backward: the gradient of the sum
            variants[k + "+bwd"] = lambda fn=fn, xg=xg: fn(xg).sum().backward()
        for fn in variants.values():  # warm-up (numba compiles or loads its cache)
            fn()
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.repeat):
            for k, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        n_out = variants["numba"]().numel()
        # per axis: its outputs times the taps per output (a second axis runs on the first's)
        macs, size = 0.0, list(shape)
        for a in axes:
            size[a] = -(-size[a] * up // down)
            macs += _macs(up, down, math.prod(size))
        rate = macs / (med["numba"] * 1e-3) / 1e9
        row = dict(case=name, up=up, down=down, shape=list(shape), ms=med, n_out=n_out,
                   gmacs=macs / 1e9)  # fmt: skip
        rows.append(row)
        ratio = med["scipy"] / med["numba"]
        jul = med.get("julius", math.nan)
        print(f"| {name} | {up}/{down} | {list(shape)} | {med['scipy']:.1f} | "
              f"{med['numba']:.1f} | {med['ref']:.1f} | {jul:.1f} | {ratio:.1f}× | "
              f"{jul / med['ref']:.1f}× | {rate:.1f} |")  # fmt: skip
    print("\nforward+backward (the gradient of the output's sum):\n")
    print("| case | numba ms | ref ms | julius ms | julius/ref |")
    print("|---|---|---|---|---|")
    for row in rows:
        med = row["ms"]
        jul = med.get("julius+bwd", math.nan)
        print(f"| {row['case']} | {med['numba+bwd']:.1f} | {med['ref+bwd']:.1f} | {jul:.1f} | "
              f"{jul / med['ref+bwd']:.1f}× |")  # fmt: skip
    print(f"\nload average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    result = {"meta": environment(args.threads, scipy=scipy.__version__, repeat=args.repeat,
                                  scale=args.scale), "rows": rows}  # fmt: skip
    write("resample", result, args.out)
    return result


if __name__ == "__main__":
    main()
