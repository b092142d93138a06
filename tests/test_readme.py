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
