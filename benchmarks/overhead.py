"""Fixed cost per call: the ops on inputs so small that the arithmetic is negligible.

What a call costs besides its arithmetic -- argument checks, filter normalisation, dispatch,
the custom op's autograd plumbing, planning, launches -- is what a streaming vocoder (BigVGAN on
short chunks: a hundred-odd activation calls per forward) or a small model pays on every call.
Run ``python -m benchmarks.overhead [--device cpu|cuda]``.

Prints microseconds per call (median of ``--repeat`` rounds; every variant of a case timed
round-robin in each round, so load on the machine hits all alike) for the forward without
autograd and for forward + backward, and the number of ATen operators each call dispatches
(counted with a ``TorchDispatchMode``; on a GPU nearly each one is a kernel launch). Peers on
the same inputs: alias-free-torch's ``Activation1d`` (the module bandlimit's replaces) and the
'ref' backend (plain PyTorch ops). On a GPU the times are host time per call with a
synchronisation per round (the inputs are too small for the GPU to be the bottleneck), and a
last table times the remedy for such calls: the BigVGAN block captured in a CUDA graph and
replayed, against its eager calls.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks._record import RESULTS, environment, write


class _CountOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.counts: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn) -> collections.Counter:
    """ATen (and custom) operators one call of ``fn`` dispatches."""
    with _CountOps() as mode:
        fn()
    return mode.counts


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_interleaved(fns, device: str, rounds: int, calls: int) -> list[float]:
    """Median microseconds per call of each of ``fns``: ``rounds`` rounds, each running every
    function ``calls`` times in turn."""
    for fn in fns:
        for _ in range(max(3, calls // 4)):
            fn()
    _sync(device)
    ts: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, t in zip(fns, ts):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            _sync(device)
            t.append((time.perf_counter() - t0) / calls * 1e6)
    return [statistics.median(t) for t in ts]


def _fwd(fn, x):
    def run():
        with torch.no_grad():
            fn(x)
    return run


def _fwd_bwd(fn, x):
    xg = x.detach().clone().requires_grad_()

    def run():
        fn(xg).sum().backward()
    return run


def cases(device: str, impls: list[str]):
    """``(case name, [(variant name, fn), ...], input)`` of the benchmark."""
    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc
    from bandlimit.nn.activation import SnakeBeta
    from bandlimit.nn.bigvgan import Activation1d

    out = []
    torch.manual_seed(0)
    # BigVGAN's activation block: SnakeBeta, ratio 2, 12 taps, replicate padding, 1-D.
    act = SnakeBeta(16, alpha_logscale=True).to(device)
    ours = Activation1d(act).to(device)
    variants = [(f"bandlimit {i}", _with_impl(ours, i)) for i in impls]
    try:
        import alias_free_torch

        variants.append(("alias-free-torch", alias_free_torch.Activation1d(act).to(device)))
    except ImportError:
        pass
    out.append(("Activation1d(SnakeBeta) [1, 16, 64]", variants, torch.randn(1, 16, 64,
                                                                             device=device)))
    # A StyleGAN3 layer's filtered leaky ReLU: up 2, 12-tap filters, bias, clamp.
    f = kaiser_sinc(12, 0.25, 0.2, 2.0).to(device)
    b = torch.randn(16, device=device)

    def flrelu(impl):
        return lambda x: ops.filtered_lrelu(x, f, f, b, up=2, down=2, padding=10, clamp=256.0,
                                            impl=impl)
    out.append(("filtered_lrelu u2 d2 k12 [1, 16, 16, 16]",
                [(i, flrelu(i)) for i in ["ref", *impls]],
                torch.randn(1, 16, 16, 16, device=device)))

    def up2d(impl):
        return lambda x: ops.upfirdn2d(x, f, up=2, padding=(6, 5), impl=impl)
    out.append(("upfirdn2d up 2 k12 [1, 16, 16, 16]", [(i, up2d(i)) for i in ["ref", *impls]],
                torch.randn(1, 16, 16, 16, device=device)))

    def bact(impl):
        return lambda x: ops.bias_act(x, b, act="lrelu", clamp=256.0, impl=impl)
    out.append(("bias_act lrelu [1, 16, 16, 16]", [(i, bact(i)) for i in ["ref", *impls]],
                torch.randn(1, 16, 16, 16, device=device)))
    return out


def _capture(fn):
    """``fn`` captured in a CUDA graph (after warm-up calls on a side stream, as PyTorch's
    capture rules ask)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


def graph_rows(rounds: int, calls: int) -> list:
    """The remedy for host-bound small calls on a GPU: the BigVGAN block's forward and
    forward+backward (input and snake parameters) captured in a CUDA graph and replayed,
    against the same eager calls, µs per call; bandlimit's 'cuda' and alias-free-torch. A
    capture that fails is reported, not raised."""
    from bandlimit.nn.activation import SnakeBeta
    from bandlimit.nn.bigvgan import Activation1d

    torch.manual_seed(0)
    act = SnakeBeta(16, alpha_logscale=True).to("cuda")
    blocks = [("bandlimit cuda", Activation1d(act).to("cuda"))]
    try:
        import alias_free_torch

        blocks.append(("alias-free-torch", alias_free_torch.Activation1d(act).to("cuda")))
    except ImportError:
        pass
    rows = []
    for name, block in blocks:
        x = torch.randn(1, 16, 64, device="cuda", requires_grad=True)

        def fwd(block=block, x=x):
            with torch.no_grad():
                return block(x)

        def fwd_bwd(block=block, x=x):
            return torch.autograd.grad(block(x).sum(), [x, act.alpha, act.beta])

        row = {"variant": name}
        for key, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
            try:
                graph = _capture(fn)
                row[key] = time_interleaved([fn, graph.replay], "cuda", rounds, calls)
            except Exception as e:  # a finding to print, not a crash
                row[key] = f"{type(e).__name__}: {e}"
        rows.append(row)
    return rows


def stream_rows(device: str, rounds: int, calls: int) -> list:
    """Streaming: µs per chunk of BigVGAN's block on ``[1, C, 64]`` chunks, forward without
    autograd, through ``Activation1d.stream()`` (the whole signal's outputs) against the block
    on each chunk alone (the cost floor, but wrong near every boundary)."""
    from bandlimit.nn.activation import SnakeBeta
    from bandlimit.nn.bigvgan import Activation1d

    rows = []
    for channels in (16, 512):
        torch.manual_seed(0)
        block = Activation1d(SnakeBeta(channels, alpha_logscale=True)).to(device)
        chunk = torch.randn(1, channels, 64, device=device)
        stream = block.stream()

        def alone(block=block, chunk=chunk):
            with torch.no_grad():
                block(chunk)

        def streamed(stream=stream, chunk=chunk):
            with torch.no_grad():
                stream(chunk)

        t_alone, t_stream = time_interleaved([alone, streamed], device, rounds, calls)
        rows.append({"case": f"[1, {channels}, 64] chunks", "alone_us": t_alone,
                     "stream_us": t_stream})
    return rows


def _with_impl(module, impl: str):
    """``module`` as a function of its input, run with ``impl`` as what 'auto' resolves to."""
    from bandlimit.ops import set_default_impl

    def run(x):
        set_default_impl(impl)
        try:
            return module(x)
        finally:
            set_default_impl(None)
    return run


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON record")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    impls = ["numba"] if args.device == "cpu" else ["cuda"]
    print(f"# overhead — {time.strftime('%Y-%m-%d %H:%M:%S')}, {args.device}, "
          f"{os.cpu_count()} CPUs, {args.threads} thread(s), torch {torch.__version__}"
          + (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else ""))
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    rows = []
    for name, variants, x in cases(args.device, impls):
        print(f"\n{name}")
        print(f"  {'variant':<18} {'fwd µs':>8} {'ops':>4} {'fwd+bwd µs':>11} {'ops':>4}")
        fwd = time_interleaved([_fwd(fn, x) for _, fn in variants], args.device, args.rounds,
                               args.calls)
        fb = time_interleaved([_fwd_bwd(fn, x) for _, fn in variants], args.device, args.rounds,
                              max(1, args.calls // 2))
        for (vname, fn), t_f, t_fb in zip(variants, fwd, fb):
            n_f = sum(count_ops(_fwd(fn, x)).values())
            n_fb = sum(count_ops(_fwd_bwd(fn, x)).values())
            print(f"  {vname:<18} {t_f:8.1f} {n_f:4d} {t_fb:11.1f} {n_fb:4d}")
            rows.append({"case": name, "variant": vname, "fwd_us": t_f, "fwd_ops": n_f,
                         "fwd_bwd_us": t_fb, "fwd_bwd_ops": n_fb})
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("\nStreaming: BigVGAN's block per 64-sample chunk, forward, µs (stream(): the whole "
          "signal's outputs; alone: the block on each chunk, wrong at its edges)")
    streams = stream_rows(args.device, args.rounds, args.calls)
    for r in streams:
        print(f"  {r['case']:<20} alone {r['alone_us']:8.1f}   stream {r['stream_us']:8.1f}")
    graphs = []
    if args.device == "cuda":
        print("\nCUDA graphs: the BigVGAN block [1, 16, 64] captured and replayed, µs per call")
        print(f"  {'variant':<18} {'fwd eager':>10} {'replay':>8} {'fwd+bwd eager':>14} "
              f"{'replay':>8}")
        graphs = graph_rows(args.rounds, args.calls)
        for g in graphs:
            cells = [f"{v[0]:10.1f} {v[1]:8.1f}" if isinstance(v, list) else f"failed: {v}"
                     for v in (g["fwd"], g["fwd_bwd"])]
            print(f"  {g['variant']:<18} {cells[0]}    {cells[1]}")
    meta = environment(args.threads, args.device, rounds=args.rounds, calls=args.calls)
    return write(f"overhead-{args.device}",
                 {"meta": meta, "rows": rows, "graphs": graphs, "streams": streams}, args.results)


if __name__ == "__main__":
    main()
