"""What the 'ref' backend's autograd holds, and what recomputing costs.

Run ``python -m benchmarks.ref_autograd`` (``--device cuda`` on a GPU). The 'ref' filtered
activations hold only their inputs for autograd and recompute the up-sampled signal in their
backward, and the 'ref' upfirdn ops hold nothing (their backward is the adjoint op). Both are
compared here, in one run, with autograd through the same composition of PyTorch ops (what
'ref' did before: ``reference._records_eagerly`` switched off), on
StyleGAN3-T layers (``filtered_lrelu``, the schedule's filters and channels), a BigVGAN-shaped
Snake layer (1-D), a GELU volume (3-D) and a separable up-sampling (``upfirdn2d``).
``--impl cuda`` (on a GPU) compares the same way the CUDA backend, whose smooth backward
recomputes the up-sampled pre-activation, with its forward writing it for the backward (what
it did before: ``_ops.SAVE_U_IN_FORWARD``):

* ``held``: the bytes autograd saved for the backward (``saved_tensors_hooks``), as a multiple
  of the input's bytes; exact, the same on every machine;
* ``fwd+bwd``: median milliseconds of forward + backward, the two variants interleaved run by
  run (``benchmarks.activations._time_interleaved``);
* on CUDA, ``peak``: ``torch.cuda.max_memory_allocated`` over one forward + backward, beyond
  the input, as a multiple of the input's bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch

from bandlimit import ops
from bandlimit.ops import reference
from benchmarks._record import RESULTS, environment, write
from benchmarks.activations import _time_interleaved


def _cases(device: str, batch: int, resolution: int,
           impl: str = "ref") -> dict[str, tuple[Callable, tuple]]:
    """``name -> (op(x, *params), (x, *params))`` with every tensor requiring grad."""
    from benchmarks.ops_cuda import layer_cases

    g = torch.Generator().manual_seed(0)

    def t(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * scale).to(device).requires_grad_(True)

    cases: dict[str, tuple[Callable, tuple]] = {}
    layers = layer_cases(resolution, "T", batch)
    for i in (0, len(layers) // 2, len(layers) - 2):  # a small, a middle and the last big layer
        case = layers[i]
        fu, fd = (f.to(device) for f in (case["fu"], case["fd"]))
        kw = case["kw"]
        cases[case["name"]] = (
            lambda x, b, fu=fu, fd=fd, kw=kw: ops.filtered_lrelu(x, fu, fd, b, impl=impl, **kw),
            (t(*case["shape"]), t(case["shape"][1], scale=0.1)))
    f12 = torch.kaiser_window(12, periodic=False, beta=8.0).to(device)
    f12 = f12 / f12.sum()
    cases[f"BigVGAN snake 1-D [{batch}, 512, 8192]"] = (
        lambda x, a: ops.filtered_act1d(x, "snake", f12, f12, up=2, down=2, padding=(6, 5),
                                        padding_mode="replicate", down_padding=(5, 6),
                                        alpha=a, impl=impl),
        (t(batch, 512, 8192), t(512).detach().abs().add(0.5).requires_grad_(True)))
    cases["GELU 3-D [1, 16, 16, 32, 32]"] = (
        lambda x: ops.filtered_act3d(x, "gelu", f12, f12, up=2, down=2, padding=(6, 5) * 3,
                                     padding_mode="replicate", down_padding=(5, 6) * 3,
                                     impl=impl),
        (t(1, 16, 16, 32, 32),))
    cases[f"upfirdn2d up 2 [{batch}, 128, 128, 128]"] = (
        lambda x: ops.upfirdn2d(x, f12, up=2, padding=(6, 5, 6, 5), impl=impl),
        (t(batch, 128, 128, 128),))
    return cases


def _held(op: Callable, inputs: tuple) -> int:
    """The bytes autograd saves for the backward of ``op(*inputs)``."""
    saved: list[int] = []

    def pack(v: torch.Tensor) -> torch.Tensor:
        saved.append(v.numel() * v.element_size())
        return v

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda v: v):
        op(*inputs)
    return sum(saved)


def _composition() -> contextlib.AbstractContextManager:
    """Within it, 'ref' runs as autograd through its composition (what it was before)."""
    return mock.patch.object(reference, "_records_eagerly", lambda *args: False)


def _saved_u() -> contextlib.AbstractContextManager:
    """Within it, the CUDA backend's fused forward writes u for its backward (what it did
    before), instead of the backward recomputing it."""
    from bandlimit.ops.cuda import _ops

    return mock.patch.object(_ops, "SAVE_U_IN_FORWARD", True)


# impl -> (the variant now, the variant before, the context that runs the one before)
VARIANTS = {"ref": ("recompute", "composition", _composition),
            "cuda": ("recompute", "saved_u", _saved_u)}


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu")
    p.add_argument("--impl", choices=sorted(VARIANTS), default="ref",
                   help="the backend measured ('cuda': on a GPU with the extension)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--resolution", type=int, default=256, help="of the StyleGAN3-T layers")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", default="", help="run the cases whose name contains this")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    now, before, context = VARIANTS[args.impl]
    print(f"load average before: {os.getloadavg()}")
    rows = []
    for name, (op, inputs) in _cases(args.device, args.batch, args.resolution,
                                     args.impl).items():
        if args.only not in name:
            continue
        x = inputs[0]
        x_bytes = x.numel() * x.element_size()
        dy = torch.randn_like(op(*inputs).detach())

        def step(old: bool, op=op, inputs=inputs, dy=dy) -> Callable[[], None]:
            def run() -> None:
                with context() if old else contextlib.nullcontext():
                    torch.autograd.grad(op(*inputs), inputs, dy)
                if cuda:
                    torch.cuda.synchronize()
            return run

        row: dict = {"case": name, "shape": list(x.shape)}
        for variant, old in ((now, False), (before, True)):
            with context() if old else contextlib.nullcontext():
                row[f"{variant}_held_x"] = _held(op, inputs) / x_bytes
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                step(old)()
                row[f"{variant}_peak_x"] = (torch.cuda.max_memory_allocated() - base) / x_bytes
        ms = _time_interleaved([step(False), step(True)], args.repeat)
        row.update({f"{now}_ms": ms[0], f"{before}_ms": ms[1]})
        rows.append(row)
        peak = (f", peak {row[f'{now}_peak_x']:.1f}x vs {row[f'{before}_peak_x']:.1f}x"
                if cuda else "")
        print(f"{name} ({args.impl}, {now} vs {before}): held {row[f'{now}_held_x']:.2f}x vs "
              f"{row[f'{before}_held_x']:.2f}x "
              f"the input{peak}; fwd+bwd {ms[0]:.1f} ms vs {ms[1]:.1f} ms "
              f"({ms[0] / ms[1]:.2f}x)")
    print(f"load average after: {os.getloadavg()}")
    meta = environment(args.threads, args.device, batch=args.batch, impl=args.impl,
                       resolution=args.resolution, repeat=args.repeat)
    return write(f"{args.impl}-autograd", {"meta": meta, "rows": rows}, args.results)


if __name__ == "__main__":
    main()
