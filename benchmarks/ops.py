"""Benchmark of bandlimit.ops backends on StyleGAN3's real layer configurations.

Run ``python -m benchmarks.ops`` (or ``make bench``). For each of the 15 ``filtered_lrelu`` layers
of
StyleGAN3-T at 256² (batch 1, channels capped at 64, input = the modulated conv's output), and for a
few ``upfirdn2d`` resampling cases, it times forward and forward+backward of every backend in one
process, interleaving the backends inside each repetition so that machine noise hits them alike,
and reports medians, the numba/ref speed-up, and the achieved GFLOP/s of the polyphase multiply-adds
against this machine's float32 matmul rate measured in the same run (the practical ceiling).

Baselines:
* ``ref``   bandlimit's PyTorch backend (polyphase ``conv_transpose2d`` up-stage, strided conv
            down-stage) — already about 2× the official reference path.
* ``naive`` the textbook composition (zero-insertion, zero-pad, dense conv2d, subsample) that the
            official reference path computes; a calibration point for the published figures.
* ``numba`` the fused Numba kernels.

Results are written as JSON under ``benchmarks/results/``; paste the printed table into
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from bandlimit.filters import stylegan3_schedule
from bandlimit.ops import filtered_lrelu, upfirdn2d
from benchmarks._record import RESULTS, environment, write

# ------------------------------------------------------------------------------------------
# The textbook composition (what the official CPU path does), for calibration only.


def _naive_upfirdn(x, f, up, down, pad, gain):
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, list(pad))
    if f is None:
        f = x.new_ones(1, 1)
    f = f.to(x.dtype)
    if f.ndim == 1:
        f2 = torch.outer(f, f)
    else:
        f2 = f
    f2 = (f2 * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, f2, groups=c)
    return x[:, :, ::down, ::down]


def naive_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    if b is not None:
        x = x + b[None, :, None, None]
    x = _naive_upfirdn(x, fu, up, 1, padding, up * up)
    x = F.leaky_relu(x, slope) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return _naive_upfirdn(x, fd, 1, down, (0, 0, 0, 0), 1.0)


# ------------------------------------------------------------------------------------------
# Cost model: multiply-adds of the polyphase pipeline (separable passes, or full 2-D filters).


def flrelu_macs(h, w, fu, fd, up, down, pad):
    ku = 1 if fu is None else fu.shape[-1]
    kd = 1 if fd is None else fd.shape[-1]
    wu = w * up + pad[0] + pad[1] - ku + 1
    hu = h * up + pad[2] + pad[3] - ku + 1
    wo, ho = (wu - kd) // down + 1, (hu - kd) // down + 1
    if fu is None or fu.ndim == 1:
        macs = h * wu * ku / up + hu * wu * ku / up
    else:
        macs = hu * wu * ku * ku / (up * up)
    if fd is None or fd.ndim == 1:
        macs += hu * wo * kd + ho * wo * kd
    else:
        macs += ho * wo * kd * kd
    return macs


def matmul_gflops(reps: int = 5, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


# ------------------------------------------------------------------------------------------


def _time(fn, reps_inner=1):
    t = time.perf_counter()
    for _ in range(reps_inner):
        fn()
    return (time.perf_counter() - t) / reps_inner


def bench_cases(cases, impls, reps, backward):
    rows = []
    for case in cases:
        x0 = case["x"]
        timings = {impl: [] for impl in impls}
        for rep in range(reps + 1):  # the first repetition warms up (compile, allocator)
            for impl in impls:
                x = x0.detach().clone().requires_grad_(backward)
                fn = case["fns"][impl]

                def run(x=x, fn=fn):
                    y = fn(x)
                    if backward:
                        y.backward(torch.ones_like(y))

                dt = _time(run)
                if rep > 0:
                    timings[impl].append(dt)
        med = {impl: statistics.median(timings[impl]) for impl in impls}
        rows.append({"name": case["name"], "macs": case["macs"], "median_s": med})
    return rows


def flrelu_cases(resolution, config, channels, impls):
    sched = stylegan3_schedule(resolution, config=config)
    cases = []
    for i, layer in enumerate(sched.layers):
        fu, fd = sched.layer_filters(i)
        c = min(layer.out_channels, channels)  # the op sees the conv output
        h, w = (s + layer.conv_kernel - 1 for s in layer.in_size)
        x = torch.randn(1, c, h, w)
        b = torch.randn(c) * 0.1
        kw = dict(
            up=layer.up_factor,
            down=layer.down_factor,
            padding=layer.padding,
            gain=layer.flrelu_gain,
            slope=layer.flrelu_slope,
            clamp=layer.flrelu_clamp,
        )
        fns = {}
        for impl in impls:
            if impl == "naive":
                fns[impl] = lambda x, fu=fu, fd=fd, b=b, kw=kw: naive_filtered_lrelu(
                    x, fu, fd, b, **kw
                )
            else:
                fns[impl] = lambda x, fu=fu, fd=fd, b=b, kw=kw, impl=impl: filtered_lrelu(
                    x, fu, fd, b, impl=impl, **kw
                )
        macs = flrelu_macs(h, w, fu, fd, layer.up_factor, layer.down_factor, layer.padding) * c
        cases.append(
            {
                "name": f"{layer.name} {h}px u{layer.up_factor}d{layer.down_factor}",
                "x": x,
                "fns": fns,
                "macs": macs,
            }
        )
    return cases


def upfirdn_cases(impls, channels):
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]).repeat_interleave(3)  # 12 taps
    f = f / f.sum()
    specs = [
        ("up2 128px 12tap", 128, dict(up=2, padding=(6, 5))),
        ("down2 256px 12tap", 256, dict(down=2, padding=(5, 5))),
    ]
    cases = []
    for name, size, kw in specs:
        x = torch.randn(1, channels, size, size)
        fns = {
            impl: (lambda x, kw=kw, impl=impl: upfirdn2d(x, f, impl=impl, **kw))
            for impl in impls
            if impl != "naive"
        }
        up, down = kw.get("up", 1), kw.get("down", 1)
        out = (size * up) // down
        macs = (
            channels * (size * out * 12 / up + out * out * 12 / up)
            if up > 1
            else channels * (size * out * 12 + out * out * 12)
        )
        cases.append({"name": name, "x": x, "fns": fns, "macs": macs})
    return cases


def first_call_latency(env_extra: dict) -> float:
    """Seconds for a fresh process to run its first numba filtered_lrelu (compile or cache load)."""
    code = (
        "import time, torch; from bandlimit.ops import filtered_lrelu;"
        "f=torch.ones(12)/12; x=torch.randn(1,4,20,20,requires_grad=True);"
        "t=time.perf_counter(); y=filtered_lrelu(x,f,f,up=2,down=2,padding=9,impl='numba');"
        "y.sum().backward(); print(time.perf_counter()-t)"
    )
    env = dict(os.environ, **env_extra)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def format_table(rows, impls, ceiling, title):
    lines = [
        f"### {title}",
        "",
        "| case | "
        + " | ".join(f"{i} ms" for i in impls)
        + " | numba/ref | numba GFLOP/s | % of matmul |",
        "|---|" + "---|" * (len(impls) + 3),
    ]
    speedups = []
    for r in rows:
        med = r["median_s"]
        sp = med["ref"] / med["numba"] if "numba" in med and "ref" in med else float("nan")
        speedups.append(sp)
        gf = (
            2 * r["macs"] * r.get("passes", 1) / med["numba"] / 1e9
            if "numba" in med
            else float("nan")
        )
        r["gflops_numba"], r["speedup"] = gf, sp
        lines.append(
            f"| {r['name']} | "
            + " | ".join(f"{med[i] * 1e3:.2f}" for i in impls)
            + f" | {sp:.1f}× | {gf:.1f} | {100 * gf / ceiling:.0f}% |"
        )
    geo = math.exp(statistics.mean(math.log(s) for s in speedups))
    lines.append(f"\ngeometric-mean speed-up numba/ref: {geo:.2f}×, min {min(speedups):.2f}×")
    return "\n".join(lines), geo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-naive", action="store_true", help="skip the slow textbook baseline")
    p.add_argument("--quick", action="store_true", help="3 repetitions, no latency probe")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: 'ref' vs 'cuda', StyleGAN3-T 1024 / -R 256 (benchmarks/ops_cuda.py)")
    args = p.parse_args(argv)
    if args.device == "cuda":
        from benchmarks.ops_cuda import main_cuda, save

        save(main_cuda(args), RESULTS)
        return
    torch.set_num_threads(args.threads)
    import numba

    numba.set_num_threads(args.threads)
    reps = 3 if args.quick else args.reps
    impls = ["ref", "numba"] if args.no_naive else ["naive", "ref", "numba"]

    ceiling = matmul_gflops()
    meta = environment(args.threads, matmul_gflops_f32=ceiling, reps=reps,
                       channels_cap=args.channels)
    print(
        f"# bandlimit.ops benchmark — {meta['date']}, {meta['cpu_count']} CPUs, "
        f"{args.threads} threads, torch {meta['torch']}, numba {meta['numba']}"
    )
    print(f"float32 matmul ceiling: {ceiling:.1f} GFLOP/s\n")

    results = {"meta": meta}
    cases = flrelu_cases(args.resolution, "T", args.channels, impls)
    for backward, label in [(False, "forward"), (True, "forward+backward")]:
        rows = bench_cases(cases, impls, reps, backward)
        for r in rows:
            r["passes"] = 2 if backward else 1  # backward costs about one more forward
        table, geo = format_table(
            rows, impls, ceiling, f"filtered_lrelu, StyleGAN3-T {args.resolution}², {label}"
        )
        print(table, "\n")
        results[f"filtered_lrelu_{label}"] = {"rows": rows, "geomean_speedup": geo}
    up_impls = [i for i in impls if i != "naive"]
    for backward, label in [(False, "forward"), (True, "forward+backward")]:
        rows = bench_cases(upfirdn_cases(up_impls, args.channels), up_impls, reps, backward)
        for r in rows:
            r["passes"] = 2 if backward else 1
        table, geo = format_table(rows, up_impls, ceiling, f"upfirdn2d, {label}")
        print(table, "\n")
        results[f"upfirdn2d_{label}"] = {"rows": rows, "geomean_speedup": geo}

    if not args.quick:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_call_latency({"NUMBA_CACHE_DIR": cache})
            warm = first_call_latency({"NUMBA_CACHE_DIR": cache})
        print(
            f"first numba call in a fresh process: {cold:.1f} s with an empty cache, "
            f"{warm:.2f} s with the on-disk cache"
        )
        results["first_call_s"] = {"cold_cache": cold, "warm_cache": warm}

    for val in results.values():
        if isinstance(val, dict) and "rows" in val:
            for r in val["rows"]:
                r.pop("x", None)
    print()
    write("ops", results)


if __name__ == "__main__":
    main()
