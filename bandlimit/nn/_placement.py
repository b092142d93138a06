"""Where :func:`~bandlimit.nn.antialias` puts a strided convolution's blur: after the
activation that follows it (Zhang's placement), read from what the model's ``forward`` methods
call — ``nn.Sequential`` run orders, and the ``torch.fx`` graphs of the other modules.

A placement other than "right after the convolution" is taken only where it provably computes
the dense convolution, its norms and activation, then the blur: the convolution and the module
that holds the blur are each called exactly once by the forward methods that can reach them,
the data flow between them is direct, and it is the same in training and in eval mode. Anything
the graphs cannot show (a ``forward`` fx cannot trace, one that takes more than one input, one
that stores a map in an attribute) leaves the blur on the convolution, where it is always
right.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from typing import cast

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
    return isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward


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
    """The blur on ``consumer``'s input: a ``torch.nn`` layer (not a container, not a
    TorchScript module: torch.fx treats it as a leaf, so a model traced later does not trace
    the hook) used once in the model, without such a blur yet."""
    if consumer is None or uses.get(id(consumer), 0) != 1 or hasattr(consumer, INPUT_BLUR):
        return None
    if not type(consumer).__module__.startswith(("torch.nn.", "torch.ao.nn.")):
        return None
    return None if isinstance(consumer, _CONTAINERS) else (consumer, True)


def _placement(run: list[nn.Module], uses: dict[int, int]) -> Placement | None:
    """Where the blur goes when ``run`` (modules run in order) follows a convolution: on the
    output of the activation it reaches after normalisation layers only, if that is used once
    in the model (and holds no blur yet); else on the input of the module right after it."""
    for i, m in enumerate(run):
        if isinstance(m, NORMS):
            continue
        if not isinstance(m, ACTIVATIONS):
            return None
        if uses.get(id(m), 0) == 1 and not hasattr(m, BLUR):
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


class _ChildrenAsLeaves(fx.Tracer):
    """Traces one module's own ``forward``: every submodule it calls is a leaf."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return m is not self.root


def _one_input(module: nn.Module) -> bool:
    """Whether the class's ``forward`` takes exactly one required argument and nothing else
    (an optional one would be traced as given, its ``None`` path never seen), and the
    instance has no ``forward`` of its own (fx would trace the class's)."""
    if "forward" in module.__dict__:
        return False
    try:
        params = list(inspect.signature(type(module).forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    return (len(params) == 1 and params[0].default is inspect.Parameter.empty
            and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                   inspect.Parameter.POSITIONAL_OR_KEYWORD))  # fmt: skip


def _holds_proxy(values: object) -> bool:
    """Whether a proxy (a traced map) sits in ``values`` or one container level down."""
    for v in cast(list, values):
        inner = v.values() if isinstance(v, dict) else v
        if isinstance(v, fx.Proxy) or (isinstance(v, (list, tuple, set, dict))
                                       and any(isinstance(e, fx.Proxy) for e in inner)):
            return True
    return False


def _trace(module: nn.Module, training: bool) -> fx.Graph | None:
    """``module.forward``'s graph of submodule calls in the given mode, or None where it
    cannot be trusted: fx cannot trace it (control flow on the data, …), it takes more than
    one input, or it stores a map (a U-Net's skip) where the graph does not show it.

    The trace runs the forward's Python code once on proxies (no tensor is computed) on a
    shallow copy of the module whose lists, dicts and sets are copies too; attributes of the
    submodules that the code sets are put back as they were."""
    if not _one_input(module):
        return None
    before = [(m, dict(m.__dict__)) for m in module.modules() if m is not module]
    stored = False
    try:
        twin = copy.copy(module)
        for key, value in module.__dict__.items():
            if isinstance(value, (list, dict, set)):  # (_modules, _parameters, _buffers too)
                twin.__dict__[key] = copy.copy(value)
        twin.training = training
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph: fx.Graph | None = _ChildrenAsLeaves().trace(twin)
        stored = _holds_proxy(list(twin.__dict__.values()))
    except Exception:  # (any failure to trace means: not seen, the blur after the conv)
        graph = None
    finally:
        for m, state in before:
            now = m.__dict__
            if len(now) != len(state) or any(state.get(k, now) is not v for k, v in now.items()):
                stored = True
                now.clear()
                now.update(state)
    return None if stored else graph


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
                if once and uses.get(id(m), 0) == 1 and not hasattr(m, BLUR):
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
    in order, the others what their fx graphs show (traced on demand, in both modes)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.names = {id(m): name for name, m in model.named_modules()}
        self._graphs: dict[int, tuple[fx.Graph, fx.Graph] | None] = {}

    def graphs(self, m: nn.Module) -> tuple[fx.Graph, fx.Graph] | None:
        """``m.forward``'s graphs in training and in eval mode, or None if either is not to be
        trusted."""
        if id(m) not in self._graphs:
            train, test = _trace(m, True), _trace(m, False)
            self._graphs[id(m)] = None if train is None or test is None else (train, test)
        return self._graphs[id(m)]

    def calls(self, m: nn.Module) -> int | None:
        """How often one run of the model calls ``m``: its calls by every ancestor's forward
        (a parent that calls its child through another child is counted by that one), or
        None if its parent's forward cannot be read (an ancestor further up that cannot is
        taken to call its own children only, as forward methods do)."""
        name = self.names.get(id(m))
        if not name:
            return None
        parts = name.split(".")
        total = 0
        for depth in range(len(parts)):
            ancestor = self.model.get_submodule(".".join(parts[:depth]))
            path, parent = ".".join(parts[depth:]), depth == len(parts) - 1
            if chains(ancestor):
                total += sum(c is m for c in cast(nn.Sequential, ancestor)) if parent else 0
                continue
            graphs = self.graphs(ancestor)
            if graphs is None:
                if parent:
                    return None
                continue
            total += max(sum(n.op == "call_module" and n.target == path for n in g.nodes)
                         for g in graphs)  # fmt: skip
        return total


def blur_placements(model: nn.Module, uses: dict[int, int],
                    candidates: set[int]) -> dict[int, Placement]:
    """``{id(conv): placement}`` for the convolutions of ``candidates`` whose blur can go
    after their activation (module docstring): on the activation's output, or, where the
    activation module is used elsewhere too, on the input of the layer its call feeds."""
    forwards = _Forwards(model)
    proposals: dict[int, _Proposal] = {}
    for parent in model.modules():
        if chains(parent):
            proposals.update(_in_sequential(parent, uses, candidates))
        elif any(_conv_at_end(c, candidates) for c in parent.children()):
            graphs = forwards.graphs(parent)
            if graphs is not None:  # (the same in training and in eval mode)
                train, test = (_in_graph(parent, g, uses, candidates) for g in graphs)
                proposals.update({k: p for k, p in train.items() if test.get(k) == p})
    return {k: (holder, on_input) for k, (conv, holder, on_input) in proposals.items()
            if forwards.calls(conv) == 1 and forwards.calls(holder) == 1}  # fmt: skip
