"""The README's quickstart must run as written."""

import re

from tests.conftest import REPO_ROOT


def test_quickstart_runs(capsys):
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python block"
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "torch.Size([1, 64, 36, 36])" in out


def test_onnx_example_exports_and_runs(tmp_path, monkeypatch):
    import numpy as np
    import pytest
    import torch

    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    text = (REPO_ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if "torch.onnx.export" in b]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    session = ort.InferenceSession(str(tmp_path / "vocoder.onnx"))
    x = torch.randn(2, 80, 321)  # another batch size and length than the export's
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = scope["model"](x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_volume_example_runs(capsys):
    """The 3-D section's snippet runs as written and prints what its comment says."""
    text = (REPO_ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if "filtered_act3d" in b]
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.strip() == "torch.Size([1, 4, 6, 8, 8]) torch.Size([1, 4, 6, 8, 8])"


def test_antialias_example_prints_what_the_text_says(capsys):
    """The anti-aliasing section's snippet runs as written and prints the placements and the
    size its text gives."""
    text = (REPO_ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if "antialias(model)" in b]
    exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == ["['0', '3.conv1', '3.down.0']", "['2', '3.down.0']", "['3.conv2']",
                     "torch.Size([1, 8, 16, 16])"]


def test_fid_example_runs(tmp_path, monkeypatch, capsys):
    """The FID subsection's snippet runs as written (writing its cache file in the current
    directory) and prints what its comment says."""
    text = (REPO_ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if "frechet_distance" in b or "feature_statistics(" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "True True"
    assert (tmp_path / "reals.npz").is_file()
