"""Probe of the fused CUDA kernel on a few StyleGAN3 layers: launch-shape sweep, and a single-case
mode for profilers (``ncu``).

``python -m benchmarks.cuda_probe``: for each probe layer, the op's forward and forward+backward
(float32, as ``benchmarks.ops --device cuda`` times them), then the forward kernel alone (fast
specialisation, with and without the mask) and the mask backward kernel alone, timed over block
sizes, output-tile caps and strips or not (the production launch first, then the same tiles
without strips), side by side, median of CUDA-event timings; the 48² and 64² tiles opt in to
more than the portable 48 KB of shared memory per block (``smem_limit``).
``--case NAME --launches N``: run only that layer's forward N times (for ``ncu -k
regex:filtered_act --launch-skip ...``). GPU only.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.ops_cuda import _cuda_time, kernel_call, layer_cases, run_case, tile_plans

PROBES = ("T1024 L10_1044_81", "T1024 L12_1044_32", "R256 L10_276_512", "R256 L8_148_1024",
          "T1024 L0_36_512")
MID_SMEM, BIG_SMEM = 100 * 1024, 200 * 1024  # below every opt-in maximum since sm_80 (227 KB)
# (block threads, output-tile cap (0: the launcher's), shared-memory limit (0: the portable
# 48 KB), strip rows (0: the launcher's choice, -1: every tile one strip)). The first is the
# production launch, the second the same tiles without strips (the planner before session 20).
# Within 48 KB the up-4 layers' mask backward gets only 14 x 15 one-strip output tiles (1.8
# intermediate samples computed per one kept; 200 KB: 32 x 32, 1.3) and their strips 15 x 89
# in strips of 12 rows (about 1.35). The probe prints the plan of each launch.
SWEEP = ((128, 0, 0, 0), (128, 0, 0, -1), (256, 0, 0, 0), (256, 0, 0, -1),
         (128, 32, MID_SMEM, -1), (128, 48, MID_SMEM, -1), (128, 0, MID_SMEM, 0),
         (128, 32, BIG_SMEM, -1), (256, 48, BIG_SMEM, -1), (256, 64, BIG_SMEM, -1))


def _sweep_header(*columns: str) -> None:
    """A markdown table header: case, ``columns``, then one column per SWEEP launch."""
    names = [f"{t}/{m or '-'}{'*' * (s // MID_SMEM)}{' 1s' if r < 0 else ''}"
             for t, m, s, r in SWEEP]
    print("| " + " | ".join(["case", *columns, *names]) + " |")
    print("|" + "---|" * (1 + len(columns) + len(SWEEP)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--case", default=None)
    p.add_argument("--launches", type=int, default=4)
    p.add_argument("--mask", action="store_true")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    cases = {c["name"]: c for c in layer_cases(1024, "T", 4) + layer_cases(256, "R", 4)}
    if args.case:
        call, _ = kernel_call(cases[args.case], torch.float32)
        for _ in range(args.launches):
            call(args.mask)
        torch.cuda.synchronize()
        return
    print(f"# {torch.cuda.get_device_name()}: filtered_lrelu(impl='cuda') ms, float32, as in "
          "benchmarks.ops --device cuda")
    print("| case | fwd | fwd+bwd |\n|---|---|---|")
    for name in PROBES:
        t = [run_case(cases[name], "cuda", torch.float32, bw, args.reps)[0] * 1e3
             for bw in (False, True)]
        print(f"| {name} | {t[0]:.3f} | {t[1]:.3f} |")
    print(f"\n# {torch.cuda.get_device_name()}: forward kernel ms (fast spec), by block threads / "
          "tile cap")
    _sweep_header("mask")
    for name in PROBES:
        call, _ = kernel_call(cases[name], torch.float32)
        for mask in (False, True):
            ts = [_cuda_time(lambda c=call, k=mask, t=t, m=m, s=s, r=r: c(
                k, max_tile=m, block_threads=t, smem_limit=s, strip_rows=r), args.reps) * 1e3
                for t, m, s, r in SWEEP]
            print(f"| {name} | {mask} | " + " | ".join(f"{t:.3f}" for t in ts) + " |")
    print("(threads/tile cap; -: the launcher's; *: opted in to up to 100 KB of shared memory "
          "per block, **: 200 KB; 1s: one strip per tile)")
    print("\n# output tiles (tow x toh, in strips of tsh rows) and shared memory per block the "
          "launches above take, and the planner's modelled work relative to the first column's: "
          "forward with mask / mask backward")
    _sweep_header()
    for name in PROBES:
        cells = [tile_plans(cases[name], m, s, strip_rows=r) for _, m, s, r in SWEEP]
        first = cells[0]
        print(f"| {name} | " + " | ".join(
            " / ".join(f"{p[0]}x{p[1]}:{p[2]} {p[3] // 1024}K {p[4] / f[4]:.2f}"
                       for p, f in zip(c, first, strict=True)) for c in cells) + " |")
    print(f"\n# {torch.cuda.get_device_name()}: mask backward kernel ms (fast spec), by block "
          "threads / tile cap")
    _sweep_header("kernel")
    for name in PROBES:
        call, kernel = kernel_call(cases[name], torch.float32, backward=True)
        ts = [_cuda_time(lambda c=call, t=t, m=m, s=s, r=r: c(
            max_tile=m, block_threads=t, smem_limit=s, strip_rows=r), args.reps) * 1e3
              for t, m, s, r in SWEEP]
        print(f"| {name} | {kernel} | " + " | ".join(f"{t:.3f}" for t in ts) + " |")


if __name__ == "__main__":
    main()
