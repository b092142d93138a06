"""Every CUDA kernel family once, small, forward and backward: the workload that the GPU suite's
``sanitize`` step runs under NVIDIA's compute-sanitizer (memcheck: out-of-bounds and misaligned
accesses; racecheck: shared-memory hazards between threads, warp-level ones included).

The CPU emulation checks the same kernels with ThreadSanitizer and AddressSanitizer
(``tests/ops/test_cuda_sanitizers.py``), but it runs no real warps and no real memory system: this
is the check on the hardware. The cases cover the fast specialisations (StyleGAN3-T's u2/u4
separable layers, -R's radial down filter, BigVGAN's 1-D Activation1d with its replicate
extension) and the generic kernel, the mask backward and the backward from u, float32 and float16,
with ``upfirdn2d`` and ``bias_act``, and the opt-in tensor-core pass of stage B
(``BANDLIMIT_CUDA_MMA=1``, float16). Sizes are small (the tools slow kernels by 10-100x) but span
several tiles and a partial last tile.

    compute-sanitizer --tool memcheck --error-exitcode 1 python benchmarks/cuda_sanitize.py

``--device cpu --impl ref`` runs the same calls on the CPU (a test checks the cases are valid).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import torch

from bandlimit import ops


def _lowpass(taps: int, device, dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(taps)
    f = torch.rand(taps, generator=g, dtype=torch.float64) + 0.5
    return (f / f.sum()).to(device=device, dtype=dtype)


def cases(
    device: str, impl: str, dtype: torch.dtype | None = None,
) -> list[tuple[str, str, Callable[[], list[torch.Tensor]]]]:
    """(name, op, run): ``run()`` does a forward and a backward of ``op`` ('filtered',
    'upfirdn2d' or 'bias_act') and returns the gradients. ``dtype`` replaces every case's own
    (float64: a reference for tests)."""
    dev = torch.device(device)

    def filtered(shape, dtype, act="lrelu", up=2, down=2, ku=12, kd=12, radial=False,
                 mode="zeros", clamp=256.0, tensor_cores=False, **kw):
        def run():
            if not tensor_cores:
                return run_case()
            saved = os.environ.get("BANDLIMIT_CUDA_MMA")
            os.environ["BANDLIMIT_CUDA_MMA"] = "1"  # stage B's x pass on tensor cores
            try:
                return run_case()
            finally:
                if saved is None:
                    del os.environ["BANDLIMIT_CUDA_MMA"]
                else:
                    os.environ["BANDLIMIT_CUDA_MMA"] = saved

        def run_case():
            g = torch.Generator().manual_seed(sum(shape))
            x = torch.randn(shape, generator=g).to(dev, dtype).requires_grad_()
            b = torch.randn(shape[1], generator=g).to(dev, dtype).requires_grad_()
            fu = _lowpass(ku, dev, dtype or torch.float32)
            fd = _lowpass(kd, dev, dtype or torch.float32)
            if radial:
                fd = torch.outer(fd, fd)
            leaves = [x, b]
            extra = {}
            for name in ("alpha", "beta")[: {"snake": 1, "snakebeta": 2}.get(act, 0)]:
                param = torch.rand(shape[1], generator=g) + 0.5
                extra[name] = param.to(dev, dtype or torch.float32).requires_grad_()
                leaves.append(extra[name])
            if len(shape) == 3:
                y = ops.filtered_act1d(x, act, fu, fd, b, up=up, down=down, clamp=clamp,
                                       padding_mode=mode, impl=impl, **extra, **kw)
            else:
                y = ops.filtered_act(x, act, fu, fd, b, up=up, down=down, clamp=clamp,
                                     padding_mode=mode, impl=impl, **extra, **kw)
            return list(torch.autograd.grad(y.float().square().sum(), leaves))
        return run

    def upfirdn(dtype):
        def run():
            x = torch.randn(2, 3, 37, 29).to(dev, dtype).requires_grad_()
            y = ops.upfirdn2d(x, _lowpass(12, dev, dtype), up=2, down=1, padding=(6, 5),
                              impl=impl)
            return list(torch.autograd.grad(y.float().square().sum(), [x]))
        return run

    def bias_act(dtype):
        def run():
            x = torch.randn(2, 5, 9, 11).to(dev, dtype).requires_grad_()
            b = torch.randn(5).to(dev, dtype).requires_grad_()
            y = ops.bias_act(x, b, act="lrelu", clamp=0.5, impl=impl)
            return list(torch.autograd.grad(y.float().square().sum(), [x, b]))
        return run

    f32, f16 = dtype or torch.float32, dtype or torch.float16
    t = {"padding": 11}
    bigvgan = {"clamp": None, "padding": (6, 5), "down_padding": (5, 6), "mode": "replicate"}
    return [
        ("T u2 lrelu mask", "filtered", filtered((2, 4, 41, 37), f32, **t)),
        ("T u4 lrelu mask", "filtered", filtered((2, 3, 29, 35), f32, up=4, ku=24, **t)),
        ("R u4 lrelu radial", "filtered",
         filtered((1, 3, 23, 26), f32, up=4, ku=24, radial=True, **t)),
        ("T u2 lrelu f16", "filtered", filtered((2, 4, 41, 37), f16, **t)),
        ("T u4 lrelu f16 tensor cores", "filtered",
         filtered((2, 3, 29, 35), f16, up=4, ku=24, tensor_cores=True, **t)),
        ("2-D snakebeta (u)", "filtered",
         filtered((2, 3, 33, 30), f32, act="snakebeta", clamp=None, **t)),
        ("generic gelu u3/d2", "filtered",
         filtered((1, 2, 19, 23), f32, act="gelu", up=3, ku=7, kd=5, clamp=None, padding=4)),
        ("BigVGAN 1-D snake", "filtered", filtered((2, 4, 301), f32, act="snake", **bigvgan)),
        ("BigVGAN 1-D snakebeta f16", "filtered",
         filtered((2, 4, 301), f16, act="snakebeta", **bigvgan)),
        ("upfirdn2d", "upfirdn2d", upfirdn(f32)),
        ("bias_act", "bias_act", bias_act(f32)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--impl", default="cuda")
    args = ap.parse_args()
    for name, _, run in cases(args.device, args.impl):
        grads = run()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        finite = all(bool(torch.isfinite(g).all()) for g in grads)
        print(f"{name}: {'ok' if finite else 'NON-FINITE GRADIENT'}")
        if not finite:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
