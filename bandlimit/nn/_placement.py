"""Where :func:`~bandlimit.nn.antialias` puts a strided convolution's blur: after the
activation that follows it (Zhang's placement), read from what the model's ``forward`` methods
call — ``nn.Sequential`` run orders, and the ``torch.fx`` graphs of the other modules.

A placement other than "right after the convolution" is taken only where it provably computes
the dense convolution, its norms and activation, then the blur: the data flow between the
convolution and the module that holds the blur (one of torch.nn's own layers) is direct and the
same in training and in eval mode, the forward that reads it enters the chain once, and every
forward above it can be read and calls nothing below it (:meth:`_Forwards.proven`). Anything
the graphs cannot show (a ``forward`` fx cannot trace, one that takes more than one input, a
map that outlives the trace: a stored skip, a callback) leaves the blur on the convolution,
where it is always right.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import random
import warnings
import weakref
from collections import Counter
from typing import cast

import numpy as np
import torch
from torch import fx, nn

BLUR = "antialias_blur"  # the attribute under which a module holds its blur-pool
INPUT_BLUR = "antialias_input_blur"  # ... and a module the blur of its input (a pre-hook)
# Where a convolution's blur goes: (the module holding it, whether it blurs that module's input)
Placement = tuple[nn.Module, bool]

# Layers that may sit between a convolution and its activation (per-position, shape-keeping),
# and the activation modules the blur may follow.
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.InstanceNorm1d,
         nn.InstanceNorm2d, nn.InstanceNorm3d, nn.Identity, nn.Dropout, nn.Dropout1d,
         nn.Dropout2d, nn.Dropout3d)  # fmt: skip
ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh,
    nn.Softplus,
)  # fmt: skip
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_Proposal = tuple[nn.Module, nn.Module, bool]  # (convolution, holder, on its input)


def chains(m: nn.Module) -> bool:
    """Whether ``m`` is an ``nn.Sequential`` that runs its children in order (a subclass with
    its own forward may not)."""
    return (isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward
            and _plain_call(m))  # fmt: skip


def _plain_call(m: nn.Module) -> bool:
    """Whether calling ``m`` runs its class's ``forward`` (and hooks), as torch's modules do:
    no ``forward`` patched onto the instance, no ``__call__`` of its own."""
    return "forward" not in m.__dict__ and type(m).__call__ is nn.Module.__call__


def _calls_nothing(m: nn.Module) -> bool:
    """Whether ``m`` has no ``forward`` (``nn.ModuleList``, ``nn.ModuleDict``: containers
    whose owner calls their items)."""
    return type(m).forward is nn.Module.forward and _plain_call(m)


def _torch_layer(m: nn.Module) -> bool:
    """Whether ``m`` is one of ``torch.nn``'s own layers (not a subclass defined elsewhere, not
    a container, not TorchScript): torch.fx treats it as a leaf, so a model traced after
    ``antialias`` does not trace the hook it holds."""
    return (type(m).__module__.startswith(("torch.nn.", "torch.ao.nn."))
            and not isinstance(m, _CONTAINERS) and _plain_call(m))  # fmt: skip


def run_order(seq: nn.Module) -> list[nn.Module]:
    """The modules ``seq`` runs, in order, nested chaining ``nn.Sequential`` s expanded (a
    (2+1)-D block's temporal convolution is its block's last child; the norm and activation
    after it are the parent's)."""
    out: list[nn.Module] = []
    for child in cast(nn.Sequential, seq):  # (iterating runs order, a repeated child twice)
        out += run_order(child) if chains(child) else [child]
    return out


def _conv_at_end(m: nn.Module, candidates: set[int]) -> nn.Module | None:
    """The convolution of ``candidates`` whose output ``m`` returns: ``m`` itself, or the last
    one a chaining ``nn.Sequential`` runs with only normalisation layers after it."""
    if id(m) in candidates:
        return m
    if not chains(m):
        return None
    run = run_order(m)
    for i in range(len(run) - 1, -1, -1):
        if id(run[i]) in candidates:
            return run[i] if all(isinstance(n, NORMS) for n in run[i + 1:]) else None
    return None


def _input_of(consumer: nn.Module | None, uses: dict[int, int]) -> Placement | None:
    """The blur on ``consumer``'s input: a ``torch.nn`` layer used once in the model, without
    such a blur yet."""
    if consumer is None or uses.get(id(consumer), 0) != 1 or hasattr(consumer, INPUT_BLUR):
        return None
    return (consumer, True) if _torch_layer(consumer) else None


def _holds_blur(act: nn.Module, uses: dict[int, int]) -> bool:
    """Whether the activation ``act`` can hold a blur on its output: a ``torch.nn`` activation
    used once in the model, without one yet."""
    return uses.get(id(act), 0) == 1 and not hasattr(act, BLUR) and _torch_layer(act)


def _placement(run: list[nn.Module], uses: dict[int, int]) -> Placement | None:
    """Where the blur goes when ``run`` (modules run in order) follows a convolution: on the
    output of the activation it reaches after normalisation layers only, if that is used once
    in the model (and holds no blur yet); else on the input of the module right after it."""
    for i, m in enumerate(run):
        if isinstance(m, NORMS):
            continue
        if not isinstance(m, ACTIVATIONS):
            return None
        if _holds_blur(m, uses):
            return m, False
        return _input_of(run[i + 1] if i + 1 < len(run) else None, uses)
    return None


def _in_sequential(seq: nn.Module, uses: dict[int, int],
                   candidates: set[int]) -> dict[int, _Proposal]:
    """Proposals read from a chaining ``nn.Sequential``'s run order."""
    found: dict[int, _Proposal] = {}
    run = run_order(seq)  # (in order, a module listed twice twice)
    for i, conv in enumerate(run):
        if id(conv) in candidates and uses.get(id(conv), 0) == 1:
            place = _placement(run[i + 1:], uses)
            if place is not None:
                found[id(conv)] = (conv, *place)
    return found


def _callees(m: nn.Module) -> list[nn.Module]:
    """The modules ``m``'s forward calls by name: its children, and the items of its
    ``nn.ModuleList`` / ``nn.ModuleDict`` children (at any depth of them)."""
    out: list[nn.Module] = []
    for child in m.children():
        out += _callees(child) if _calls_nothing(child) else [child]
    return out


class _ChildrenAsLeaves(fx.Tracer):
    """Traces one module's own ``forward``: every submodule it calls is a leaf; buffers are
    proxies too (an in-place update of one is recorded, not run on the model's tensor); every
    proxy made is remembered (weakly), to see afterwards whether one was kept somewhere."""

    proxy_buffer_attributes = True

    def __init__(self) -> None:
        super().__init__()
        self.made: list[weakref.ref] = []

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return m is not self.root

    def proxy(self, node: fx.Node) -> fx.Proxy:
        p = super().proxy(node)
        self.made.append(weakref.ref(p))
        return p


def _one_input(module: nn.Module) -> bool:
    """Whether the class's ``forward`` takes exactly one required argument and nothing else
    (an optional one would be traced as given, its ``None`` path never seen), and the
    instance has no ``forward`` of its own (fx would trace the class's)."""
    if not _plain_call(module):
        return False
    try:
        params = list(inspect.signature(type(module).forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    return (len(params) == 1 and params[0].default is inspect.Parameter.empty
            and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                   inspect.Parameter.POSITIONAL_OR_KEYWORD))  # fmt: skip


def _trace(module: nn.Module, training: bool) -> fx.Graph | None:
    """``module.forward``'s graph of submodule calls in the given mode, or None where it
    cannot be trusted: fx cannot trace it (control flow on the data, …), it takes more than
    one input, or a map it made outlives the trace (stored in an attribute, a container, a
    callback's list: a U-Net's skip, which the graph does not show).

    The trace runs the forward's Python code once on proxies (no tensor is computed), on a
    deep copy of the module (in the given mode, all of it) that shares its tensors: what the
    code changes (counters, lists, a submodule's attributes) changes the copy, buffers are
    proxies; the random generators (torch's, Python's, NumPy's) are put back as they were.
    Objects the copy does not hold (globals, a callback's list) are written: a proxy stays
    there."""
    if not _one_input(module):
        return None
    tensors = {id(t): t for t in itertools.chain(module.parameters(), module.buffers())}
    rng = (torch.random.get_rng_state(), random.getstate(), np.random.get_state(),  # noqa: NPY002
           torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None)
    try:
        twin = copy.deepcopy(module, memo=dict(tensors))
        if type(twin) is not type(module):  # (torchvision's DualGraphModule copies as one mode)
            return None
        twin.train(training)
        tracer = _ChildrenAsLeaves()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = tracer.trace(twin)
        made = tracer.made
        del tracer
        # (every proxy dies with the trace unless something kept it: the twin, a global, a
        # callback's list; one only in a reference cycle counts as kept, conservatively)
        return None if any(ref() is not None for ref in made) else graph
    except Exception:  # (any failure to trace means: not seen, the blur after the conv)
        return None
    finally:
        torch.random.set_rng_state(rng[0])
        random.setstate(rng[1])
        np.random.set_state(rng[2])  # noqa: NPY002 (the global generator a forward may draw from)
        if rng[3] is not None:
            torch.cuda.set_rng_state_all(rng[3])


def _in_graph(module: nn.Module, graph: fx.Graph, uses: dict[int, int],
              candidates: set[int]) -> dict[int, _Proposal]:
    """Proposals read from ``module.forward``'s data flow: a call returning a candidate
    convolution's output (the convolution, or an ``nn.Sequential`` ending in it and norms)
    that only normalisation calls consume, one after the other, up to an activation: the blur
    on its output if the activation module is called once and used nowhere else, else
    (torchvision's ResNet blocks call one ``ReLU`` two or three times) on the input of the one
    call that consumes this call's output. An ``nn.Sequential`` starting with norms and an
    activation is read as in an ``nn.Sequential``."""
    calls: dict[object, int] = {}  # (how often forward calls each submodule, by name)
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1

    def called(node: fx.Node) -> nn.Module:
        return module.get_submodule(str(node.target))

    def consumer(node: fx.Node) -> fx.Node | None:
        """The one call that takes ``node``'s output, as its one argument, if it is the only
        use of that output."""
        if len(node.users) != 1:
            return None
        (user,) = node.users
        if user.op != "call_module" or user.args != (node,) or user.kwargs:
            return None
        return user

    found: dict[int, _Proposal] = {}
    for node in graph.nodes:
        if node.op != "call_module" or calls[node.target] != 1:
            continue
        conv = _conv_at_end(called(node), candidates)
        if conv is None or uses.get(id(conv), 0) != 1:
            continue
        user = consumer(node)
        while user is not None:
            m, once = called(user), calls[user.target] == 1
            place: Placement | None = None
            if chains(m):  # (its run order, norms first: as in a Sequential)
                run = run_order(m)
                if once and all(isinstance(n, NORMS) for n in run):
                    user = consumer(user)
                    continue
                place = _placement(run, uses) if once else None
            elif isinstance(m, NORMS) and once:
                user = consumer(user)
                continue
            elif isinstance(m, ACTIVATIONS):
                if once and _holds_blur(m, uses):
                    place = m, False
                else:  # (a shared activation: the blur on the input of what this call feeds)
                    after = consumer(user)
                    if after is not None and calls[after.target] == 1:
                        place = _input_of(called(after), uses)
            if place is not None:
                found[id(conv)] = (conv, *place)
            break
    return found


class _Forwards:
    """What the model's ``forward`` methods call: chaining ``nn.Sequential`` s their children
    in order, containers without a ``forward`` nothing, the others what their fx graphs show
    (traced on demand, in both modes)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.names = {id(m): name for name, m in model.named_modules()}
        self._graphs: dict[int, tuple[fx.Graph, ...] | None] = {}
        self._calls: dict[int, tuple[Counter[str], ...]] = {}

    def graphs(self, m: nn.Module) -> tuple[fx.Graph, ...] | None:
        """``m.forward``'s graphs in training and in eval mode, or None if either is not to be
        trusted."""
        if id(m) not in self._graphs:
            graphs = _trace(m, True), _trace(m, False)
            ok = all(g is not None for g in graphs)
            self._graphs[id(m)] = cast(tuple[fx.Graph, ...], graphs) if ok else None
            if ok:
                self._calls[id(m)] = tuple(
                    Counter(str(n.target) for n in cast(fx.Graph, g).nodes
                            if n.op == "call_module") for g in graphs)  # fmt: skip
        return self._graphs[id(m)]

    def proven(self, parent: nn.Module, target: nn.Module) -> bool:
        """Whether ``target`` (a module below ``parent``) runs only where ``parent``'s forward
        runs it, once per run: every forward above ``parent`` can be read and calls nothing
        below ``parent`` on the path to ``target``; ``parent``'s calls one module on that path
        once and the others never (``nn.ModuleList`` / ``nn.ModuleDict`` s, which call
        nothing, and chaining ``nn.Sequential`` s may lie between)."""
        name, top = self.names.get(id(target)), self.names.get(id(parent))
        if not name or top is None:
            return False
        parts = name.split(".")
        level = len(top.split(".")) if top else 0  # (parent's depth)
        for depth in range(len(parts)):  # (every ancestor of target)
            ancestor = self.model.get_submodule(".".join(parts[:depth]))
            if chains(ancestor) or _calls_nothing(ancestor):
                continue
            if depth > level or self.graphs(ancestor) is None:
                return False  # (a forward between parent and target, or one not read)
            below = [".".join(parts[depth:j]) for j in range(level + 1, len(parts) + 1)]
            for calls in self._calls[id(ancestor)]:
                counts = [calls[path] for path in below]
                if depth < level and any(counts):
                    return False
                if depth == level and sorted(counts)[-2:] not in ([1], [0, 1]):
                    return False
        return True


def blur_placements(model: nn.Module, uses: dict[int, int],
                    candidates: set[int]) -> dict[int, Placement]:
    """``{id(conv): placement}`` for the convolutions of ``candidates`` whose blur can go
    after their activation (module docstring): on the activation's output, or, where the
    activation module is used elsewhere too, on the input of the layer its call feeds."""
    forwards = _Forwards(model)
    found: dict[int, Placement] = {}
    for parent in model.modules():
        proposals: dict[int, _Proposal] = {}
        if chains(parent):
            proposals = _in_sequential(parent, uses, candidates)
        elif any(_conv_at_end(c, candidates) for c in _callees(parent)):
            graphs = forwards.graphs(parent)
            if graphs is not None:  # (the same in training and in eval mode)
                train, test = (_in_graph(parent, g, uses, candidates) for g in graphs)
                proposals = {k: p for k, p in train.items() if test.get(k) == p}
        for k, (conv, holder, on_input) in proposals.items():
            if forwards.proven(parent, conv) and forwards.proven(parent, holder):
                found[k] = holder, on_input
    return found
