"""examples/gen_images.py: transforms as the official tool builds them, PNG output, the CLI."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from afgan.legacy import save_checkpoint
from afgan.networks import Generator
from gen_images import (
    generate_images,
    iter_images,
    load_generator,
    main,
    make_transform,
    parse_range,
    parse_vec2,
    write_png,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_channels=3, channel_base=512, channel_max=16)


def read_png(path: Path) -> np.ndarray:
    """Minimal decoder for the 8-bit, non-interlaced, filter-0 PNGs that write_png produces."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8
    ch = {0: 1, 2: 3}[ctype]
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * ch)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, ch) if ch == 3 else raw[:, 1:].reshape(h, w)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    G = Generator(img_resolution=16, **TINY).eval()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, G_ema=G)
    return path, G


def test_make_transform_matches_the_official_tool(vectors_dir):
    data = torch.load(vectors_dir / "generator_T64.pt", weights_only=True)
    for case in data["transforms"]:
        m = make_transform(case["translate"], case["rotate_degrees"])
        np.testing.assert_allclose(m, case["make_transform"].double().numpy(), atol=1e-7)
        np.testing.assert_allclose(
            np.linalg.inv(m), case["transform_buffer"].double().numpy(), atol=1e-6
        )


def test_images_follow_the_official_recipe(checkpoint, tmp_path):
    path, G = checkpoint
    written = main(
        [
            "--network", str(path), "--seeds", "3,5-6", "--outdir", str(tmp_path / "out"),
            "--trunc", "0.7", "--translate", "0.1,-0.05", "--rotate", "10", "--device", "cpu",
        ]
    )  # fmt: skip
    assert [p.name for p in written] == ["seed0003.png", "seed0005.png", "seed0006.png"]
    # Rebuild seed 5 by hand: RandomState z, inverted transform, (x·127.5 + 128) → uint8.
    z = torch.from_numpy(np.random.RandomState(5).randn(1, 16)).float()
    with torch.no_grad():
        G.synthesis.input.transform.copy_(
            torch.from_numpy(np.linalg.inv(make_transform((0.1, -0.05), 10)))
        )
        img = G(z, None, truncation_psi=0.7)
        G.synthesis.input.transform.copy_(torch.eye(3))
    want = (img[0].permute(1, 2, 0) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
    got = read_png(written[1])
    assert got.shape == (16, 16, 3)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(read_png(written[0]), got)


def test_images_come_one_at_a_time(checkpoint):
    """iter_images makes each image when asked (the CLI writes it before making the next, so
    a stopped run keeps what it made, and memory holds one image)."""
    _, G = checkpoint
    it = iter_images(G, [5, 6])
    seed, first = next(it)
    assert seed == 5 and first.shape == (16, 16, 3)
    assert np.array_equal(first, generate_images(G, [5])[0][1])
    assert [s for s, _ in it] == [6]


def test_translation_moves_the_image(checkpoint):
    # A translation by 2 pixels (2/16 of the canvas) shifts the image content by ~2 pixels.
    _, G = checkpoint
    (_, a), (_, b) = (
        generate_images(G, [1], translate=(t, 0))[0] for t in (0.0, 2 / 16)
    )  # fmt: skip
    a, b = a.astype(float), b.astype(float)
    shifted = np.abs(b[:, 4:-4] - a[:, 2:-6]).mean()
    unshifted = np.abs(b[:, 4:-4] - a[:, 4:-4]).mean()
    assert shifted < 0.5 * unshifted


def test_cli_runs_as_a_script(checkpoint, tmp_path):
    path, _ = checkpoint
    out = tmp_path / "cli"
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / "gen_images.py"), "--network", str(path), "--seeds",
         "0", "--outdir", str(out), "--device", "cpu"],
        capture_output=True, text=True, timeout=120,
        # The CLI plumbing is under test, not the kernels: skip the fresh process's JIT compile.
        env={**os.environ, "BANDLIMIT_IMPL": "ref"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert read_png(out / "seed0000.png").shape == (16, 16, 3)


@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9)), st.booleans())
def test_png_round_trip(img, rgb):
    import tempfile

    if rgb:
        img = np.stack([img, img[::-1], 255 - img], axis=-1)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.png"
        write_png(p, img)
        np.testing.assert_array_equal(read_png(p), img)


def test_bad_input():
    with pytest.raises(ValueError, match="seeds"):
        parse_range("1-x")
    with pytest.raises(ValueError, match="increasing"):
        parse_range("5-2")
    assert parse_range("0, 2-4,9") == [0, 2, 3, 4, 9]
    with pytest.raises(ValueError, match="x,y"):
        parse_vec2("1,2,3")
    with pytest.raises(ValueError, match="image must be uint8"):
        write_png("unused.png", np.zeros((4, 4), np.float32))
    torch.manual_seed(0)
    Gc = Generator(img_resolution=16, **{**TINY, "c_dim": 2})
    with pytest.raises(ValueError, match="class_idx"):
        generate_images(Gc, [0])
    assert generate_images(Gc, [0], class_idx=1)[0][1].shape == (16, 16, 3)


# --- The CLIs' bad input: one error line, exit status 2, never a traceback. -------------------


def cli_error(cli, argv: list[str], capsys) -> str:
    """Run ``cli(argv)`` expecting a clean usage error; returns its (last) error line."""
    with pytest.raises(SystemExit) as exc:
        cli(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_parse_range_names_the_expected_form():
    assert parse_range("4294967290-4294967295")[-1] == 2**32 - 1  # numpy's largest seed
    for text in ["a-b", "", "-1", "1,,2"]:
        with pytest.raises(ValueError, match=r"seeds must be non-negative integers.*'0-7,12'"):
            parse_range(text)
    with pytest.raises(ValueError, match=r"'5-2'.*increasing, like '0-7,12'"):
        parse_range("0,5-2")
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32 - 1\].*4294967296"):
        parse_range("4294967290-4294967296")
    with pytest.raises(ValueError, match=r"at most 1,000,000 seeds per call"):
        parse_range("0-4294967295")  # returns at once instead of building 4 G seeds
    assert len(parse_range("0-999999")) == 1_000_000
    for text in ["nan,0", "0,inf", "1", "a,b"]:
        with pytest.raises(ValueError, match="'x,y' with finite numbers"):
            parse_vec2(text)


@pytest.mark.parametrize(
    "script, args, want",
    [
        ("images", ["--seeds", "a-b"], "argument --seeds: seeds must be non-negative integers"),
        ("images", ["--seeds", "5-2"], "argument --seeds: seed range '5-2'"),
        ("images", ["--seeds", ""], "argument --seeds: seeds must be non-negative integers"),
        ("images", ["--seeds", "4294967296"], "argument --seeds: seeds must be in [0, 2**32 - 1]"),
        ("images", ["--seeds", "0", "--trunc", "nan"], "argument --trunc: must be a finite"),
        ("images", ["--seeds", "0", "--rotate", "inf"], "argument --rotate: must be a finite"),
        ("images", ["--seeds", "0", "--translate", "nan,0"], "argument --translate: a 2-vector"),
        ("images", ["--seeds", "0", "--trunc-cutoff", "-1"], "argument --trunc-cutoff: must be"),
        ("video", ["--frames", "1"], "argument --frames: must be an integer >= 2, got '1'"),
        ("video", ["--frames", "0"], "argument --frames: must be an integer >= 2, got '0'"),
        ("video", ["--frames", "-3"], "argument --frames: must be an integer >= 2, got '-3'"),
        ("video", ["--fps", "0"], "argument --fps: must be an integer >= 1, got '0'"),
        ("video", ["--fps", "-24"], "argument --fps: must be an integer >= 1, got '-24'"),
        ("video", ["--fps", "2000"], "--fps must be at most 100 for a GIF"),
        ("video", ["--scale", "-1"], "argument --scale: must be an integer >= 0"),
        ("video", ["--trunc", "nan"], "argument --trunc: must be a finite number, got 'nan'"),
        ("video", ["--amount=-inf"], "argument --amount: must be a finite number, got '-inf'"),
        ("video", ["--seeds", "0-4294967296"], "argument --seeds: seeds must be in [0, 2**32 - 1]"),
    ],
)  # fmt: skip
def test_cli_rejects_bad_values(checkpoint, tmp_path, capsys, script, args, want):
    from gen_video import main as video

    path, _ = checkpoint
    if script == "images":
        cli, argv = main, ["--network", str(path), "--outdir", str(tmp_path), *args]
    else:
        cli, argv = video, ["--network", str(path), "--output", str(tmp_path / "v.gif"), *args]
    assert want in cli_error(cli, argv, capsys)
    assert not any(tmp_path.iterdir())  # refused before writing anything


def test_network_argument(checkpoint, tmp_path, capsys):
    from gen_video import main as video

    path, _ = checkpoint
    # A training run directory means its latest checkpoint (as in gen_video.py).
    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(1)
    save_checkpoint(run / "checkpoint-00000002.pt", G_ema=Generator(img_resolution=16, **TINY))
    (run / "checkpoint-00000004.pt").write_bytes(path.read_bytes())
    a = main(["--network", str(run), "--seeds", "0", "--outdir", str(tmp_path / "a")])
    b = main(["--network", str(path), "--seeds", "0", "--outdir", str(tmp_path / "b")])
    assert a[0].read_bytes() == b[0].read_bytes()
    # Neither script loads what is not there, or what is not a network.
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pt").write_bytes(b"not a network")
    cases = {
        "missing.pt": "error: --network '{}' does not exist",
        "empty": "error: --network '{}' is a directory with no checkpoint-*.pt",
        "junk.pt": "error: --network '{}' is not a readable network: path must be",
    }
    out = tmp_path / "out"
    for name, want in cases.items():
        net = str(tmp_path / name)
        line = cli_error(main, ["--network", net, "--seeds", "0", "--outdir", str(out)], capsys)
        assert line.startswith(want.format(net))
        line = cli_error(video, ["--network", net, "--output", str(tmp_path / "v.gif")], capsys)
        assert line.startswith(want.format(net))
    assert not (tmp_path / "v.gif").exists() and not out.exists()
    # A file where a directory must go: one line, before any rendering.
    (tmp_path / "afile").write_text("keep")
    below = str(tmp_path / "afile" / "sub")
    line = cli_error(main, ["--network", str(path), "--seeds", "0", "--outdir", below], capsys)
    assert line.startswith(f"error: --outdir: cannot create {below!r}: ")
    line = cli_error(video, ["--network", str(path), "--output", below + "/v.gif"], capsys)
    assert line.startswith(f"error: --output: cannot create {below!r}: ")
    assert (tmp_path / "afile").read_text() == "keep"
    # A checkpoint whose G_ema entry is not a generator.
    torch.save({"G_ema": {"not": "a network"}}, tmp_path / "odd.pt")
    line = cli_error(main, ["--network", str(tmp_path / "odd.pt"), "--seeds", "0", "--outdir",
                            str(out)], capsys)  # fmt: skip
    assert line.startswith("error: --network") and ("no generator" in line or "readable" in line)
    # A tensor of the wrong shape: the reason under torch's "Error(s) in loading state_dict
    # for Generator:" heading is shown (only the heading was).
    data = torch.load(path, weights_only=True)
    state = data["G_ema"]["state_dict"]
    name = next(k for k, v in state.items() if v.ndim == 2)
    state[name] = torch.zeros(3, 5)
    torch.save(data, tmp_path / "wrong_shape.pt")
    line = cli_error(main, ["--network", str(tmp_path / "wrong_shape.pt"), "--seeds", "0",
                            "--outdir", str(out)], capsys)  # fmt: skip
    assert "not a readable network" in line and f"size mismatch for {name}" in line, line


def test_conditional_network_needs_class(tmp_path, capsys):
    torch.manual_seed(0)
    path = tmp_path / "cond.pt"
    save_checkpoint(path, G_ema=Generator(img_resolution=16, **{**TINY, "c_dim": 3}))
    argv = ["--network", str(path), "--seeds", "0", "--outdir", str(tmp_path / "out")]
    line = cli_error(main, argv, capsys)
    assert line == "error: the network is conditional (3 classes): give --class N, 0 <= N < 3"
    for bad in ("3", "-1"):
        line = cli_error(main, [*argv, "--class", bad], capsys)
        assert line == f"error: --class must be in [0, 3) (3 classes), got {bad}"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in main([*argv, "--class", "2"])] == ["seed0000.png"]

    # gen_video: the same rule, and the class reaches the mapping network.
    from gen_video import main as video
    from gen_video import render_frames

    vargs = ["--network", str(path), "--frames", "2", "--output", str(tmp_path / "v.gif")]
    line = cli_error(video, vargs, capsys)
    assert line == "error: the network is conditional (3 classes): give --class N, 0 <= N < 3"
    assert video([*vargs, "--class", "1"]).is_file()
    G = load_generator(path)
    a, b = (render_frames(G, [0], frames=2, class_idx=k)[0] for k in (0, 1))
    assert not np.array_equal(a, b)


def test_gen_video_output_format(checkpoint, tmp_path, capsys):
    from gen_video import main as video

    path, _ = checkpoint
    for name, extra in [("v.png", []), ("v.xyz", []), ("v", []), ("v.mp4", []),
                        ("v.gif", ["--mp4"])]:  # fmt: skip
        out = str(tmp_path / name)
        line = cli_error(video, ["--network", str(path), "--output", out, *extra], capsys)
        assert line == f"error: --output must end in .gif, or .mp4 with --mp4; got {out!r}"
    # A GIF's sides are 16-bit: refused before rendering (it was killed for memory instead).
    out = str(tmp_path / "v.gif")
    line = cli_error(video, ["--network", str(path), "--output", out, "--seeds", "0-1",
                             "--scale", "100000"], capsys)  # fmt: skip
    assert line.startswith("error: 2 seeds of ") and "at --scale 100000 make frames " in line
    assert "at most 65535 px" in line
    assert not any(tmp_path.iterdir())


def test_cli_errors_as_scripts(tmp_path):
    # The real entry points: exit status 2 and one error line on stderr, nothing else.
    env = {**os.environ, "BANDLIMIT_IMPL": "ref"}
    missing = str(tmp_path / "missing.pt")
    runs = [
        (["gen_images.py", "--network", missing, "--seeds", "0", "--outdir", str(tmp_path)],
         f"error: --network {missing!r} does not exist"),
        (["gen_video.py", "--network", missing, "--output", str(tmp_path / "v.gif")],
         f"error: --network {missing!r} does not exist"),
    ]  # fmt: skip
    for (script, *args), want in runs:
        res = subprocess.run([sys.executable, str(EXAMPLES / script), *args],
                             capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
        assert (res.returncode, res.stderr, res.stdout) == (2, want + "\n", "")


def test_generating_leaves_the_callers_generator_as_it_was(tmp_path):
    """generate_images / iter_images wrote the inverse transform into G's input and left it
    there (every later G(z, c) came out translated and rotated) and left G in eval mode."""
    from gen_images import generate_images, iter_images

    torch.manual_seed(0)
    G = Generator(8, 0, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3).train()
    before = G.synthesis.input.transform.clone()
    z = torch.randn(1, 8)
    y = G(z, None)
    generate_images(G, [0, 1], translate=(0.25, 0.0), rotate=30)
    assert torch.equal(G.synthesis.input.transform, before) and G.training
    images = iter_images(G, [0, 1, 2], translate=(0.1, 0.0))
    next(images)
    images.close()  # (stopped early: restored too)
    assert torch.equal(G.synthesis.input.transform, before) and G.training
    torch.testing.assert_close(G(z, None), y)


def test_the_official_noise_mode_option_is_accepted(tmp_path):
    """The official tool's command lines pass --noise-mode; it was an unrecognized argument."""
    from gen_images import main

    torch.manual_seed(0)
    G = Generator(8, 0, 8, 16, 3, channel_base=256, channel_max=8, num_layers=3)
    save_checkpoint(tmp_path / "c.pt", G_ema=G)
    a = main(["--network", str(tmp_path / "c.pt"), "--seeds", "0", "--outdir", str(tmp_path / "a"),
              "--noise-mode", "const"])  # fmt: skip
    b = main(["--network", str(tmp_path / "c.pt"), "--seeds", "0", "--outdir", str(tmp_path / "b"),
              "--noise-mode", "random"])  # fmt: skip
    assert a[0].read_bytes() == b[0].read_bytes()  # (no noise inputs: the same image)
