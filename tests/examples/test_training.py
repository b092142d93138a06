"""Tests of the training pieces: discriminator, loss, trainer (smoke, resume, DDP, bad input)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from afgan.discriminator import Conv2dLayer, Discriminator, MinibatchStdLayer
from afgan.legacy import (
    PersistentRecord,
    discriminator_from_record,
    load_checkpoint,
    load_network,
    save_checkpoint,
)
from afgan.loss import StyleGAN2Loss, blur_filter, blur_sigma
from afgan.networks import Generator
from afgan.training import TrainConfig, _progress_line, build_networks, default_gamma
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REPO = EXAMPLES.parent

# A tiny but complete configuration: 16², 4 synthesis layers, few channels.
TINY = ["--resolution", "16", "--batch", "4", "--cbase", "256", "--cmax", "16", "--num-layers",
        "4", "--z-dim", "16", "--w-dim", "16", "--grid", "2x2", "--quiet"]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Discriminator: official names, numerics against naive float64 loops.


def test_discriminator_state_dict_names():
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=128, channel_max=8)
    shapes = {k: tuple(v.shape) for k, v in D.state_dict().items()}
    expected = {
        "b16.resample_filter": (4, 4),
        "b16.fromrgb.weight": (8, 3, 1, 1), "b16.fromrgb.bias": (8,),
        "b16.fromrgb.resample_filter": (4, 4),
        "b16.conv0.weight": (8, 8, 3, 3), "b16.conv0.bias": (8,),
        "b16.conv0.resample_filter": (4, 4),
        "b16.conv1.weight": (8, 8, 3, 3), "b16.conv1.bias": (8,),
        "b16.conv1.resample_filter": (4, 4),
        "b16.skip.weight": (8, 8, 1, 1), "b16.skip.resample_filter": (4, 4),
        "b8.resample_filter": (4, 4),
        "b8.conv0.weight": (8, 8, 3, 3), "b8.conv0.bias": (8,),
        "b8.conv0.resample_filter": (4, 4),
        "b8.conv1.weight": (8, 8, 3, 3), "b8.conv1.bias": (8,),
        "b8.conv1.resample_filter": (4, 4),
        "b8.skip.weight": (8, 8, 1, 1), "b8.skip.resample_filter": (4, 4),
        "b4.conv.weight": (8, 9, 3, 3), "b4.conv.bias": (8,), "b4.conv.resample_filter": (4, 4),
        "b4.fc.weight": (8, 128), "b4.fc.bias": (8,),
        "b4.out.weight": (1, 8), "b4.out.bias": (1,),
    }  # fmt: skip
    assert shapes == expected
    f = D.b16.resample_filter.double().numpy()
    np.testing.assert_allclose(f, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64, rtol=1e-7)


def test_conditional_discriminator_names_and_output():
    D = Discriminator(c_dim=5, img_resolution=8, img_channels=1, channel_base=64, channel_max=8)
    keys = set(D.state_dict())
    assert {"mapping.embed.weight", "mapping.fc0.weight", "mapping.fc7.bias"} <= keys
    assert "mapping.w_avg" not in keys and D.b4.out.weight.shape == (8, 8)  # cmap_dim = 8
    out = D(torch.randn(4, 1, 8, 8), torch.eye(5)[:4])
    assert out.shape == (4, 1) and torch.isfinite(out).all()


def naive_conv_down(x, w, b, f, act_gain, clamp):
    # out[o] = Σ_{a,b} f[a] w[b] x[2o + a + b - 2] (3×3, stride 2, FIR [1,3,3,1]/8 per axis),
    # then bias, lrelu(0.2)·gain, clamp. float64 loops.
    n, ci, h, _ = x.shape
    co, _, k, _ = w.shape
    xp = np.zeros((n, ci, h + 8, h + 8))
    xp[:, :, 4 : 4 + h, 4 : 4 + h] = x
    out = np.zeros((n, co, h // 2, h // 2))
    for oy in range(h // 2):
        for ox in range(h // 2):
            acc = np.zeros((n, co))
            for ay in range(4):
                for ax in range(4):
                    for by in range(k):
                        for bx in range(k):
                            y = 2 * oy + ay + by - 2 + 4
                            xx = 2 * ox + ax + bx - 2 + 4
                            acc += f[ay, ax] * xp[:, :, y, xx] @ w[:, :, by, bx].T
            out[:, :, oy, ox] = acc
    out = out + b[None, :, None, None]
    out = np.where(out >= 0, out, 0.2 * out) * act_gain
    return np.clip(out, -clamp, clamp)


def test_conv_down_matches_naive_loops():
    torch.manual_seed(0)
    layer = Conv2dLayer(3, 4, 3, activation="lrelu", down=2, conv_clamp=0.9)
    layer.bias.data.normal_()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    got = layer.double()(x, gain=math.sqrt(0.5)).detach().numpy()
    w = layer.weight.detach().double().numpy() / math.sqrt(3 * 9)
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64
    want = naive_conv_down(x.numpy(), w, layer.bias.detach().double().numpy(), f,
                           math.sqrt(2) * math.sqrt(0.5), 0.9 * math.sqrt(0.5))  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_skip_down_is_filter_then_decimate():
    # 1×1, no bias, down 2: equal to the 3×3 path's alignment (FIR centred between pixel pairs).
    torch.manual_seed(1)
    layer = Conv2dLayer(2, 2, 1, bias=False, down=2).double()
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    got = layer(x).detach().numpy()
    w = layer.weight.detach().double().numpy()[:, :, 0, 0] / math.sqrt(2)
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((1, 2, 4, 4))
    for oy in range(4):
        for ox in range(4):
            patch = xp[:, :, 2 * oy : 2 * oy + 4, 2 * ox : 2 * ox + 4]
            want[:, :, oy, ox] = np.einsum("nchw,hw,oc->no", patch, f, w)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@given(n=st.sampled_from([2, 4, 8, 12]), group=st.sampled_from([2, 4]), f=st.sampled_from([1, 2]))
@settings(max_examples=15, deadline=None)
def test_minibatch_std_matches_naive(n, group, f):
    x = torch.randn(n, 4, 3, 3, dtype=torch.float64)
    got = MinibatchStdLayer(group, f)(x).numpy()
    g = min(group, n)
    xn = x.numpy()
    assert got.shape == (n, 4 + f, 3, 3)
    np.testing.assert_array_equal(got[:, :4], xn)
    for i in range(n):
        members = [j for j in range(n) if j % (n // g) == i % (n // g)]
        for k in range(f):
            sl = xn[members][:, k * (4 // f) : (k + 1) * (4 // f)]
            want = np.sqrt(sl.var(axis=0) + 1e-8).mean()
            np.testing.assert_allclose(got[i, 4 + k], want, rtol=1e-10)


def test_discriminator_bad_input():
    with pytest.raises(ValueError, match="img_resolution must be a power of two"):
        Discriminator(0, 12, 3)
    with pytest.raises(ValueError, match="architecture must be 'resnet'"):
        Discriminator(0, 16, 3, architecture="skip")
    D = Discriminator(0, 8, 3, channel_base=64, channel_max=8)
    with pytest.raises(ValueError, match=r"img must have shape \[batch, 3, 8, 8\]"):
        D(torch.zeros(4, 3, 16, 16), None)
    with pytest.raises(ValueError, match="divisible by the minibatch-stddev group"):
        D(torch.zeros(6, 3, 8, 8), None)


def _record(module, class_name, init_kwargs=None):
    state = {"_parameters": dict(module._parameters), "_buffers": dict(module._buffers),
             "_non_persistent_buffers_set": set(),
             "_modules": {k: _record(m, "x") for k, m in module._modules.items()},
             "_init_kwargs": init_kwargs or {}}  # fmt: skip
    return PersistentRecord(class_name, 6, state)


def test_legacy_loads_official_layout_discriminator():
    torch.manual_seed(2)
    D = Discriminator(c_dim=3, img_resolution=16, img_channels=3, channel_base=128, channel_max=8)
    kwargs = dict(c_dim=3, img_resolution=16, img_channels=3, channel_base=128, channel_max=8,
                  block_kwargs={"freeze_layers": 0}, mapping_kwargs={},
                  epilogue_kwargs={"mbstd_group_size": 4})  # fmt: skip
    rec = _record(D, "training.networks_stylegan2.Discriminator", kwargs)
    D2 = discriminator_from_record(rec)
    img, c = torch.randn(4, 3, 16, 16), torch.eye(3)[[0, 1, 2, 0]]
    torch.testing.assert_close(D2(img, c), D(img, c), rtol=0, atol=0)
    bad = _record(Discriminator(0, 16, 3, channel_base=128, channel_max=8),
                  "training.networks_stylegan2.Discriminator", kwargs)  # fmt: skip
    with pytest.raises(ValueError, match="do not match"):
        discriminator_from_record(bad)


def test_checkpoint_round_trips_discriminator(tmp_path):
    D = Discriminator(0, 8, 3, channel_base=64, channel_max=8)
    save_checkpoint(tmp_path / "c.pt", D=D, step=3)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["step"] == 3 and isinstance(back["D"], Discriminator)
    for k, v in D.state_dict().items():
        assert torch.equal(back["D"].state_dict()[k], v)


# ---------------------------------------------------------------------------------------------
# Loss.


def test_blur_filter_formula_and_fade():
    f = blur_filter(2.0).double().numpy()
    x = np.arange(-6, 7)
    want = 2.0 ** (-((x / 2.0) ** 2))
    np.testing.assert_allclose(f, want / want.sum(), rtol=1e-6)
    assert blur_filter(0.3) is None
    assert blur_sigma(0, 10, 200) == 10 and blur_sigma(100_000, 10, 200) == 5
    assert blur_sigma(500_000, 10, 200) == 0
    assert blur_sigma(0, 10, 0) == 0  # no fade: no blur, as upstream
    assert default_gamma(256, 32) == pytest.approx(2.048)


def _tiny_pair():
    torch.manual_seed(0)
    G = Generator(8, 0, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3)
    D = Discriminator(0, 16, 3, channel_base=128, channel_max=8)
    return G, D


def test_loss_phases_gradients():
    G, D = _tiny_pair()
    loss = StyleGAN2Loss(G, D, r1_gamma=1.0, blur_init_sigma=2, blur_fade_kimg=1)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    z, c = torch.randn(4, 8), torch.zeros(4, 0)
    ema_before = G.synthesis.L0_36_8.magnitude_ema.clone()
    st = loss.accumulate_gradients("Dmain", real, c, z, c, 1, 0)
    assert not torch.equal(G.synthesis.L0_36_8.magnitude_ema, ema_before)  # EMAs move in Dmain
    assert all(p.grad is not None for p in D.parameters() if p.requires_grad)
    assert all(p.grad is None for p in G.parameters())
    assert math.isfinite(st["loss_D"]) and st["loss_D"] > 0
    # Detached 0-d tensors: the trainer reads them once per tick (no device sync per step).
    assert all(v.ndim == 0 and not v.requires_grad for v in st.values())
    assert float(st["loss_D"]) == pytest.approx(float(st["loss_D_fake"] + st["loss_D_real"]))
    D.zero_grad()
    st = loss.accumulate_gradients("Dreg", real, c, z, c, 16, 0)
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)  # double backward worked
    assert st["r1_penalty"] > 0
    # R1 by hand: the penalty equals Σ (∂D/∂x)² computed with a finite difference probe.
    x = real[:1].clone().double().requires_grad_(True)
    Dd = D.double()
    (g,) = torch.autograd.grad(Dd(loss._blur(x, 0), None).sum(), x)
    eps = 1e-6
    v = torch.randn_like(x)
    fd = (Dd(loss._blur(x + eps * v, 0), None) - Dd(loss._blur(x - eps * v, 0), None)) / (2 * eps)
    torch.testing.assert_close((g * v).sum(), fd.sum(), rtol=1e-5, atol=1e-7)
    G.zero_grad()
    D.float()
    st = loss.accumulate_gradients("Gmain", real, c, z, c, 1, 0)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    with pytest.raises(ValueError, match="phase must be one of"):
        loss.accumulate_gradients("Greg", real, c, z, c, 1, 0)
    with pytest.raises(ValueError, match="r1_gamma"):
        StyleGAN2Loss(G, D, r1_gamma=-1)


# ---------------------------------------------------------------------------------------------
# The trainer.


def run_cli(*args):
    from train_afgan import main

    return main([*TINY, *args])


def test_smoke_train_writes_run_and_checkpoint_round_trips(tmp_path):
    s = run_cli("--outdir", str(tmp_path), "--run-name", "smoke", "--kimg", "0.024",
                "--tick", "0.008", "--snap", "2", "--keep", "2")  # fmt: skip
    run = Path(s["run_dir"])
    assert s["step"] == 6 and not s["stopped"]
    for name in ("config.json", "log.jsonl", "reals.png", "fakes_init.png", "losses.png",
                 "summary.json"):  # fmt: skip
        assert (run / name).is_file(), name
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [r["tick"] for r in rows] == [1, 2, 3]
    for r in rows:
        for k in ("loss_G", "loss_D", "loss_D_real", "loss_D_fake"):
            assert math.isfinite(r[k]), (k, r)
    assert math.isfinite(rows[0]["r1_penalty"])  # R1 ran at step 0
    ckpts = sorted(run.glob("checkpoint-*.pt"))
    assert [c.name for c in ckpts] == ["checkpoint-00000004.pt", "checkpoint-00000006.pt"]
    assert len(list(run.glob("fakes0*.png"))) == 2
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["resolution"] == 16 and cfg["derived"]["gamma"] == pytest.approx(0.064)

    nets = load_network(ckpts[-1])
    G = nets["G_ema"]
    assert isinstance(G, Generator) and isinstance(nets["D"], Discriminator)
    assert nets["training_state"]["step"] == 6
    z = torch.randn(2, 16)
    with torch.no_grad():
        img = G(z, None)
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
    # The checkpoint feeds gen_images.py unchanged.
    from gen_images import main as gen

    written = gen(["--network", str(ckpts[-1]), "--seeds", "0-1", "--outdir", str(tmp_path / "g")])
    assert len(written) == 2


def _states(path):
    nets = load_network(path)
    return {n: nets[n].state_dict() for n in ("G", "D", "G_ema")}, nets["training_state"]


def test_resume_equals_uninterrupted(tmp_path):
    common = ["--outdir", str(tmp_path), "--kimg", "0.02", "--tick", "0.02", "--snap", "1"]
    full = run_cli(*common, "--run-name", "full")
    part = run_cli(*common, "--run-name", "part", "--stop-at-step", "2")
    assert part["stopped"] and part["step"] == 2
    resumed = run_cli(*common, "--resume", part["run_dir"])
    assert resumed["run_dir"] == part["run_dir"] and resumed["step"] == full["step"] == 5
    a, sa = _states(full["checkpoint"])
    b, sb = _states(resumed["checkpoint"])
    assert sa["cur_nimg"] == sb["cur_nimg"]
    for net in a:
        for k in a[net]:
            torch.testing.assert_close(b[net][k], a[net][k], rtol=1e-6, atol=1e-7, msg=k)
    for opt in ("G_opt", "D_opt"):
        for i, st_a in sa[opt]["state"].items():
            for k, v in st_a.items():
                torch.testing.assert_close(sb[opt]["state"][i][k], v, rtol=1e-6, atol=1e-7)
    # On one CPU process the continuation is bit-exact.
    assert full["digest"] == resumed["digest"]
    log = [json.loads(x) for x in (Path(part["run_dir"]) / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 5]


@pytest.mark.parametrize("cfg", ["stylegan3-t", "stylegan3-r"])
def test_a_run_started_from_weights_resumes_exactly(tmp_path, cfg):
    """Weights only: no EMA ramp-up and no blur (official rule), also after an interruption."""
    seed_run = run_cli("--outdir", str(tmp_path), "--run-name", "seed", "--kimg", "0.008",
                       "--tick", "0.008", "--snap", "1", "--cfg", cfg)  # fmt: skip
    weights = tmp_path / "weights.pt"  # outside a run directory: a weights-only source
    weights.write_bytes(Path(seed_run["checkpoint"]).read_bytes())
    common = ["--outdir", str(tmp_path), "--kimg", "0.02", "--tick", "0.02", "--snap", "1",
              "--cfg", cfg, "--resume", str(weights)]  # fmt: skip
    full = run_cli(*common, "--run-name", "full")
    part = run_cli(*common, "--run-name", "part", "--stop-at-step", "2")
    resumed = run_cli("--outdir", str(tmp_path), "--resume", part["run_dir"])
    assert resumed["step"] == full["step"] == 5
    assert resumed["digest"] == full["digest"]
    stored = json.loads((Path(part["run_dir"]) / "config.json").read_text())
    assert stored["config"]["ema_rampup"] is None and stored["config"]["blur_sigma"] == 0.0


def test_gradient_cleanup_scrubs_and_leaves_unreached_parameters_alone():
    from afgan.training import _Dist, _sync_gradients

    m = torch.nn.Linear(3, 2)
    m.weight.grad = torch.tensor([[math.nan, math.inf, -math.inf], [1.0, 2.0, 3.0]])
    _sync_gradients(m, _Dist())
    assert m.weight.grad.tolist() == [[0.0, 1e5, -1e5], [1.0, 2.0, 3.0]]
    # A parameter the phase did not reach (D's last bias in Dreg) keeps no gradient, so that
    # Adam skips it (its moments and step count stay as they were), as upstream.
    assert m.bias.grad is None
    opt = torch.optim.Adam(m.parameters(), betas=(0.0, 0.99))
    opt.step()
    assert m.bias not in opt.state


def _log_steps(run: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()]


def test_resume_from_an_older_checkpoint_rewinds_and_sets_the_rest_aside(tmp_path, capsys):
    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.024", "--tick",
              "0.008", "--snap", "1", "--keep", "2"]  # fmt: skip
    full = run_cli(*common)
    run = Path(full["run_dir"])
    assert [c.name for c in sorted(run.glob("checkpoint-*.pt"))] == [
        "checkpoint-00000004.pt", "checkpoint-00000006.pt"]
    resumed = run_cli(*common, "--resume", str(run / "checkpoint-00000004.pt"))
    assert "the run's later checkpoints, grids and log lines are in" in capsys.readouterr().err
    aside = run / "superseded-1"
    assert sorted(p.name for p in aside.iterdir()) == [
        "checkpoint-00000006.pt", "fakes00000006.png", "log.jsonl", "rewind.json", "summary.json"]
    assert json.loads((aside / "summary.json").read_text())["step"] == 6
    assert _log_steps(aside) == [6] and _log_steps(run) == [2, 4, 6]
    # --keep 2 pruned the rewound run's own checkpoints, not the set-aside one.
    assert [c.name for c in sorted(run.glob("checkpoint-*.pt"))] == [
        "checkpoint-00000004.pt", "checkpoint-00000006.pt"]
    assert resumed["digest"] == full["digest"]  # the same steps again, bit-exact on CPU

    # Resuming the finished run does nothing and still reports its checkpoint.
    again = run_cli(*common, "--resume", str(run))
    assert again["step"] == 6 and again["checkpoint"] == str(run / "checkpoint-00000006.pt")
    assert json.loads((run / "summary.json").read_text())["checkpoint"] == again["checkpoint"]
    assert not (run / "superseded-2").exists() and _log_steps(run) == [2, 4, 6]

    # A set-aside checkpoint continues its own branch: the run is rewound to where that branch
    # left it (a second branch, B, went on to step 8 in the meantime) and the branch comes back.
    assert json.loads((aside / "rewind.json").read_text()) == {"rewound_to_step": 4}
    run_cli(*common[:4], "--kimg", "0.032", *common[6:], "--resume", str(run))  # B: 6, 8
    assert _log_steps(run) == [2, 4, 6, 8]
    runs = sorted(p.name for p in tmp_path.iterdir())
    back = run_cli(*common, "--resume", str(aside / "checkpoint-00000006.pt"))
    assert back["run_dir"] == str(run) and back["step"] == 6  # A ended at 6: nothing to run
    assert back["checkpoint"] == str(run / "checkpoint-00000006.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == runs  # no new run directory
    b_aside = run / "superseded-2"  # B, after step 4
    assert sorted(p.name for p in b_aside.glob("checkpoint-*")) == [
        "checkpoint-00000006.pt", "checkpoint-00000008.pt"]
    assert _log_steps(b_aside) == [6, 8] and _log_steps(run) == [2, 4, 6]
    assert not list(aside.glob("checkpoint-*")) and _log_steps(aside) == []
    with pytest.raises(SystemExit):  # an older set-aside folder: where it branched is unknown
        (b_aside / "rewind.json").unlink()
        run_cli(*common, "--resume", str(b_aside / "checkpoint-00000008.pt"))
    assert "rewind.json" in capsys.readouterr().err


def test_a_log_line_cut_short_stays_alone_and_is_skipped(tmp_path):
    """A full disk can leave half a line at the end of log.jsonl: the next tick starts a new
    line, and the plot and the rewind logic skip the broken one."""
    common = ["--outdir", str(tmp_path), "--run-name", "c", "--kimg", "0.02", "--tick", "0.008"]
    part = run_cli(*common, "--stop-at-step", "2")
    log = Path(part["run_dir"]) / "log.jsonl"
    (Path(part["run_dir"]) / "losses.png").unlink()
    log.write_text(log.read_text() + '{"tick": 9, "step": 3, "kim')
    run_cli(*common, "--resume", part["run_dir"])
    lines = log.read_text().splitlines()
    assert lines[1] == '{"tick": 9, "step": 3, "kim' and len(lines) == 4
    assert [json.loads(x)["step"] for x in lines[:1] + lines[2:]] == [2, 4, 5]
    assert (Path(part["run_dir"]) / "losses.png").is_file()


def test_resume_keeps_the_runs_options_unless_given(tmp_path):
    """`--resume RUN` alone continues with the stored --kimg/--tick (not the CLI defaults)."""
    from train_afgan import main

    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.02", "--tick", "0.008"]
    part = run_cli(*common, "--stop-at-step", "2")
    resumed = main(["--resume", part["run_dir"], "--quiet"])
    assert resumed["step"] == 5 and not resumed["stopped"]  # 0.02 kimg at batch 4, not 10 kimg
    cfg = json.loads((Path(part["run_dir"]) / "config.json").read_text())["config"]
    assert cfg["kimg"] == 0.02 and cfg["tick"] == 0.008


def test_data_folder_sets_the_resolution(tmp_path, capsys):
    """--data without --resolution trains at the images' size (the default 32 is for the
    embedded shapes); a --resolution that disagrees is still an error. Images with transparency
    get a note that it is dropped."""
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3 + (i == 5)), dtype=np.uint8)).save(
            folder / f"{i}.png"
        )
    from train_afgan import main

    assert TINY[:2] == ["--resolution", "16"]
    tiny = TINY[2:]
    s = main([*tiny, "--data", str(folder), "--outdir", str(tmp_path), "--kimg", "0.008",
              "--tick", "0.008"])  # fmt: skip
    cfg = json.loads((Path(s["run_dir"]) / "config.json").read_text())["config"]
    assert cfg["resolution"] == 16
    assert "note: 1 image of" in capsys.readouterr().err  # 5.png is RGBA


def _bad(capsys, *args):
    from train_afgan import main

    with pytest.raises(SystemExit) as e:
        main(["--quiet", *args])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_margin_and_d_width_reach_the_networks_and_old_configs_keep_margin_10():
    cfg = TrainConfig(resolution=16, cbase=256, cmax=16, num_layers=4, z_dim=8, w_dim=8,
                      margin=3, dcbase=512, dcmax=24)  # fmt: skip
    G, D = build_networks(cfg, 0, 3)
    assert G.synthesis.margin_size == 3
    assert max(b.out_channels for b in D.modules() if isinstance(b, Conv2dLayer)) == 24
    old = cfg.to_json()
    del old["margin"]
    assert TrainConfig.from_json(old).margin == 10
    assert TrainConfig().margin == 10


def test_num_critical_reaches_the_schedule_and_old_configs_keep_2():
    cfg = TrainConfig(resolution=16, cbase=256, cmax=16, num_layers=4, z_dim=8, w_dim=8,
                      num_critical=1)  # fmt: skip
    G, _ = build_networks(cfg, 0, 3)
    cutoffs = [layer.out_cutoff for layer in G.synthesis.schedule.layers]
    # One critically sampled layer: geometric from 2 to res / 2 = 8 over three layers.
    assert cutoffs == pytest.approx([2 * 4 ** (i / 3) for i in range(4)] + [8])
    old = cfg.to_json()
    del old["num_critical"]
    assert TrainConfig.from_json(old).num_critical == 2


def test_progress_bar_follows_the_images_or_the_minutes_whichever_end_first():
    # 25 of 100 kimg in 60 s: 3 more minutes for the images.
    line = _progress_line(25_000, 100_000, 60.0, None)
    assert "[#######" + " " * 23 + "]" in line and "25.00/100 kimg" in line
    assert "1m00s elapsed, ETA 3m00s" in line
    # With --minutes 2 of which 60 s are used, the time ends the run first: half the bar.
    line = _progress_line(25_000, 100_000, 60.0, (120.0, 60.0))
    assert "[" + "#" * 15 + " " * 15 + "]" in line and "ETA 1m00s" in line
    # A resumed run (90 s spent before this session) whose budget is nearly used up.
    line = _progress_line(50_000, 100_000, 150.0, (120.0, 119.5))
    assert "#" * 29 in line and "ETA 0m00s" in line
    assert "ETA 2m00s" in _progress_line(0, 100_000, 0.0, (120.0, 0.0))


def test_magnitude_ema_half_life_reaches_every_layer():
    cfg = TrainConfig(resolution=16, cbase=256, cmax=16, num_layers=4, z_dim=8, w_dim=8,
                      batch=8, mag_ema_kimg=0.5)  # fmt: skip
    G, _ = build_networks(cfg, 0, 3)
    betas = [m.magnitude_ema_beta for m in G.synthesis.modules() if hasattr(m, "magnitude_ema")]
    assert len(betas) == 5 and betas == pytest.approx([0.5 ** (8 / 500)] * 5)
    # Official default: a 20 kimg half-life; configs written before the option keep it.
    old = cfg.to_json()
    del old["mag_ema_kimg"]
    assert TrainConfig.from_json(old).mag_ema_kimg == 20.0


def test_bad_inputs_give_one_clear_line(tmp_path, capsys):
    from PIL import Image

    assert "--cfg must be one of stylegan3-t, stylegan3-r, got 'stylegan2'" in _bad(
        capsys, "--cfg", "stylegan2", "--outdir", str(tmp_path)
    )
    assert "does not exist" in _bad(capsys, "--data", str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    assert "contains no PNG/JPEG images" in _bad(capsys, "--data", str(tmp_path / "empty"))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (16, 16)).save(mixed / "a.png")
    Image.new("RGB", (8, 8)).save(mixed / "b.png")
    line = _bad(capsys, "--data", str(mixed), "--resolution", "16")
    assert "b.png: image is 8x8, expected 16x16" in line
    assert "--resume" in _bad(capsys, "--resume", str(tmp_path / "nothing"))
    assert "--resolution must be a power of two" in _bad(capsys, "--resolution", "24")
    assert "--margin must be an integer >= 0, got -1" in _bad(capsys, "--margin", "-1")
    line = _bad(capsys, "--num-critical", "4", "--num-layers", "4")
    assert "--num-critical must be an integer in [0, --num-layers=4), got 4" in line
    line = _bad(capsys, "--mag-ema-kimg", "0")
    assert "--mag-ema-kimg must be a positive number, got 0.0" in line
    line = _bad(capsys, "--kimg", "0.0001")  # positive, but no image: no step, no checkpoint
    assert "--kimg must be at least 0.001 (one image), got 0.0001" in line
    assert "--impl cuda needs --device cuda, got --device 'cpu'" in _bad(capsys, "--impl", "cuda")
    assert "--metrics-samples must be an integer >= 1, got 0" in _bad(
        capsys, "--metrics-samples", "0")
    assert "--seed must be an integer in [0, 2**32), got -1" in _bad(capsys, "--seed", "-1")
    assert "--workers must be an integer >= 0, got -1" in _bad(capsys, "--workers", "-1")
    assert "--minutes must be a positive number, got nan" in _bad(capsys, "--minutes", "nan")
    line = _bad(capsys, "--cond", "1", "--outdir", str(tmp_path))
    assert "--cond 1 needs labels" in line
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    assert "cannot be loaded" in _bad(capsys, "--resume", str(tmp_path / "module.pt"))
    for name in ("../escape", "a/b", "..", "", "C:escape", "a\\b"):
        line = _bad(capsys, "--run-name", name, "--outdir", str(tmp_path))
        assert "--run-name must be a plain directory name (no '/', '\\' or ':', not '.' or " \
               f"'..'): it is created inside --outdir, got {name!r}" in line  # fmt: skip
    assert not (tmp_path.parent / "escape").exists()
    (tmp_path / "a_file").write_text("precious")
    line = _bad(capsys, "--outdir", str(tmp_path / "a_file"))
    assert "cannot create the run directory" in line and "a_file" in line
    assert (tmp_path / "a_file").read_text() == "precious"
    assert "--device must be cpu, cuda or cuda:N, got 'bogus'" in _bad(capsys, "--device", "bogus")
    assert "--device must be cpu, cuda or cuda:N, got 'meta'" in _bad(capsys, "--device", "meta")
    if not torch.cuda.is_available():
        assert "--device cuda but torch sees no CUDA GPU" in _bad(capsys, "--device", "cuda")
    line = _bad(capsys, "--batch", "6", "--outdir", str(tmp_path))
    assert "per-process batch 6 must be divisible by the minibatch-stddev group size 4" in line
    # argparse-level errors also end in one usage line + one error line (exit 2).
    from train_afgan import main

    with pytest.raises(SystemExit):
        main(["--metrics", "fid50k"])
    assert "unknown metric 'fid50k'" in capsys.readouterr().err


def _png_with_short_image_data(path: Path, size: int) -> None:
    """A PNG whose chunks and checksums are all valid but whose pixel stream ends early: it
    passes the dataset's up-front checks and fails only when decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


def test_image_that_fails_to_decode_mid_run_is_one_clear_line(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (16, 16), (60 * i, 0, 0)).save(folder / f"{i}.png")
    _png_with_short_image_data(folder / "4.png", 16)
    line = _bad(capsys, *TINY, "--data", str(folder), "--outdir", str(tmp_path), "--kimg", "0.1")
    assert "4.png: not a readable image" in line
    # Conditional: the per-step labels are read without decoding images, so the same line.
    labels = [[f"{i}.png", i % 2] for i in range(5)]
    (folder / "dataset.json").write_text(json.dumps({"labels": labels}))
    line = _bad(capsys, *TINY, "--data", str(folder), "--cond", "1", "--outdir", str(tmp_path),
                "--kimg", "0.1")  # fmt: skip
    assert "4.png: not a readable image" in line


def _two_processes(tmp_path, kimg: str, ada_kimg: str) -> tuple[dict, list[str], list[str]]:
    """The environment, the trainer's options and the torchrun command of a two-process gloo
    run with ADA. --standalone: torchrun picks a free port itself (no race between choosing
    and binding); TMPDIR: its elastic agent leaves a directory behind in the temporary folder;
    --mbstd-group 1: no statistic across samples, so that one process sees the same."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "TMPDIR": str(tmp_path)}  # fmt: skip
    common = [*TINY, "--batch", "8", "--outdir", str(tmp_path), "--kimg", kimg, "--tick", kimg,
              "--snap", "1", "--mbstd-group", "1", "--aug", "ada", "--aug-p", "0.5",
              "--ada-kimg", ada_kimg]  # fmt: skip
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(EXAMPLES / "train_afgan.py"), *common]  # fmt: skip
    return env, common, run


def test_two_process_gloo_ddp_ranks_agree(tmp_path):
    # ADA (p moved by the signs of both ranks' reals) augments each image alike in both runs;
    # FID at the snapshot: each rank measures its share of the reals and the fakes
    env, common, run = _two_processes(tmp_path, "0.024", "0.1")
    fid = ["--metrics", "fid", "--fid-features", str(_feature_extractor_file(tmp_path)),
           "--fid-samples", "12"]  # fmt: skip
    common, run = [*common, *fid], [*run, *fid]
    cmd = [*run, "--run-name", "ddp"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-6000:]
    # The same batches and latents as one process with that batch (each rank drew its own
    # latents), and the logged losses are the mean over the ranks (they were rank 0's).
    one = subprocess.run([sys.executable, str(EXAMPLES / "train_afgan.py"), *common,
                          "--run-name", "one"], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert one.returncode == 0, one.stderr[-6000:]
    rows = [json.loads((tmp_path / r / "log.jsonl").read_text().splitlines()[0])
            for r in ("ddp", "one")]  # fmt: skip
    for key in ("loss_G", "loss_D"):
        assert rows[0][key] == pytest.approx(rows[1][key], rel=1e-4), key
    assert rows[0]["augment_p"] == rows[1]["augment_p"]
    assert rows[0]["metrics"]["fid"] == pytest.approx(rows[1]["metrics"]["fid"], rel=1e-5)
    assert math.isfinite(rows[0]["metrics"]["fid"]) and rows[0]["metrics"]["fid"] > 0
    # the dataset's statistics were computed once, over both ranks' shares: the same file
    caches = [np.load(tmp_path / r / "fid_reals.npz") for r in ("ddp", "one")]
    assert int(caches[0]["count"]) == int(caches[1]["count"]) == 12
    for key in ("mean", "m2"):
        np.testing.assert_allclose(caches[0][key], caches[1][key], rtol=1e-6, atol=1e-9)
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 3
    assert summary["rank_digests"][0] == summary["rank_digests"][1]
    cfg = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert cfg["derived"]["batch_per_process"] == 4
    # A single process can read the checkpoint.
    nets = load_network(summary["checkpoint"])
    assert isinstance(nets["G_ema"], Generator)


def test_a_two_process_ada_run_checkpoints_every_ranks_signs_and_resumes_exactly(tmp_path):
    """The checkpoint (rank 0's) holds the signs of both ranks' reals since the last update,
    and the resumed run ends where the uninterrupted one does."""
    env, _, run = _two_processes(tmp_path, "0.048", "0.2")
    for extra in (["--run-name", "full"], ["--run-name", "part", "--stop-at-step", "3"]):
        res = subprocess.run([*run, *extra], env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-6000:]
    state = load_network(sorted((tmp_path / "part").glob("checkpoint-*.pt"))[-1])
    # steps 0-2 ran, p was updated after step 0: two Dmain batches of 8 reals over both ranks
    # (rank 0's own share would be 8)
    assert state["training_state"]["augment"]["sign_count"] == 16
    res = subprocess.run([*run, "--resume", str(tmp_path / "part")], env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-6000:]
    full, part = (json.loads((tmp_path / r / "summary.json").read_text()) for r in ("full", "part"))
    assert part["step"] == full["step"] == 6 and part["digest"] == full["digest"]


def test_a_problem_every_rank_finds_is_said_once(tmp_path):
    """--batch 7 on 2 ranks: each rank printed the error, the lines running into each other."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(EXAMPLES / "train_afgan.py"), *TINY, "--batch", "7", "--outdir", str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert res.stderr.count("error: --batch 7 must be divisible by the 2 processes\n") == 1, (
        res.stderr[-3000:])
    # one a node may find alone (a dataset only some nodes see) is said by each rank, which
    # names itself
    cmd[cmd.index("7")] = "8"
    res = subprocess.run([*cmd, "--data", str(tmp_path / "absent")], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert sorted(ln.startswith("error: (rank 1) --data") for ln in lines) == [False, True], lines


def test_logged_losses_are_the_mean_over_ranks(tmp_path):
    """log.jsonl showed rank 0's losses alone (half the batch under 2 ranks): the tick's means
    are all-reduced now."""
    script = tmp_path / "means.py"
    script.write_text(
        "import os, sys, torch, torch.distributed as dist\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from afgan.training import _Dist, _tick_means\n"
        "dist.init_process_group('gloo')\n"
        "r = dist.get_rank()\n"
        "stats = {'loss_G': [torch.tensor(1.0 + r), torch.tensor(3.0 + r)],\n"
        "         'loss_D': [torch.tensor(10.0 * (r + 1))]}\n"
        "got = _tick_means(stats, _Dist(r, 2, 0, True))\n"
        "assert got == {'loss_D': 15.0, 'loss_G': 2.5}, got\n"
        "dist.destroy_process_group()\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups")
def test_sigterm_to_the_process_group_with_loader_workers_still_checkpoints(tmp_path):
    """With --workers > 0 a SIGTERM to the process group (timeout, a batch system) killed the
    DataLoader workers too, and the trainer died on the lost worker without its stop
    checkpoint. The workers leave the signal to the trainer now."""
    import signal
    import time

    cmd = [sys.executable, str(EXAMPLES / "train_afgan.py"), *TINY, "--outdir", str(tmp_path),
           "--run-name", "w", "--kimg", "100", "--snap", "1000", "--workers", "2",
           "--metrics", "none"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        deadline = time.time() + 240
        while not (tmp_path / "w" / "fakes_init.png").exists() and time.time() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.5)
        time.sleep(3)  # into the training loop, workers prefetching
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["stopped"] and Path(summary["checkpoint"]).is_file()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through /proc")
def test_process_group_is_released_at_shutdown(tmp_path):
    # The first optimizer imports torch.distributed.nn, whose defaults (group=group.WORLD) kept
    # the gloo group alive past destroy_process_group when imported after it: its threads then
    # died at interpreter exit, aborting about 1 two-process run in 20.
    script = tmp_path / "ranks.py"
    script.write_text(
        "import os, torch\n"
        "from afgan.training import _init_distributed, _shutdown_distributed\n"
        "threads = lambda: len(os.listdir('/proc/self/task'))\n"
        "before = threads()\n"
        "d = _init_distributed('cpu')\n"
        "assert d.world == 2 and d.owns_group\n"
        "torch.optim.Adam([torch.zeros(1, requires_grad=True)])\n"
        "_shutdown_distributed(d, finished=True)\n"
        "print(f'threads {before} -> {threads()}', flush=True)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "TMPDIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(REPO), str(EXAMPLES)])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    counts = re.findall(r"threads (\d+) -> (\d+)", res.stdout)
    assert len(counts) == 2 and all(a == b for a, b in counts), res.stdout


@pytest.mark.parametrize("mode", ["translate", "walk", "rotate"])
def test_gen_video_writes_gif(tmp_path, mode):
    from gen_video import main as video
    from PIL import Image

    torch.manual_seed(0)
    G = Generator(8, 0, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3)
    save_checkpoint(tmp_path / "c.pt", G_ema=G)
    before = G.synthesis.input.transform.clone()
    out = video(["--network", str(tmp_path / "c.pt"), "--mode", mode, "--seeds", "0-1",
                 "--frames", "4", "--output", str(tmp_path / f"{mode}.gif")])  # fmt: skip
    tiles = 1 if mode == "walk" else 2  # walk: one latent path; otherwise one tile per seed
    with Image.open(out) as im:
        assert im.n_frames == 4 and im.size == (tiles * 16 * 8, 16 * 8)  # ×8 to 128 px
    assert torch.equal(G.synthesis.input.transform, before)


@pytest.mark.parametrize("c_dim", [0, 3])
def test_export_onnx_matches_the_generator(tmp_path, capsys, c_dim):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from export_onnx import main as export

    torch.manual_seed(0)
    G = Generator(8, c_dim, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3)
    save_checkpoint(tmp_path / "c.pt", G_ema=G)
    path = export(["--network", str(tmp_path / "c.pt"), "--output", str(tmp_path / "g.onnx"),
                   "--batch", "4", "--trunc", "0.7"])  # fmt: skip
    assert "max |difference|" in capsys.readouterr().out
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["z", "c"][: 1 + (c_dim > 0)]
    for batch in (1, 5):  # the batch is dynamic (the export traced 2)
        z = torch.randn(batch, 8)
        c = torch.eye(3)[torch.arange(batch) % 3] if c_dim else None
        feed = {"z": z.numpy()} | ({"c": c.numpy()} if c_dim else {})
        (img,) = session.run(None, feed)
        with torch.no_grad():
            want = G.eval()(z, c, truncation_psi=0.7)
        assert img.shape == (batch, 3, 16, 16)
        torch.testing.assert_close(torch.from_numpy(img), want, rtol=1e-4, atol=1e-4)


def test_export_onnx_bad_arguments_are_one_line(tmp_path, capsys):
    from export_onnx import main as export

    G = Generator(8, 0, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3)
    save_checkpoint(tmp_path / "c.pt", G_ema=G)
    for args, message in ((["--output", str(tmp_path / "g.png")], "--output must end in .onnx"),
                          (["--output", str(tmp_path / "x.onnx"), "--batch", "0"], "--batch"),
                          (["--output", str(tmp_path)], "must end in .onnx")):  # fmt: skip
        with pytest.raises(SystemExit):
            export(["--network", str(tmp_path / "c.pt"), *args])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export(["--network", str(tmp_path / "missing.pt"), "--output", str(tmp_path / "g.onnx")])
    assert "does not exist" in capsys.readouterr().err


def test_a_diverged_g_ema_skips_the_metrics_and_keeps_the_run(tmp_path, capsys):
    """G_ema with a NaN weight (a diverged run): the equivariance metrics are undefined, so the
    tick's log line says why instead of scores, and training and its checkpoints go on."""
    seed_run = run_cli("--outdir", str(tmp_path), "--run-name", "seed", "--kimg", "0.008",
                       "--tick", "0.008", "--snap", "1")  # fmt: skip
    raw = torch.load(seed_run["checkpoint"], weights_only=True)
    state = raw["G_ema"]["state_dict"]
    key = next(k for k in state if k.startswith("synthesis.") and k.endswith(".weight"))
    state[key] = torch.full_like(state[key], math.nan)
    weights = tmp_path / "diverged.pt"
    torch.save(raw, weights)
    s = run_cli("--outdir", str(tmp_path), "--run-name", "nan", "--resume", str(weights),
                "--kimg", "0.008", "--tick", "0.008", "--snap", "1", "--metrics", "eqt",
                "--metrics-samples", "4")  # fmt: skip
    rows = [json.loads(x) for x in (Path(s["run_dir"]) / "log.jsonl").read_text().splitlines()]
    assert "metrics" not in rows[-1]
    assert rows[-1]["metrics_error"].startswith("G.synthesis output has")
    assert "metrics skipped: G.synthesis output has" in capsys.readouterr().err
    assert Path(s["checkpoint"]).is_file()


def test_resume_refuses_options_that_change_the_run_and_follows_a_moved_dataset(tmp_path,
                                                                                 capsys):
    """A resumed run keeps its configuration: an option given with another value is named (it
    was silently ignored); the same values, and a dataset that moved, are accepted."""
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.016", "--tick", "0.008"]
    part = run_cli(*common, "--data", str(folder), "--stop-at-step", "2")
    line = _bad(capsys, *TINY, "--resume", part["run_dir"], "--num-layers", "6", "--cfg",
                "stylegan3-r", "--glr", "0.001")  # fmt: skip
    assert "continues that run with its own configuration" in line
    for part_msg in ("--cfg 'stylegan3-r' (the run has 'stylegan3-t')",
                     "--glr 0.001 (the run has 0.0075)", "--num-layers 6 (the run has 4)"):
        assert part_msg in line, line
    assert "--run-name <new name>" in line
    moved = tmp_path / "moved"
    folder.rename(moved)
    resumed = run_cli(*common, "--resume", part["run_dir"], "--data", str(moved))
    assert resumed["step"] == 4 and not resumed["stopped"]
    cfg = json.loads((Path(part["run_dir"]) / "config.json").read_text())["config"]
    assert cfg["data"] == str(moved)
    # what the error suggests: another --run-name starts a new run from the run's weights
    branch = run_cli("--outdir", str(tmp_path), "--run-name", "b", "--kimg", "0.008", "--tick",
                     "0.008", "--data", str(moved), "--resume", resumed["checkpoint"],
                     "--glr", "0.001")  # fmt: skip
    assert Path(branch["run_dir"]).name == "b" and branch["step"] == 2
    cfg = json.loads((Path(branch["run_dir"]) / "config.json").read_text())["config"]
    assert cfg["glr"] == 0.001 and cfg["ema_rampup"] is None  # weights only: the official rule


def test_networks_that_cannot_be_built_are_one_clear_line(capsys):
    line = _bad(capsys, *TINY, "--cbase", "8", "--kimg", "0.004")
    assert "the networks cannot be built for 16x16 images" in line and "--cbase" in line
    line = _bad(capsys, *TINY, "--dcbase", "8", "--kimg", "0.004")
    assert "--dcbase" in line


def test_a_foreign_checkpoint_is_one_clear_line(tmp_path, capsys):
    from gen_images import main as gen

    bad_kwargs = tmp_path / "kw.pt"
    torch.save({"format": "bandlimit.afgan.checkpoint/1", "G_ema": {"class": "Generator",
                "init_kwargs": {"z_dim": 4}, "state_dict": {}}}, bad_kwargs)  # fmt: skip
    no_state = tmp_path / "nostate.pt"
    torch.save({"format": "bandlimit.afgan.checkpoint/1", "G_ema": {"class": "Generator",
                "init_kwargs": {}}}, no_state)  # fmt: skip
    for path, what in ((bad_kwargs, "init_kwargs do not build a Generator"),
                       (no_state, "needs an 'init_kwargs' dict and a 'state_dict' dict")):
        line = _bad(capsys, *TINY, "--resume", str(path), "--outdir", str(tmp_path))
        assert what in line, line
        with pytest.raises(SystemExit):
            gen(["--network", str(path), "--seeds", "0", "--outdir", str(tmp_path / "g")])
        assert what in capsys.readouterr().err


def test_a_new_run_keeps_an_earlier_start_without_checkpoint(tmp_path, capsys):
    """A run stopped before its first checkpoint left its log and grids; starting the same
    --run-name again moves them into earlier-1/ instead of truncating the log."""
    run = tmp_path / "r"
    run.mkdir()
    (run / "log.jsonl").write_text('{"tick": 1, "step": 3}\n')
    (run / "config.json").write_text("{}")
    s = run_cli("--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.008", "--tick",
                "0.008")  # fmt: skip
    assert Path(s["run_dir"]) == run
    assert (run / "earlier-1" / "log.jsonl").read_text() == '{"tick": 1, "step": 3}\n'
    assert (run / "earlier-1" / "config.json").read_text() == "{}"
    assert json.loads((run / "log.jsonl").read_text().splitlines()[0])["step"] != 3
    assert "earlier start without a checkpoint" in capsys.readouterr().err


def test_weights_of_another_architecture_are_named_briefly(tmp_path, capsys):
    """Starting from a checkpoint of other networks: one line saying what differs, with one
    example each, and which options set it (torch's message lists every tensor)."""
    seed_run = run_cli("--outdir", str(tmp_path), "--run-name", "seed", "--kimg", "0.004",
                       "--tick", "0.004")  # fmt: skip
    ckpt = seed_run["checkpoint"]
    line = _bad(capsys, *TINY, "--outdir", str(tmp_path), "--run-name", "g", "--resume", ckpt,
                "--num-layers", "6")  # fmt: skip
    assert "its G does not match this configuration: " in line and "--num-layers" in line
    assert "missing from it (e.g. 'synthesis." in line and len(line) < 600, line
    line = _bad(capsys, *TINY, "--outdir", str(tmp_path), "--run-name", "d", "--resume", ckpt,
                "--dcmax", "8")  # fmt: skip
    assert "its D does not match this configuration: " in line and "--dcmax" in line
    assert "of another shape (e.g. " in line and "in the checkpoint" in line, line


def test_keep_prunes_only_the_trainers_own_checkpoints(tmp_path):
    """--keep deletes old ``checkpoint-<step>.pt`` only: a user's copy in the run directory
    (``checkpoint-00000001-keep.pt``, ``checkpoint-best.pt``) is never deleted."""
    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.012", "--tick",
              "0.004", "--snap", "1", "--keep", "1"]  # fmt: skip
    part = run_cli(*common, "--stop-at-step", "1")
    run = Path(part["run_dir"])
    ckpt = run / "checkpoint-00000001.pt"
    for name in ("checkpoint-00000001-keep.pt", "checkpoint-best.pt"):
        (run / name).write_bytes(ckpt.read_bytes())
    s = run_cli(*common, "--resume", str(run))
    assert s["step"] == 3 and Path(s["checkpoint"]).name == "checkpoint-00000003.pt"
    assert sorted(p.name for p in run.glob("checkpoint-*.pt")) == [
        "checkpoint-00000001-keep.pt", "checkpoint-00000003.pt", "checkpoint-best.pt"]


def test_resume_takes_the_highest_step_not_a_users_copy(tmp_path):
    """--resume RUN continues from the highest ``checkpoint-<step>.pt``; a user's
    ``checkpoint-best.pt`` (later by name) is not taken as the latest, nor the real latest
    set aside."""
    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.012", "--tick",
              "0.004", "--snap", "1"]  # fmt: skip
    part = run_cli(*common, "--stop-at-step", "2")
    run = Path(part["run_dir"])
    (run / "checkpoint-best.pt").write_bytes((run / "checkpoint-00000001.pt").read_bytes())
    from afgan.training import find_latest_checkpoint

    assert find_latest_checkpoint(run) == run / "checkpoint-00000002.pt"
    s = run_cli(*common, "--resume", str(run))
    assert s["step"] == 3 and not list(run.glob("superseded-*"))
    assert [json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()] == [
        1, 2, 3]
    assert (run / "checkpoint-best.pt").is_file()


def test_a_new_run_never_moves_files_it_did_not_write(tmp_path, capsys):
    """A new run sets aside only its own earlier files: a directory holding anything else (a
    user's thesis, the --data images) is refused by name and left as it was."""
    from PIL import Image

    home = tmp_path / "home"
    (home / "thesis").mkdir(parents=True)
    (home / "thesis" / "thesis.tex").write_text("chapter 1")
    (home / "thesis" / "log.jsonl").write_text("mine\n")
    line = _bad(capsys, *TINY, "--outdir", str(home), "--run-name", "thesis", "--kimg", "0.004")
    assert "already holds files this trainer did not write ('thesis.tex')" in line, line
    assert "--run-name" in line and str(home / "thesis") in line
    assert sorted(p.name for p in (home / "thesis").iterdir()) == ["log.jsonl", "thesis.tex"]
    assert (home / "thesis" / "log.jsonl").read_text() == "mine\n"

    data = tmp_path / "imgs" / "d16"
    data.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(data / f"{i}.png")
    before = sorted(p.name for p in data.rglob("*"))
    tiny = TINY[2:]  # the images' size
    for outdir, name in ((data.parent, "d16"), (data, "run")):
        line = _bad(capsys, *tiny, "--data", str(data), "--outdir", str(outdir), "--run-name",
                    name, "--kimg", "0.004")  # fmt: skip
        assert "--data folder" in line and "--outdir" in line, line
        assert sorted(p.name for p in data.rglob("*")) == before


def test_zip_dataset_with_several_workers(tmp_path):
    """--workers 2 with a .zip: each worker process reads through its own zip handle (one
    inherited from the parent shares its file position: "Bad magic number", "File name in
    directory ... and header ... differ")."""
    import io
    import zipfile

    from PIL import Image

    rng = np.random.default_rng(2)
    data = tmp_path / "d.zip"
    with zipfile.ZipFile(data, "w") as z:
        for i in range(16):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buf, "PNG")
            z.writestr(f"img{i:02d}.png", buf.getvalue())
    s = run_cli("--data", str(data), "--workers", "2", "--outdir", str(tmp_path), "--run-name",
                "z", "--kimg", "0.032", "--tick", "0.032", "--grid", "8x4")  # fmt: skip
    # (the parent reads the 32 grid images while the workers read their first batches)
    assert s["step"] == 8 and not s["stopped"]


def test_resume_refuses_data_that_is_not_the_runs_dataset_moved(tmp_path, capsys):
    """On resume --data may only say where the run's dataset moved: a run on the embedded
    shapes refuses any --data, a run on images refuses images of another count; the run's
    config.json keeps its dataset."""
    from PIL import Image

    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((16, 16, 3), 30 * i, np.uint8)).save(folder / f"{i}.png")
    common = ["--outdir", str(tmp_path), "--kimg", "0.008", "--tick", "0.004"]
    shapes = run_cli(*common, "--run-name", "shapes", "--stop-at-step", "1")
    line = _bad(capsys, *TINY, "--resume", shapes["run_dir"], "--data", str(folder))
    assert "trained on the embedded shapes" in line and f"--data {str(folder)!r}" in line, line
    assert "--run-name <new name>" in line
    cfg = json.loads((Path(shapes["run_dir"]) / "config.json").read_text())
    assert cfg["config"]["data"] is None and cfg["derived"]["dataset"]["kind"] == "embedded-shapes"

    imgs = run_cli(*common, "--run-name", "imgs", "--data", str(folder), "--stop-at-step", "1")
    other = tmp_path / "other"
    other.mkdir()
    for i in range(5):
        (other / f"{i}.png").write_bytes((folder / f"{i}.png").read_bytes())
    line = _bad(capsys, *TINY, "--resume", imgs["run_dir"], "--data", str(other))
    assert "not the run's dataset moved, it has size 5 (the run's: 8)" in line, line
    cfg = json.loads((Path(imgs["run_dir"]) / "config.json").read_text())["config"]
    assert cfg["data"] == str(folder)


def test_resume_from_a_pickle_whose_discriminator_cannot_be_rebuilt_says_so(capsys):
    """An official pickle whose D this trainer cannot rebuild (``D_error``): the run trains a
    fresh D against the loaded G, which it did without a word."""
    from afgan.training import _load_weights

    G = Generator(8, 0, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3)
    nets = {"G": G, "G_ema": None, "D": None, "D_error": "missing 'img_channels'"}
    _load_weights(nets, G, torch.nn.Linear(1, 1), G, Path("net.pkl"))
    err = capsys.readouterr().err
    assert "--resume 'net.pkl': its discriminator was not loaded (missing 'img_channels')" in err
    assert "training starts with a new one" in err


def test_a_checkpoint_write_that_fails_is_one_line_and_keeps_the_earlier_one(tmp_path, capsys,
                                                                            monkeypatch):
    """A full disk mid-checkpoint: one line naming the file and why, no .tmp left, the earlier
    checkpoint intact; a resume while the disk is still full leaves no empty superseded-<n>/."""
    import errno

    import afgan.training as training

    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.012", "--tick",
              "0.004", "--snap", "1"]  # fmt: skip
    part = run_cli(*common, "--stop-at-step", "1")
    run = Path(part["run_dir"])
    before = (run / "checkpoint-00000001.pt").read_bytes()

    def full_disk(path, **networks):
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(training, "save_checkpoint", full_disk)
    line = _bad(capsys, *TINY, *common, "--resume", str(run))
    assert f"cannot write the checkpoint {str(run / 'checkpoint-00000002.pt')!r}" in line
    assert "no space left on device" in line, line

    def torch_full_disk(path, **networks):  # torch's own writer: errno lost
        Path(path).write_bytes(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64")

    monkeypatch.setattr(training, "save_checkpoint", torch_full_disk)
    (run / "fakes00000002.png").unlink()  # the snapshot's grid (else set aside on resume)
    monkeypatch.setattr(training.shutil, "disk_usage", lambda p: shutil_usage(0))
    line = _bad(capsys, *TINY, *common, "--resume", str(run))
    assert "no space left on device" in line and "checkpoint-00000002.pt" in line, line
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    assert (run / "checkpoint-00000001.pt").read_bytes() == before
    monkeypatch.undo()

    # Rewinding while the disk is full: the marker cannot be written, nothing is left behind.
    run_cli(*common, "--resume", str(run))  # on to step 3 (the failed step's grid set aside)
    asides = sorted(run.glob("superseded-*"))
    capsys.readouterr()
    real_write_text = Path.write_text

    def no_space(self, *a, **k):
        if self.name == "rewind.json":
            real_write_text(self, "")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_text(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", no_space)
    line = _bad(capsys, *TINY, *common, "--resume", str(run / "checkpoint-00000001.pt"))
    assert "no space left on device" in line, line
    assert sorted(run.glob("superseded-*")) == asides


def _cut_short(err):
    """A writer method that gets part of its file out, then fails with the errno ``err``; and
    the reason the error line gives."""

    def write(self, path, *args, **kwargs):
        Path(path).write_bytes(b"\x89PNG half a file")
        raise OSError(err, os.strerror(err))

    return write, os.strerror(err).lower()


def _outputs(run):
    """The run directory's files and their bytes (config.json aside: a resume rewrites it)."""
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and
            p.name != "config.json"}  # fmt: skip


def test_a_grid_plot_or_log_write_that_fails_is_one_line_and_keeps_the_earlier_outputs(
        tmp_path, capsys, monkeypatch):  # fmt: skip
    """A full disk or no permission while writing a sample grid, the loss plot, the log or the
    summary: one line naming the file and why (these were tracebacks), no temporary or partial
    file left, the earlier outputs as they were."""
    import errno
    import io

    import matplotlib.figure
    import matplotlib.pyplot as plt
    from PIL import Image

    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.012", "--tick",
              "0.004", "--snap", "1"]  # fmt: skip
    run = Path(run_cli(*common, "--stop-at-step", "1")["run_dir"])

    def fails(*names, grown=()):
        """Resume once, failing; returns the line. Only the files ``names`` were added and
        ``grown`` changed."""
        before = _outputs(run)
        line = _bad(capsys, *TINY, *common, "--resume", str(run))
        assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
        after = _outputs(run)
        assert sorted(set(after) - set(before)) == sorted(names), line
        assert {k: after[k] for k in before if k not in grown} == {
            k: v for k, v in before.items() if k not in grown}, line  # fmt: skip
        monkeypatch.undo()
        return line

    # the step-2 grid: no fakes00000002.png, no checkpoint 2
    write, why = _cut_short(errno.ENOSPC)
    monkeypatch.setattr(Image.Image, "save", write)
    line = fails()
    assert line == (f"error: cannot write the sample grid {str(run / 'fakes00000002.png')!r}: "
                    f"{why}"), line  # fmt: skip

    # the loss plot (after the step-2 grid, checkpoint and log line): the earlier plot stays
    write, why = _cut_short(errno.EACCES)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", write)
    line = fails("fakes00000002.png", "checkpoint-00000002.pt", grown=["log.jsonl"])
    assert line == f"error: cannot write the loss plot {str(run / 'losses.png')!r}: {why}", line
    assert not plt.get_fignums()  # the figure closed all the same
    assert len((run / "log.jsonl").read_text().splitlines()) == 2

    # the log: half a line out, then a full disk -- cut back to its earlier lines
    real_open = Path.open

    class HalfWriter(io.FileIO):
        def write(self, b):
            super().write(bytes(b)[: len(b) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def open_full(self, mode="r", *args, **kwargs):
        if self.name == "log.jsonl" and "a" in mode:
            return HalfWriter(self, mode)
        return real_open(self, mode, *args, **kwargs)

    log = (run / "log.jsonl").read_bytes()
    monkeypatch.setattr(Path, "open", open_full)
    line = fails("fakes00000003.png", "checkpoint-00000003.pt")
    assert line == (f"error: cannot write the log {str(run / 'log.jsonl')!r}: no space left on "
                    f"device (its earlier lines are kept)"), line  # fmt: skip
    assert (run / "log.jsonl").read_bytes() == log

    # the summary of the finished run
    real_write_text = Path.write_text

    def write_text_full(self, *args, **kwargs):
        if "summary" in self.name:
            real_write_text(self, "{")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text_full)
    line = fails()
    assert line == (f"error: cannot write {str(run / 'summary.json')!r}: no space left on "
                    f"device"), line  # fmt: skip
    run_cli(*common, "--resume", str(run))  # the disk has room again
    assert (run / "summary.json").is_file()


def test_the_first_grid_write_that_fails_is_one_line(tmp_path, capsys, monkeypatch):
    """A new run whose first output (the reals' grid) cannot be written: one line, and the run
    directory holds only its config.json."""
    import errno

    from PIL import Image

    write, why = _cut_short(errno.ENOSPC)
    monkeypatch.setattr(Image.Image, "save", write)
    line = _bad(capsys, *TINY, "--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.004")
    run = tmp_path / "r"
    assert line == f"error: cannot write the sample grid {str(run / 'reals.png')!r}: {why}"
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


def test_a_log_append_that_fails_leaves_the_earlier_lines(tmp_path, monkeypatch):
    """_append_line: all of the line or none of it, also after a last line a crash cut short."""
    import errno
    import io

    from afgan.training import _append_line

    class FullAfter(io.FileIO):  # the disk fills up after `room` more bytes
        room = 5

        def write(self, b):
            n = min(len(b), FullAfter.room)
            if n == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            FullAfter.room -= n
            return super().write(bytes(b)[:n])

    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"step": 1}\n{"step": 2, "cut')
    monkeypatch.setattr(Path, "open", lambda self, mode="r", *a, **k: FullAfter(self, mode))
    with pytest.raises(OSError, match="No space left on device"):
        _append_line(log, '{"step": 3}')
    monkeypatch.undo()
    assert log.read_bytes() == b'{"step": 1}\n{"step": 2, "cut'
    _append_line(log, '{"step": 3}')
    assert log.read_bytes() == b'{"step": 1}\n{"step": 2, "cut\n{"step": 3}\n'


def shutil_usage(free):
    import shutil

    return shutil._ntuple_diskusage(1 << 30, (1 << 30) - free, free)


def test_resume_of_a_read_only_run_is_one_clear_line(tmp_path, capsys, monkeypatch):
    import errno
    import tempfile

    common = ["--outdir", str(tmp_path), "--run-name", "r", "--kimg", "0.012", "--tick",
              "0.004", "--snap", "1"]  # fmt: skip
    part = run_cli(*common, "--stop-at-step", "1")
    run = Path(part["run_dir"])
    files = {p.name: p.read_bytes() for p in run.iterdir()}
    if os.geteuid() != 0:
        run.chmod(0o555)
    else:  # root writes anyway: a read-only file system, simulated
        real_write_text, real_tempfile = Path.write_text, tempfile.TemporaryFile

        def ro_write_text(self, *a, **k):
            if self.parent == run:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
            return real_write_text(self, *a, **k)

        def ro_tempfile(*a, dir=None, **k):
            if dir is not None and Path(dir) == run:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))
            return real_tempfile(*a, dir=dir, **k)

        monkeypatch.setattr(Path, "write_text", ro_write_text)
        monkeypatch.setattr(tempfile, "TemporaryFile", ro_tempfile)
    try:
        line = _bad(capsys, *TINY, *common, "--resume", str(run))
    finally:
        run.chmod(0o755)
    assert f"cannot continue {str(run)!r}: the run directory is not writable" in line, line
    assert {p.name: p.read_bytes() for p in run.iterdir()} == files


def test_resume_accepts_the_runs_own_directory_name_as_run_name(tmp_path):
    """--resume runs/X --run-name X names the same run: continued, also when the directory was
    auto-named (no --run-name stored) or renamed since."""
    common = ["--outdir", str(tmp_path), "--kimg", "0.012", "--tick", "0.004", "--snap", "1"]
    auto = run_cli(*common, "--stop-at-step", "1")
    run = Path(auto["run_dir"])
    s = run_cli(*common, "--resume", str(run), "--run-name", run.name, "--stop-at-step", "2")
    assert s["run_dir"] == str(run) and s["step"] == 2
    renamed = run.with_name("a2")
    run.rename(renamed)
    s = run_cli(*common, "--resume", str(renamed), "--run-name", "a2")
    assert s["run_dir"] == str(renamed) and s["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a2"]


# ---------------------------------------------------------------------------------------------
# Stopping, resuming from elsewhere, broken checkpoints, errors on one rank.


def test_stop_flag_takes_sigterm_and_sighup_and_restores_the_handlers():
    """Only Ctrl-C was handled: kill / timeout / docker stop / a batch system's time limit
    (SIGTERM) killed the run with everything since its last checkpoint."""
    import signal

    from afgan.training import _StopFlag

    names = [n for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    before = {n: signal.getsignal(getattr(signal, n)) for n in names}
    for name in names:
        with _StopFlag() as stop:
            os.kill(os.getpid(), getattr(signal, name))
            assert stop.requested, name
            with pytest.raises(KeyboardInterrupt):  # a second signal aborts
                os.kill(os.getpid(), getattr(signal, name))
        assert {n: signal.getsignal(getattr(signal, n)) for n in names} == before


def test_a_signal_writes_the_checkpoint_and_skips_the_metrics(tmp_path, monkeypatch):
    """On a stop by signal the metrics ran (≈ 30 s) before the checkpoint was written, and a
    second Ctrl-C in that window lost the run. Now the checkpoint comes first and a signalled
    stop skips the metrics (a planned one, --stop-at-step, still measures)."""
    import signal

    import afgan.training as training

    step_generator = training._step_generator

    def signalled_at_step_2(seed, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return step_generator(seed, step)

    monkeypatch.setattr(training, "_step_generator", signalled_at_step_2)
    common = ["--outdir", str(tmp_path), "--kimg", "10", "--tick", "10", "--metrics", "eqt_int",
              "--metrics-samples", "4"]  # fmt: skip
    s = run_cli(*common, "--run-name", "sig")
    assert s["stopped"] and s["step"] == 3 and s["checkpoint"] and Path(s["checkpoint"]).is_file()
    last = json.loads((tmp_path / "sig" / "log.jsonl").read_text().splitlines()[-1])
    assert last["metrics_skipped"] == "stopped by a signal" and "metrics" not in last
    assert last["checkpoint"] == Path(s["checkpoint"]).name
    monkeypatch.setattr(training, "_step_generator", step_generator)
    planned = run_cli(*common, "--run-name", "planned", "--stop-at-step", "2")
    last = json.loads((tmp_path / "planned" / "log.jsonl").read_text().splitlines()[-1])
    assert planned["stopped"] and "eqt_int" in last["metrics"]


def test_a_run_on_a_relative_dataset_resumes_from_another_directory(tmp_path, monkeypatch,
                                                                     capsys):
    """config.json kept --data as typed ('imgs'): resuming from elsewhere said "--data 'imgs'
    does not exist", an option the user never passed. The path is stored absolute now, and a
    run whose relative dataset is not found says where it looked and what to pass."""
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    part = run_cli("--outdir", "runs", "--run-name", "r", "--kimg", "0.016", "--tick", "0.008",
                   "--data", "imgs", "--stop-at-step", "1")  # fmt: skip
    run = Path(part["run_dir"]).absolute()
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert cfg["data"] == str(folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_cli("--resume", str(run), "--stop-at-step", "2")["step"] == 2
    # an old run, whose config.json holds the relative path: named, with what to do
    ckpt = sorted(run.glob("checkpoint-*.pt"))[-1]
    state = torch.load(ckpt, weights_only=True)
    state["training_state"]["config"]["data"] = "imgs"
    torch.save(state, ckpt)
    line = _bad(capsys, "--resume", str(run))
    assert line == (f"error: --resume {str(run)!r}: the run's dataset 'imgs' is not found from "
                    f"{str(elsewhere)!r} (a relative path is relative to where the run was "
                    f"started); pass --data <where it is now>")


def test_a_truncated_checkpoint_is_named_with_the_one_before(tmp_path, capsys):
    """A checkpoint cut short (an interrupted copy, a full disk) said only "[Errno 22] Invalid
    argument"; resuming its run now says what it is and names the previous checkpoint."""
    s = run_cli("--outdir", str(tmp_path), "--run-name", "t", "--kimg", "0.016", "--tick",
                "0.004", "--keep", "3")  # fmt: skip
    ckpts = sorted(Path(s["run_dir"]).glob("checkpoint-*.pt"))
    assert len(ckpts) >= 2
    data = ckpts[-1].read_bytes()
    ckpts[-1].write_bytes(data[: len(data) // 3])
    line = _bad(capsys, "--resume", s["run_dir"])
    assert "cannot be loaded: a truncated or corrupt checkpoint (its zip does not read back" in line
    assert line.endswith(f"; the run's previous checkpoint: --resume {str(ckpts[-2])!r}"), line


def test_an_error_found_on_rank_0_is_one_line_under_torchrun(tmp_path):
    """A problem found by rank 0 alone (here: a run directory holding a user's file) made the
    other ranks crash in broadcast_object_list with a long gloo traceback around the one-line
    error (and could hang them on NCCL); every rank now hears of it and only rank 0 says it."""
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "notes.txt").write_text("mine")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "TMPDIR": str(tmp_path)}  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(EXAMPLES / "train_afgan.py"), *TINY, "--batch", "8", "--outdir", str(tmp_path),
           "--run-name", "u", "--kimg", "0.016"]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    errors = [ln for ln in res.stderr.splitlines() if "error: " in ln]
    assert len(errors) == 1 and "already holds files" in errors[0], res.stderr[-3000:]
    # (torchrun itself then reports its failed children; the ranks' own tracebacks are gone)
    assert "broadcast_object_list" not in res.stderr and "[rank1]" not in res.stderr, res.stderr
    assert (tmp_path / "u" / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------------------------------------
# FID (--metrics fid) with a TorchScript feature extractor.


def _feature_extractor_file(tmp_path: Path) -> Path:
    """A small fixed conv net as a TorchScript file: images [N, 3, H, W] → features [N, 8]."""
    import warnings

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()  # fmt: skip
    path = tmp_path / "features.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # (TorchScript's deprecation)
        torch.jit.save(torch.jit.script(net), path)
    return path


def test_fid_is_logged_at_snapshots_and_the_real_statistics_are_cached(tmp_path, capsys):
    from bandlimit.metrics.fid import FeatureStatistics

    feats = _feature_extractor_file(tmp_path)
    common = ["--outdir", str(tmp_path), "--run-name", "fid", "--snap", "1", "--fid-features",
              str(feats), "--fid-samples", "8"]  # fmt: skip
    s = run_cli(*common, "--kimg", "0.008", "--tick", "0.008", "--metrics", "fid")
    run = Path(s["run_dir"])
    (row,) = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    fid = row["metrics"]["fid"]
    assert math.isfinite(fid) and fid >= 0 and s["metrics"] == {"fid": fid}
    assert f"  fid: {fid:.2f}\n" in capsys.readouterr().out  # (not in dB)
    # the dataset's statistics: min(--fid-samples, dataset size) images, under this extractor
    cache = run / "fid_reals.npz"
    stats = FeatureStatistics.load(cache)
    assert (stats.count, stats.dim) == (8, 8)
    assert stats.metadata["features"].startswith("sha256:") and stats.metadata["images"] == "8"
    # a resumed run (with the equivariance metric added) reads them back, not computing them
    written = cache.stat().st_mtime_ns
    s = run_cli(*common, "--kimg", "0.012", "--tick", "0.004", "--metrics", "eqt,fid",
                "--metrics-samples", "4", "--resume", str(run))  # fmt: skip
    assert cache.stat().st_mtime_ns == written
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[-1]["metrics"] == s["metrics"]
    assert s["metrics"]["fid"] >= 0 and math.isfinite(s["metrics"]["eqt_int"])
    out = capsys.readouterr().out
    assert f"  fid: {s['metrics']['fid']:.2f}\n" in out and " eqt_int: " in out and " dB" in out


def test_fid_without_a_usable_extractor_is_one_clear_line_before_the_run_starts(tmp_path,
                                                                                capsys):
    line = _bad(capsys, "--metrics", "fid", "--outdir", str(tmp_path))
    assert "--metrics fid needs --fid-features" in line and "nothing is downloaded" in line
    missing = tmp_path / "missing.pt"
    line = _bad(capsys, "--metrics", "eqt,fid", "--fid-features", str(missing), "--outdir",
                str(tmp_path))  # fmt: skip
    assert f"--fid-features {str(missing)!r}" in line and "no such file" in line
    (tmp_path / "not_torchscript.pt").write_bytes(b"junk")
    line = _bad(capsys, "--metrics", "fid", "--fid-features", str(tmp_path / "not_torchscript.pt"),
                "--outdir", str(tmp_path))  # fmt: skip
    assert "cannot be loaded as a TorchScript module" in line
    assert "--fid-samples must be an integer >= 2, got 1" in _bad(capsys, "--fid-samples", "1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_torchscript.pt"]  # no run dir


def test_a_metrics_option_without_its_metric_is_an_error_not_ignored(tmp_path, capsys):
    """--fid-features / --fid-samples without fid among --metrics, --metrics-samples without an
    equivariance metric: one line naming the option and what to add, before a run starts."""
    line = _bad(capsys, "--fid-features", "torchvision", "--outdir", str(tmp_path))
    assert line == ("error: --fid-features has no effect: this run's --metrics are none; it "
                    "applies with fid among them (e.g. --metrics fid)")
    line = _bad(capsys, "--metrics", "eqt", "--fid-samples", "100", "--outdir", str(tmp_path))
    assert "--fid-samples has no effect: this run's --metrics are eqt" in line
    assert "(e.g. --metrics eqt,fid)" in line
    line = _bad(capsys, "--metrics", "fid", "--fid-features", "torchvision", "--metrics-samples",
                "8", "--outdir", str(tmp_path))  # fmt: skip
    assert "--metrics-samples has no effect" in line and "eqt, eqt_frac or eqr" in line
    assert list(tmp_path.iterdir()) == []  # no run directory
