"""Alias-free activations: bandlimit vs alias-free-torch (1-D SnakeBeta) and vs a plain-torch
composition (2-D GELU/SiLU). CPU float32; run with ``python benchmarks/activations.py``.

Prints milliseconds (median of ``--repeat`` runs) for the forward and forward+backward. The
variants of one size are interleaved run by run (other load on the machine then hits all of them
alike), and the load average is printed before and after: on a loaded machine every number is
inflated. Needs ``alias-free-torch`` (the test extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch


def _time(fn, repeat: int) -> float:
    return _time_interleaved([fn], repeat)[0]


def _time_interleaved(fns, repeat: int) -> list[float]:
    """Median milliseconds of each of ``fns``, run round-robin ``repeat`` times after a warm-up
    (which includes Numba's compilation or cache load)."""
    for fn in fns:
        fn()
    ts: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, t in zip(fns, ts):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [statistics.median(t) * 1e3 for t in ts]


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_1d(repeat: int) -> None:
    import alias_free_torch as aft

    from bandlimit.nn import SnakeBeta, bigvgan

    for c, length in [(512, 4096), (128, 16384), (32, 65536)]:
        act = SnakeBeta(c, alpha_logscale=True)
        peer, ours = aft.Activation1d(act), bigvgan.Activation1d(act)
        x = torch.randn(1, c, length)
        xg = x.clone().requires_grad_(True)
        names = ["alias-free-torch", "bandlimit"]
        mods = [peer, ours]

        def fwd(m, x=x):
            def run():
                with torch.no_grad():
                    m(x)

            return run

        def fb(m, xg=xg):
            def run():
                m(xg).sum().backward()

            return run

        t_fwd = _time_interleaved([fwd(m) for m in mods], repeat)
        t_fb = _time_interleaved([fb(m) for m in mods], repeat)
        for name, f, b in zip(names, t_fwd, t_fb):
            print(f"1-D SnakeBeta [1, {c}, {length}] {name:>17}: fwd {f:7.1f} ms  "
                  f"fwd+bwd {b:7.1f} ms")
        print(f"    speed-up: fwd {t_fwd[0] / t_fwd[1]:.1f}x, fwd+bwd {t_fb[0] / t_fb[1]:.1f}x")


def bench_2d(repeat: int) -> None:
    import torch.nn.functional as F

    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc

    f = kaiser_sinc(12, 0.25, 0.2, 1.0)
    for act, fn in [("gelu", F.gelu), ("silu", F.silu)]:
        for n, c, hw in [(4, 256, 36), (4, 64, 132)]:
            x = torch.randn(n, c, hw, hw)

            def plain(x=x, fn=fn):
                u = ops.upfirdn2d(x, f, up=2, padding=(6, 5, 6, 5), gain=4, impl="ref")
                return ops.upfirdn2d(fn(u), f, down=2, padding=(5, 6, 5, 6), impl="ref")

            def fused(x=x, act=act):
                return ops.filtered_act(x, act, f, f, up=2, down=2, padding=(6, 5, 6, 5),
                                        down_padding=(5, 6, 5, 6), gain=1.0)

            with torch.no_grad():
                times = _time_interleaved([plain, fused], repeat)
            for name, t in zip(["torch composition", "bandlimit"], times):
                print(f"2-D {act} [{n}, {c}, {hw}, {hw}] {name:>17}: fwd {t:7.1f} ms")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    print(_load())
    bench_1d(args.repeat)
    bench_2d(args.repeat)
    print(_load())
