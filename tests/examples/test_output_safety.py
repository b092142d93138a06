"""Output safety of the example tools: nothing a user wrote is lost, never a silent NaN."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _images(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"i{i}.png")


def _run(cli, argv, capsys):
    """``cli(argv)`` failing with one ``error:`` line (exit status 2); returns it."""
    with pytest.raises(SystemExit) as exc:
        cli(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    return err


def _run_tool(argv, capsys):
    from dataset_tool import main as tool

    return _run(tool, argv, capsys)


def test_dataset_tool_never_overwrites_what_the_user_wrote(tmp_path, capsys):
    """--dest used to overwrite anything: a source image, the labels file, notes, a zip."""
    from dataset_tool import main as tool

    src = tmp_path / "src"
    _images(src)
    (src / "dataset.json").write_text('{"labels": [["i0.png", 0], ["i1.png", 1]]}')
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    old = tmp_path / "existing.zip"
    old.write_bytes(b"my zip")
    before = {p: p.read_bytes() for p in [*src.iterdir(), notes, old]}
    base = ["--source", str(src), "--resolution", "8"]
    for dest, why in [
        (src / "i0.png", ".zip"), (src / "dataset.json", ".zip"), (notes, ".zip"),
        (src / "out.zip", "inside --source"), (src / "sub" / "out.zip", "inside --source"),
        (old, "--overwrite"),
    ]:  # fmt: skip
        assert why in _run_tool([*base, "--dest", str(dest)], capsys)
        assert not (src / "sub").exists()
    # Even --overwrite never writes a non-zip or into the source.
    for dest in [src / "i0.png", notes, src / "out.zip"]:
        _run_tool([*base, "--dest", str(dest), "--overwrite"], capsys)
    assert {p: p.read_bytes() for p in [*src.iterdir(), notes, old]} == before
    assert not list(tmp_path.rglob(".*.tmp"))
    assert tool([*base, "--dest", str(old), "--overwrite"]) == 2  # explicit: replaced
    with zipfile.ZipFile(old) as z:
        assert "img00000000.png" in z.namelist()


# --- A failed write (a full disk) keeps the earlier output and leaves no temporary file. ------

TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_channels=3, channel_base=512, channel_max=16)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch
    from afgan.legacy import save_checkpoint
    from afgan.networks import Generator

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, G_ema=Generator(img_resolution=16, **TINY).eval())
    return path


def _disk_full(path, *args, **kwargs):
    """A writer that gets part of the file out, then finds the disk full."""
    import errno

    Path(path).write_bytes(b"\x89PNG partial")
    raise OSError(errno.ENOSPC, "No space left on device")


def _only(folder, name):
    assert sorted(p.name for p in folder.iterdir()) == [name]  # no temporary left


def test_gen_images_failed_write_keeps_the_earlier_png(checkpoint, tmp_path, monkeypatch, capsys):
    import gen_images

    argv = ["--network", str(checkpoint), "--seeds", "0", "--outdir", str(tmp_path)]
    (path,) = gen_images.main(argv)
    before = path.read_bytes()
    monkeypatch.setattr(gen_images, "write_png", _disk_full)
    err = _run(gen_images.main, argv, capsys)
    assert "cannot write" in err and "No space left on device" in err
    assert path.read_bytes() == before
    _only(tmp_path, "seed0000.png")


def test_gen_video_failed_write_keeps_the_earlier_gif(checkpoint, tmp_path, monkeypatch, capsys):
    import gen_video

    out = tmp_path / "v.gif"
    argv = ["--network", str(checkpoint), "--frames", "2", "--seeds", "0", "--output", str(out)]
    gen_video.main(argv)
    before = out.read_bytes()
    monkeypatch.setattr(gen_video, "write_gif", _disk_full)
    assert "No space left on device" in _run(gen_video.main, argv, capsys)
    assert out.read_bytes() == before
    _only(tmp_path, "v.gif")


def test_export_onnx_failed_write_keeps_the_earlier_model(checkpoint, tmp_path, monkeypatch,
                                                          capsys):  # fmt: skip
    import export_onnx
    import torch

    class Program:  # what torch.onnx.export returns; its save finds the disk full
        save = staticmethod(_disk_full)

    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: Program())
    out = tmp_path / "G.onnx"
    out.write_bytes(b"an earlier model")
    argv = ["--network", str(checkpoint), "--output", str(out), "--no-check"]
    assert "No space left on device" in _run(export_onnx.main, argv, capsys)
    assert out.read_bytes() == b"an earlier model"
    _only(tmp_path, "G.onnx")


# --- Never a silent NaN: a value that overflows is refused, a non-finite image is an error. ---


@pytest.fixture(scope="module")
def nan_w_avg(checkpoint, tmp_path_factory):
    """The tiny checkpoint with a NaN ``w_avg`` (which only a truncation uses)."""
    from afgan.legacy import save_checkpoint
    from gen_images import load_generator

    G = load_generator(checkpoint)
    G.mapping.w_avg.fill_(float("nan"))
    path = tmp_path_factory.mktemp("nan") / "nan_w_avg.pt"
    save_checkpoint(path, G_ema=G)
    return path


def _last_error(cli, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def test_values_beyond_float32_are_refused_by_name(checkpoint, tmp_path, capsys):
    """1e39 is inf in float32: a black PNG (--translate), black frames (--amount), a traceback
    after writing the model (export_onnx --trunc)."""
    import export_onnx
    import gen_images
    import gen_video

    net = ["--network", str(checkpoint)]
    images = [*net, "--seeds", "0", "--outdir", str(tmp_path / "out")]
    video = [*net, "--frames", "4", "--seeds", "0", "--output", str(tmp_path / "v.gif")]
    onnx = [*net, "--output", str(tmp_path / "G.onnx"), "--no-check"]
    for cli, argv, flag in [
        (gen_images.main, [*images, "--translate", "1e39,0"], "--translate"),
        (gen_images.main, [*images, "--trunc", "1e39"], "--trunc"),
        (gen_video.main, [*video, "--amount=-1e39"], "--amount"),
        (gen_video.main, [*video, "--trunc", "1e39"], "--trunc"),
        (export_onnx.main, [*onnx, "--trunc", "1e39"], "--trunc"),
    ]:
        line = _last_error(cli, argv, capsys)
        assert f"argument {flag}: " in line and "float32" in line, line
    assert not any(tmp_path.iterdir())


def test_a_non_finite_image_is_an_error_naming_its_cause(checkpoint, nan_w_avg, tmp_path,
                                                         capsys):  # fmt: skip
    """Finite options can still overflow inside the generator, and a checkpoint's w_avg can be
    NaN: each wrote a black image without a word."""
    import export_onnx
    import gen_images
    import gen_video

    out = tmp_path / "out"
    images = ["--seeds", "0", "--outdir", str(out)]
    line = _last_error(gen_images.main, ["--network", str(checkpoint), *images,
                                         "--translate", "3e38,0"], capsys)  # fmt: skip
    assert "output for seed 0 is not finite" in line and "--translate 3e+38,0" in line
    video = ["--frames", "4", "--seeds", "0", "--output", str(tmp_path / "v.gif")]
    line = _last_error(gen_video.main, ["--network", str(checkpoint), *video,
                                        "--amount", "3e38"], capsys)  # fmt: skip
    assert "is not finite" in line and "--amount 3e+38" in line
    nan = ["--network", str(nan_w_avg), "--trunc", "0.5"]
    onnx = ["--output", str(tmp_path / "G.onnx"), "--no-check"]
    for cli, argv in [(gen_images.main, images), (gen_video.main, video), (export_onnx.main, onnx)]:
        line = _last_error(cli, [*nan, *argv], capsys)
        assert "is not finite" in line and "w_avg" in line and "--trunc 0.5" in line, line
    assert not any(out.iterdir()) and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # Without the truncation the same checkpoint is fine (w_avg is not used).
    assert gen_images.main(["--network", str(nan_w_avg), *images])[0].is_file()
