"""GPU benchmark of ``filtered_lrelu``: 'ref' vs 'cuda' on StyleGAN3's real layers, with a roofline.

Run through ``python -m benchmarks.ops --device cuda`` (or ``benchmarks/gpu_suite.sh``). Cases: the
15 ``filtered_lrelu`` layers of StyleGAN3-T at 1024² and of StyleGAN3-R at 256², batch 4, the
schedule's real channel counts (the op sees the conv output: ``out_channels`` planes of
``in_size + conv_kernel − 1``). For each: forward and forward+backward, float32 and float16,
median of CUDA-event timings after warm-up; in float32 also the textbook composition that the
official reference path computes ('naive': zero insertion and dense depthwise convolutions; skip
with ``--no-naive``), the baseline of the paper's 19–41× claim.

Roofline: this GPU's copy bandwidth (a large device-to-device ``copy_``) and FMA rate (a float32
matmul with TF32 disabled, i.e. CUDA-core FMAs) are measured in the same run. For the fused op the
floor is ``max(bytes / bandwidth, flops / rate)`` with bytes = input + output (+ the 2-bit mask
when a gradient is needed; the backward reads dy and the mask and writes dx) and flops = 2 × the
polyphase multiply-adds of :func:`benchmarks.ops.flrelu_macs`. Reported: time, speed-up over
'ref', achieved GB/s and GFLOP/s, and time / floor.

Also BigVGAN's ``Activation1d`` (cuda, ref, alias-free-torch) and ``resample_poly`` on audio
rate changes (cuda, ref), forward and forward+backward.

Kernels: which fused kernel serves each layer (a fast specialisation of ``filtered_act_fast.cu``
or the generic one), and the forward kernel alone (no autograd, mask written) with the fast
specialisation vs the generic kernel forced, side by side.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from bandlimit.filters import stylegan3_schedule
from bandlimit.ops import filtered_lrelu
from benchmarks._record import environment, write


def _cuda_time(fn, reps: int, warmup: int = 3, device: str = "cuda") -> float:
    """Median seconds of ``fn`` (CUDA events; on ``device='cpu'`` the host clock, for tests)."""
    for _ in range(warmup):
        fn()
    if device == "cpu":
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def copy_bandwidth(nbytes: int = 1 << 30) -> float:
    """Bytes/s of a device-to-device copy (read + write counted)."""
    x = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda")
    y = torch.empty_like(x)
    t = _cuda_time(lambda: y.copy_(x), reps=10)
    return 2 * nbytes / t


def fma_rate(n: int = 8192) -> float:
    """float32 FLOP/s of a matmul on CUDA cores (TF32 off): the FMA ceiling."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        t = _cuda_time(lambda: torch.mm(a, b), reps=5)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * n**3 / t


def layer_cases(resolution: int, config: str, batch: int):
    from benchmarks.ops import flrelu_macs

    sched = stylegan3_schedule(resolution, config=config)
    out = []
    for i, layer in enumerate(sched.layers):
        fu, fd = sched.layer_filters(i)
        c = layer.out_channels
        h, w = (s + layer.conv_kernel - 1 for s in layer.in_size)
        kw = dict(up=layer.up_factor, down=layer.down_factor, padding=layer.padding,
                  gain=layer.flrelu_gain, slope=layer.flrelu_slope, clamp=layer.flrelu_clamp)
        macs = flrelu_macs(h, w, fu, fd, layer.up_factor, layer.down_factor, layer.padding)
        pad = layer.padding
        ku = 1 if fu is None else fu.shape[-1]  # ToRGB has no filters
        hu = h * layer.up_factor + pad[2] + pad[3] - ku + 1
        wu = w * layer.up_factor + pad[0] + pad[1] - ku + 1
        out.append(dict(name=f"{config}{resolution} {layer.name}", shape=(batch, c, h, w), fu=fu,
                        fd=fd, kw=kw, macs=macs * batch * c, mask_words=batch * c * hu *
                        ((wu + 15) // 16)))
    return out


def case_op(case, impl: str):
    """``op(x, b, fu, fd)`` of one layer: ``filtered_lrelu`` with ``impl``, or for ``'naive'``
    the textbook composition the official reference path computes (zero insertion, dense
    depthwise 2-D convolutions: ``benchmarks.ops.naive_filtered_lrelu``), the baseline of the
    paper's 19–41× claim."""
    kw = case["kw"]
    if impl != "naive":
        return lambda x, b, fu, fd: filtered_lrelu(x, fu, fd, b, impl=impl, **kw)
    from benchmarks.ops import naive_filtered_lrelu

    return lambda x, b, fu, fd: naive_filtered_lrelu(x, fu, fd, b, **kw)


def run_case(case, impl: str, dtype, backward: bool, reps: int, device: str = "cuda"):
    """``(seconds, bytes, flops)`` of one layer's forward (or forward+backward) with ``impl``
    ('ref', 'cuda' or 'naive'), median of ``reps``; bytes and flops of the roofline."""
    x = torch.randn(case["shape"], device=device, dtype=dtype)
    b = torch.randn(case["shape"][1], device=device, dtype=dtype) * 0.1
    fu, fd = (None if f is None else f.to(device) for f in (case["fu"], case["fd"]))
    x.requires_grad_(backward)
    op = case_op(case, impl)
    y = op(x, b, fu, fd)
    dy = torch.randn_like(y)

    def fn():
        out = op(x, b, fu, fd)
        if backward:
            torch.autograd.grad(out, x, dy)
        return out

    t = _cuda_time(fn, reps, device=device)
    es = x.element_size()
    nbytes = (x.numel() + y.numel()) * es
    flops = 2 * case["macs"]
    if backward:
        nbytes += case["mask_words"] * 4 * 2 + (x.numel() + y.numel()) * es
        flops *= 2
    return t, nbytes, flops


def kernel_call(case, dtype, backward: bool = False, ext=None, device: str = "cuda"):
    """``(call, kernel name)`` for one layer on fresh random inputs: ``call(save_mask, fast=True,
    max_tile=0, block_threads=0, smem_limit=0, strip_rows=0, mma=-1)`` runs the fused forward kernel
    alone (no autograd), through the extension's test knobs; with ``backward``, the mask
    backward kernel alone instead (on the forward's mask; ``save_mask`` unused). ``ext``,
    ``device``: the extension (default: the built one) and where the tensors live (tests: the
    CPU emulation)."""
    from bandlimit.ops._params import as_padding, make_fir
    from bandlimit.ops.cuda import _ops
    from bandlimit.ops.cuda import load as load_ext

    ext, kw = ext or load_ext(), case["kw"]
    up, down = (kw["up"],) * 2, (kw["down"],) * 2
    x = torch.randn(case["shape"], device=device, dtype=dtype)
    b = torch.randn(case["shape"][1], device=device, dtype=dtype) * 0.1
    firs = [make_fir(None if f is None else f.to(device), gain=g, flip_filter=False,
                     dtype=torch.float32, device=x.device)
            for f, g in ((case["fu"], (float(up[0]),) * 2), (case["fd"], (1.0, 1.0)))]
    args = (*firs, up, down, as_padding(kw["padding"]), (0, 0, 0, 0), "lrelu", kw["slope"],
            kw["gain"], kw["clamp"])

    def call(save_mask: bool, fast: bool = True, max_tile: int = 0, block_threads: int = 0,
             smem_limit: int = 0, strip_rows: int = 0, mma: int = -1):
        return _ops.filtered_act_call(ext, x, b, *args, save_mask, max_tile=max_tile,
                                      block_threads=block_threads, fast=fast,
                                      smem_limit=smem_limit, strip_rows=strip_rows, mma=mma)

    names = _ops.kernel_names(ext, *firs, up, down, dtype)
    if not backward:
        return call, names[0]
    y, mask = call(True)
    dy = torch.randn_like(y)

    def call_backward(save_mask: bool = True, fast: bool = True, max_tile: int = 0,
                      block_threads: int = 0, smem_limit: int = 0, strip_rows: int = 0,
                      mma: int = -1):
        return _ops.filtered_act_backward_call(
            ext, dy, mask, tuple(case["shape"][2:]), *args[:-1], max_tile=max_tile,
            block_threads=block_threads, fast=fast, smem_limit=smem_limit,
            strip_rows=strip_rows, mma=mma)
    return call_backward, names[1]


def tile_plans(case, max_tile: int = 0, smem_limit: int = 0, ext=None, strip_rows: int = 0):
    """The tiles, strip rows, shared memory and modelled work of one layer's forward (with its
    mask) and mask backward launches, float32: ``([tow, toh, tsh, bytes, work], [...])``
    (``_ops.launch_plans``)."""
    from bandlimit.ops._params import as_padding, make_fir
    from bandlimit.ops.cuda import _ops
    from bandlimit.ops.cuda import load as load_ext

    ext, kw = ext or load_ext(), case["kw"]
    firs = [make_fir(f, flip_filter=False, gain=(1.0, 1.0), dtype=torch.float32, device="cpu")
            for f in (case["fu"], case["fd"])]
    hw = tuple(case["shape"][2:])
    out_hw = _ops.filtered_sizes(hw, *firs, (kw["up"],) * 2, (kw["down"],) * 2,
                                 as_padding(kw["padding"]), (0, 0, 0, 0))[2:]
    return _ops.launch_plans(ext, *firs, (kw["up"],) * 2, (kw["down"],) * 2, hw, out_hw,
                             torch.float32, max_tile, smem_limit, strip_rows,
                             case["shape"][0] * case["shape"][1])


def ab_times(call, variants: dict, reps: int, device: str = "cuda") -> dict:
    """Median seconds of ``call(**kwargs)`` for each named variant ``{name: kwargs}``, timed
    side by side on the same inputs: three rounds, alternating, so clock and thermal drift hit
    every variant alike."""
    times = {name: [] for name in variants}
    for _ in range(3):
        for name, kwargs in variants.items():
            times[name].append(_cuda_time(lambda kw=kwargs: call(**kw), reps, device=device))
    return {name: statistics.median(t) for name, t in times.items()}


def fast_vs_generic(case, dtype, reps: int) -> tuple[str, float, float]:
    """The forward kernel of one layer (mask written, as in training): ``(fast kernel name,
    fast s, generic s)``, timed side by side on the same inputs."""
    call, name = kernel_call(case, dtype)
    t = ab_times(call, {"fast": dict(save_mask=True), "generic": dict(save_mask=True,
                                                                      fast=False)}, reps)
    return name, t["fast"], t["generic"]


def strips_vs_one_strip(case, reps: int, ext=None, device: str = "cuda") -> dict:
    """Float32, the forward kernel (mask written) and the mask backward kernel of one layer:
    the launcher's plan (tall tiles in strips where its model prefers them) against the same
    launch with every tile one strip (``strip_rows=-1``), side by side; with both plans
    (``tile_plans``: tiles, strip rows, shared memory, modelled work). ``ext``, ``device``: as
    in :func:`kernel_call`."""
    out = {}
    for backward in (False, True):
        call, _ = kernel_call(case, torch.float32, backward=backward, ext=ext, device=device)
        t = ab_times(call, {"auto": dict(save_mask=True), "one": dict(save_mask=True,
                                                                      strip_rows=-1)}, reps,
                     device)
        key = "bwd" if backward else "fwd"
        out[key] = dict(auto_s=t["auto"], one_s=t["one"])
    for r, plans in ((0, "auto"), (-1, "one")):
        for key, plan in zip(("fwd", "bwd"), tile_plans(case, ext=ext, strip_rows=r),
                             strict=True):
            out[key][f"{plans}_plan"] = plan
    return out


def tensor_cores_vs_cuda_cores(case, dtype, reps: int, ext=None, device: str = "cuda") -> dict:
    """Half precision, the forward kernel (mask written) and the mask backward kernel of one
    layer: stage B on tensor cores (``mma=1``) against CUDA cores (``mma=0``), side by side.
    ``applies``: whether stage B runs on tensor cores there (under a fast 2-D spec, a separable
    stage B's x pass or a full 2-D filter down by 2: every filtered layer of T and R, both
    directions); elsewhere both variants are the same launch. ``ext``, ``device``: as in
    :func:`kernel_call`."""
    out = {}
    for backward in (False, True):
        call, name = kernel_call(case, dtype, backward=backward, ext=ext, device=device)
        stage_b = case["fu"] if backward else case["fd"]
        factor = case["kw"]["up" if backward else "down"]
        applies = (name != "generic" and not name.endswith("_1d") and
                   (stage_b.ndim == 1 or factor == 2))
        t = ab_times(call, {"mma": dict(save_mask=True, mma=1),
                            "cores": dict(save_mask=True, mma=0)}, reps, device)
        out["bwd" if backward else "fwd"] = dict(kernel=name, applies=applies, mma_s=t["mma"],
                                                 cores_s=t["cores"])
    return out


# BigVGAN's activation block (SnakeBeta, ratio 2, 12 taps, replicate padding), [N, C, T] of its
# layers' shapes: streaming chunks (batch 1, 8 mel frames at BigVGAN v2's and -base's first
# stages: many short channels, which the CPU kernels stack as rows) and whole signals (batch 4).
BIGVGAN_STREAMING = ((1, 768, 32), (1, 512, 64))
BIGVGAN_SHAPES = (*BIGVGAN_STREAMING, (4, 512, 4096), (4, 128, 16384), (4, 32, 65536))


def bigvgan_call(shape, variant: str, backward: bool, device: str = "cuda"):
    """``fn()`` running one BigVGAN activation block on a random float32 ``shape``: bandlimit's
    ``Activation1d`` with ``impl=variant``, or (``'alias-free-torch'``) the module it replaces;
    with ``backward``, the gradients w.r.t. the input and the snake parameters too."""
    from bandlimit.nn.activation import SnakeBeta
    from bandlimit.nn.bigvgan import Activation1d
    from benchmarks.overhead import _with_impl

    torch.manual_seed(0)
    act = SnakeBeta(shape[1], alpha_logscale=True).to(device)
    with torch.no_grad():
        act.alpha.uniform_(-0.5, 0.5)
        act.beta.uniform_(-0.5, 0.5)
    if variant == "alias-free-torch":
        import alias_free_torch

        run = alias_free_torch.Activation1d(act).to(device)
    else:
        run = _with_impl(Activation1d(act).to(device), variant)
    x = torch.randn(shape, device=device, requires_grad=backward)
    dy = torch.randn(shape, device=device)

    def fn():
        y = run(x)
        if backward:
            torch.autograd.grad(y, [x, act.alpha, act.beta], dy)
    return fn


def bigvgan_rows(variants, reps: int, device: str = "cuda", shapes=BIGVGAN_SHAPES) -> list:
    """Median seconds of every variant of :func:`bigvgan_call` on each shape, fwd and fwd+bwd
    (variants whose module is not installed are left out)."""
    rows = []
    for backward in (False, True):
        for shape in shapes:
            row = dict(shape=list(shape), backward=backward)
            for v in variants:
                try:
                    fn = bigvgan_call(shape, v, backward, device)
                except ImportError:
                    continue
                row[v] = _cuda_time(fn, reps, device=device)
            rows.append(row)
    return rows


# (name, up, down, shape): audio rate changes, 16 signals of 10 s
RESAMPLE_CASES = (("44.1k -> 48k", 160, 147, (16, 441000)), ("48k -> 16k", 1, 3, (16, 480000)),
                  ("8k -> 44.1k", 441, 80, (16, 80000)))  # fmt: skip


def resample_rows(variants, reps: int, device: str = "cuda", cases=RESAMPLE_CASES) -> list:
    """Median seconds of ``resample_poly`` with each backend (float32), forward and
    forward+backward, on each case."""
    from bandlimit.ops import resample_poly

    rows = []
    for backward in (False, True):
        for name, up, down, shape in cases:
            x = torch.randn(shape, device=device, requires_grad=backward)
            row = dict(case=name, up=up, down=down, shape=list(shape), backward=backward)
            for v in variants:
                def fn(v=v, x=x, up=up, down=down, backward=backward):
                    y = resample_poly(x, up, down, impl=v)
                    if backward:
                        torch.autograd.grad(y.sum(), x)
                row[v] = _cuda_time(fn, reps, device=device)
            rows.append(row)
    return rows


def main_cuda(args) -> dict:
    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is visible")
    from bandlimit.ops import cuda as blcuda

    t0 = time.perf_counter()
    lib = blcuda.build()
    build_s = time.perf_counter() - t0
    bw, rate = copy_bandwidth(), fma_rate()
    dev = torch.cuda.get_device_name()
    print(f"# bandlimit.ops GPU benchmark — {time.strftime('%Y-%m-%d %H:%M:%S')}, {dev}, "
          f"torch {torch.__version__}, extension {lib.name} (ready in {build_s:.1f} s)")
    print(f"measured copy bandwidth {bw / 1e9:.0f} GB/s, float32 FMA rate {rate / 1e12:.1f} "
          "TFLOP/s\n")
    reps = 3 if args.quick else args.reps
    cases = layer_cases(1024, "T", 4) + layer_cases(256, "R", 4)
    results = {"meta": environment(device="cuda", bandwidth=bw, fma_rate=rate,
                                   build_s=build_s), "rows": []}
    naive = not getattr(args, "no_naive", False)
    header = ("| case | dtype | pass | ref ms | cuda ms | speed-up | GB/s | GFLOP/s | "
              "time/floor | naive ms | cuda/naive |\n|---|---|---|---|---|---|---|---|---|---|---|")
    print(header)
    for dtype in (torch.float32, torch.float16):
        for backward in (False, True):
            for case in cases:
                t_ref, _, _ = run_case(case, "ref", dtype, backward, reps)
                t_cu, nbytes, flops = run_case(case, "cuda", dtype, backward, reps)
                # The official-style baseline, float32 only (it is slow).
                t_nv = (run_case(case, "naive", dtype, backward, reps)[0]
                        if naive and dtype == torch.float32 else None)
                floor = max(nbytes / bw, flops / rate)
                row = dict(case=case["name"], dtype=str(dtype).split(".")[-1],
                           backward=backward, ref_s=t_ref, cuda_s=t_cu, speedup=t_ref / t_cu,
                           gbps=nbytes / t_cu / 1e9, gflops=flops / t_cu / 1e9,
                           floor_ratio=t_cu / floor, naive_s=t_nv,
                           speedup_naive=None if t_nv is None else t_nv / t_cu)
                results["rows"].append(row)
                nv = ("— | —" if t_nv is None else
                      f"{t_nv * 1e3:.3f} | {row['speedup_naive']:.1f}×")
                print(f"| {row['case']} | {row['dtype']} | {'fwd+bwd' if backward else 'fwd'} | "
                      f"{t_ref * 1e3:.3f} | {t_cu * 1e3:.3f} | {row['speedup']:.1f}× | "
                      f"{row['gbps']:.0f} | {row['gflops']:.0f} | {row['floor_ratio']:.2f} | "
                      f"{nv} |", flush=True)
    print("\n## Summary (geometric means over the 30 layers)\n")
    print("| dtype | pass | speed-up cuda/ref | min speed-up | time/floor | max time/floor | "
          "speed-up cuda/naive |")
    print("|---|---|---|---|---|---|---|")

    def geomean(values):
        return math.exp(statistics.mean(math.log(v) for v in values))

    def summary(head, what, rows, ratio):
        """One line the suite's summary greps: the geometric mean of ratio over rows."""
        if rows:
            print(f"{head}: {len(rows)} layers{what} geometric mean "
                  f"{geomean(ratio(r) for r in rows):.2f}×")
    for dtype in ("float32", "float16"):
        for backward in (False, True):
            rows = [r for r in results["rows"] if r["dtype"] == dtype and r["backward"] ==
                    backward]
            nvs = [r["speedup_naive"] for r in rows if r["speedup_naive"] is not None]
            print(f"| {dtype} | {'fwd+bwd' if backward else 'fwd'} | "
                  f"{geomean(r['speedup'] for r in rows):.1f}× | "
                  f"{min(r['speedup'] for r in rows):.1f}× | "
                  f"{geomean(r['floor_ratio'] for r in rows):.2f} | "
                  f"{max(r['floor_ratio'] for r in rows):.2f} | "
                  f"{f'{geomean(nvs):.1f}×' if nvs else '—'} |")
    print("\n## Fused forward kernel: fast specialisation vs generic (mask written)\n")
    print("| case | dtype | kernel | fast ms | generic ms | generic / fast |")
    print("|---|---|---|---|---|---|")
    results["kernels"] = []
    for dtype in (torch.float32, torch.float16):
        for case in cases:
            name, t_fast, t_gen = fast_vs_generic(case, dtype, reps)
            d = str(dtype).split(".")[-1]
            results["kernels"].append(dict(case=case["name"], dtype=d, kernel=name,
                                           fast_s=t_fast, generic_s=t_gen))
            print(f"| {case['name']} | {d} | {name} | {t_fast * 1e3:.3f} | {t_gen * 1e3:.3f} | "
                  f"{t_gen / t_fast:.2f}× |", flush=True)
    for d in ("float32", "float16"):
        rows = [r for r in results["kernels"] if r["dtype"] == d and r["kernel"] != "generic"]
        summary(f"KERNELS {d}", " on a fast kernel, generic/fast", rows,
                lambda r: r["generic_s"] / r["fast_s"])
    print("\n## Launch plans: tall tiles in strips (the launcher's) vs one strip per tile "
          "(float32; tow x toh:tsh, and the planner's modelled work one / strips)\n")
    print("| case | kernel | plan | one-strip plan | model | ms | one-strip ms | one / plan |")
    print("|---|---|---|---|---|---|---|---|")
    results["strips"] = []
    for case in cases:
        if case["fu"] is None:  # ToRGB: bias_act's kernel, no tiles
            continue
        ab = strips_vs_one_strip(case, reps)
        for key in ("fwd", "bwd"):
            r = ab[key]
            results["strips"].append(dict(case=case["name"], kernel=key, **r))
            a, o = r["auto_plan"], r["one_plan"]
            print(f"| {case['name']} | {key} | {a[0]}x{a[1]}:{a[2]} | {o[0]}x{o[1]} | "
                  f"{o[4] / a[4]:.2f} | {r['auto_s'] * 1e3:.3f} | {r['one_s'] * 1e3:.3f} | "
                  f"{r['one_s'] / r['auto_s']:.2f}× |", flush=True)
    for key in ("fwd", "bwd"):
        rows = [r for r in results["strips"] if r["kernel"] == key and
                r["auto_plan"][2] < r["auto_plan"][1]]
        summary(f"STRIPS {key}", " in strips, one-strip / strips", rows,
                lambda r: r["one_s"] / r["auto_s"])
    print("\n## Stage B on tensor cores (mma=1) vs CUDA cores (mma=0), float16 "
          "(forward with mask, mask backward; opt-in until measured)\n")
    print("| case | kernel | spec | applies | tensor cores ms | CUDA cores ms | cores / tensor |")
    print("|---|---|---|---|---|---|---|")
    results["mma"] = []
    for case in cases:
        if case["fu"] is None:
            continue
        ab = tensor_cores_vs_cuda_cores(case, torch.float16, reps)
        for key in ("fwd", "bwd"):
            r = ab[key]
            results["mma"].append(dict(case=case["name"], direction=key, **r))
            print(f"| {case['name']} | {key} | {r['kernel']} | {'yes' if r['applies'] else 'no'} "
                  f"| {r['mma_s'] * 1e3:.3f} | {r['cores_s'] * 1e3:.3f} | "
                  f"{r['cores_s'] / r['mma_s']:.2f}× |", flush=True)
    for key in ("fwd", "bwd"):
        rows = [r for r in results["mma"] if r["direction"] == key and r["applies"]]
        summary(f"MMA {key}", ", CUDA cores / tensor cores", rows,
                lambda r: r["cores_s"] / r["mma_s"])
    print("\n## BigVGAN Activation1d(SnakeBeta), float32: cuda vs ref vs alias-free-torch\n")
    print("| [N, C, T] | pass | ref ms | cuda ms | alias-free-torch ms | ref / cuda | "
          "alias-free-torch / cuda |\n|---|---|---|---|---|---|---|")
    results["bigvgan"] = bigvgan_rows(["ref", "cuda", "alias-free-torch"], reps)
    for r in results["bigvgan"]:
        aft = r.get("alias-free-torch")
        print(f"| {r['shape']} | {'fwd+bwd' if r['backward'] else 'fwd'} | "
              f"{r['ref'] * 1e3:.3f} | {r['cuda'] * 1e3:.3f} | "
              + ("— | " if aft is None else f"{aft * 1e3:.3f} | ")
              + f"{r['ref'] / r['cuda']:.1f}× | "
              + ("— |" if aft is None else f"{aft / r['cuda']:.1f}× |"))
    for backward in (False, True):
        for label, streaming in (("", False), (" streaming", True)):
            rows = [r for r in results["bigvgan"] if r["backward"] == backward
                    and "alias-free-torch" in r
                    and (tuple(r["shape"]) in BIGVGAN_STREAMING) == streaming]
            if rows:
                geo = math.exp(statistics.mean(math.log(r["alias-free-torch"] / r["cuda"])
                                               for r in rows))
                print(f"BIGVGAN{label} {'fwd+bwd' if backward else 'fwd'}: alias-free-torch / "
                      f"cuda geometric mean {geo:.2f}×")
    print("\n## resample_poly, float32: cuda vs ref\n")
    print("| case | up/down | [N, T] | pass | ref ms | cuda ms | ref / cuda |\n"
          "|---|---|---|---|---|---|---|")
    results["resample"] = resample_rows(["ref", "cuda"], reps)
    for r in results["resample"]:
        print(f"| {r['case']} | {r['up']}/{r['down']} | {r['shape']} | "
              f"{'fwd+bwd' if r['backward'] else 'fwd'} | {r['ref'] * 1e3:.3f} | "
              f"{r['cuda'] * 1e3:.3f} | {r['ref'] / r['cuda']:.1f}× |")
    return results


def save(results: dict, directory) -> None:
    write("ops-cuda", results, directory)
