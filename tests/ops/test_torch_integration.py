"""torch.library integration: opcheck, torch.compile(fullgraph=True), torch.export and ONNX."""

import warnings

import pytest
import torch
from hypothesis import given
from torch.utils._python_dispatch import TorchDispatchMode

from bandlimit import ops
from bandlimit.ops import _library
from bandlimit.ops._params import make_fir
from tests.defaults import under_default_device_and_dtype
from tests.ops.test_filtered_act import cases as public_filtered_cases
from tests.ops.test_filtered_act import run_op


def _filters(dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, generator=g, dtype=dtype), torch.rand(4, 4, generator=g, dtype=dtype)


def test_op_schemas_are_spelled_for_every_supported_torch():
    """torch < 2.7 builds a custom op's schema only from ``typing.List`` / ``Optional`` / ``Tuple``
    annotations: ``list[int]`` or ``Tensor | None`` made importing the numba and CUDA ops fail
    there ("unsupported type"). define_op respells them (checked on a function written the
    modern way), and every op is registered."""
    import typing

    from bandlimit.ops._custom_ops import _schema_signature
    from bandlimit.ops.cuda import _ops  # noqa: F401  (registers the CUDA ops)

    def impl(x: torch.Tensor, f: torch.Tensor | None, up: list[int], n: int | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x

    sig = _schema_signature(impl).__signature__
    assert [p.annotation for p in sig.parameters.values()] == [
        torch.Tensor, typing.Optional[torch.Tensor], typing.List[int], typing.Optional[int]]  # noqa: UP006, UP045
    assert sig.return_annotation == typing.Tuple[torch.Tensor, torch.Tensor]  # noqa: UP006
    assert sig.parameters["n"].default is None and impl(1, None, []) == (1, 1)
    for name in ("upfirdn_numba", "filtered_act_numba", "filtered_act_any_numba",
                 "upfirdn_cuda", "bias_act_cuda", "filtered_act_cuda"):
        assert hasattr(torch.ops.bandlimit, name), name


def test_opcheck_upfirdn():
    sep, full = _filters(torch.float64)
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64, requires_grad=True)
    for f in (sep, full):
        fir = make_fir(f, flip_filter=False, gain=(1.5, 1.5), dtype=x.dtype, device=x.device)
        args = (x, fir.fx, fir.fy, fir.f2d, [2, 1], [1, 3], [2, 1, -1, 3])
        torch.library.opcheck(_library.upfirdn_numba.op, args)


@pytest.mark.parametrize("save_mask", [True, False])
def test_opcheck_filtered_act(save_mask):
    sep, full = _filters(torch.float64)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    fu = make_fir(sep, flip_filter=False, gain=(2.0, 2.0), dtype=x.dtype, device=x.device)
    fd = make_fir(full, flip_filter=False, gain=(1.0, 1.0), dtype=x.dtype, device=x.device)
    args = (x, b, fu.fx, fu.fy, fu.f2d, fd.fx, fd.fy, fd.f2d, [2, 2], [2, 2], [3, 2, 3, 2],
            "lrelu", 0.2, 1.4, 1.0, save_mask)
    # The mask output is integer-valued and opaque: autograd registration is checked through it.
    torch.library.opcheck(_library._filtered_act_fwd.op, args)


class _PassThrough(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _eager_op_cases():
    """(EagerOp, args) of each numba custom op with an autograd formula, float64, x requiring
    grad (and b, snake's alpha / beta where the op takes them)."""
    g = torch.Generator().manual_seed(1)

    def t(*shape, grad=False):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)

    sep, full = _filters(torch.float64)
    fu = make_fir(sep, flip_filter=False, gain=(2.0, 2.0), dtype=torch.float64, device="cpu")
    fd = make_fir(full, flip_filter=False, gain=(1.0, 1.0), dtype=torch.float64, device="cpu")
    x, b = t(2, 3, 8, 7, grad=True), t(3, grad=True)
    alpha, beta = (t(3).abs().add(0.5).requires_grad_() for _ in range(2))
    return {
        "upfirdn": (_library.upfirdn_numba, (x, fu.fx, fu.fy, None, [2, 1], [1, 2], [3, 2, 0, 1])),
        "filtered_act": (_library._filtered_act_fwd, (
            x, b, fu.fx, fu.fy, None, None, None, fd.f2d, [2, 2], [2, 2], [3, 2, 3, 2], "lrelu",
            0.2, 1.4, 1.0, True)),
        "filtered_act_any": (_library._filtered_act_any_fwd, (
            x, b, alpha, beta, fu.fx, fu.fy, None, None, None, fd.f2d, [2, 2], [2, 2],
            [3, 2, 3, 2], [1, 1, 0, 2], "replicate", "snakebeta", 0.0, 1.0, 2.0)),
    }


@pytest.mark.parametrize("name", ["upfirdn", "filtered_act", "filtered_act_any"])
def test_eager_calls_skip_the_custom_op_and_equal_it(name, monkeypatch):
    """Plain eager calls run the kernel and autograd formula without dispatching the custom op
    (its per-call cost, _custom_ops.EagerOp); outputs, gradients and second-order gradients
    equal the op's exactly, and anything that intercepts ops still sees the op."""
    eop, args = _eager_op_cases()[name]
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]

    def run(call):
        out = call(*args)
        y = out[0] if isinstance(out, tuple) else out
        w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
        grads = torch.autograd.grad((y * w).sum(), inputs, create_graph=True)
        gg = sum((gr * gr).sum() for gr in grads)  # constant in x for linear / lrelu
        second = (torch.autograd.grad(gg, inputs[0], allow_unused=True, materialize_grads=True)
                  if gg.requires_grad else (torch.tensor(float(gg.requires_grad)),))
        with torch.no_grad():
            y_ng = call(*args)
        return y, y_ng, grads, second

    op_results = run(eop.op)
    seen = []
    real_op = eop.op

    def recording_op(*a):
        seen.append(True)
        return real_op(*a)

    monkeypatch.setattr(eop, "op", recording_op)
    eager_results = run(eop)
    assert not seen, "a plain eager call dispatched the custom op"
    for got, want in zip(torch.utils._pytree.tree_leaves(eager_results),
                         torch.utils._pytree.tree_leaves(op_results)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    with torch.device("cpu"):  # a default-device mode only moves factories: still skipped
        eop(*args)
    assert not seen
    with _PassThrough():  # an interceptor of ops: the op again
        eop(*args)
    assert seen
    # The older vmap (autograd's is_grads_batched) batches plain Tensors: the ops' vmap fallback
    # runs (a kernel on a batched tensor would fail), as many single backward passes would.
    out = eop(*args)
    y = out[0] if isinstance(out, tuple) else out
    dys = torch.randn(3, *y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2))
    batched = torch.autograd.grad(y, inputs, dys, retain_graph=True, is_grads_batched=True)
    for k in range(3):
        single = torch.autograd.grad(y, inputs, dys[k], retain_graph=True)
        for got, want in zip(batched, single, strict=True):
            torch.testing.assert_close(got[k], want, rtol=1e-12, atol=1e-12)


@given(case=public_filtered_cases(max_len=7))
def test_eager_path_equals_the_op_path_for_every_activation_and_mode(case):
    """The public filtered_act / filtered_act1d with impl='numba' (every activation, padding mode
    and layout): plain eager calls (EagerOp) and the same calls under an op-intercepting mode
    (the registered custom ops) give bit-identical outputs and gradients w.r.t. x, b, alpha
    and beta, second order included."""

    def run():
        y, leaves, alpha, beta = run_op(case, "numba", requires_grad=True)
        wrt = [t for t in (leaves["x"], leaves["b"], alpha, beta)
               if isinstance(t, torch.Tensor)]
        w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
        grads = torch.autograd.grad((y * w).sum(), wrt, create_graph=True)
        gg = sum((g * g).sum() for g in grads)
        second = (torch.autograd.grad(gg, wrt[0], allow_unused=True, materialize_grads=True)[0]
                  if gg.requires_grad else torch.zeros_like(wrt[0]))
        return [y.detach(), *(g.detach() for g in grads), second]

    eager = run()
    with _PassThrough():
        through_op = run()
    for got, want in zip(eager, through_op, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        sep, full = _filters()
        self.register_buffer("fu", sep)
        self.register_buffer("fd", full)
        self.bias = torch.nn.Parameter(torch.randn(3) * 0.1)

    def forward(self, x):
        x = ops.filtered_lrelu(x, self.fu, self.fd, self.bias, up=2, down=2, padding=4, clamp=3.0)
        return ops.upfirdn2d(x, self.fu, down=2, padding=2)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_compile_fullgraph_matches_eager(impl):
    torch._dynamo.reset()
    torch.manual_seed(0)  # (the inputs were whatever the worker's earlier tests left)
    model = _Block()
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    ops.set_default_impl(impl)
    try:
        eager = model(x)
        (gx_eager,) = torch.autograd.grad(eager.square().sum(), x)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        out = compiled(x)
        (gx,) = torch.autograd.grad(out.square().sum(), x)
    finally:
        ops.set_default_impl(None)
    # float32: the traced graph may sum in another order (a CI run saw 3e-5 relative)
    torch.testing.assert_close(out, eager, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gx, gx_eager, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_compile_and_export_with_a_callable_act(impl):
    """A callable activation (unfused: the op's two stages around it) compiles as one graph,
    forward and backward, and exports."""
    torch._dynamo.reset()
    sep, _ = _filters()

    def fn(x):
        return ops.filtered_act1d(x, torch.nn.functional.mish, sep, sep, up=2, down=2,
                                  padding=(3, 3), padding_mode="replicate", impl=impl)

    x = torch.randn(2, 3, 20, requires_grad=True)
    eager = fn(x)
    (gx_eager,) = torch.autograd.grad(eager.square().sum(), x)
    out = torch.compile(fn, fullgraph=True, backend="aot_eager")(x)
    (gx,) = torch.autograd.grad(out.square().sum(), x)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(gx, gx_eager)

    class Wrap(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    program = torch.export.export(Wrap(), (x.detach(),))
    torch.testing.assert_close(program.module()(x.detach()), eager.detach())


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_compile_dynamic_with_float_defaults(impl):
    """dynamic=True makes float arguments symbolic (filtered_lrelu's default gain √2): the
    argument checks must stay traceable (math.isfinite was not)."""
    torch._dynamo.reset()
    f = torch.ones(4) / 4

    def fn(x):
        return ops.filtered_lrelu(x, f, f, up=2, down=2, padding=3, impl=impl)

    compiled = torch.compile(fn, fullgraph=True, dynamic=True, backend="aot_eager")
    for size in (8, 11):
        x = torch.randn(1, 3, size, size)
        torch.testing.assert_close(compiled(x), fn(x))


def test_compile_and_export_conv2d_resample():
    """A StyleGAN2-style up- and down-sampling pair of convolutions (the batch folded into the
    groups, as a modulated convolution does it) compiles whole with dynamic sizes, forward and
    backward, and exports (its FIR stages: the numba custom ops; 'ref' is plain PyTorch)."""
    torch._dynamo.reset()
    f, impl = ops.setup_filter([1, 3, 3, 1]).double(), "numba"
    w_up = torch.randn(8, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    w_down = torch.randn(2, 2, 3, 3, dtype=torch.float64)

    def fn(x):
        y = ops.conv2d_resample(x.reshape(1, -1, *x.shape[2:]), w_up, f, up=2, padding=1,
                                groups=2, impl=impl)
        return ops.conv2d_resample(y.reshape(2, 4, *y.shape[2:]), w_down.repeat(1, 2, 1, 1),
                                   f, down=2, padding=1, flip_weight=False, impl=impl)

    compiled = torch.compile(fn, fullgraph=True, dynamic=True, backend="aot_eager")
    for size in (8, 11):
        x = torch.randn(2, 3, size, size, dtype=torch.float64, requires_grad=True)
        out, eager = compiled(x), fn(x)
        torch.testing.assert_close(out, eager)
        grads = torch.autograd.grad(out.square().sum(), (x, w_up))
        grads_eager = torch.autograd.grad(eager.square().sum(), (x, w_up))
        torch.testing.assert_close(grads, grads_eager)

    class Wrap(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    program = torch.export.export(Wrap(), (x,))
    torch.testing.assert_close(program.module()(x), fn(x))


def test_resample_design_caches_never_hold_a_traced_tensor():
    """An export traces with fake tensors: a filter designed then and cached would be a fake
    tensor in every later eager call (that happened). Non-strict (ONNX's) and strict exports
    leave the design caches empty; they give the eager output; the eager call is real."""
    from bandlimit.filters import resample as design
    from bandlimit.ops import resample as rs

    class M(torch.nn.Module):
        def forward(self, x):
            return ops.resample_poly(x, 5, 3, padtype="reflect")

    x = torch.randn(2, 40)
    design._cached_design.cache_clear()
    rs._cached_filter_on.cache_clear()
    programs = []
    for strict in (False, True):
        torch._dynamo.reset()
        programs.append(torch.export.export(M(), (x,), strict=strict))
    assert design._cached_design.cache_info().currsize == 0
    assert rs._cached_filter_on.cache_info().currsize == 0
    y = M()(x)  # eager: designs and caches real tensors
    assert type(y) is torch.Tensor
    assert type(rs._cached_filter_on(5, 3, None, x.device)) is torch.Tensor
    for ep in programs:
        torch.testing.assert_close(ep.module()(x), y)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_compile_resample_poly(impl):
    """resample_poly is plain torch around upfirdn1d: it compiles whole (the filter design and
    the signal's extension included) for signals of several lengths (dynamic shapes)."""
    torch._dynamo.reset()

    def fn(x):
        return ops.resample_poly(x, 3, 2, padtype="antireflect", impl=impl)

    compiled = torch.compile(fn, fullgraph=True, dynamic=True, backend="aot_eager")
    for size in (16, 23):
        x = torch.randn(2, size, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out, eager = compiled(x), fn(x)
        # Dynamo warns when it meets a cache wrapper (and skips it): the plans' is not traced
        assert not [w for w in caught if "lru_cache" in str(w.message)], caught
        torch.testing.assert_close(out, eager)
        (gx,) = torch.autograd.grad(out.sum(), x)
        (gx_eager,) = torch.autograd.grad(eager.sum(), x)
        torch.testing.assert_close(gx, gx_eager)


def test_export_numba():
    model = _Block().eval()
    x = torch.randn(1, 3, 12, 12)
    ops.set_default_impl("numba")
    try:
        ep = torch.export.export(model, (x,))
    finally:
        ops.set_default_impl(None)
    names = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any("bandlimit" in n for n in names), names
    torch.testing.assert_close(ep.module()(x), model(x))


class _Call(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _unbounded_cases():
    from bandlimit import nn as bnn
    from bandlimit.filters import kaiser_sinc
    from bandlimit.nn import bigvgan

    f = kaiser_sinc(12, cutoff=0.25, width=0.3, fs=2.0)
    alpha = torch.full((4,), 0.7)
    return {
        "upfirdn1d": _Call(lambda x: ops.upfirdn1d(x, f, up=2, padding=(6, 5))),
        "filtered_act1d-zeros": _Call(lambda x: ops.filtered_act1d(
            x, "snake", f, f, up=2, down=2, padding=(6, 5), alpha=alpha)),
        "filtered_act1d-replicate": _Call(lambda x: ops.filtered_act1d(
            x, "gelu", f, f, up=2, down=2, padding=(6, 5), padding_mode="replicate")),
        "AliasFreeActivation1d": bnn.AliasFreeActivation1d(bnn.Snake(4)),
        "bigvgan.Activation1d": bigvgan.Activation1d(bnn.SnakeBeta(4)),
        "resample_poly": _Call(lambda x: ops.resample_poly(x, 3, 2)),
        "filtered_lrelu-2d": _Call(lambda x: ops.filtered_lrelu(
            x, f, f, up=2, down=2, padding=(6, 5, 6, 5))),
        # 'ref' with up and down together (it guarded on the length's residue: the program ran
        # for about half of the lengths), and the mirrored extensions (a guard on min(L, ...))
        "upfirdn1d-ref-3/2": _Call(lambda x: ops.upfirdn1d(x, f, up=3, down=2, padding=2,
                                                           impl="ref")),
        "ResamplePoly-ref-3/2": bnn.ResamplePoly(3, 2, impl="ref"),
        "resample_poly-reflect-160/147": _Call(lambda x: ops.resample_poly(
            x, 160, 147, padtype="reflect")),
        "resample_poly-reflect-1/2": _Call(lambda x: ops.resample_poly(x, 1, 2, padtype="reflect")),
        "resample_poly-wrap-2/3": _Call(lambda x: ops.resample_poly(x, 2, 3, padtype="wrap")),
        "ResamplePoly-ref-2/3": bnn.ResamplePoly(2, 3, impl="ref"),
        "resample_poly-median-3/2": _Call(lambda x: ops.resample_poly(x, 3, 2, padtype="median")),
        "upfirdn2d-ref-3/2-2d": _Call(lambda x: ops.upfirdn2d(x, f, up=3, down=2, padding=2,
                                                              impl="ref")),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_unbounded_cases()))
def test_export_with_an_unbounded_dynamic_length(case):
    """A dynamic dimension with no ``max`` (``Dim('T', min=16)``, as for a plain conv model):
    the ops' size caps, meant for absurd factors and paddings, must not bound it (every 1-D op
    failed with 'Constraints violated (T)'); the program then runs at other lengths."""
    torch.manual_seed(0)
    model = _unbounded_cases()[case].eval()
    two_d = case.endswith("2d")
    x = torch.randn(2, 4, 40, 40) if two_d else torch.randn(2, 4, 200)
    Dim = torch.export.Dim
    # (a mirrored extension in one step needs a signal longer than it: 20 samples for 1/2)
    lo = 21 if case == "resample_poly-reflect-1/2" else 16
    dyn = {2: Dim("H", min=16), 3: Dim("W", min=16)} if two_d else {2: Dim("T", min=lo)}
    # strict=False: strict export (older torch releases default to it) traces with dynamo, where a
    # SymInt passes for an int, so the caps would bound the dimension there
    ep = torch.export.export(model, (x,), dynamic_shapes=(dyn,), strict=False)
    for shape in ((2, 4, 27, 33), (2, 4, 64, 64)) if two_d else ((2, 4, 77), (2, 4, 1000),
                                                                  (2, 4, 101), (2, 4, lo)):
        x = torch.randn(shape)
        torch.testing.assert_close(ep.module()(x), model(x))
    if case == "resample_poly-reflect-1/2":  # shorter: the program's own check says why
        with pytest.raises(Exception, match=r"needs at least 21 samples|>= 21"):
            ep.module()(torch.randn(2, 4, 20))
        with pytest.raises(Exception, match=r"min=21"):
            torch.export.export(model, (x,), dynamic_shapes=({2: Dim("T", min=16)},),
                                strict=False)


@pytest.mark.skipif(not hasattr(torch._inductor, "aoti_compile_and_package"),
                    reason="AOTInductor packaging needs a newer torch")
def test_aot_inductor_package_with_no_clamp_loads_and_runs(tmp_path):
    """A fused filtered activation without a clamp (every module's default) passed "no clamp"
    as math.inf, which AOTInductor's package stores as a string its loader refuses (an
    unnamed JSON error at load). The package now loads and gives eager's numbers."""
    from bandlimit.nn import AliasFreeActivation1d, SnakeBeta

    model = torch.nn.Sequential(AliasFreeActivation1d(SnakeBeta(3)),
                                AliasFreeActivation1d("gelu")).eval()  # fmt: skip
    x = torch.randn(1, 3, 40)
    ep = torch.export.export(model, (x,))
    path = torch._inductor.aoti_compile_and_package(ep, package_path=str(tmp_path / "m.pt2"))
    loaded = torch._inductor.aoti_load_package(path)
    torch.testing.assert_close(loaded(x), model(x))


@pytest.mark.parametrize("down_padding", [(-1, 0), (2, -1)])
def test_compile_fullgraph_circular_with_a_cropping_down_padding(down_padding):
    """Circular padding with a negative down_padding runs staged numba kernels, whose grad-mode
    query (torch.is_inference_mode_enabled) Dynamo cannot trace: fullgraph failed, and without
    it the call broke the graph six times."""
    torch._dynamo.reset()
    f = torch.tensor([0.25, 0.5, 0.25])

    def fn(x):
        return ops.filtered_act1d(x, "gelu", f, f, up=2, down=2, padding=(2, 1),
                                  padding_mode="circular", down_padding=down_padding,
                                  impl="numba")  # fmt: skip

    x = torch.randn(1, 2, 16, requires_grad=True)
    eager = fn(x)
    (g_eager,) = torch.autograd.grad(eager.square().sum(), x)
    out = torch.compile(fn, fullgraph=True, backend="aot_eager")(x)
    (g,) = torch.autograd.grad(out.square().sum(), x)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(g, g_eager)


def test_export_keeps_the_size_caps_of_concrete_axes():
    """Only a symbolic size skips the caps: a factor far too large on an axis of concrete size
    still gives the clear ValueError while exporting (not a MemoryError)."""
    x = torch.randn(1, 1, 20, 2000)
    model = _Call(lambda x: ops.upfirdn2d(x, None, up=(2**30, 1)))
    with pytest.raises(ValueError, match=r"upfirdn2d: output size .* would exceed"):
        torch.export.export(model, (x,), dynamic_shapes=({2: torch.export.Dim("H", min=4)},),
                            strict=False)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_jit_trace_matches_eager_at_other_lengths(impl):
    """torch.jit.trace (deprecated, still how many vocoders ship): its check compares two traces,
    so nothing may be cached during one and reused in the other (the identity taps were).
    resample_poly, whose paddings a trace would freeze at one length, refuses it by name."""
    from bandlimit.nn import SnakeBeta, bigvgan

    ops.set_default_impl(impl)
    try:
        block = bigvgan.Activation1d(SnakeBeta(4)).eval()
        traced = torch.jit.trace(block, (torch.randn(1, 4, 50),))
        for length in (50, 77):
            x = torch.randn(2, 4, length)
            torch.testing.assert_close(traced(x), block(x))
        with pytest.raises(RuntimeError, match=r"by torch\.jit\.trace: its paddings"):
            torch.jit.trace(lambda x: ops.resample_poly(x, 3, 2), (torch.randn(2, 30),))
    finally:
        ops.set_default_impl(None)


def test_a_saved_export_loads_in_a_process_that_only_imported_bandlimit(tmp_path):
    """torch.export.save writes the custom ops' names; torch.export.load in a fresh process must
    resolve them after ``import bandlimit``: the ops were defined at their first call, so the
    load failed ("We failed to resolve torch.ops.bandlimit.filtered_act_any_numba")."""
    import subprocess
    import sys

    from bandlimit.nn import AliasFreeActivation1d, SnakeBeta

    torch.manual_seed(0)
    f = torch.tensor([0.25, 0.5, 0.25])
    model = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3, padding=1),
                                AliasFreeActivation1d(SnakeBeta(4))).eval()
    x = torch.randn(1, 2, 40)
    program = torch.export.export(model, (x,))
    names = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert any("bandlimit." in n for n in names), names  # the fused op is in the graph
    lrelu = torch.export.export(
        _Flrelu(f), (torch.randn(1, 3, 12, 12),))
    torch.export.save(program, tmp_path / "snake.pt2")
    torch.export.save(lrelu, tmp_path / "lrelu.pt2")
    torch.save({"x": x, "y": model(x), "x2": torch.ones(1, 3, 12, 12),
                "y2": _Flrelu(f)(torch.ones(1, 3, 12, 12))}, tmp_path / "io.pt")
    code = (
        "import sys, torch, bandlimit\n"
        "d = sys.argv[1]\n"
        "io = torch.load(d + '/io.pt')\n"
        "p = torch.export.load(d + '/snake.pt2').module()\n"
        "q = torch.export.load(d + '/lrelu.pt2').module()\n"
        "torch.testing.assert_close(p(io['x']), io['y'])\n"
        "torch.testing.assert_close(q(io['x2']), io['y2'])\n"
        "print('loaded')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "loaded" in proc.stdout, proc.stderr[-3000:]


class _Flrelu(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.register_buffer("f", f)

    def forward(self, x):
        return ops.filtered_lrelu(x, self.f, self.f, up=2, down=2, padding=2)


def test_a_torch_func_transform_leaves_no_wrapped_constants_behind():
    """A shared constant (the one-tap filter of a 1-D op's identity axis) first made under
    torch.func.jacfwd was the transform's wrapper and was cached: once the transform returned it
    had no storage, and every later fused 1-D call with the same tap crashed ("Cannot access
    data pointer of Tensor that doesn't have storage")."""
    from bandlimit.ops import _params

    _params._CONSTANTS.clear()  # (the constant must be first made inside the transform)
    f = torch.tensor([0.3, 0.4, 0.3], dtype=torch.float64)
    x = torch.randn(1, 2, 23, dtype=torch.float64)
    torch.func.jacfwd(lambda v: ops.upfirdn1d(v, f, up=5, down=3, padding=2, impl="ref"))(x)
    torch.func.jacrev(lambda v: ops.filtered_act1d(v, "tanh", f, f, up=2, down=2, padding=2))(x)
    for impl in ("numba", "ref"):
        y = ops.upfirdn1d(x, f, up=5, down=3, padding=2, impl=impl)
        z = ops.filtered_act1d(x, "tanh", f, f, up=2, down=2, padding=2, impl=impl)
        assert torch.isfinite(y).all() and torch.isfinite(z).all()


def test_jit_trace_of_a_stylegan3_layer_with_a_trainable_bias():
    """torch.jit.trace's check reruns the module without grad: the fused forward's "save the
    mask" flag (true with the trainable bias) differed between the two traces and failed the
    check ("Graphs differed across invocations"). The trace gives eager's output and gradients."""
    from bandlimit.filters import stylegan3_schedule
    from bandlimit.nn import FilteredLReLU

    torch.manual_seed(0)
    layer = FilteredLReLU(stylegan3_schedule(256, config="T", channel_max=8), 3)
    with torch.no_grad():
        layer.bias.normal_()
    traced = torch.jit.trace(layer, (torch.randn(1, layer.spec.out_channels, 38, 38),))
    x = torch.randn(2, layer.spec.out_channels, 38, 38)
    torch.testing.assert_close(traced(x), layer(x))
    traced(x).square().sum().backward()
    want = layer.bias.grad.clone()
    layer.bias.grad = None
    layer(x).square().sum().backward()
    torch.testing.assert_close(want, layer.bias.grad)


# torch.func: 'auto' runs the reference under its transforms (the fused kernels' custom-op
# autograd cannot, pytorch/pytorch#170834); results must equal the fused path's autograd.
_F = torch.tensor([0.1, 0.3, 0.4, 0.2], dtype=torch.float64)
_B = torch.tensor([0.2, -0.1, 0.05], dtype=torch.float64)
_ALPHA = torch.tensor([0.8, 1.3, 1.0], dtype=torch.float64)
_FUNC_OPS = {
    "upfirdn2d": lambda x, impl: ops.upfirdn2d(x, _F, up=2, down=1, padding=2, impl=impl),
    "upfirdn1d": lambda x, impl: ops.upfirdn1d(x.flatten(2), _F, down=2, padding=1, impl=impl),
    "bias_act": lambda x, impl: ops.bias_act(x, _B, act="lrelu", clamp=0.5, impl=impl),
    "filtered_lrelu": lambda x, impl: ops.filtered_lrelu(
        x, _F, _F, _B, up=2, down=2, padding=3, clamp=0.4, impl=impl),
    "filtered_act": lambda x, impl: ops.filtered_act(
        x, "snake", _F, _F, _B, up=2, down=2, padding=3, alpha=_ALPHA, impl=impl),
    "filtered_act1d": lambda x, impl: ops.filtered_act1d(
        x.flatten(2), "silu", _F, _F, up=2, down=2, padding=(2, 1), down_padding=(1, 2),
        padding_mode="replicate", impl=impl),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_FUNC_OPS))
def test_torch_func_transforms_under_auto(name):
    op = _FUNC_OPS[name]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, generator=g)
    y_fused = op(x.requires_grad_(), "numba")
    w = torch.randn(y_fused.shape, dtype=torch.float64, generator=g)
    (want,) = torch.autograd.grad((y_fused * w).sum(), x)
    x = x.detach()

    for impl in ("auto", "ref"):
        got = torch.func.grad(lambda t: (op(t, impl) * w).sum())(x)  # noqa: B023
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    jac = torch.func.jacrev(lambda t: (op(t, "auto") * w).sum((-1, -2) if y_fused.ndim == 4
                                                             else (-1,)))(x)  # fmt: skip
    torch.testing.assert_close(jac.sum((0, 1)), want, rtol=1e-10, atol=1e-12)
    batched = torch.func.vmap(lambda t: op(t, "auto"))(torch.stack([x, 2 * x]))
    torch.testing.assert_close(batched[1], op(2 * x, "numba"), rtol=1e-10, atol=1e-12)
    # Asked for by name, the fused kernel runs under vmap and explains itself under grad/jvp.
    batched = torch.func.vmap(lambda t: op(t, "numba"))(torch.stack([x, 2 * x]))
    torch.testing.assert_close(batched[1], op(2 * x, "numba"), rtol=1e-10, atol=1e-12)
    for transform in (torch.func.grad, lambda f: lambda t: torch.func.jvp(f, (t,), (t,))):
        with pytest.raises(ValueError, match=r"impl='numba' cannot run under torch.func.grad"):
            transform(lambda t: (op(t, "numba") * w).sum())(x)


@pytest.mark.parametrize("name", sorted(set(_FUNC_OPS) - {"bias_act"}))
def test_vmap_folds_into_the_fused_kernels_batch(name):
    """torch.vmap over an explicit impl='numba' op ran PyTorch's fallback (one call per sample,
    warning "There is a performance drop because we have not yet implemented the batching
    rule"). The ops now fold the vmapped dimension into the batch: no warning, the samples'
    results and gradients as 'ref''s, any in_dims; a vmapped bias still works."""
    op = _FUNC_OPS[name]
    g = torch.Generator().manual_seed(3)
    xs = torch.randn(4, 2, 3, 5, 5, dtype=torch.float64, generator=g)
    want = torch.stack([op(x, "ref") for x in xs])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (the fallback's performance warning)
        got = torch.func.vmap(lambda t: op(t, "numba"))(xs)
        got1 = torch.func.vmap(lambda t: op(t, "numba"), in_dims=2, out_dims=1)(
            xs.movedim(0, 2).contiguous())
        xg = xs.clone().requires_grad_()
        torch.func.vmap(lambda t: op(t, "numba"))(xg).square().sum().backward()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got1.movedim(1, 0), want, rtol=1e-12, atol=1e-12)
    xr = xs.clone().requires_grad_()
    torch.stack([op(x, "ref") for x in xr]).square().sum().backward()
    torch.testing.assert_close(xg.grad, xr.grad, rtol=1e-12, atol=1e-12)
    if name == "filtered_lrelu":  # one bias per sample: a call per sample, the same results
        bs = torch.randn(4, 3, dtype=torch.float64, generator=g)

        def per_sample(t, b, impl):
            return ops.filtered_lrelu(t, _F, _F, b, up=2, down=2, padding=3, impl=impl)

        got = torch.func.vmap(lambda t, b: per_sample(t, b, "numba"))(xs, bs)
        want = torch.stack([per_sample(x, b, "ref") for x, b in zip(xs, bs)])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


# ONNX: while torch.onnx exports, 'auto' runs the reference, which is standard ONNX operators;
# the exported graph must give the eager (fused-kernel) output in onnxruntime, at other shapes too.
class _Vocoder1d(torch.nn.Module):
    """A BigVGAN-style residual unit: conv → anti-aliased Snake → conv."""

    def __init__(self, c=6):
        super().__init__()
        from bandlimit import nn as bnn

        self.c1 = torch.nn.Conv1d(c, c, 3, padding=1)
        self.act = bnn.AliasFreeActivation1d(bnn.Snake(c, alpha=0.7))
        self.c2 = torch.nn.Conv1d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.c2(self.act(self.c1(x)))


class _AliasFree2d(torch.nn.Module):
    """A StyleGAN3-T layer's activation (Kaiser filters, bias, clamp) → a GELU without aliasing."""

    def __init__(self, c=4):
        super().__init__()
        from bandlimit import nn as bnn
        from bandlimit.filters import kaiser_sinc

        self.conv = torch.nn.Conv2d(c, c, 3, padding=1)
        self.register_buffer("f", kaiser_sinc(12, 8.0, 4.0, 64.0))
        self.b = torch.nn.Parameter(torch.linspace(-0.2, 0.2, c))
        self.gelu = bnn.AliasFreeActivation2d("gelu")

    def forward(self, x):
        y = ops.filtered_lrelu(self.conv(x), self.f, self.f, self.b, up=2, down=2, padding=10,
                               clamp=0.5)  # fmt: skip
        return self.gelu(y)


def _onnx_run(model, x, dynamic_shapes, path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    program = torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=dynamic_shapes,
                                verbose=False)  # fmt: skip
    program.save(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda t: torch.from_numpy(session.run(None, {name: t.numpy()})[0])


class _Resampled1d(torch.nn.Module):
    """22.05 -> 24 kHz (160/147: a 3201-tap designed filter, a constant of the graph), then a
    conv; reflect padding (an extension by indexing)."""

    def __init__(self, c=3):
        super().__init__()
        from bandlimit import nn as bnn

        self.rs = bnn.ResamplePoly(160, 147, padtype="reflect")
        self.conv = torch.nn.Conv1d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(self.rs(x))


@pytest.mark.parametrize("kind", ["1d", "2d", "resample"])
def test_onnx_export_matches_eager_at_every_shape(tmp_path, kind):
    torch.manual_seed(0)
    Dim = torch.export.Dim
    if kind == "1d":
        model, shapes = _Vocoder1d().eval(), [(2, 6, 50), (1, 6, 173)]
        dyn = ({0: Dim("n"), 2: Dim("t", min=16, max=1 << 20)},)
    elif kind == "resample":
        model, shapes = _Resampled1d().eval(), [(2, 3, 441), (1, 3, 1000), (3, 3, 3001)]
        dyn = ({0: Dim("n"), 2: Dim("t", min=64, max=1 << 20)},)
    else:
        model, shapes = _AliasFree2d().eval(), [(1, 4, 20, 20), (2, 4, 27, 33)]
        dyn = ({0: Dim("n"), 2: Dim("h", min=16, max=4096), 3: Dim("w", min=16, max=4096)},)
    with torch.no_grad():
        run = _onnx_run(model, torch.randn(shapes[0]), dyn, tmp_path / "m.onnx")
        for shape in shapes:
            x = torch.randn(shape)
            eager = model(x)  # the fused numba kernels
            torch.testing.assert_close(run(x), eager, rtol=1e-5, atol=1e-5)



def test_numba_ops_see_their_filter_tensors_as_they_are_now():
    """The numba custom ops keep numpy views of the filter tensors they are passed (the cached,
    normalised filters come back call after call); a filter written in place, resized (new
    memory), shrunk (same memory, new shape) or given memory of another dtype through ``.data``
    (same address and shape) between calls is still read as it is."""
    from bandlimit.ops import _library

    torch.manual_seed(0)
    x = torch.randn(2, 3, 1, 17, dtype=torch.float64)
    fx, fy = torch.randn(5, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    args = ([2, 1], [1, 1], [2, 2, 0, 0])

    def check():
        got = _library.upfirdn_numba(x, fx, fy, None, *args)
        want = ops.upfirdn1d(x[:, :, 0], fx, up=2, padding=2, flip_filter=True, impl="ref")
        torch.testing.assert_close(got[:, :, 0], want, rtol=1e-12, atol=1e-12)

    check()
    fx.mul_(-3.0)  # in place
    check()
    ptr = fx.data_ptr()
    fx.resize_(9).copy_(torch.randn(9, dtype=torch.float64))  # grown: new memory
    assert fx.data_ptr() != ptr
    check()
    fx.resize_(3)  # shrunk: same memory, other shape
    check()
    fx.resize_(8).copy_(torch.randn(8, dtype=torch.float64))
    check()
    fx.data = fx.data.view(torch.float32)[:8]  # same memory and shape, other dtype
    assert fx.dtype == torch.float32 and fx.shape == (8,)
    fx.copy_(torch.randn(8))  # finite taps (float64 bits read as float32 may be NaN)
    check()


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("op", ["upfirdn2d", "filtered_lrelu", "filtered_act1d", "resample"])
def test_inputs_outputs_and_gradients_stay_ordinary_tensors(impl, op):
    """After a call, the input, the output and the input's gradient can still be resized as any
    tensor can: the numba backend hands its kernels views that
    leave the storage alone (``Tensor.numpy()`` and ``torch.from_numpy`` made it unresizable for
    good), and its outputs are torch's own memory, alive after everything else is dropped."""
    torch.manual_seed(0)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    x = torch.randn(2, 3, 9, 9) if op in ("upfirdn2d", "filtered_lrelu") else torch.randn(2, 3, 40)
    x.requires_grad_(True)
    if op == "upfirdn2d":
        y = ops.upfirdn2d(x, f, up=2, padding=2, impl=impl)
    elif op == "filtered_lrelu":
        y = ops.filtered_lrelu(x, f, f, up=2, down=2, padding=2, impl=impl)
    elif op == "filtered_act1d":
        alpha = torch.rand(3, requires_grad=True)
        y = ops.filtered_act1d(x, "snake", f, f, up=2, down=2, padding=(2, 1),
                               padding_mode="replicate", alpha=alpha, impl=impl)  # fmt: skip
    else:
        y = ops.resample_poly(x, 3, 2, impl=impl)
    expected = y.detach().clone()
    y.backward(torch.ones_like(y))
    grad = x.grad.clone()
    del f
    import gc

    gc.collect()
    assert torch.equal(y.detach(), expected) and torch.equal(x.grad, grad)
    for t in (x.detach(), y.detach(), x.grad):
        t.resize_(t.numel() * 4)


_ONES3 = torch.ones(3)  # (made here: a tensor made under the default device would be 'meta')
_UNDER_DEFAULTS = {
    "upfirdn2d": lambda x2, x1, f, impl: ops.upfirdn2d(x2, f, up=2, padding=5, impl=impl),
    "upsample2d(list)": lambda x2, x1, f, impl: ops.upsample2d(
        x2, ops.setup_filter([1, 3, 3, 1]), impl=impl),
    "filtered_lrelu": lambda x2, x1, f, impl: ops.filtered_lrelu(
        x2, f, f, _ONES3, up=2, down=2, padding=11, impl=impl),
    "filtered_act1d snake": lambda x2, x1, f, impl: ops.filtered_act1d(
        x1, "snake", f, f, up=2, down=2, padding=11, alpha=_ONES3, impl=impl),
    "filtered_act1d default filters": lambda x2, x1, f, impl: ops.filtered_act1d(
        x1, "gelu", up=2, down=2, impl=impl),
    "resample_poly": lambda x2, x1, f, impl: ops.resample_poly(x1, 3, 2, impl=impl),
    "resample_poly window taps": lambda x2, x1, f, impl: ops.resample_poly(
        x1, 3, 2, window=[0.25, 0.5, 0.25], impl=impl),
}  # fmt: skip


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("name", list(_UNDER_DEFAULTS))
def test_a_default_device_and_dtype_do_not_move_the_results(name, impl):
    """``torch.set_default_device`` (common in LLM code) and ``set_default_dtype`` must not
    move an op's output, its gradient or its internal buffers off the input's device: the numba
    backend wrote its output into a 'meta' tensor's nonexistent memory (a crash later)."""
    g = torch.Generator().manual_seed(0)
    x2 = torch.randn(1, 3, 12, 12, generator=g)
    x1 = torch.randn(1, 3, 40, generator=g)
    f = torch.full((12,), 1 / 12)

    def run():
        xs = [x2.clone().requires_grad_(), x1.clone().requires_grad_()]
        y = _UNDER_DEFAULTS[name](*xs, f, impl)
        y.square().sum().backward()
        return [y.detach()] + [x.grad for x in xs if x.grad is not None]

    want = run()
    got = under_default_device_and_dtype(run)
    assert len(got) == len(want) == 2
    for a, b in zip(want, got):
        assert b.device == a.device and b.dtype == a.dtype
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)


def test_bandlimit_imports_after_a_default_device_is_set():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import torch; torch.set_default_device('meta'); import bandlimit.ops as o; "
            "x = torch.ones(1, 1, 8, 8, device='cpu'); "
            "print(o.upsample2d(x, o.setup_filter([1, 1])).device)")  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "cpu"


_F4 = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
_F12 = torch.hann_window(14)[1:-1]
_AUTOCAST_OPS = {
    "upfirdn2d": lambda x, impl: ops.upfirdn2d(x, _F4, up=2, padding=2, impl=impl),
    "upfirdn2d 2-D filter": lambda x, impl: ops.upfirdn2d(
        x, torch.outer(_F4, _F4), down=2, padding=1, impl=impl),
    "filtered_lrelu": lambda x, impl: ops.filtered_lrelu(
        x, _F12, _F12, torch.linspace(-1, 1, 3), up=2, down=2, padding=11, impl=impl),
    "filtered_act snake": lambda x, impl: ops.filtered_act(
        x, "snake", _F12, _F12, up=2, down=2, padding=11, alpha=torch.full((3,), 0.7),
        padding_mode="replicate", impl=impl),
    "upfirdn1d": lambda x, impl: ops.upfirdn1d(x[:, :, 0], _F12, up=3, down=2, padding=4,
                                               impl=impl),
    "filtered_act1d": lambda x, impl: ops.filtered_act1d(
        x[:, :, 0], "silu", _F12, _F12, up=2, down=2, padding=11, impl=impl),
    "resample_poly": lambda x, impl: ops.resample_poly(x, 3, 2, impl=impl),
    "bias_act": lambda x, impl: ops.bias_act(x, torch.ones(3), act="lrelu", impl=impl),
}  # fmt: skip


@pytest.mark.parametrize("impl", ["ref", "numba", "auto"])
@pytest.mark.parametrize("op", list(_AUTOCAST_OPS))
def test_autocast_leaves_the_ops_in_their_inputs_dtype(impl, op):
    """Under ``torch.autocast("cpu", dtype=torch.bfloat16)`` every backend computes in, and
    returns, the input's dtype, with the values and gradients it has without autocast (the
    fused kernels are custom ops, which autocast does not cast; 'ref''s convolutions and matrix
    products were cast, so it returned bfloat16 where 'numba' returned float32)."""
    run = _AUTOCAST_OPS[op]
    x = torch.randn(2, 3, 9, 10, generator=torch.Generator().manual_seed(0))
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    want = run(x1, impl)
    (gwant,) = torch.autograd.grad(want.square().sum(), x1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = run(x2, impl)
        assert y.dtype == torch.float32
    (g,) = torch.autograd.grad(y.square().sum(), x2)
    assert g.dtype == torch.float32
    torch.testing.assert_close(y, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g, gwant, rtol=1e-6, atol=1e-6)
