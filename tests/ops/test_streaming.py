"""Streaming 1-D filtered activations: chunk by chunk, the whole signal's outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.filters import kaiser_sinc_bigvgan
from bandlimit.nn import AliasFreeActivation1d, Snake, SnakeBeta, bigvgan
from bandlimit.ops import FilteredAct1dStream, filtered_act1d
from tests.ops.strategies import IMPLS


def run_stream(stream, x, cuts):
    parts, prev = [], 0
    for c in [*cuts, x.shape[2]]:
        parts.append(stream(x[:, :, prev:c]))
        prev = c
    parts.append(stream.flush())
    assert all(p.shape[:2] == x.shape[:2] for p in parts)
    return torch.cat(parts, dim=2)


@st.composite
def stream_cases(draw):
    up, down = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ku, kd = draw(st.integers(1, 13)), draw(st.integers(1, 13))
    pad = (draw(st.integers(0, 12)), draw(st.integers(0, 12)))
    dpad = (draw(st.integers(0, 12)), draw(st.integers(0, 12)))
    length = draw(st.integers(1, 50))
    cuts = sorted(draw(st.lists(st.integers(0, length), max_size=6)))
    return dict(up=up, down=down, ku=ku, kd=kd, padding=pad, down_padding=dpad, length=length,
                cuts=cuts, mode=draw(st.sampled_from(["zeros", "replicate"])),
                act=draw(st.sampled_from(["gelu", "lrelu", "tanh"])),
                seed=draw(st.integers(0, 2**31)))  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=60, deadline=None)
@given(case=stream_cases())
def test_chunks_give_the_whole_signals_outputs(impl, case):
    """Any factors, taps, paddings and chunking (empty chunks included): the concatenated
    chunks' outputs are the op on the whole signal; a signal too short for the op fails at
    flush() with the op's own error."""
    g = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(2, 3, case["length"], generator=g, dtype=torch.float64)
    fu = torch.randn(case["ku"], generator=g, dtype=torch.float64)
    fd = torch.randn(case["kd"], generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    kw = dict(b=b, up=case["up"], down=case["down"], padding=case["padding"],
              down_padding=case["down_padding"], padding_mode=case["mode"], clamp=2.0,
              flip_filter=(False, True), impl=impl)  # fmt: skip
    stream = FilteredAct1dStream(case["act"], fu, fd, **kw)
    try:
        want = filtered_act1d(x, case["act"], fu, fd, **kw)
    except ValueError as exc:
        with pytest.raises(ValueError, match=r"output length|empty"):
            run_stream(stream, x, case["cuts"])
        assert "output length" in str(exc) or "empty" in str(exc)
        return
    got = run_stream(stream, x, case["cuts"])
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_bigvgan_snakebeta_in_float32_chunks_of_64_and_restart(impl):
    """BigVGAN's activation (SnakeBeta, 2x, 12 taps, replicate) on 64-sample chunks in float32:
    the whole signal's output; the first chunk waits for `lookahead` samples, later ones emit
    as many samples as they bring; after flush() a new signal starts afresh."""
    f = kaiser_sinc_bigvgan(0.25, 0.3, 12)
    alpha, beta = torch.rand(4) + 0.5, torch.rand(4) + 0.5
    kw = dict(up=2, down=2, padding=(6, 5), down_padding=(5, 6), padding_mode="replicate",
              flip_filter=(False, True), alpha=alpha, beta=beta, impl=impl)  # fmt: skip
    stream = FilteredAct1dStream("snakebeta", f, f, **kw)
    assert stream.lookahead == 5
    for seed in (0, 1):  # the second signal reuses the stream
        x = torch.randn(1, 4, 640, generator=torch.Generator().manual_seed(seed))
        sizes = [stream(c).shape[2] for c in x[:, :, :128].split(64, dim=2)]
        assert sizes == [64 - stream.lookahead, 64]
        rest = run_stream(stream, x[:, :, 128:], [])
        assert rest.shape[2] == 640 - 128 + stream.lookahead
        stream.reset()
        got = run_stream(stream, x, list(range(64, 640, 64)))
        torch.testing.assert_close(got, filtered_act1d(x, "snakebeta", f, f, **kw),
                                   rtol=1e-5, atol=1e-5)  # fmt: skip


def test_gradients_flow_through_the_chunks():
    """Gradients to every chunk (and to a learnable alpha) are the whole signal's."""
    f = kaiser_sinc_bigvgan(0.25, 0.3, 12, dtype=torch.float64)
    x = torch.randn(1, 2, 90, dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor([0.7, 1.3], dtype=torch.float64, requires_grad=True)
    kw = dict(up=2, down=2, padding=(6, 5), down_padding=(5, 6), padding_mode="replicate",
              alpha=alpha)
    w = torch.randn(1, 2, 90, dtype=torch.float64)
    (gx, ga) = torch.autograd.grad((filtered_act1d(x, "snake", f, f, **kw) * w).sum(), (x, alpha))
    y = run_stream(FilteredAct1dStream("snake", f, f, **kw), x, [7, 40, 41])
    (sx, sa) = torch.autograd.grad((y * w).sum(), (x, alpha))
    torch.testing.assert_close(sx, gx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sa, ga, rtol=1e-12, atol=1e-12)


def test_memory_stays_bounded_with_autograd_on():
    """Chunks coming out of a layer with trainable weights carry autograd graphs: the retained
    samples were one concatenated tensor whose graph chained every chunk to the next, keeping
    every earlier chunk's graph (and the tensors it saved) alive."""
    import gc
    import weakref

    conv = torch.nn.Conv1d(4, 4, 3, padding=1)
    stream = AliasFreeActivation1d(Snake(4)).stream()
    saved = []  # the conv's inputs, which its graph saves for the weight's gradient
    for _ in range(60):
        inp = torch.randn(1, 4, 64)
        saved.append(weakref.ref(inp))
        y = stream(conv(inp))
    del inp, y
    gc.collect()
    alive = sum(r() is not None for r in saved)
    assert alive <= 3, alive
    assert len(stream._stream._parts) <= 3


@pytest.mark.parametrize("act", [Snake(3), SnakeBeta(3), torch.nn.Mish(), "gelu"],
                         ids=lambda a: str(a))
def test_module_streams_read_its_current_parameters(act):
    """AliasFreeActivation1d.stream(): the module on the whole signal, a fused or an unfused
    activation; a parameter changed mid-stream counts from the next chunk."""
    module = AliasFreeActivation1d(act).double()
    x = torch.randn(2, 3, 200, dtype=torch.float64)
    stream = module.stream()
    torch.testing.assert_close(run_stream(stream, x, [1, 50, 51, 120]), module(x),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    if isinstance(act, Snake):
        first = stream(x[:, :, :100])
        with torch.no_grad():
            act.alpha.mul_(2)
        assert not torch.allclose(first, module(x)[:, :, : first.shape[2]])  # (the old alpha)
        rest = torch.cat([stream(x[:, :, 100:]), stream.flush()], dim=2)
        assert torch.allclose(rest[:, :, -50:], module(x)[:, :, -50:])


@pytest.mark.parametrize("ratio", [2, 3])
def test_bigvgan_blocks_stream_alias_free_torchs_numbers(ratio):
    """bigvgan.Activation1d.stream() (the drop-in BigVGAN users patch in): chunked, the
    block's output on the whole signal, which is alias-free-torch's."""
    aft = pytest.importorskip("alias_free_torch")
    act = SnakeBeta(3, alpha_logscale=True).double()
    block = bigvgan.Activation1d(act, up_ratio=ratio, down_ratio=ratio).double()
    x = torch.randn(1, 3, 150, dtype=torch.float64)
    got = run_stream(block.stream(), x, [10, 11, 64, 100])
    torch.testing.assert_close(got, block(x), rtol=1e-12, atol=1e-12)
    peer = aft.Activation1d(act, up_ratio=ratio, down_ratio=ratio).double()
    torch.testing.assert_close(got, peer(x), rtol=1e-6, atol=1e-6)


RESAMPLERS = [  # (id, class, arguments): alias-free-torch's classes take the same
    ("up 2", "UpSample1d", (2,), {}),
    ("up 3, 7 taps", "UpSample1d", (3, 7), {}),
    ("down 2", "DownSample1d", (2,), {}),
    ("down 3, 13 taps", "DownSample1d", (3, 13), {}),
    ("lowpass stride 1", "LowPassFilter1d", (0.3, 0.2), {"kernel_size": 9}),
    ("lowpass constant", "LowPassFilter1d", (0.25, 0.3, 2), {"padding_mode": "constant"}),
    ("lowpass unpadded", "LowPassFilter1d", (0.25, 0.3, 3), {"padding": False}),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), [r[1:] for r in RESAMPLERS],
                         ids=[r[0] for r in RESAMPLERS])
def test_bigvgan_resamplers_stream_alias_free_torchs_numbers(cls, args, kwargs):
    """UpSample1d / DownSample1d / LowPassFilter1d.stream(): chunked (empty and one-sample
    chunks among them), the module's output on the whole signal, which is alias-free-torch's;
    the stream starts over after its flush."""
    aft = pytest.importorskip("alias_free_torch")
    module = getattr(bigvgan, cls)(*args, **kwargs).double()
    peer = getattr(aft, cls)(*args, **kwargs).double()
    x = torch.randn(2, 3, 150, dtype=torch.float64)
    stream = module.stream()
    for cuts in ([0, 1, 2, 40, 40, 97], [75]):
        got = run_stream(stream, x, cuts)
        torch.testing.assert_close(got, module(x), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got, peer(x), rtol=1e-6, atol=1e-6)


def test_a_lowpass_that_reflects_cannot_stream():
    with pytest.raises(ValueError, match=r"padding_mode='reflect' cannot stream.*'constant' and "
                       r"'replicate' can"):
        bigvgan.LowPassFilter1d(padding_mode="reflect").stream()
    with pytest.raises(ValueError, match=r"padding_mode='circular' cannot stream"):
        bigvgan.LowPassFilter1d(padding_mode="circular").stream()


@pytest.mark.parametrize(("up", "down", "padtype"), [(160, 147, "constant"), (2, 3, "edge"),
                                                  (3, 1, "constant"), (1, 4, "edge"),
                                                  (5, 5, "constant")])
def test_resample_poly_streams_scipys_numbers(up, down, padtype):
    """ResamplePoly.stream(): real-time rate conversion, chunk by chunk, the whole signal's
    resample_poly (itself scipy's), edges included."""
    import scipy.signal

    from bandlimit.nn import ResamplePoly

    module = ResamplePoly(up, down, padtype=padtype)
    x = torch.randn(2, 3, 700, dtype=torch.float64)
    got = run_stream(module.stream(), x, [0, 1, 100, 333, 334, 600])
    torch.testing.assert_close(got, module(x), rtol=1e-12, atol=1e-12)
    want = scipy.signal.resample_poly(x.numpy(), up, down, axis=-1, padtype=padtype)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)


def test_resample_poly_streams_only_what_its_ends_determine():
    from bandlimit.nn import ResamplePoly

    with pytest.raises(ValueError, match=r"padtype 'constant' \(cval 0\) or 'edge'.*'reflect'"):
        ResamplePoly(2, 3, padtype="reflect").stream()
    with pytest.raises(ValueError, match=r"got padtype='constant' with cval=1\.5"):
        ResamplePoly(2, 3, cval=1.5).stream()
    with pytest.raises(ValueError, match=r"last axis of \[N, C, L\] chunks.*dim=\(-2, -1\)"):
        ResamplePoly(2, 3, dim=(-2, -1)).stream()
    with pytest.raises(ValueError, match="dim=1"):
        ResamplePoly(2, 3, dim=1).stream()


BAD = [
    ("circular", lambda: FilteredAct1dStream("gelu", padding_mode="circular"), ValueError,
     "padding_mode='circular' cannot stream"),
    ("reflect", lambda: FilteredAct1dStream("gelu", padding_mode="reflect"), ValueError,
     "padding_mode must be one of"),
    ("negative padding", lambda: FilteredAct1dStream("gelu", padding=(-1, 2)), ValueError,
     r"padding must be >= 0 on both sides to stream .*got \(-1, 2\)"),
    ("negative down_padding", lambda: FilteredAct1dStream("gelu", down_padding=(0, -3)),
     ValueError, r"down_padding must be >= 0 .*\(0, -3\)"),
    ("2-D filter", lambda: FilteredAct1dStream("gelu", torch.ones(3, 3)), ValueError, "fu"),
    ("module circular", lambda: AliasFreeActivation1d("gelu", padding_mode="circular").stream(),
     ValueError, "cannot stream"),
    # checked at construction (it was at the first window: after enough samples arrived)
    ("unknown act", lambda: FilteredAct1dStream("nope"), ValueError, "act must be one of"),
    ("act a class", lambda: FilteredAct1dStream(torch.nn.GELU), TypeError, "an instance"),
    ("negative gain", lambda: FilteredAct1dStream("gelu", gain=-1), ValueError, "gain"),
    ("negative clamp", lambda: FilteredAct1dStream("gelu", clamp=-1), ValueError, "clamp"),
    ("unknown impl", lambda: FilteredAct1dStream("gelu", impl="fast"), ValueError, "impl"),
]


@pytest.mark.parametrize(("what", "call", "exc", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_construction(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_chunks():
    stream = FilteredAct1dStream("gelu", up=2, fu=torch.ones(4) / 2)
    with pytest.raises(ValueError, match=r"flush\(\) needs a signal"):
        stream.flush()
    with pytest.raises(ValueError, match=r"chunk must have shape \[N, C, L\]|chunk"):
        stream(torch.zeros(3, 4))
    stream(torch.zeros(1, 2, 5))
    with pytest.raises(ValueError, match=r"chunk must continue the stream's \[N=1, C=2\] "
                                         r"torch\.float32 signal .*got shape \(1, 3, 5\)"):
        stream(torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match=r"torch\.float64"):
        stream(torch.zeros(1, 2, 5, dtype=torch.float64))
    stream.reset()
    assert stream(torch.zeros(1, 3, 5)).shape[:2] == (1, 3)  # a new signal after reset()
