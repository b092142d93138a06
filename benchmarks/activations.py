"""Alias-free activations: bandlimit vs alias-free-torch (1-D SnakeBeta) and vs a plain-torch
composition (2-D GELU/SiLU). CPU float32; run with ``python benchmarks/activations.py``.

Prints milliseconds (median of ``--repeat`` runs) for the forward and forward+backward. The
variants of one size are interleaved run by run (other load on the machine then hits all of them
alike), and the load average is printed before and after: on a loaded machine every number is
inflated. Needs ``alias-free-torch`` (the test extra).

Multiply-add floor: the multiply-adds of the polyphase schedule (up-FIR: ``K_u / up`` per
up-sampled sample and axis; down-FIR: ``K_d`` per output sample and axis, separable filters),
divided by this machine's float32 matmul rate measured in the same run (``2·n³`` flops of a
``torch.mm``, the practical peak of these threads). Forward+backward counts twice the forward
(the transposed stages cost the same); bandlimit's backward also recomputes the up-FIR (nothing
is stored), so its own work is ``3·up + 2·down``. ``×floor`` is time / floor.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

import torch

from benchmarks._record import environment, load_average, write


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


def _forward(m, x):
    """``m(x)`` without autograd, as a function of nothing (for :func:`_time_interleaved`)."""
    def run():
        with torch.no_grad():
            m(x)
    return run


def _forward_backward(m, xg):
    def run():
        m(xg).sum().backward()
    return run


def matmul_gflops(repeat: int = 7, n: int = 1024) -> float:
    """float32 ``torch.mm`` rate (GFLOP/s, median) with the current torch threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    (t,) = _time_interleaved([lambda: torch.mm(a, b)], repeat)
    return 2 * n**3 / (t * 1e-3) / 1e9


def macs_1d(c: int, length: int, ku: int, kd: int, up: int, down: int) -> float:
    """Forward multiply-adds of up → act → down on ``[1, c, length]``."""
    lu, lo = length * up, length * up // down
    return c * (lu * ku / up + lo * kd)


def macs_2d(p: int, h: int, ku: int, kd: int, up: int, down: int) -> float:
    """Forward multiply-adds of the separable 2-D pipeline on ``p`` planes ``[h, h]``: the up
    stage along x (``h`` rows) then y, the down stage along x (``hu`` rows) then y."""
    hu, ho = h * up, h * up // down
    return p * (h * hu * ku / up + hu * hu * ku / up + hu * ho * kd + ho * ho * kd)


def _floor_ms(macs: float, gflops: float) -> float:
    return 2 * macs / (gflops * 1e9) * 1e3


def bench_1d(repeat: int, gflops: float, rows: list) -> None:
    import alias_free_torch as aft

    from bandlimit.nn import SnakeBeta, bigvgan

    print(
        "| shape | alias-free-torch fwd | bandlimit fwd | speed-up | floor | ×floor "
        "| alias-free-torch fwd+bwd | bandlimit fwd+bwd | speed-up | floor | ×floor |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    # short chunks first (streaming inference: the cost per channel, not per sample, dominates)
    for c, length in [(512, 64), (512, 256), (512, 4096), (128, 16384), (32, 65536)]:
        act = SnakeBeta(c, alpha_logscale=True)
        peer, ours = aft.Activation1d(act), bigvgan.Activation1d(act)
        x = torch.randn(1, c, length)
        xg = x.clone().requires_grad_(True)
        mods = [peer, ours]
        t_fwd = _time_interleaved([_forward(m, x) for m in mods], repeat)
        t_fb = _time_interleaved([_forward_backward(m, xg) for m in mods], repeat)
        k = ours.upsample.kernel_size
        floor = _floor_ms(macs_1d(c, length, k, k, 2, 2), gflops)
        print(
            f"| [1, {c}, {length}] | {t_fwd[0]:.2f} | {t_fwd[1]:.2f} | "
            f"{t_fwd[0] / t_fwd[1]:.1f}× | {floor:.2f} | {t_fwd[1] / floor:.0f}× | "
            f"{t_fb[0]:.2f} | {t_fb[1]:.2f} | {t_fb[0] / t_fb[1]:.1f}× | {2 * floor:.2f} | "
            f"{t_fb[1] / (2 * floor):.0f}× |"
        )
        rows.append(
            {
                "case": f"1d snakebeta [1,{c},{length}]",
                "peer_fwd_ms": t_fwd[0],
                "ours_fwd_ms": t_fwd[1],
                "peer_fb_ms": t_fb[0],
                "ours_fb_ms": t_fb[1],
                "floor_fwd_ms": floor,
            }
        )


def bench_2d(repeat: int, gflops: float, rows: list) -> None:
    import torch.nn.functional as F

    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc

    f = kaiser_sinc(12, 0.25, 0.2, 1.0)
    print(
        "| act, shape | torch fwd | bandlimit fwd | speed-up | floor | ×floor "
        "| torch fwd+bwd | bandlimit fwd+bwd | speed-up | floor | ×floor |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for act, fn in [("gelu", F.gelu), ("silu", F.silu)]:
        for n, c, hw in [(4, 256, 36), (4, 64, 132)]:
            x = torch.randn(n, c, hw, hw)
            xg = x.clone().requires_grad_(True)

            def plain(x=x, fn=fn):
                u = ops.upfirdn2d(x, f, up=2, padding=(6, 5, 6, 5), gain=4, impl="ref")
                return ops.upfirdn2d(fn(u), f, down=2, padding=(5, 6, 5, 6), impl="ref")

            def fused(x=x, act=act):
                return ops.filtered_act(
                    x,
                    act,
                    f,
                    f,
                    up=2,
                    down=2,
                    padding=(6, 5, 6, 5),
                    down_padding=(5, 6, 5, 6),
                    gain=1.0,
                )

            def nograd(g):
                def run():
                    with torch.no_grad():
                        g()

                return run

            def fb(g, xg=xg):
                def run():
                    g(xg).sum().backward()

                return run

            t_fwd = _time_interleaved([nograd(plain), nograd(fused)], repeat)
            t_fb = _time_interleaved([fb(plain), fb(fused)], repeat)
            floor = _floor_ms(macs_2d(n * c, hw, 12, 12, 2, 2), gflops)
            print(
                f"| {act} [{n}, {c}, {hw}, {hw}] | {t_fwd[0]:.1f} | {t_fwd[1]:.1f} | "
                f"{t_fwd[0] / t_fwd[1]:.1f}× | {floor:.2f} | {t_fwd[1] / floor:.0f}× | "
                f"{t_fb[0]:.1f} | {t_fb[1]:.1f} | {t_fb[0] / t_fb[1]:.1f}× | "
                f"{2 * floor:.2f} | {t_fb[1] / (2 * floor):.0f}× |"
            )
            rows.append(
                {
                    "case": f"2d {act} [{n},{c},{hw},{hw}]",
                    "peer_fwd_ms": t_fwd[0],
                    "ours_fwd_ms": t_fwd[1],
                    "peer_fb_ms": t_fb[0],
                    "ours_fb_ms": t_fb[1],
                    "floor_fwd_ms": floor,
                }
            )


def bench_unfused(repeat: int, rows: list, sizes=None) -> None:
    """Any nonlinearity: a callable act (unfused: the op's two stages around it) against the
    same activation fused (``nn.GELU()`` resolves to the op's 'gelu'), BigVGAN's filters."""
    import torch.nn.functional as F

    from bandlimit.nn import AliasFreeActivation1d, AliasFreeActivation2d

    print("| shape | fused fwd | unfused fwd | ratio | fused fwd+bwd | unfused fwd+bwd | ratio |")
    print("|---|---|---|---|---|---|---|")
    for shape in sizes or [(1, 512, 4096), (4, 64, 64, 64)]:
        cls = AliasFreeActivation1d if len(shape) == 3 else AliasFreeActivation2d
        fused, unfused = cls(torch.nn.GELU()), cls(lambda u: F.gelu(u))
        x = torch.randn(*shape)
        xg = x.clone().requires_grad_(True)
        t_f = _time_interleaved([_forward(m, x) for m in (fused, unfused)], repeat)
        t_b = _time_interleaved([_forward_backward(m, xg) for m in (fused, unfused)], repeat)
        print(f"| {list(shape)} | {t_f[0]:.2f} | {t_f[1]:.2f} | {t_f[1] / t_f[0]:.2f}× | "
              f"{t_b[0]:.2f} | {t_b[1]:.2f} | {t_b[1] / t_b[0]:.2f}× |")
        rows.append({"case": f"unfused gelu {list(shape)}", "fused_fwd_ms": t_f[0],
                     "unfused_fwd_ms": t_f[1], "fused_fb_ms": t_b[0], "unfused_fb_ms": t_b[1]})


LEARNED_CASES = [  # (shape, taps, up, down): a learned blur-pool, 2x up-sampling, audio
    ((8, 64, 64, 64), 3, 1, 2),
    ((4, 32, 64, 64), 12, 2, 1),
    ((4, 32, 16384), 12, 2, 1),
]


def bench_learned(repeat: int, rows: list, cases=None) -> None:
    """Learned filters: forward+backward of upfirdn with a filter that requires grad (its
    gradient too) against the same call with a constant filter, numba and ref."""
    from bandlimit.ops import upfirdn1d, upfirdn2d

    print("| shape, taps, up/down | numba const | numba learned | ratio | ref learned |")
    print("|---|---|---|---|---|")
    for shape, k, up, down in cases or LEARNED_CASES:
        op = upfirdn1d if len(shape) == 3 else upfirdn2d
        pad = (k - 1) // 2 + (up - 1) * k // 2  # (any valid padding: the cost is the point)
        xg = torch.randn(*shape, requires_grad=True)
        const = torch.full((k,), 1.0 / k)
        learned = const.clone().requires_grad_(True)

        call = functools.partial(op, xg, up=up, down=down, padding=pad, gain=up)

        def fb(f, impl, call=call):
            def run():
                call(f, impl=impl).square().mean().backward()
            return run

        t = _time_interleaved([fb(const, "numba"), fb(learned, "numba"), fb(learned, "ref")],
                              repeat)  # fmt: skip
        case = f"{list(shape)}, {k}, {up}/{down}"
        print(f"| {case} | {t[0]:.2f} | {t[1]:.2f} | {t[1] / t[0]:.2f}× | {t[2]:.2f} |")
        rows.append({"case": f"learned {case}", "numba_const_ms": t[0],
                     "numba_learned_ms": t[1], "ref_learned_ms": t[2]})


VOLUME_SHAPES = [(1, 16, 16, 32, 32), (2, 32, 12, 16, 16)]


def plain_torch_3d(x: torch.Tensor, f: torch.Tensor, fn) -> torch.Tensor:
    """A careful plain-PyTorch alias-free activation of a volume (up 2, down 2, zero padding
    ``(K/2, K/2 − 1)`` up and ``(K/2 − 1, K/2)`` down, even ``K``): one depthwise strided
    ``conv_transpose3d`` per axis (polyphase by construction), ``fn``, one depthwise strided
    ``conv3d`` per axis — the peer the fused op has to beat."""
    import torch.nn.functional as F

    c, k = x.shape[1], f.shape[0]
    crop = k - 1 - k // 2  # the transposed convolution's first sample the op keeps

    def along(axis: int, taps: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """The depthwise kernel of ``taps`` along ``axis``, and the stride 2 along it."""
        shape, stride = [1, 1, 1], [1, 1, 1]
        shape[axis - 2], stride[axis - 2] = k, 2
        return taps.reshape(1, 1, *shape).expand(c, 1, *shape), stride

    u = x
    for axis in (2, 3, 4):
        w, stride = along(axis, 2 * f)
        u = F.conv_transpose3d(u, w, stride=stride, groups=c).narrow(axis, crop, 2 * x.shape[axis])
    a = F.pad(fn(u), (k // 2 - 1, k // 2) * 3)
    for axis in (2, 3, 4):
        w, stride = along(axis, f.flip(0))
        a = F.conv3d(a, w, stride=stride, groups=c)
    return a


def bench_3d(repeat: int, rows: list, shapes=None) -> None:
    """Volumes: filtered_act3d (numba, and ref) against :func:`plain_torch_3d`, GELU, 12-tap
    Kaiser filters, up = down = 2 on every axis."""
    import torch.nn.functional as F

    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc

    f = kaiser_sinc(12, 0.25, 0.2, 1.0)

    def ours(impl):
        return lambda t: ops.filtered_act3d(t, "gelu", f, f, up=2, down=2, padding=(6, 5) * 3,
                                            down_padding=(5, 6) * 3, gain=1.0, impl=impl)

    print("| shape | torch fwd | ref fwd | numba fwd | speed-up vs torch | torch fwd+bwd | "
          "ref fwd+bwd | numba fwd+bwd | speed-up vs torch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in shapes or VOLUME_SHAPES:
        x = torch.randn(*shape)
        xg = x.clone().requires_grad_(True)
        fns = [functools.partial(plain_torch_3d, f=f, fn=F.gelu), ours("ref"), ours("numba")]
        torch.testing.assert_close(fns[0](x), fns[2](x), rtol=1e-4, atol=1e-4)  # same function
        t_f = _time_interleaved([_forward(m, x) for m in fns], repeat)
        t_b = _time_interleaved([_forward_backward(m, xg) for m in fns], repeat)
        print(f"| {list(shape)} | {t_f[0]:.1f} | {t_f[1]:.1f} | {t_f[2]:.1f} | "
              f"{t_f[0] / t_f[2]:.1f}× | {t_b[0]:.1f} | {t_b[1]:.1f} | {t_b[2]:.1f} | "
              f"{t_b[0] / t_b[2]:.1f}× |")
        rows.append({"case": f"3d gelu {list(shape)}", "torch_fwd_ms": t_f[0],
                     "ref_fwd_ms": t_f[1], "numba_fwd_ms": t_f[2], "torch_fb_ms": t_b[0],
                     "ref_fb_ms": t_b[1], "numba_fb_ms": t_b[2]})


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--only", choices=["1d", "2d", "3d", "unfused", "learned"], default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(
        f"# activations — {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, "
        f"{args.threads} threads, torch {torch.__version__}, numba {numba.__version__}"
    )
    load0 = load_average()
    print(load0)
    gflops = matmul_gflops()
    print(f"float32 matmul: {gflops:.1f} GFLOP/s\n")
    rows: list = []
    if args.only in (None, "1d"):
        bench_1d(args.repeat, gflops, rows)
        print()
    if args.only in (None, "2d"):
        bench_2d(args.repeat, gflops, rows)
        print()
    if args.only in (None, "3d"):
        bench_3d(args.repeat, rows)
        print()
    if args.only in (None, "unfused"):
        bench_unfused(args.repeat, rows)
        print()
    if args.only in (None, "learned"):
        bench_learned(args.repeat, rows)
    gflops_end = matmul_gflops()
    load1 = load_average()
    print(f"\nfloat32 matmul at the end: {gflops_end:.1f} GFLOP/s\n{load1}")
    meta = environment(args.threads, matmul_gflops_f32=[gflops, gflops_end], load_before=load0,
                       load_after=load1, repeat=args.repeat)
    write("activations", {"meta": meta, "rows": rows})


if __name__ == "__main__":
    main()
