"""Bad command-line values of the example tools are one ``error:`` line naming the option."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.test_output_safety import _images, _run, checkpoint  # noqa: F401


def _snake(argv, capsys):
    from snake_spectrum import main

    return _run(main, argv, capsys)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--freq=-0.1"], "--freq must be in (0, 0.5) cycles/sample"),
        (["--freq", "0"], "--freq must be in (0, 0.5) cycles/sample"),
        (["--freq", "0.9"], "got 0.9"),
        (["--freq", "0.5"], "got 0.5"),
        (["--freq", "nan"], "got nan"),
        (["--freq", "inf"], "got inf"),
        (["--alpha", "nan"], "--alpha must be a finite number > 0, got nan"),
        (["--alpha=-inf"], "--alpha must be a finite number > 0, got -inf"),
        (["--alpha", "0"], "--alpha must be a finite number > 0, got 0.0"),
    ],
)
def test_snake_spectrum_refuses_out_of_range_values(argv, expected, tmp_path, capsys):
    assert expected in _snake([*argv, "--out", str(tmp_path / "s.png")], capsys)
    assert not (tmp_path / "s.png").exists()


def test_snake_spectrum_out_paths(tmp_path, monkeypatch, capsys):
    import snake_spectrum

    monkeypatch.chdir(tmp_path)
    line = _snake(["--out", "a.txt"], capsys)
    assert "--out 'a.txt': unsupported image format '.txt'; use one of " in line
    assert ".png" in line and ".svg" in line
    (tmp_path / "t.sh").write_text("#!/bin/sh\n")
    assert "'t.sh' is a file, not a folder" in _snake(["--out", "t.sh/a.png"], capsys)
    assert "'t.sh' is a file, not a folder" in _snake(["--out", "t.sh/b/a.png"], capsys)
    (tmp_path / "d.png").mkdir()
    assert "--out 'd.png' is a directory" in _snake(["--out", "d.png"], capsys)

    # A missing folder is created; without a suffix, the .png matplotlib adds is what is printed.
    snake_spectrum.main(["--out", "ss/deep/noext"])
    assert capsys.readouterr().out.strip() == f"wrote {Path('ss/deep/noext.png')}"
    assert (tmp_path / "ss/deep/noext.png").is_file()
    assert not (tmp_path / "ss/deep/noext").exists()

    # The default is snake_spectrum.png in the working directory: run from anywhere, it wrote
    # the repository's docs/snake_spectrum.png (a tracked file).
    figure = Path(__file__).resolve().parents[2] / "docs" / "snake_spectrum.png"
    before = figure.stat().st_mtime_ns
    snake_spectrum.main([])
    assert capsys.readouterr().out.strip() == "wrote snake_spectrum.png"
    assert (tmp_path / "snake_spectrum.png").is_file() and figure.stat().st_mtime_ns == before


def _demo(argv, capsys):
    from filter_demo import main

    return _run(main, argv, capsys)


def test_filter_demo_resolution_names_the_option_and_the_real_range(tmp_path, capsys):
    from filter_demo import MAX_RESOLUTION, MIN_RESOLUTION

    from bandlimit.filters.schedule import stylegan3_schedule

    out = ["--outdir", str(tmp_path / "o")]
    for argv, expected in [
        (["--resolution", "12"], "--resolution must be a power of two from 4 to 32768 (with "
                                 "--config T), got 12"),
        (["--resolution", "2"], "got 2"),
        (["--resolution", "0"], "got 0"),
        (["--resolution", "-8"], "got -8"),
        (["--resolution", "65536"], "from 4 to 32768 (with --config T), got 65536"),
        (["--resolution", "131072", "--config", "R"], "from 4 to 65536 (with --config R)"),
    ]:
        line = _demo([*argv, *out], capsys)
        assert expected in line and "img_resolution" not in line and "channel_base" not in line
    assert not (tmp_path / "o").exists()
    # The range is the one stylegan3_schedule accepts with each config's defaults.
    for config, top in MAX_RESOLUTION.items():
        stylegan3_schedule(MIN_RESOLUTION, config=config)
        stylegan3_schedule(top, config=config)
        with pytest.raises(ValueError):
            stylegan3_schedule(2 * top, config=config)
    with pytest.raises(ValueError):
        stylegan3_schedule(MIN_RESOLUTION // 2)


def test_filter_demo_outdir_that_cannot_be_written(tmp_path, monkeypatch, capsys):
    import filter_demo

    f = tmp_path / "t.sh"
    f.write_text("#!/bin/sh\n")
    base = ["--resolution", "16"]
    assert "--outdir " in (line := _demo([*base, "--outdir", str(f)], capsys))
    assert "is a file, not a folder" in line
    assert "is a file, not a folder" in _demo([*base, "--outdir", str(f / "x")], capsys)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", denied)
    line = _demo([*base, "--outdir", str(tmp_path / "new")], capsys)
    assert "cannot be created: Permission denied" in line
    monkeypatch.undo()
    monkeypatch.setattr(Path, "write_text", denied)
    monkeypatch.setattr(filter_demo, "plot_cutoff_schedule", denied)
    line = _demo([*base, "--outdir", str(tmp_path / "ro")], capsys)
    assert line.startswith(f"error: --outdir {str(tmp_path / 'ro')!r} cannot be written")
    assert "Permission denied" in line


def test_dataset_tool_bounds_the_resolution(tmp_path, capsys):
    from dataset_tool import main

    _images(tmp_path / "src")
    for res in ["2147483648", "131072", "4", "24"]:
        argv = ["--source", str(tmp_path / "src"), "--dest", str(tmp_path / "d.zip"),
                "--resolution", res]  # fmt: skip
        line = _run(main, argv, capsys)
        assert f"--resolution must be a power of two from 8 to 65536, got {res}" in line
    assert not (tmp_path / "d.zip").exists()


def test_gen_video_refuses_frames_that_do_not_fit_in_memory(checkpoint, tmp_path,  # noqa: F811
                                                            monkeypatch, capsys):  # fmt: skip
    import gen_video

    def never(*args, **kwargs):
        raise AssertionError("rendered a video that was to be refused")

    monkeypatch.setattr(gen_video, "render_frames", never)
    out = tmp_path / "v.gif"
    net = ["--network", str(checkpoint), "--output", str(out)]
    line = _run(gen_video.main, [*net, "--frames", "100000000"], capsys)
    assert line.startswith("error: --frames 100000000 of 4 seeds of 16 px at --scale 8 would "
                           "need about ")  # fmt: skip
    assert "GiB of memory" in line and "use fewer --frames or --seeds, or a smaller --scale" in line
    line = _run(gen_video.main, [*net, "--scale", "1000", "--seeds", "0-3"], capsys)
    assert "--frames 48 of 4 seeds of 16 px at --scale 1000 would need about 137.3 GiB" in line
    # A walk's frame is one image, whatever the seeds (its key latents): sized as one, not as a
    # row of them (600 seeds were refused as 76800 px wide frames; 60 seeds × 3000 frames as
    # 8.8 GiB, which one image per frame needs 0.15 GiB of).
    walk = [*net, "--mode", "walk", "--scale", "1000", "--frames", "48"]
    line = _run(gen_video.main, [*walk, "--seeds", "0-599"], capsys)
    assert "--frames 48 of one 16 px image at --scale 1000 would need about 34.3 GiB" in line
    assert "or --seeds" not in line
    line = _run(gen_video.main, [*net, "--frames", "100000000", "--mp4",
                                 "--output", str(tmp_path / "v.mp4")], capsys)  # fmt: skip
    if "needs imageio-ffmpeg" not in line:
        assert "--frames 100000000 of 4 seeds of 16 px would need about" in line
        assert "--scale" not in line
    assert not out.exists()


@pytest.mark.parametrize(("script", "argv", "names"), [
    ("filter_demo.py", ["--outdir", "out"], "matplotlib is"),
    ("snake_spectrum.py", [], "matplotlib is"),
    ("train_afgan.py", ["--kimg", "0.004"], "matplotlib, Pillow are"),
    ("gen_video.py", ["--network", "x.pt", "--output", "v.gif"], "Pillow is"),
    ("dataset_tool.py", ["--source", "i", "--dest", "d.zip", "--resolution", "16"], "Pillow is"),
])
def test_examples_without_the_plot_extra_say_so_in_one_line(script, argv, names, tmp_path):
    examples = Path(__file__).resolve().parents[2] / "examples"
    """Without matplotlib / Pillow the examples died with a ModuleNotFoundError traceback (the
    trainer after making its run directory); now one line names the extra, before any work."""
    blocker = tmp_path / "block" / "sitecustomize.py"
    blocker.parent.mkdir()
    blocker.write_text("import sys\nsys.modules.update(matplotlib=None, PIL=None)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent),
                                                        str(examples.parent)])}
    proc = subprocess.run([sys.executable, str(examples / script), *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip() == (f"error: {names} not installed: the examples' images and "
                                   f"plots need pip install '.[plot]' (or pip install "
                                   f"matplotlib)"), proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["block"]  # (nothing made)
