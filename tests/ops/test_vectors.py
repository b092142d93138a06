"""Parity with the official StyleGAN3 ops (vectors made with NVIDIA's reference code path).

Every case of ``upfirdn2d.pt``, ``filtered_lrelu.pt`` and ``bias_act.pt``, every backend: the
output, the input gradient ``dx`` (and ``db``), and for ``bias_act`` the second-order ``ggx``.
Float64 cases, compared to ~1e-10 of the largest magnitude.
"""

from __future__ import annotations

import pytest
import torch

import bandlimit.ops as ops
from tests.conftest import find_vectors_dir

from .strategies import IMPLS

RTOL = 1e-10


def _case_names(fname: str) -> list[str]:
    # Collection-time ids only; the data itself comes through the ``vectors_dir`` fixture, which
    # skips (locally) or fails (CI) when the vectors are missing.
    found = find_vectors_dir()
    if found is None:
        return ["vectors-missing"]
    return [c["name"] for c in torch.load(found / fname, weights_only=True)["cases"]]


def _close(actual: torch.Tensor, expected: torch.Tensor, what: str):
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != " \
                                           f"{tuple(expected.shape)}"
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    err = (actual.detach().to(torch.float64) - expected).abs()
    worst = err.max().item() if err.numel() else 0.0
    assert worst <= RTOL * scale, f"{what}: max abs error {worst:.3e} > {RTOL:.0e}·{scale:.3e}"


@pytest.fixture(scope="module")
def vectors(vectors_dir):
    def load(fname):
        data = torch.load(vectors_dir / fname, weights_only=True)
        return {c["name"]: c for c in data["cases"]}

    return {f: load(f) for f in ("upfirdn2d.pt", "filtered_lrelu.pt", "bias_act.pt")}


_UPFIRDN_KEYS = {
    "upfirdn2d": ("up", "down", "padding", "flip_filter", "gain"),
    "filter2d": ("padding", "flip_filter", "gain"),
    "upsample2d": ("up", "padding", "flip_filter", "gain"),
    "downsample2d": ("down", "padding", "flip_filter", "gain"),
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", _case_names("upfirdn2d.pt"))
def test_upfirdn2d_vectors(vectors, name, impl):
    c = vectors["upfirdn2d.pt"][name]
    kw = {k: c[k] for k in _UPFIRDN_KEYS[c["fn"]] if k in c}
    x = c["x"].clone().requires_grad_(True)
    y = getattr(ops, c["fn"])(x, c["f"], impl=impl, **kw)
    assert y.dtype == c["y"].dtype
    _close(y, c["y"], f"{name} y")
    (dx,) = torch.autograd.grad(y, x, c["dy"])
    _close(dx, c["dx"], f"{name} dx")


def test_setup_filter_vectors(vectors_dir):
    data = torch.load(vectors_dir / "upfirdn2d.pt", weights_only=True)
    for c in data["setup_filter_cases"]:
        f = ops.setup_filter(c["f_in"], **c["kwargs"])
        assert f.dtype == torch.float32
        assert f.shape == c["f_out"].shape, (c["f_in"], c["kwargs"])
        torch.testing.assert_close(f, c["f_out"], rtol=1e-6, atol=0)
    for c in data["cases"]:
        if "setup_filter_args" in c:  # the filters of the wrapper cases were made this way
            torch.testing.assert_close(ops.setup_filter(**c["setup_filter_args"]), c["f"],
                                       rtol=1e-6, atol=0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", _case_names("filtered_lrelu.pt"))
def test_filtered_lrelu_vectors(vectors, name, impl):
    c = vectors["filtered_lrelu.pt"][name]
    kw = {k: c[k] for k in ("up", "down", "padding", "gain", "slope", "clamp", "flip_filter")}
    x = c["x"].clone().requires_grad_(True)
    b = None if c["b"] is None else c["b"].clone().requires_grad_(True)
    y = ops.filtered_lrelu(x, c["fu"], c["fd"], b, impl=impl, **kw)
    assert y.dtype == c["y"].dtype
    _close(y, c["y"], f"{name} y")
    grads = torch.autograd.grad(y, [x] if b is None else [x, b], c["dy"])
    _close(grads[0], c["dx"], f"{name} dx")
    if b is not None:
        _close(grads[1], c["db"], f"{name} db")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", _case_names("bias_act.pt"))
def test_bias_act_vectors(vectors, name, impl):
    c = vectors["bias_act.pt"][name]
    kw = {k: c[k] for k in ("dim", "act", "alpha", "gain", "clamp")}
    x = c["x"].clone().requires_grad_(True)
    b = None if c["b"] is None else c["b"].clone().requires_grad_(True)
    y = ops.bias_act(x, b, impl=impl, **kw)
    _close(y, c["y"], f"{name} y")
    grads = torch.autograd.grad(y, [x] if b is None else [x, b], c["dy"], create_graph=True)
    _close(grads[0], c["dx"], f"{name} dx")
    if b is not None:
        _close(grads[1], c["db"], f"{name} db")
    # Second order: ggx = ∂<dx, v>/∂x (zero for the piecewise-linear activations).
    ggx = None
    if grads[0].requires_grad:
        (ggx,) = torch.autograd.grad(grads[0], x, c["v"], allow_unused=True)
    _close(torch.zeros_like(x) if ggx is None else ggx, c["ggx"], f"{name} ggx")
