r"""Load official StyleGAN3 network pickles without NVIDIA's code; bandlimit checkpoints.

An official ``network-snapshot-*.pkl`` is a plain :mod:`pickle` of
``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}``. Its networks are *persistent
objects*: each pickles as a call ``torch_utils.persistence._reconstruct_persistent_obj(meta)``
whose ``meta`` holds the class name, the object's ``__dict__`` (``state``) and the full source
text of the module that defined the class (``module_src``), which the official loader executes.

:func:`load_network_pkl` never imports or executes anything from the pickle. It unpickles with an
allow-listed :meth:`pickle.Unpickler.find_class`:

============================================================  ====================================
global in the pickle                                          resolved to
============================================================  ====================================
``torch_utils.persistence._reconstruct_persistent_obj``       a function returning a
                                                              :class:`PersistentRecord` (class
                                                              name + state; ``module_src`` is
                                                              dropped, never executed or kept)
``dnnlib.util.EasyDict``                                      :class:`EasyDict` (a dict)
``collections.OrderedDict``, ``builtins.set/frozenset``       themselves
``torch._utils._rebuild_tensor_v2 / _rebuild_parameter``      themselves (tensor reconstruction)
``torch.storage._load_from_bytes``                            ``torch.load(..., weights_only=True)``
numpy ``scalar`` / ``_reconstruct`` / ``dtype`` / ``ndarray``  themselves (``numpy.core`` and
                                                              ``numpy._core`` spellings)
anything else                                                 :class:`pickle.UnpicklingError`
============================================================  ====================================

The records are then turned into bandlimit modules: the generator is rebuilt from the stored
constructor arguments (``_init_kwargs``) with :class:`afgan.networks.Generator`, its state_dict is
assembled from the records' ``_parameters`` / ``_buffers`` / ``_modules``, the computed layer
names and shapes are checked against the checkpoint's, and layer attributes stored in the
pickle (paddings, factors, sizes...) are cross-checked against bandlimit's schedule.

The discriminator record (``training.networks_stylegan2.Discriminator``) is rebuilt as an
:class:`afgan.discriminator.Discriminator` from its stored constructor arguments when its tensors
match; its raw tensors and constructor arguments are also returned as ``D_state_dict`` /
``D_init_kwargs`` (``D`` is ``None`` when they do not describe a discriminator this example can
rebuild; ``D_error`` then says why).
"""

from __future__ import annotations

import collections
import copy
import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from afgan.data import one_line
from afgan.discriminator import Discriminator
from afgan.networks import Generator

__all__ = [
    "CHECKPOINT_FORMAT",
    "EasyDict",
    "PersistentRecord",
    "SafeUnpickler",
    "discriminator_from_record",
    "generator_from_record",
    "load_checkpoint",
    "load_network",
    "load_network_pkl",
    "record_state_dict",
    "save_checkpoint",
]

#: Format tag of the checkpoints written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = "bandlimit.afgan.checkpoint/1"

_GENERATOR_CLASSES = ("training.networks_stylegan3.Generator",)
_DISCRIMINATOR_CLASSES = ("training.networks_stylegan2.Discriminator",)


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class PersistentRecord:
    """What an official persistent object unpickles to here: its class name and state, inert.

    Attributes
    ----------
    class_name : str
        E.g. ``'training.networks_stylegan3.Generator'``.
    version : int
        The persistence format version recorded in the pickle.
    state : dict
        The object's ``__dict__`` at save time (``_parameters``, ``_buffers``, ``_modules``,
        ``_init_kwargs``, plain attributes...).
    """

    __slots__ = ("class_name", "state", "version")

    def __init__(self, class_name: str, version: int, state: dict[str, Any]) -> None:
        self.class_name = class_name
        self.version = version
        self.state = state

    @property
    def init_kwargs(self) -> dict[str, Any]:
        """The recorded constructor keyword arguments (plain dicts, deep-copied)."""
        return _plain(self.state.get("_init_kwargs", {}))

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name!r})"


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    # Replacement for the official reconstruct function: keep data, drop (never run) the code.
    if not isinstance(meta, dict):
        raise pickle.UnpicklingError(
            f"persistent object record must be a dict, got {type(meta).__name__}"
        )
    if meta.get("type") != "class":
        raise pickle.UnpicklingError(
            f"persistent object record must have type 'class', got {meta.get('type')!r}"
        )
    class_name = meta.get("class_name")
    state = meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise pickle.UnpicklingError(
            "persistent object record must hold a str 'class_name' and a dict 'state', got "
            f"{type(class_name).__name__} and {type(state).__name__}"
        )
    meta.pop("module_src", None)  # licence hygiene: do not keep NVIDIA's source text around
    return PersistentRecord(class_name, int(meta.get("version", 0)), state)


def _load_storage_from_bytes(data: bytes) -> Any:
    # Each storage is an embedded legacy torch.save blob: load it with torch's own restricted
    # unpickler instead of the official (unrestricted) torch.load.
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError(f"storage payload must be bytes, got {type(data).__name__}")
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:
        raise pickle.UnpicklingError(
            f"embedded tensor storage rejected by torch.load(weights_only=True): {exc}"
        ) from exc


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): EasyDict,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
    }
    try:  # numpy >= 2 (``numpy.core`` is a deprecated alias there)
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]

    # Pickles written with numpy 1.x say ``numpy.core``, with numpy 2.x ``numpy._core``.

    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "scalar")] = multiarray.scalar
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
    return allowed


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only an allow-list of globals (see the module docstring).

    Any other global — ``os.system``, ``builtins.eval``, an official class... — raises
    :class:`pickle.UnpicklingError` before anything is called.
    """

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if SafeUnpickler._allowed is None:
            SafeUnpickler._allowed = _allowed_globals()
        try:
            return SafeUnpickler._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: not in the allow-list of globals an "
                "official StyleGAN3 network pickle needs (a pickle can run arbitrary code, so "
                "nothing else is resolved)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"persistent ids are not used by network pickles, got {pid!r}")


def _plain(obj: Any) -> Any:
    """Deep copy with EasyDict → dict and numpy scalars → Python scalars."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return copy.deepcopy(obj)


def record_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """The standard PyTorch state_dict of a persistent-object tree (parameters, persistent buffers).

    Walks ``state['_parameters']``, ``state['_buffers']`` (minus
    ``_non_persistent_buffers_set``) and ``state['_modules']`` recursively, in PyTorch's order
    (own parameters, own buffers, then children). ``None`` entries are skipped.
    """
    if not isinstance(record, PersistentRecord):
        raise TypeError(f"record must be a PersistentRecord, got {type(record).__name__}")
    out: dict[str, torch.Tensor] = {}
    _collect(record.state, prefix, out)
    return out


def _tensor_dict(state: Mapping[str, Any], field: str, prefix: str) -> dict[str, Any]:
    """``state[field]`` (``_parameters`` / ``_buffers``): a name → tensor dict, else said so."""
    value = state.get(field)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(
            f"malformed network pickle: {prefix + field!r} must be a dict of tensors, got "
            f"{type(value).__name__}"
        )
    return dict(value)


def _collect(state: Mapping[str, Any], prefix: str, out: dict[str, torch.Tensor]) -> None:
    non_persistent = set(state.get("_non_persistent_buffers_set", ()))
    for name, value in _tensor_dict(state, "_parameters", prefix).items():
        if value is not None:
            out[prefix + name] = value.detach().clone()
    for name, value in _tensor_dict(state, "_buffers", prefix).items():
        if value is not None and name not in non_persistent:
            out[prefix + name] = value.detach().clone()
    for name, child in dict(state.get("_modules", {})).items():
        if child is None:
            continue
        child_state = child.state if isinstance(child, PersistentRecord) else None
        if child_state is None:
            raise ValueError(
                f"submodule {prefix + name!r} is a {type(child).__name__}, expected a "
                "persistent-object record"
            )
        _collect(child_state, f"{prefix}{name}.", out)


# Layer attributes recorded in official pickles that must equal bandlimit's schedule.
_CROSS_CHECK_FIELDS = (
    "is_torgb", "is_critically_sampled", "use_fp16", "in_channels", "out_channels", "in_size",
    "out_size", "in_sampling_rate", "out_sampling_rate", "tmp_sampling_rate", "in_cutoff",
    "out_cutoff", "in_half_width", "out_half_width", "conv_kernel", "up_factor", "down_factor",
    "up_taps", "down_taps", "down_radial", "padding",
)  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    try:
        xa = np.asarray(a, dtype=np.float64)
        xb = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return a == b
    return xa.shape == xb.shape and bool(np.allclose(xa, xb, rtol=1e-9, atol=0))


def _cross_check_layers(G: Generator, record: PersistentRecord) -> None:
    synth = record.state.get("_modules", {}).get("synthesis")
    if not isinstance(synth, PersistentRecord):
        return
    names = synth.state.get("layer_names")
    if names is not None and (
        not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names)
    ):
        raise ValueError(
            f"malformed network pickle: the synthesis record's layer_names must be a list of "
            f"names, got {type(names).__name__}"
            + (f" {names!r}" if isinstance(names, (int, float, bool)) else "")
        )
    if names is not None and list(names) != G.synthesis.layer_names:
        raise ValueError(
            f"layer names computed from the pickle's init kwargs {G.synthesis.layer_names} differ "
            f"from the pickle's layer_names {list(names)}"
        )
    for spec in G.synthesis.schedule.layers:
        rec = synth.state.get("_modules", {}).get(spec.name)
        if not isinstance(rec, PersistentRecord):
            continue
        for field in _CROSS_CHECK_FIELDS:
            if field in rec.state and not _same(rec.state[field], getattr(spec, field)):
                raise ValueError(
                    f"layer {spec.name}: attribute {field} is {rec.state[field]!r} in the pickle "
                    f"but {getattr(spec, field)!r} in bandlimit's schedule"
                )


def generator_from_record(record: PersistentRecord) -> Generator:
    """Build a :class:`~afgan.networks.Generator` from an official generator record.

    Uses the stored ``_init_kwargs``; validates the computed state_dict keys and shapes against
    the record's tensors, cross-checks recorded layer attributes, and loads the tensors (stored
    filters included). Returns the module in eval mode with ``requires_grad=False``, as the
    official pickles store it.

    Raises
    ------
    ValueError
        Not a StyleGAN3 generator, or the architecture does not match the tensors.
    """
    if not isinstance(record, PersistentRecord):
        raise TypeError(f"record must be a PersistentRecord, got {type(record).__name__}")
    if record.class_name not in _GENERATOR_CLASSES:
        raise ValueError(
            f"record class must be one of {_GENERATOR_CLASSES} (StyleGAN3 generators), got "
            f"{record.class_name!r}"
        )
    args = record.state.get("_init_args", ())
    if args:
        raise ValueError(f"generator records must use keyword arguments only, got args {args!r}")
    kwargs = record.init_kwargs
    try:
        # Shapes first, on the meta device: a few hundred bytes of init kwargs (channel_max
        # 16384) must not allocate gigabytes before the record's tensors are compared.
        with torch.device("meta"):
            probe = Generator(**kwargs)
    except TypeError as exc:
        raise ValueError(f"generator init kwargs {kwargs} not supported: {exc}") from None
    _cross_check_layers(probe, record)
    state = record_state_dict(record)
    expected = probe.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(
            "the checkpoint's tensors do not match the generator built from its init kwargs "
            f"{kwargs}: missing {missing}, unexpected {unexpected}"
        )
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(
                f"tensor {key} has shape {tuple(state[key].shape)} in the checkpoint, expected "
                f"{tuple(value.shape)}"
            )
    G = Generator(**kwargs)  # (the tensors match: worth its memory)
    G.load_state_dict(state)
    G.eval().requires_grad_(False)
    return G


def discriminator_from_record(record: PersistentRecord) -> Discriminator:
    """Build a :class:`~afgan.discriminator.Discriminator` from an official D record.

    Uses the stored ``_init_kwargs``, checks that the state_dict keys and shapes match, loads
    the tensors; returns it in eval mode with ``requires_grad=False``.

    Raises
    ------
    ValueError
        Not a StyleGAN2 discriminator, or its tensors do not match its recorded architecture.
    """
    if not isinstance(record, PersistentRecord):
        raise TypeError(f"record must be a PersistentRecord, got {type(record).__name__}")
    if record.class_name not in _DISCRIMINATOR_CLASSES:
        raise ValueError(
            f"record class must be one of {_DISCRIMINATOR_CLASSES}, got {record.class_name!r}"
        )
    kwargs = record.init_kwargs
    try:
        D = Discriminator(**kwargs)
    except TypeError as exc:
        raise ValueError(f"discriminator init kwargs {kwargs} not supported: {exc}") from None
    state = record_state_dict(record)
    expected = D.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(
            f"the discriminator's tensors do not match the one built from {kwargs}: missing "
            f"{missing[:5]}, unexpected {unexpected[:5]}"
        )
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(
                f"tensor {key} has shape {tuple(state[key].shape)} in the checkpoint, expected "
                f"{tuple(value.shape)}"
            )
    D.load_state_dict(state)
    D.eval().requires_grad_(False)
    return D


def _open(path_or_file: str | os.PathLike[str] | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(path_or_file, (str, os.PathLike)):
        return open(path_or_file, "rb"), True  # closed by the caller
    if hasattr(path_or_file, "read"):
        return path_or_file, False
    raise TypeError(
        f"path_or_file must be a path or a binary file object, got {type(path_or_file).__name__}"
    )


def load_network_pkl(path_or_file: str | os.PathLike[str] | BinaryIO) -> dict[str, Any]:
    """Read an official StyleGAN3 network pickle safely.

    Parameters
    ----------
    path_or_file : path or binary file object

    Returns
    -------
    dict
        ``G``, ``G_ema`` (:class:`~afgan.networks.Generator`, eval mode, no grad; ``None`` if
        absent), ``D`` (:class:`~afgan.discriminator.Discriminator`, or ``None`` if absent or
        not rebuildable — ``D_error`` says why), ``D_state_dict`` and ``D_init_kwargs`` (raw,
        ``None`` if absent), ``augment_pipe`` (``None``) with
        ``augment_pipe_init_kwargs``, and ``training_set_kwargs`` (a plain dict or ``None``).

    Raises
    ------
    pickle.UnpicklingError
        The pickle references a global outside the allow-list (nothing is executed).
    ValueError
        Not a network pickle, or a generator does not match its recorded architecture.
    """
    f, owned = _open(path_or_file)
    try:
        data = SafeUnpickler(f).load()
    except MemoryError:  # (a frame or bytes header claiming terabytes: a corrupt or hostile file)
        raise ValueError(
            "not a network pickle: it asks for more memory than there is (a corrupt file)"
        ) from None
    except pickle.UnpicklingError:
        raise
    except Exception as exc:  # an allowed rebuild function given arguments of the wrong kinds
        raise pickle.UnpicklingError(
            f"corrupt network pickle: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if owned:
            f.close()
    try:
        return _networks_from(data)
    except (AttributeError, TypeError, KeyError) as exc:
        # A record whose fields have unexpected types (a list where a dict belongs, a string
        # for a tensor): an untrusted file, said so, not a traceback from deep inside.
        raise ValueError(
            f"malformed network pickle: {type(exc).__name__}: {exc} (a field of an unexpected "
            f"type; not written by StyleGAN3's training code?)"
        ) from None


def _networks_from(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(
            f"a network pickle holds a dict with 'G', 'D', 'G_ema'..., got {type(data).__name__}"
        )
    if "G_ema" not in data and "G" not in data:
        raise ValueError(f"network pickle has no 'G' or 'G_ema' entry, keys: {sorted(data)}")

    out: dict[str, Any] = {}
    for key in ("G", "G_ema"):
        rec = data.get(key)
        out[key] = None if rec is None else generator_from_record(_as_record(key, rec))
    d_rec = data.get("D")
    out["D"] = None
    out["D_error"] = None
    out["D_state_dict"] = None if d_rec is None else record_state_dict(_as_record("D", d_rec))
    out["D_init_kwargs"] = None if d_rec is None else _as_record("D", d_rec).init_kwargs
    if d_rec is not None:
        try:
            out["D"] = discriminator_from_record(_as_record("D", d_rec))
        except (TypeError, ValueError) as exc:
            out["D_error"] = str(exc)
    aug = data.get("augment_pipe")
    out["augment_pipe"] = None
    out["augment_pipe_init_kwargs"] = (
        None if aug is None else _as_record("augment_pipe", aug).init_kwargs
    )
    tsk = data.get("training_set_kwargs")
    out["training_set_kwargs"] = None if tsk is None else _plain(tsk)
    return out


def _as_record(key: str, obj: Any) -> PersistentRecord:
    if not isinstance(obj, PersistentRecord):
        raise ValueError(
            f"network pickle entry {key!r} must be a persistent network object, got "
            f"{type(obj).__name__}"
        )
    return obj


# ---------------------------------------------------------------------------------------------
# bandlimit checkpoints (torch.save of tensors and plain Python data only).


def save_checkpoint(path: str | os.PathLike[str] | BinaryIO, **networks: Any) -> None:
    """Save generators as ``{name: {'class', 'init_kwargs', 'state_dict'}}`` (:func:`torch.save`).

    Parameters
    ----------
    path : path or binary file object
    **networks : Generator, Discriminator or plain data
        E.g. ``G=G, D=D, G_ema=G_ema, kimg=1200``. Networks are stored by class name, init
        kwargs and state_dict; anything else must be tensors/Python primitives.
    """
    payload: dict[str, Any] = {"format": CHECKPOINT_FORMAT}
    for name, value in networks.items():
        if isinstance(value, (Generator, Discriminator)):
            payload[name] = {
                "class": type(value).__name__,
                "init_kwargs": _plain(value.init_kwargs),  # numpy scalars: weights_only refuses
                "state_dict": {k: v.detach().cpu() for k, v in value.state_dict().items()},
            }
        else:
            payload[name] = value
    torch.save(payload, path)


def load_checkpoint(path_or_file: str | os.PathLike[str] | BinaryIO) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Also accepts a bare ``{'init_kwargs', 'state_dict'}`` generator dict (as in the reference
    vectors), returned as ``G_ema``. Networks come back built, in eval mode and without
    gradients (``requires_grad=False``), as :func:`load_network_pkl` returns them: call
    ``.train().requires_grad_(True)`` to fine-tune one.
    """
    try:
        data = torch.load(path_or_file, weights_only=True, map_location="cpu")
    except (OSError, RuntimeError) as exc:
        # a zip cut short (an interrupted copy, a full disk) reads as "[Errno 22] Invalid
        # argument" or "PytorchStreamReader failed reading zip archive"
        if isinstance(exc, RuntimeError) and "zip" not in str(exc).lower():
            raise
        raise ValueError(f"a truncated or corrupt checkpoint (its zip does not read back: an "
                         f"interrupted copy or a full disk?): {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"checkpoint must hold a dict, got {type(data).__name__}")
    if data.get("format") != CHECKPOINT_FORMAT:
        if "init_kwargs" in data and "state_dict" in data:
            data = {"format": CHECKPOINT_FORMAT, "G_ema": {"class": "Generator", **data}}
        else:
            raise ValueError(
                f"checkpoint format must be {CHECKPOINT_FORMAT!r} (or a dict with 'init_kwargs' "
                f"and 'state_dict'), got format {data.get('format')!r} with keys {sorted(data)}"
            )
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name == "format":
            continue
        if isinstance(value, dict) and value.get("class") in ("Generator", "Discriminator"):
            cls = Generator if value["class"] == "Generator" else Discriminator
            kwargs, state = value.get("init_kwargs"), value.get("state_dict")
            if not isinstance(kwargs, dict) or not isinstance(state, dict):
                keys = ("init_kwargs", "state_dict")
                why = [f"{k!r} is a {type(value[k]).__name__}" for k in keys
                       if k in value and not isinstance(value[k], dict)]  # fmt: skip
                missing = [repr(k) for k in keys if k not in value]
                if missing:
                    why.append(f"it has no {', '.join(missing)} (keys {sorted(value)})")
                raise ValueError(
                    f"checkpoint entry {name!r} ({value['class']}) needs an 'init_kwargs' dict and "
                    f"a 'state_dict' dict, but {'; '.join(why)}"
                )
            try:
                net = cls(**kwargs)
            except TypeError as exc:  # missing or unknown constructor arguments
                raise ValueError(
                    f"checkpoint entry {name!r}: its init_kwargs do not build a "
                    f"{value['class']}: {exc}"
                ) from None
            net.load_state_dict(state)
            out[name] = net.eval().requires_grad_(False)
        else:
            out[name] = value
    return out


def load_network(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a generator checkpoint of either kind, detected from the file's first bytes.

    A zip file (``torch.save``) is read by :func:`load_checkpoint`; a raw pickle by
    :func:`load_network_pkl`. Returns a dict with at least ``G_ema`` (or ``G``).
    """
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"PK":
        return load_checkpoint(path)
    if head[:1] == b"\x80":
        return load_network_pkl(path)
    raise ValueError(
        f"path must be a bandlimit checkpoint (torch.save zip) or an official network pickle, "
        f"got a file starting with {head!r}: {os.fspath(Path(path))}"
    )
