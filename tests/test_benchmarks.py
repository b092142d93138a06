"""The benchmark scripts' plumbing that can run without a GPU (timings are never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the suite would really run")
def test_gpu_suite_without_a_gpu_stops_with_one_clear_line(tmp_path):
    """gpu_suite.sh uses $PYTHON, writes its logs under $OUT and, with no GPU, says so and
    exits 1 before building anything."""
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_suite.sh")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no CUDA GPU visible to torch: nothing to do" in r.stdout
    assert f"python: {sys.executable}" in r.stdout
    (logs,) = tmp_path.iterdir()
    assert logs.name.startswith("gpu-suite-")


def test_gpu_benchmark_cases_are_stylegan3_layers():
    """The GPU benchmark's cases: the 15 layers of StyleGAN3-T 1024² and -R 256², batch 4,
    with their filters and the multiply-adds of the roofline."""
    from benchmarks.ops_cuda import layer_cases

    for resolution, config in ((1024, "T"), (256, "R")):
        cases = layer_cases(resolution, config, 4)
        assert len(cases) == 15
        assert all(c["shape"][0] == 4 and c["macs"] > 0 for c in cases)
        assert cases[-1]["shape"][1] == 3  # ToRGB
        assert cases[0]["kw"]["up"] == 2 and cases[0]["kw"]["down"] == 2


def test_training_benchmark_runs_and_records(tmp_path):
    """One timed step of each backend at 16² (the numbers are not checked, only their shape)."""
    import json

    from benchmarks.train import main

    out = main(["--resolutions", "16", "--steps", "1", "--warmup", "0", "--impls", "ref,numba",
                "--num-layers", "3", "--results", str(tmp_path), "--aug-p", "0.5",
                "--augpipe", "bgcfnc"])  # fmt: skip
    data = json.loads(out.read_text())
    assert out.parent == tmp_path
    assert [(r["impl"], r["aug_p"], r["augpipe"]) for r in data["rows"]] == [
        ("ref", None, None), ("ref", 0.5, "bgcfnc"), ("numba", None, None),
        ("numba", 0.5, "bgcfnc")]
    assert all(r["resolution"] == 16 and r["img_per_s"] > 0 for r in data["rows"])


def test_gpu_benchmark_bigvgan_rows_run_on_cpu():
    """The GPU benchmark's BigVGAN table times every variant it can import (numba standing in
    for cuda on the CPU), forward and forward+backward."""
    from benchmarks.ops_cuda import bigvgan_rows

    rows = bigvgan_rows(["ref", "numba", "alias-free-torch"], reps=1, device="cpu",
                        shapes=((1, 4, 64),))
    assert [r["backward"] for r in rows] == [False, True]
    assert all(r["ref"] > 0 and r["numba"] > 0 and r["alias-free-torch"] > 0 for r in rows)


def test_resample_benchmark_runs_and_records(tmp_path):
    """The resampling benchmark runs scipy and both CPU backends on its cases (shrunk here) and
    writes a record whose outputs have the sizes resample_poly promises."""
    from benchmarks.resample import main

    result = main(["--scale", "0.002", "--repeat", "1", "--out", str(tmp_path)])
    assert len(list(tmp_path.glob("resample-*.json"))) == 1
    for row in result["rows"]:
        assert all(row["ms"][k] > 0 for k in ("scipy", "numba", "ref"))
    first = result["rows"][0]  # 160/147 of 441 samples: ceil(441 * 160 / 147) = 480
    assert first["shape"] == [4, 441] and first["n_out"] == 4 * 480


def test_conv_resample_benchmark_runs_and_records(tmp_path):
    """The conv2d_resample benchmark (channels shrunk here) checks the op against its
    definition on every case, times the three variants and writes its record."""
    from benchmarks.conv_resample import CASES, main

    result = main(["--scale", "0.02", "--repeat", "1", "--out", str(tmp_path)])
    assert len(list(tmp_path.glob("conv_resample-*.json"))) == 1
    assert [r["case"] for r in result["rows"]] == [c[0] for c in CASES]
    for row in result["rows"]:
        assert all(row["ms"][k] > 0 for k in ("definition", "ref", "numba", "numba+bwd"))


def test_gpu_benchmark_resample_rows_time_every_backend():
    """The GPU benchmark's resample_poly rows (run on the CPU here, tiny signals): every
    variant timed, forward and forward+backward."""
    from benchmarks.ops_cuda import RESAMPLE_CASES, resample_rows

    cases = tuple((n, u, d, (2, 500)) for n, u, d, _ in RESAMPLE_CASES)
    rows = resample_rows(["ref", "numba"], reps=1, device="cpu", cases=cases)
    assert [r["backward"] for r in rows] == [False] * 3 + [True] * 3
    assert all(r["ref"] > 0 and r["numba"] > 0 for r in rows)


def test_unfused_activation_benchmark_times_both_forms():
    from benchmarks.activations import bench_unfused

    rows: list = []
    bench_unfused(1, rows, sizes=[(1, 4, 64), (1, 2, 8, 8)])
    assert [r["case"] for r in rows] == ["unfused gelu [1, 4, 64]", "unfused gelu [1, 2, 8, 8]"]
    assert all(r[k] > 0 for r in rows for k in r if k.endswith("_ms"))


def test_volume_benchmark_peer_computes_the_same_function():
    """The 3-D benchmark's plain-PyTorch peer is the op's function (it asserts so itself);
    checked here in float64 on a tiny volume, and the benchmark records every variant."""
    import torch
    import torch.nn.functional as F

    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc
    from benchmarks.activations import bench_3d, plain_torch_3d

    f = kaiser_sinc(12, 0.25, 0.2, 1.0, dtype=torch.float64)
    x = torch.randn(1, 2, 3, 4, 5, dtype=torch.float64)
    want = ops.filtered_act3d(x, "gelu", f, f, up=2, down=2, padding=(6, 5) * 3,
                              down_padding=(5, 6) * 3, gain=1.0, impl="ref")  # fmt: skip
    torch.testing.assert_close(plain_torch_3d(x, f, F.gelu), want, rtol=1e-12, atol=1e-12)
    rows: list = []
    bench_3d(1, rows, shapes=[(1, 2, 3, 4, 5)])
    assert all(r[k] > 0 for r in rows for k in r if k.endswith("_ms"))


def test_learned_filter_benchmark_times_every_variant():
    from benchmarks.activations import bench_learned

    rows: list = []
    bench_learned(1, rows, cases=[((1, 2, 8, 8), 3, 1, 2), ((1, 2, 32), 4, 2, 1)])
    assert [r["case"] for r in rows] == ["learned [1, 2, 8, 8], 3, 1/2",
                                         "learned [1, 2, 32], 4, 2/1"]
    assert all(r[k] > 0 for r in rows for k in r if k.endswith("_ms"))


def test_overhead_benchmark_runs_and_records(tmp_path):
    """The fixed-cost benchmark times and counts every variant of its cases (CPU: ref, numba,
    alias-free-torch); only the shape of the record is checked."""
    import json

    from benchmarks.overhead import main

    out = main(["--rounds", "1", "--calls", "2", "--results", str(tmp_path)])
    rows = json.loads(out.read_text())["rows"]
    assert out.parent == tmp_path
    variants = {(r["case"].split()[0], r["variant"]) for r in rows}
    assert {("filtered_lrelu", "ref"), ("filtered_lrelu", "numba"),
            ("Activation1d(SnakeBeta)", "bandlimit numba")} <= variants
    assert all(r["fwd_us"] > 0 and r["fwd_bwd_us"] > 0 and r["fwd_ops"] >= 1 for r in rows)
    streams = json.loads(out.read_text())["streams"]
    assert [r["case"] for r in streams] == ["[1, 16, 64] chunks", "[1, 512, 64] chunks"]
    assert all(r["alone_us"] > 0 and r["stream_us"] > 0 for r in streams)


@pytest.mark.parametrize("layer", ["T1024 L2_52_512", "R256 L3_52_1024"])
def test_gpu_benchmark_naive_baseline_computes_the_op(layer):
    """The GPU benchmark's 'naive' baseline (the official path's zero-insertion composition) is
    the same function as filtered_lrelu on a layer's real filters, factors and paddings (on the
    CPU here, small planes), and run_case times it forward and forward+backward."""
    from benchmarks.ops_cuda import case_op, layer_cases, run_case

    case = next(c for c in layer_cases(1024, "T", 4) + layer_cases(256, "R", 4)
                if c["name"] == layer)
    case = dict(case, shape=(2, 3, 20, 20))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(case["shape"], generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    fu, fd = case["fu"].double(), case["fd"].double()
    y_naive = case_op(case, "naive")(x, b, fu, fd)
    y_ref = case_op(case, "ref")(x, b, fu, fd)
    torch.testing.assert_close(y_naive, y_ref, rtol=1e-10, atol=1e-10)
    for backward in (False, True):
        t, nbytes, flops = run_case(case, "naive", torch.float32, backward, reps=1, device="cpu")
        assert t > 0 and nbytes > 0 and flops > 0


@pytest.mark.parametrize(("layer", "kernels"), [
    ("T1024 L10_1044_81", ("u4k24_d2k12", "u2k12_d4k24")),
    ("R256 L8_148_1024", ("u2k12_d2k12", "u2k12_d2k12")),
])
def test_gpu_probe_kernel_calls_run_the_swept_launches(layer, kernels):
    """The probe's kernel calls (forward with a mask, and the mask backward) on a shrunk copy of
    a probe layer, on the kernels' CPU emulation: they launch the fast kernels they name, and
    every launch shape the sweep times, the opted-in 48² / 64² tiles included, gives the default
    launch's result bit for bit (the same sums in the same order)."""
    from bandlimit.ops.cuda import _build
    from benchmarks.cuda_probe import BIG_SMEM, PROBES
    from benchmarks.ops_cuda import kernel_call, layer_cases, tile_plans

    assert layer in PROBES
    emu = _build.load_emulation()
    cases = {c["name"]: c for c in layer_cases(1024, "T", 1) + layer_cases(256, "R", 1)}
    # the real layer: what the probe prints. T's layers run in strips, R's forward (a 2-D
    # stage B filter) does not.
    fwd, bwd = tile_plans(cases[layer], ext=emu, strip_rows=-1)
    t = layer.startswith("T")
    assert fwd[:3] == ([32, 32, 32] if t else [30, 30, 30])
    assert bwd[:3] == ([14, 15, 15] if t else [30, 30, 30])
    fwd_s, bwd_s = tile_plans(cases[layer], ext=emu)
    assert (fwd_s[2] < fwd_s[1]) == t and bwd_s[2] < bwd_s[1]
    assert fwd_s[4] <= fwd[4] and bwd_s[4] < 0.95 * bwd[4]  # the model's work
    big = tile_plans(cases[layer], 64, BIG_SMEM, ext=emu, strip_rows=-1)[0]
    assert big[:2] == ([62, 62] if t else [50, 50])  # 64-sample tiles split evenly
    case = dict(cases[layer], shape=(1, 2, 40, 40))
    for backward, kernel in zip((False, True), kernels, strict=True):
        torch.manual_seed(0)
        call, name = kernel_call(case, torch.float32, backward=backward, ext=emu, device="cpu")
        assert name == kernel
        want = call(True, strip_rows=-1)
        for threads, tile, smem, strips in ((2, 16, 0, 3), (3, 48, BIG_SMEM, -1),
                                            (1, 64, BIG_SMEM, 0), (2, 0, 0, 0), (3, 0, 0, 5)):
            got = call(True, max_tile=tile, block_threads=threads, smem_limit=smem,
                       strip_rows=strips)
            for a, b in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,), strict=True):
                assert torch.equal(a, b), (backward, threads, tile, strips)


def test_gpu_benchmark_strips_table_runs_on_the_emulation():
    """The benchmark's strips-vs-one-strip row (a shrunk T up-4 layer, on the kernels' CPU
    emulation, host clock): both kernels timed under both plans, the plans recorded."""
    from bandlimit.ops.cuda import _build
    from benchmarks.ops_cuda import layer_cases, strips_vs_one_strip

    emu = _build.load_emulation()
    case = {c["name"]: c for c in layer_cases(1024, "T", 1)}["T1024 L10_1044_81"]
    ab = strips_vs_one_strip(dict(case, shape=(1, 2, 30, 30)), 1, ext=emu, device="cpu")
    for key in ("fwd", "bwd"):
        r = ab[key]
        assert r["auto_s"] > 0 and r["one_s"] > 0
        assert len(r["auto_plan"]) == len(r["one_plan"]) == 5
        assert r["one_plan"][2] == r["one_plan"][1]  # one strip


def test_gpu_benchmark_tensor_core_table_runs_on_the_emulation():
    """The benchmark's tensor-cores-vs-CUDA-cores rows (shrunk T and R up-4 layers, float16, on
    the kernels' CPU emulation): both variants timed in both directions, where stage B is
    separable (T's forward, every backward) and where it is R's radial filter down by 2."""
    from bandlimit.ops.cuda import _build
    from benchmarks.ops_cuda import layer_cases, tensor_cores_vs_cuda_cores

    emu = _build.load_emulation()
    cases = {c["name"]: c for c in layer_cases(1024, "T", 1) + layer_cases(256, "R", 1)}
    for layer, fwd_applies in (("T1024 L10_1044_81", True), ("R256 L10_276_512", True)):
        ab = tensor_cores_vs_cuda_cores(dict(cases[layer], shape=(1, 2, 30, 30)),
                                        torch.float16, 1, ext=emu, device="cpu")
        assert (ab["fwd"]["applies"], ab["bwd"]["applies"]) == (fwd_applies, True), layer
        for r in ab.values():
            assert r["mma_s"] > 0 and r["cores_s"] > 0 and r["kernel"] != "generic"


def test_gpu_sanitizer_workload_runs_on_cpu():
    """benchmarks/cuda_sanitize.py (the suite's compute-sanitizer workload) runs its cases with
    'ref' on the CPU; tests/ops/test_cuda_emulation.py checks its fused kernels."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cuda_sanitize.py"),
                        "--device", "cpu", "--impl", "ref"], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": ok") == 11, r.stdout


def test_vocoder_benchmark_patches_a_whole_model_and_records(tmp_path):
    """The end-to-end vocoder benchmark: BigVGAN-base's published size, every activation block
    patched (the patched model computes the peer's output) and a record of every case."""
    import json

    from benchmarks.vocoder import build_models, main

    models = build_models("base")
    params = sum(t.numel() for t in models["alias-free-torch"].parameters())
    assert 13.5e6 < params < 14.5e6  # BigVGAN-base: 14 M
    ours = models["bandlimit"]
    kinds = {type(m).__module__ for m in ours.modules() if type(m).__name__ == "Activation1d"}
    assert kinds == {"bandlimit.nn.bigvgan"}
    assert sum(type(m).__name__ == "Activation1d" for m in ours.modules()) == 4 * 3 * 6 + 1

    out = main(["--channels", "16", "--seconds", "0.05", "--chunk-frames", "2", "--batch", "1",
                "--repeat", "1", "--results", str(tmp_path)])
    data = json.loads(out.read_text())
    assert data["meta"]["max_output_difference"] < 1e-5
    assert len(data["rows"]) == 3
    assert all(r[f"{v}_ms"] > 0 for r in data["rows"]
               for v in ("alias-free-torch", "bandlimit", "convolutions only"))
    # compiled (aot_eager: Dynamo and AOTAutograd without inductor's code generation), with the
    # training step's backward through the compiled graph
    out = main(["--channels", "16", "--seconds", "0.05", "--chunk-frames", "2", "--batch", "1",
                "--repeat", "1", "--results", str(tmp_path), "--compile", "aot_eager"])
    data = json.loads(out.read_text())
    assert data["meta"]["compile_backend"] == "aot_eager" and "compiled" in out.name
    assert data["meta"]["compiled_output_difference"] < 1e-5 and len(data["rows"]) == 3


def test_antialias_benchmark_runs_and_records(tmp_path):
    """The antialias benchmark converts its models (the local ResNet-shaped one at least),
    times them before and after and writes a record; the local model keeps its output size."""
    import json

    import torch

    from bandlimit.nn import antialias
    from benchmarks.antialias import main, small_resnet

    out = main(["--repeat", "1", "--batch", "1", "--size", "32", "--results", str(tmp_path)])
    rows = json.loads(out.read_text())["rows"]
    local = rows[0]
    assert local["model"] == "small ResNet (local)" and local["layers_changed"] == 8
    assert all(local[k] > 0 for k in ("antialias_ms", "plain_ms", "binomial_ms", "kaiser_ms"))
    model = small_resnet().eval()
    antialias(model)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_ref_autograd_benchmark_runs_and_records(tmp_path):
    """One row of ``benchmarks.ref_autograd`` (the 3-D case): what 'ref' holds now, and what
    autograd through the composition held, measured in one run (times not checked)."""
    import json

    from benchmarks.ref_autograd import main

    out = main(["--only", "GELU 3-D", "--repeat", "1", "--results", str(tmp_path)])
    (row,) = json.loads(out.read_text())["rows"]
    assert row["recompute_held_x"] < 3 < 30 < row["composition_held_x"]
    assert row["recompute_ms"] > 0 and row["composition_ms"] > 0
