"""Loading official-format StyleGAN3 pickles without NVIDIA code, and bandlimit checkpoints.

The pickles are written here in the official layout (facts sheet §9.2–9.3): every network is an
object whose ``__reduce__`` returns ``(torch_utils.persistence._reconstruct_persistent_obj,
(meta,))`` with ``meta = {type, version, module_src, class_name, state}``; constructor arguments
are ``dnnlib.util.EasyDict``. Fake ``torch_utils`` / ``dnnlib`` modules exist in ``sys.modules``
only while a pickle is written and are removed before it is loaded. ``module_src`` is code that
would leave a file behind if anyone executed it.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import io
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from afgan.legacy import (
    EasyDict,
    PersistentRecord,
    load_checkpoint,
    load_network,
    load_network_pkl,
    save_checkpoint,
)
from afgan.networks import Generator, SynthesisLayer

TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_channels=3, channel_base=512, channel_max=16)
FAKE_MODULES = ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")


def tiny(resolution=16, seed=0, **kw) -> Generator:
    torch.manual_seed(seed)
    G = Generator(img_resolution=resolution, **{**TINY, **kw}).eval()
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
        G.mapping.w_avg.normal_(generator=g)
    return G


@contextlib.contextmanager
def official_modules():
    """Fake ``torch_utils.persistence`` and ``dnnlib.util`` — present only while pickling."""
    assert not any(m in sys.modules for m in FAKE_MODULES)
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # never called: loading must not need it
        raise AssertionError("the official reconstruct function was called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util.EasyDict = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
    mods = {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": persistence,
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": util,
    }
    sys.modules.update(mods)
    try:
        yield persistence, util
    finally:
        for name in mods:
            del sys.modules[name]


class Persistent:
    """An object that pickles exactly like an official persistent network object."""

    def __init__(self, class_name, state, module_src, reconstruct):
        self.class_name, self.state = class_name, state
        self.module_src, self.reconstruct = module_src, reconstruct

    def __reduce__(self):
        meta = dict(
            type="class",
            version=6,
            module_src=self.module_src,
            class_name=self.class_name,
            state=self.state,
        )
        return self.reconstruct, (meta,)


LAYER_ATTRS = ("in_size", "out_size", "padding", "up_factor", "down_factor", "down_radial")


def to_persistent(module, class_name, init_kwargs, module_src, fake, layer_attrs=None):
    """Mirror a torch module tree as official persistent objects (state = its __dict__)."""
    persistence, util = fake
    children = collections.OrderedDict()
    for name, child in module._modules.items():
        kind = type(child).__name__
        children[name] = to_persistent(
            child, f"training.networks_stylegan3.{kind}", {}, module_src, fake, layer_attrs
        )
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(
            (k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False))
            for k, v in module._parameters.items()
        ),
        "_buffers": collections.OrderedDict(
            (k, None if v is None else v.detach().clone()) for k, v in module._buffers.items()
        ),
        "_non_persistent_buffers_set": set(),
        "_modules": children,
        "_forward_hooks": collections.OrderedDict(),
        "_init_args": (),
        "_init_kwargs": util.EasyDict(init_kwargs),
    }
    if isinstance(module, SynthesisLayer):
        # Official layers keep their derived attributes; sizes as numpy arrays, like the original.
        for attr in layer_attrs or LAYER_ATTRS:
            value = getattr(module, attr)
            state[attr] = np.asarray(value) if attr.endswith("_size") else value
    if hasattr(module, "layer_names"):
        state["layer_names"] = list(module.layer_names)
    return Persistent(class_name, state, module_src, persistence._reconstruct_persistent_obj)


def write_official_pickle(path, G, G_ema, module_src, *, corrupt=None):
    with official_modules() as fake:
        _, util = fake
        kwargs = dict(G.init_kwargs)
        kwargs["mapping_kwargs"] = util.EasyDict(kwargs.get("mapping_kwargs", {}))
        cls = "training.networks_stylegan3.Generator"
        data = {
            "G": to_persistent(G, cls, kwargs, module_src, fake),
            "G_ema": to_persistent(G_ema, cls, kwargs, module_src, fake),
            "D": Persistent(
                "training.networks_stylegan2.Discriminator",
                {
                    "_parameters": collections.OrderedDict(w=torch.ones(2, 3)),
                    "_buffers": collections.OrderedDict(),
                    "_modules": collections.OrderedDict(),
                    "_init_kwargs": util.EasyDict(c_dim=0, img_resolution=16),
                },
                module_src,
                fake[0]._reconstruct_persistent_obj,
            ),
            "augment_pipe": None,
            "training_set_kwargs": util.EasyDict(path="data.zip", resolution=16),
        }
        if corrupt is not None:
            corrupt(data, fake)
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=4)
    assert not any(m in sys.modules for m in FAKE_MODULES)


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / "executed.txt"
    yield path
    assert not path.exists(), "code embedded in a pickle was executed"


def evil_src(sentinel) -> str:
    return f"import pathlib\npathlib.Path({str(sentinel)!r}).write_text('pwned')\n"


# ---------------------------------------------------------------------------------------------
# Loading.


@pytest.mark.parametrize(
    "config", [{}, {"conv_kernel": 1, "use_radial_filters": True}], ids=["T", "R"]
)
def test_official_layout_pickle_loads_without_nvidia_code(tmp_path, sentinel, config):
    G, G_ema = tiny(seed=0, **config), tiny(seed=1, **config)
    path = tmp_path / "network-snapshot.pkl"
    write_official_pickle(path, G, G_ema, evil_src(sentinel))
    raw = path.read_bytes()
    assert b"torch_utils.persistence" in raw and b"pathlib" in raw  # official layout, with source

    nets = load_network_pkl(path)
    assert not any(m in sys.modules for m in FAKE_MODULES)
    for key, ref in (("G", G), ("G_ema", G_ema)):
        got = nets[key]
        assert isinstance(got, Generator) and not got.training
        assert all(not p.requires_grad for p in got.parameters())
        assert list(got.state_dict()) == list(ref.state_dict())
        for k, v in ref.state_dict().items():
            assert torch.equal(got.state_dict()[k], v), k
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(nets["G_ema"](z, None), G_ema(z, None), atol=0, rtol=0)
    assert nets["D"] is None
    assert torch.equal(nets["D_state_dict"]["w"], torch.ones(2, 3))
    assert nets["D_init_kwargs"] == {"c_dim": 0, "img_resolution": 16}
    assert nets["augment_pipe"] is None
    assert nets["training_set_kwargs"] == {"path": "data.zip", "resolution": 16}
    assert type(nets["training_set_kwargs"]) is dict
    # A file object works too, and the source text is not kept anywhere.
    with open(path, "rb") as f:
        again = load_network_pkl(f)
    assert torch.equal(again["G"].mapping.w_avg, G.mapping.w_avg)


def test_official_t64_weights_through_a_pickle_match_official_images(tmp_path, vectors_dir):
    data = torch.load(vectors_dir / "generator_T64.pt", weights_only=True)
    G = Generator(**data["init_kwargs"]).eval()
    G.load_state_dict(data["state_dict"])
    path = tmp_path / "t64.pkl"
    write_official_pickle(path, G, G, "raise SystemExit('module_src executed')\n")
    G2 = load_network_pkl(path)["G_ema"]
    with torch.no_grad():
        img = G2(data["z"], data["c"])
    torch.testing.assert_close(img, data["img"]["psi1"], atol=1e-5, rtol=0)


def test_load_network_detects_both_formats(tmp_path):
    G = tiny(seed=3)
    pkl, ckpt = tmp_path / "a.pkl", tmp_path / "b.pt"
    write_official_pickle(pkl, G, G, "")
    save_checkpoint(ckpt, G=G, G_ema=G, kimg=12)
    for path in (pkl, ckpt):
        nets = load_network(path)
        assert torch.equal(nets["G_ema"].synthesis.input.freqs, G.synthesis.input.freqs)
    assert load_checkpoint(ckpt)["kimg"] == 12
    bad = tmp_path / "c.bin"
    bad.write_bytes(b"hello")
    with pytest.raises(ValueError, match="path must be a bandlimit checkpoint"):
        load_network(bad)


def test_checkpoint_round_trip_and_bare_generator_dict(tmp_path):
    G = tiny(seed=4, num_fp16_res=1, conv_clamp=None)
    buf = io.BytesIO()
    save_checkpoint(buf, G_ema=G)
    buf.seek(0)
    G2 = load_checkpoint(buf)["G_ema"]
    assert G2.init_kwargs == G.init_kwargs and G2.synthesis.schedule == G.synthesis.schedule
    # as load_network_pkl returns them: inference-ready, whichever file kind load_network reads
    assert not G2.training and not any(p.requires_grad for p in G2.parameters())
    for (k1, v1), (k2, v2) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    bare = tmp_path / "bare.pt"
    torch.save({"init_kwargs": G.init_kwargs, "state_dict": G.state_dict()}, bare)
    assert torch.equal(load_checkpoint(bare)["G_ema"].mapping.w_avg, G.mapping.w_avg)
    torch.save({"something": 1}, bare)
    with pytest.raises(ValueError, match="checkpoint format"):
        load_checkpoint(bare)


# ---------------------------------------------------------------------------------------------
# Validation against the recorded architecture.


@pytest.mark.parametrize(
    ("keep_names", "message"),
    [(True, "layer names computed from the pickle's init kwargs"), (False, "missing .*unexpected")],
)
def test_tensors_that_do_not_match_the_init_kwargs_are_rejected(tmp_path, keep_names, message):
    G = tiny(seed=0)

    def lie_about_capacity(data, fake):
        data["G_ema"].state["_init_kwargs"]["channel_max"] = 8
        if not keep_names:  # then the tensor names themselves must catch it
            del data["G_ema"].state["_modules"]["synthesis"].state["layer_names"]

    path = tmp_path / "bad.pkl"
    write_official_pickle(path, G, G, "", corrupt=lie_about_capacity)
    with pytest.raises(ValueError, match=message):
        load_network_pkl(path)


def test_recorded_layer_attributes_are_cross_checked(tmp_path):
    G = tiny(seed=0)

    def wrong_padding(data, fake):
        synth = data["G_ema"].state["_modules"]["synthesis"]
        name = G.synthesis.layer_names[3]
        synth.state["_modules"][name].state["padding"] = [0, 0, 0, 0]

    path = tmp_path / "bad.pkl"
    write_official_pickle(path, G, G, "", corrupt=wrong_padding)
    with pytest.raises(ValueError, match="attribute padding"):
        load_network_pkl(path)


def test_unknown_generator_kwargs_are_a_value_error(tmp_path):
    G = tiny(seed=0)

    def future_kwarg(data, fake):
        data["G_ema"].state["_init_kwargs"]["hyper_drive"] = True

    path = tmp_path / "future.pkl"
    write_official_pickle(path, G, G, "", corrupt=future_kwarg)
    with pytest.raises(ValueError, match=r"generator init kwargs .*hyper_drive.* not supported"):
        load_network_pkl(path)


def test_other_generator_classes_are_rejected(tmp_path):
    G = tiny(seed=0)

    def stylegan2(data, fake):
        data["G_ema"].class_name = "training.networks_stylegan2.Generator"

    path = tmp_path / "sg2.pkl"
    write_official_pickle(path, G, G, "", corrupt=stylegan2)
    with pytest.raises(ValueError, match=r"networks_stylegan2\.Generator"):
        load_network_pkl(path)


def test_not_a_network_pickle(tmp_path):
    with pytest.raises(ValueError, match="'G', 'D', 'G_ema'"):
        load_network_pkl(io.BytesIO(pickle.dumps([1, 2, 3])))
    with pytest.raises(ValueError, match="no 'G' or 'G_ema'"):
        load_network_pkl(io.BytesIO(pickle.dumps({"D": None})))
    with pytest.raises(TypeError, match="path_or_file"):
        load_network_pkl(12)


def test_malformed_records_and_huge_frames_are_value_errors(tmp_path):
    """Fields of an unexpected type (``_modules`` a list, a buffer a string) raised
    AttributeError from deep inside the loader; a 14-byte pickle whose bytes header claims 2**40
    bytes (BINBYTES8) raised MemoryError. Both are untrusted files, refused with a ValueError."""
    G = tiny(16)

    def modules_list(data, fake):
        data["G_ema"].state["_modules"] = [1, 2, 3]

    def buffer_str(data, fake):
        data["G_ema"].state["_modules"]["mapping"].state["_buffers"]["w_avg"] = "notatensor"

    for corrupt in (modules_list, buffer_str):
        path = tmp_path / f"{corrupt.__name__}.pkl"
        write_official_pickle(path, G, G, "", corrupt=corrupt)
        with pytest.raises(ValueError, match=r"malformed network pickle: AttributeError"):
            load_network_pkl(path)
    frame = b"\x80\x04\x8e" + (2**40).to_bytes(8, "little") + b"abc"
    with pytest.raises(ValueError, match="asks for more memory than there is"):
        load_network_pkl(io.BytesIO(frame))


# ---------------------------------------------------------------------------------------------
# Malicious pickles: rejected before anything runs.


class Evil:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _evil_payloads(sentinel):
    cmd = f"touch {sentinel}"
    code = f"open({str(sentinel)!r}, 'w').write('pwned')"
    return {
        "os.system": Evil(os.system, cmd),
        "builtins.eval": Evil(builtins.eval, code),
        "builtins.exec": Evil(builtins.exec, code),
        "subprocess.Popen": Evil(subprocess.Popen, ["touch", str(sentinel)]),
    }


@pytest.mark.parametrize(
    "which", ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen"]
)
def test_malicious_globals_are_rejected_and_not_run(which, sentinel):
    payload = {"G_ema": _evil_payloads(sentinel)[which]}
    blob = pickle.dumps(payload, protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        load_network_pkl(io.BytesIO(blob))


def test_malicious_global_inside_a_persistent_record_is_rejected(tmp_path, sentinel):
    G = tiny(seed=0)

    def plant(data, fake):
        data["G_ema"].state["_evil"] = Evil(builtins.eval, f"open({str(sentinel)!r}, 'w')")

    path = tmp_path / "evil.pkl"
    write_official_pickle(path, G, G, "", corrupt=plant)
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.eval"):
        load_network_pkl(path)


def test_malicious_embedded_storage_blob_is_rejected(sentinel):
    from torch.storage import _load_from_bytes

    blob = pickle.dumps(Evil(os.system, f"touch {sentinel}"), protocol=2)
    outer = pickle.dumps({"G_ema": Evil(_load_from_bytes, blob)}, protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="embedded tensor storage rejected"):
        load_network_pkl(io.BytesIO(outer))


def test_malformed_persistent_record_is_rejected():
    with official_modules() as (persistence, _):
        blob = pickle.dumps({"G_ema": Evil(persistence._reconstruct_persistent_obj, "meta")})
    with pytest.raises(pickle.UnpicklingError, match="must be a dict"):
        load_network_pkl(io.BytesIO(blob))


def test_records_are_inert():
    rec = PersistentRecord("x.Y", 6, {"_init_kwargs": EasyDict(a=np.float64(1.5), b=[1])})
    assert rec.init_kwargs == {"a": 1.5, "b": [1]} and type(rec.init_kwargs["a"]) is float
    assert not hasattr(rec, "module_src")
    e = EasyDict(a=1)
    e.b = 2
    assert e == {"a": 1, "b": 2} and e.a == 1


def test_checkpoint_with_numpy_scalar_kwargs_loads_back(tmp_path):
    """numpy scalars in init_kwargs (e.g. a β computed with numpy) are stored as Python numbers:
    load_checkpoint's weights_only unpickler refuses numpy objects."""
    beta = np.float64(0.5) ** (32 / 20000)
    G = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                  channel_base=512, channel_max=16, magnitude_ema_beta=beta)  # fmt: skip
    save_checkpoint(tmp_path / "g.pt", G_ema=G)
    back = load_checkpoint(tmp_path / "g.pt")["G_ema"]
    assert back.init_kwargs["magnitude_ema_beta"] == float(beta)


def test_fields_of_the_wrong_type_are_named(tmp_path):
    """A checkpoint entry whose init_kwargs is a list says so (not 'got keys [...]' that are
    all there); layer_names or _parameters stored as an int name the field, not a bare
    "'int' object is not iterable"."""
    G = tiny(16)
    path = tmp_path / "list.pt"
    torch.save({"format": "bandlimit.afgan.checkpoint/1", "G_ema": {"class": "Generator",
                "init_kwargs": [1, 2], "state_dict": G.state_dict()}}, path)  # fmt: skip
    with pytest.raises(ValueError, match=r"needs an 'init_kwargs' dict .*, but 'init_kwargs' "
                       r"is a list$"):  # fmt: skip
        load_checkpoint(path)
    torch.save({"format": "bandlimit.afgan.checkpoint/1", "G_ema": {"class": "Generator",
                "init_kwargs": {}}}, path)  # fmt: skip
    with pytest.raises(ValueError, match=r"it has no 'state_dict' \(keys \['class', "):
        load_checkpoint(path)

    def names_int(data, fake):
        data["G_ema"].state["_modules"]["synthesis"].state["layer_names"] = 5

    def parameters_int(data, fake):
        data["G_ema"].state["_modules"]["mapping"].state["_parameters"] = 5

    for corrupt, message in ((names_int, "layer_names must be a list of names, got int 5"),
                             (parameters_int, "'mapping._parameters' must be a dict of tensors, "
                                              "got int")):  # fmt: skip
        path = tmp_path / f"{corrupt.__name__}.pkl"
        write_official_pickle(path, G, G, "", corrupt=corrupt)
        with pytest.raises(ValueError, match=message):
            load_network_pkl(path)


def test_init_kwargs_are_checked_against_the_tensors_before_allocating(tmp_path):
    """A few hundred bytes of init kwargs built the generator with real weights before its
    tensors were compared: channel_max 2048 took 2.9 GB before the "do not match" error (16384
    would be killed for memory). The shapes are now compared on the meta device first."""
    import resource

    G = tiny(seed=0)

    def huge(data, fake):
        data["G_ema"].state["_init_kwargs"]["channel_max"] = 16384
        data["G_ema"].state["_init_kwargs"]["channel_base"] = 2**20

    path = tmp_path / "huge.pkl"
    write_official_pickle(path, G, G, "", corrupt=huge)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match=r"(do not match the generator built from its init "
                                         r"kwargs|differ from the pickle's layer_names)"):
        load_network_pkl(path)  # (a real build at these sizes would need tens of GB)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grew_mb < 500, f"peak memory grew by {grew_mb:.0f} MB"


def test_a_rebuild_function_given_the_wrong_arguments_is_an_unpickling_error():
    """An allowed torch rebuild function called with arguments of the wrong kinds raised
    AttributeError / TypeError from the unpickler (gen_images.py printed a traceback); it is
    an UnpicklingError saying the pickle is corrupt. Nothing runs either way."""

    class Bad:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2,
                    (5, 0, (1,), (1,), False, collections.OrderedDict()))  # fmt: skip

    with pytest.raises(pickle.UnpicklingError, match=r"^corrupt network pickle: AttributeError"):
        load_network_pkl(io.BytesIO(pickle.dumps({"G_ema": Bad()}, protocol=4)))
