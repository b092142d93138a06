"""Alias-free activations: bandlimit vs alias-free-torch (1-D SnakeBeta) and vs a plain-torch
composition (2-D GELU/SiLU). CPU float32; run with ``python benchmarks/activations.py``.

Prints milliseconds (median of ``--repeat`` runs) for the forward and forward+backward. Needs
``alias-free-torch`` (the test extra).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _time(fn, repeat: int) -> float:
    fn()  # warm-up (and Numba compilation)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def bench_1d(repeat: int) -> None:
    import alias_free_torch as aft

    from bandlimit.nn import SnakeBeta, bigvgan

    for c, length in [(512, 4096), (128, 16384), (32, 65536)]:
        act = SnakeBeta(c, alpha_logscale=True)
        peer, ours = aft.Activation1d(act), bigvgan.Activation1d(act)
        x = torch.randn(1, c, length)
        for name, m in [("alias-free-torch", peer), ("bandlimit", ours)]:
            with torch.no_grad():
                fwd = _time(lambda m=m, x=x: m(x), repeat)
            xg = x.clone().requires_grad_(True)

            def fb(m=m, xg=xg):
                m(xg).sum().backward()

            both = _time(fb, repeat)
            print(f"1-D SnakeBeta [1, {c}, {length}] {name:>17}: fwd {fwd:7.1f} ms  "
                  f"fwd+bwd {both:7.1f} ms")


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

            for name, g in [("torch composition", plain), ("bandlimit", fused)]:
                with torch.no_grad():
                    fwd = _time(g, repeat)
                print(f"2-D {act} [{n}, {c}, {hw}, {hw}] {name:>17}: fwd {fwd:7.1f} ms")


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
    bench_1d(args.repeat)
    bench_2d(args.repeat)
