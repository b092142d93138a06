"""``bandlimit.ops.conv2d_resample`` on StyleGAN2's layer shapes, against its definition.

The op runs an up-sampling convolution as a stride-``up`` ``conv_transpose2d`` followed by the
FIR filter, and a down-sampling one as the FIR filter followed by a stride-``down`` convolution.
The baseline, "definition", computes the same result as the op is defined (and as a direct port
would): FIR up-sampling of the input, the convolution at the up-sampled rate, FIR
down-sampling; in plain PyTorch with bandlimit's 'ref' FIR stages. Both run float32 on the CPU,
interleaved per repetition (medians in ms), forward and forward+backward (the gradient of the
sum with respect to the input and the weight). Multiply-adds count the convolution at the rate
it runs in each variant.

    python -m benchmarks.conv_resample [--threads N] [--repeat R] [--scale S] [--out DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bandlimit import ops
from benchmarks._record import RESULTS, environment, load_average, write

# (name, batch, C_in, C_out, input side, kernel, up, down): StyleGAN2 config-f's generator
# up-sampling convolutions and its residual discriminator's down-sampling conv1 and skip.
CASES = [
    ("G conv0 32→64", 4, 256, 256, 32, 3, 2, 1),
    ("G conv0 64→128", 4, 128, 128, 64, 3, 2, 1),
    ("D conv1 64→32", 4, 128, 256, 64, 3, 1, 2),
    ("D skip 64→32 (1×1)", 4, 128, 256, 64, 1, 1, 2),
    ("plain 3×3 at 32", 4, 256, 256, 32, 3, 1, 1),
]


def by_definition(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor, up: int, down: int,
                  padding: int) -> torch.Tensor:
    """The op's definition, stage by stage (the convolution at the up-sampled rate)."""
    taps = f.shape[-1]
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + (taps + up - 1) // 2, p1 + (taps - up) // 2
    if down > 1:
        p0, p1 = p0 + (taps - down + 1) // 2, p1 + (taps - down) // 2
    a = ops.upfirdn2d(x, f if up > 1 else None, up=up, padding=(p0, p1, p0, p1), gain=up * up,
                      impl="ref")
    b = F.conv2d(a, w)
    return ops.upfirdn2d(b, f, down=down, impl="ref") if down > 1 else b


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the channel counts")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    meta = environment(threads=args.threads, repeat=args.repeat, scale=args.scale)
    print(f"# conv2d_resample — {meta['date']}, {meta['cpu_count']} CPUs, {args.threads} "
          f"threads, torch {meta['torch']}, numba {meta.get('numba')}; {load_average()}\n")
    print("| case | shape in → out | definition ms | ref ms | numba ms | definition / numba | "
          "numba GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    f = ops.setup_filter([1, 3, 3, 1])
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name, n, c_in, c_out, side, k, up, down in CASES:
        c_in, c_out = max(1, round(c_in * args.scale)), max(1, round(c_out * args.scale))
        x = torch.randn(n, c_in, side, side, generator=gen, requires_grad=True)
        w = torch.randn(c_out, c_in, k, k, generator=gen, requires_grad=True)
        fns = {
            "definition": lambda x=x, w=w, up=up, down=down, k=k: by_definition(
                x, w, f, up, down, k // 2),
            "ref": lambda x=x, w=w, up=up, down=down, k=k: ops.conv2d_resample(
                x, w, f, up, down, k // 2, impl="ref"),
            "numba": lambda x=x, w=w, up=up, down=down, k=k: ops.conv2d_resample(
                x, w, f, up, down, k // 2, impl="numba"),
        }
        y = fns["numba"]()
        torch.testing.assert_close(y, fns["definition"](), rtol=1e-4, atol=1e-3)
        variants = {}
        for key, fn in fns.items():
            variants[key] = lambda fn=fn: fn().detach()
            variants[key + "+bwd"] = lambda fn=fn, x=x, w=w: torch.autograd.grad(
                fn().sum(), (x, w))
        for fn in variants.values():  # warm-up (numba loads its cache)
            fn()
        times: dict[str, list[float]] = {key: [] for key in variants}
        for _ in range(args.repeat):
            for key, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        ms = {key: statistics.median(v) * 1e3 for key, v in times.items()}
        # the convolution's multiply-adds at the rate the op runs it (the input's for up, the
        # output's for down), ×2 flops
        low = side * side if up > 1 else y.shape[2] * y.shape[3]
        gflops = 2 * n * c_in * c_out * k * k * low / (ms["numba"] * 1e-3) / 1e9
        rows.append(dict(case=name, batch=n, c_in=c_in, c_out=c_out, side=side, kernel=k, up=up,
                         down=down, ms=ms, numba_gflops=gflops))
        shape = f"[{n}, {c_in}, {side}²] → [{n}, {c_out}, {y.shape[2]}²]"
        for suffix, label in (("", "fwd"), ("+bwd", "fwd+bwd")):
            d, r, nb = (ms[k + suffix] for k in ("definition", "ref", "numba"))
            rate = f"{gflops:.1f}" if not suffix else ""
            print(f"| {name} {label} | {shape} | {d:.1f} | {r:.1f} | {nb:.1f} | {d / nb:.1f}× | "
                  f"{rate} |")
    print(f"\n{load_average()}")
    record = {"meta": meta, "rows": rows}
    write("conv_resample", record, args.out)
    return record


if __name__ == "__main__":
    main()
