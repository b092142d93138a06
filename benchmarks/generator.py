"""Throughput of the StyleGAN3 generator (examples/afgan) on bandlimit's backends.

Run ``python -m benchmarks.generator``. For configs T and R at each resolution it builds a generator
(channels scaled down by ``--cbase``/``--cmax`` so that a CPU run takes minutes, not hours), then
times G forward and forward+backward (gradient of the image sum w.r.t. every parameter) with batch
``--batch`` for each backend, interleaving the backends inside every repetition, and reports median
images/s. Results go to ``benchmarks/results/generator-*.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from bandlimit import ops
from benchmarks._record import environment, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from afgan.networks import Generator


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolutions", default="64,128,256")
    p.add_argument("--configs", default="T,R")
    p.add_argument("--impls", default="numba,ref")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--cbase", type=int, default=2048)
    p.add_argument("--cmax", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    impls = args.impls.split(",")
    rows = []
    print(
        f"# generator benchmark, batch {args.batch}, cbase {args.cbase}, cmax {args.cmax}, "
        f"{args.threads} threads, torch {torch.__version__}"
    )
    print("| config | res | impl | fwd img/s | fwd+bwd img/s |")
    print("|---|---|---|---|---|")
    for cfg in args.configs.split(","):
        for res in map(int, args.resolutions.split(",")):
            torch.manual_seed(0)
            kw = dict(conv_kernel=1, use_radial_filters=True) if cfg == "R" else {}
            G = Generator(
                z_dim=64,
                c_dim=0,
                w_dim=64,
                img_resolution=res,
                img_channels=3,
                channel_base=args.cbase,
                channel_max=args.cmax,
                mapping_kwargs={"num_layers": 2},
                **kw,
            )
            z = torch.randn(args.batch, 64)
            c = torch.zeros(args.batch, 0)
            times = {i: ([], []) for i in impls}
            for rep in range(args.reps + 1):
                for impl in impls:
                    ops.set_default_impl(impl)
                    try:
                        with torch.no_grad():
                            tf = _time(lambda G=G, z=z, c=c: G(z, c))
                        G.zero_grad(set_to_none=True)
                        tb = _time(lambda G=G, z=z, c=c: G(z, c).sum().backward())
                    finally:
                        ops.set_default_impl(None)
                    if rep > 0:  # the first repetition warms up (compile, allocator)
                        times[impl][0].append(tf)
                        times[impl][1].append(tb)
            for impl in impls:
                fwd = args.batch / statistics.median(times[impl][0])
                both = args.batch / statistics.median(times[impl][1])
                rows.append(
                    {
                        "config": cfg,
                        "resolution": res,
                        "impl": impl,
                        "fwd_img_per_s": fwd,
                        "fwd_bwd_img_per_s": both,
                    }
                )
                print(f"| {cfg} | {res} | {impl} | {fwd:.2f} | {both:.2f} |", flush=True)
    meta = environment(args.threads, batch=args.batch, cbase=args.cbase, cmax=args.cmax,
                       reps=args.reps)
    return write("generator", {"meta": meta, "rows": rows})


if __name__ == "__main__":
    main()
