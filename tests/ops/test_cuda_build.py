"""The CUDA extension's build: the real compile-and-link, and the build machinery.

``test_extension_compiles_and_links`` compiles the real CUDA extension whenever nvcc and a CUDA
build of torch are present, even without a GPU (one architecture, ``TORCH_CUDA_ARCH_LIST=9.0``,
when none is visible), and loads the library (dlopen needs no device). The other tests run
anywhere: the lock (stale owner, old lock, bounded wait), the half-built cache, the error
messages of each failure, ``python -m bandlimit.ops.cuda``, and impl dispatch/fallback.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import pytest
import torch

from bandlimit.ops import _dispatch
from bandlimit.ops import cuda as blcuda
from bandlimit.ops.cuda import _build
from bandlimit.ops.cuda._build import CudaBuildError

REPO = Path(__file__).resolve().parents[2]


@functools.cache  # (runs nvcc; asked for by several skip marks at collection)
def _cuda_toolchain_reason() -> str | None:
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    nvcc = _build.nvcc_path(_build.find_cuda_home())
    if nvcc is None:
        return "nvcc not found"
    if not _build.ninja_available():
        return "ninja not available"
    version = _build.nvcc_version(nvcc)
    if version is None or version.split(".")[0] != torch.version.cuda.split(".")[0]:
        return f"nvcc is CUDA {version}, torch {torch.__version__} was built with another"
    return None


# ------------------------------------------------------------------------------------------
# The real build


@pytest.mark.skipif(_cuda_toolchain_reason() is not None, reason=str(_cuda_toolchain_reason()))
def test_extension_compiles_and_links(monkeypatch):
    if not torch.cuda.is_available() and not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")
    t0 = time.perf_counter()
    ext = blcuda.load()
    elapsed = time.perf_counter() - t0
    assert ext.EMULATED is False
    for name in ("upfirdn", "bias_act", "filtered_act"):
        assert callable(getattr(ext, name)), name
    lib = blcuda.build()
    assert lib.is_file() and lib.suffix == ".so"
    assert (lib.parent / _build.COMPLETE_NAME).is_file()
    print(f"CUDA extension ready in {elapsed:.1f} s: {lib}")
    if not torch.cuda.is_available():
        # Without a device the entry points must refuse CPU tensors with a clear message.
        x = torch.zeros(1, 1, 4, 4)
        with pytest.raises(RuntimeError, match="must be a CUDA tensor"):
            ext.upfirdn(x, torch.ones(3), torch.ones(3), None, [1, 1], [1, 1], [1, 1, 1, 1])


# ------------------------------------------------------------------------------------------
# Lock


def _write_lock(path: Path, pid: int, host: str | None = None, age: float = 0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                "time": time.time() - age}))
    if age:
        t = time.time() - age
        os.utime(path, (t, t))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_lock_of_a_dead_owner_is_removed(tmp_path, capsys):
    lock = tmp_path / _build.LOCK_NAME
    _write_lock(lock, _dead_pid())
    t0 = time.monotonic()
    with _build.build_lock(tmp_path, timeout=30, stale_after=3600) as held:
        assert held == lock
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert time.monotonic() - t0 < 5
    assert not lock.exists()
    assert f"removed a stale build lock {lock}" in capsys.readouterr().err


def test_on_windows_no_process_is_probed_with_a_signal(tmp_path, monkeypatch):
    """``os.kill(pid, 0)`` on Windows is not a probe: it sends CTRL_C_EVENT (signal 0) to the
    process group -- to a builder holding the lock, among others. There a lock goes stale by
    age alone, as another host's does."""
    sent = []
    monkeypatch.setattr(_build.os, "name", "nt")
    monkeypatch.setattr(_build.os, "kill", lambda *a: sent.append(a))
    assert _build._pid_alive(_dead_pid())
    lock = tmp_path / _build.LOCK_NAME
    _write_lock(lock, _dead_pid())
    assert not _build.lock_is_stale(lock, stale_after=3600)  # young: its owner may be building
    old = time.time() - 7200
    os.utime(lock, (old, old))
    assert _build.lock_is_stale(lock, stale_after=3600)
    assert sent == []


def test_old_lock_of_another_host_is_removed_but_a_live_owner_here_keeps_its_lock(tmp_path):
    """The age rule is for owners this host cannot check (another machine on a shared cache);
    a live builder here keeps its lock however long its build takes (a waiter with a short
    BANDLIMIT_CUDA_LOCK_STALE_S used to delete it and build alongside)."""
    lock = tmp_path / _build.LOCK_NAME
    _write_lock(lock, 12345, host="another-host.example", age=120)
    with _build.build_lock(tmp_path, timeout=30, stale_after=60):
        assert json.loads(lock.read_text())["time"] > time.time() - 60
    _write_lock(lock, os.getpid(), age=120)
    assert not _build.lock_is_stale(lock, 60)
    with pytest.raises(CudaBuildError, match="timed out"), _build.build_lock(
            tmp_path, timeout=0.3, stale_after=60):
        pass
    assert json.loads(lock.read_text())["pid"] == os.getpid()


@pytest.mark.skipif(_build.process_start(os.getpid()) is None, reason="needs Linux's /proc")
def test_lock_whose_pid_now_names_another_process_is_stale(tmp_path):
    """After a container restart a dead builder's pid can belong to a live process (even this
    one): the lock records its owner's start time, so a reused pid does not hold it forever."""
    lock = tmp_path / _build.LOCK_NAME
    with _build.build_lock(tmp_path, timeout=5):
        record = json.loads(lock.read_text())
        assert record["start"] == _build.process_start(os.getpid())
        assert not _build.lock_is_stale(lock, 3600)  # ours, live
    record["start"] -= 1  # the same pid, started at another time: another process
    lock.write_text(json.dumps(record))
    assert _build.lock_is_stale(lock, 3600)
    with _build.build_lock(tmp_path, timeout=5):
        pass


@pytest.mark.parametrize("content", ["[1]", "5", '"x"', json.dumps({"pid": 2**70}),
                                     json.dumps({"pid": True}), json.dumps({"pid": -3})])
def test_lock_file_of_any_other_shape_is_unreadable_not_a_crash(tmp_path, content):
    """A lock file that is valid JSON but not an owner record (a list, a number, a pid out of
    range) used to raise AttributeError / OverflowError; it is an unreadable record: waited
    for while fresh, removed after 10 s."""
    lock = tmp_path / _build.LOCK_NAME
    lock.write_text(content)
    assert _build.lock_owner(lock) is None
    assert not _build.lock_is_stale(lock, 3600)
    with pytest.raises(CudaBuildError, match=r"held by pid \? on \?"), _build.build_lock(
            tmp_path, timeout=0.2, stale_after=3600):
        pass
    t = time.time() - 30
    os.utime(lock, (t, t))
    with _build.build_lock(tmp_path, timeout=5, stale_after=3600):
        assert _build.lock_owner(lock)["pid"] == os.getpid()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "-1"])
def test_lock_seconds_must_be_finite(tmp_path, monkeypatch, value):
    """NaN passed the old `< 0` check and made the wait endless (a deadline of NaN is never
    reached); inf too."""
    monkeypatch.setenv(_build.ENV_LOCK_TIMEOUT, value)
    with pytest.raises(CudaBuildError, match=f"finite number of seconds >= 0, got '{value}'"), \
            _build.build_lock(tmp_path):
        pass


def _program(tmp_path: Path, name: str) -> Path:
    """``sleep`` under another program name (a process's name is its executable's)."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    link = tmp_path / "bin" / name
    link.symlink_to(shutil.which("sleep"))
    return link


@pytest.mark.skipif(not Path("/proc/self/cwd").exists() or shutil.which("sleep") is None,
                    reason="needs Linux's /proc and sleep")  # fmt: skip
def test_a_new_build_waits_for_the_compilers_an_earlier_one_left_running(tmp_path, capsys):
    """A builder killed without its children (SIGTERM to Python alone) leaves ninja and nvcc
    running in the build directory; the next builder used to remove the dead owner's lock and
    compile the same files alongside them. It now waits for the compilers working there (real
    processes here, named as compilers, started in the directory), bounded, naming them; other
    programs there (a shell, an editor on build.log) do not count."""
    build = tmp_path / "build"
    build.mkdir()
    _write_lock(build / _build.LOCK_NAME, _dead_pid())
    bystander = subprocess.Popen([str(_program(tmp_path, "bash")), "60"], cwd=build)
    orphan = subprocess.Popen([str(_program(tmp_path, "nvcc")), "1.5"], cwd=build)
    tmp_path = build
    try:
        assert _build.processes_in(tmp_path) == [orphan.pid]
        t0 = time.monotonic()
        with _build.build_lock(tmp_path, timeout=60, stale_after=3600):
            assert orphan.poll() is not None  # it finished before the lock was handed over
        assert 0.5 < time.monotonic() - t0 < 30
        err = capsys.readouterr().err
        assert "removed a stale build lock" in err
        assert f"waiting for compilers [{orphan.pid}] still running in {tmp_path}" in err
    finally:
        orphan.kill()
        orphan.wait()
    stuck = subprocess.Popen([str(_program(tmp_path.parent, "ninja")), "60"], cwd=tmp_path)
    try:
        with pytest.raises(CudaBuildError, match=rf"compilers \[{stuck.pid}\] still run in the "
                           r"build directory"), _build.build_lock(tmp_path, timeout=0.5):
            pass
        assert not (tmp_path / _build.LOCK_NAME).exists()  # ours, released on the way out
    finally:
        for p in (stuck, bystander):
            p.kill()
            p.wait()
    assert _build.processes_in(tmp_path) == []


def test_two_waiters_on_one_stale_lock_do_not_both_build(tmp_path, monkeypatch):
    """Both waiters judge the dead owner's lock stale; the slower one must not then delete the
    fresh lock the faster one took (the judgement is widened here to make the race certain)."""
    import threading

    _write_lock(tmp_path / _build.LOCK_NAME, _dead_pid())
    judge = _build.lock_is_stale

    def slow_judge(path, stale_after):
        stale = judge(path, stale_after)
        if stale:
            time.sleep(0.3)
        return stale

    monkeypatch.setattr(_build, "lock_is_stale", slow_judge)
    spans: list[tuple[float, float]] = []
    errors: list[BaseException] = []

    def builder():
        try:
            with _build.build_lock(tmp_path, timeout=20, stale_after=3600):
                t0 = time.monotonic()
                time.sleep(0.5)
                spans.append((t0, time.monotonic()))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=builder) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(spans) == 2
    (_, first_end), (second_start, _) = sorted(spans)
    assert second_start >= first_end, f"both held the build lock at once: {spans}"


def test_filesystem_without_flock_still_waits_and_clears_dead_locks(tmp_path, monkeypatch):
    import errno

    def no_flock(fd, op):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(_build.fcntl, "flock", no_flock)
    lock = tmp_path / _build.LOCK_NAME
    _write_lock(lock, os.getpid())  # a live builder: wait (bounded), not an OSError
    with pytest.raises(CudaBuildError, match="timed out after"), \
            _build.build_lock(tmp_path, timeout=0.3, stale_after=3600):
        pass
    _write_lock(lock, _dead_pid())  # a dead one: removed, unguarded
    with _build.build_lock(tmp_path, timeout=5, stale_after=3600):
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_half_written_lock_is_stale_after_a_while(tmp_path):
    lock = tmp_path / _build.LOCK_NAME
    lock.write_text("")
    assert not _build.lock_is_stale(lock, 3600)  # may be a writer between create and write
    t = time.time() - 30
    os.utime(lock, (t, t))
    assert _build.lock_is_stale(lock, 3600)


def test_live_lock_wait_is_bounded_and_names_the_lock(tmp_path, capsys):
    lock = tmp_path / _build.LOCK_NAME
    _write_lock(lock, os.getpid(), host=socket.gethostname())
    t0 = time.monotonic()
    with pytest.raises(CudaBuildError) as e, _build.build_lock(tmp_path, timeout=0.6,
                                                                stale_after=3600):
        pass
    assert time.monotonic() - t0 < 10
    msg = str(e.value)
    assert str(lock) in msg and "timed out after" in msg and f"pid {os.getpid()}" in msg
    assert "waiting up to" in capsys.readouterr().err
    assert lock.exists()  # someone else's lock is left alone


def test_lock_timeout_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(_build.ENV_LOCK_TIMEOUT, "0.2")
    _write_lock(tmp_path / _build.LOCK_NAME, os.getpid())
    with pytest.raises(CudaBuildError, match=r"timed out after 0\.2 s"), \
            _build.build_lock(tmp_path):
        pass
    monkeypatch.setenv(_build.ENV_LOCK_TIMEOUT, "soon")
    with pytest.raises(CudaBuildError, match=f"{_build.ENV_LOCK_TIMEOUT} must be a number"), \
            _build.build_lock(tmp_path):
        pass


def test_leftover_torch_lock_is_removed_while_holding_ours(tmp_path):
    (tmp_path / _build.TORCH_LOCK_NAME).write_text("")
    with _build.build_lock(tmp_path, timeout=5):
        assert not (tmp_path / _build.TORCH_LOCK_NAME).exists()


# ------------------------------------------------------------------------------------------
# Half-built cache, compiler errors


def _fake_library(directory: Path, name: str, content: bytes = b"\x7fELF" + bytes(4096)):
    """What a build leaves behind, for the machinery tests: a library file and its module."""
    (directory / f"{name}.so").write_bytes(content)
    mod = types.ModuleType(name)
    mod.__file__ = str(directory / f"{name}.so")
    return mod


def test_interrupted_build_directory_is_wiped(tmp_path, monkeypatch):
    (tmp_path / "stale.so").write_text("half a library")
    (tmp_path / "binding.o").write_text("")
    seen = {}

    def fake_compile(name, sources, directory, verbose, **kw):
        seen["files"] = sorted(p.name for p in directory.iterdir())
        return _fake_library(directory, name)

    monkeypatch.setattr(_build, "_compile", fake_compile)
    _build._build_locked("m", [], tmp_path, False, cuda=False)
    assert seen["files"] == [_build.LOCK_NAME]
    assert (tmp_path / _build.COMPLETE_NAME).is_file()


def test_damaged_cached_library_is_rebuilt_not_loaded(tmp_path, monkeypatch, capsys):
    """Loading a truncated shared library kills the process (SIGBUS), so the complete marker's
    size and hash are checked before torch gets to load it."""
    compiled = []

    def fake_compile(name, sources, directory, verbose, **kw):
        compiled.append(sorted(p.name for p in directory.iterdir()))
        lib = directory / f"{name}.so"
        if lib.exists():  # what ninja does when nothing changed: load the existing library
            mod = types.ModuleType(name)
            mod.__file__ = str(lib)
            return mod
        (directory / "binding.o").write_text("")
        return _fake_library(directory, name)

    monkeypatch.setattr(_build, "_compile", fake_compile)
    _build._build_locked("m", [], tmp_path, False, cuda=False)
    assert _build.library_intact(tmp_path)
    record = json.loads((tmp_path / _build.COMPLETE_NAME).read_text())
    assert record["size"] == 4100 and len(record["sha256"]) == 64

    _build._build_locked("m", [], tmp_path, False, cuda=False)  # intact: reused as it is
    assert "binding.o" in compiled[-1] and "rebuilding" not in capsys.readouterr().err

    lib = tmp_path / "m.so"
    lib.write_bytes(lib.read_bytes()[:1000])  # truncated, as by a full disk or a killed copy
    assert not _build.library_intact(tmp_path)
    _build._build_locked("m", [], tmp_path, False, cuda=False)
    assert compiled[-1] == [_build.LOCK_NAME]  # wiped before the compile
    assert "does not match its build record" in capsys.readouterr().err
    assert lib.stat().st_size == 4100 and _build.library_intact(tmp_path)

    # The build directory moved or copied as a whole (a cache baked into a container image):
    # the copy is judged by its own library, not by the path it was built at.
    copy = tmp_path / "copied"
    shutil.copytree(tmp_path, copy, ignore=shutil.ignore_patterns("copied"))
    assert _build.library_intact(copy)
    (copy / "m.so").write_bytes(b"\x7fELF")
    assert not _build.library_intact(copy) and _build.library_intact(tmp_path)
    shutil.rmtree(copy)

    lib.write_bytes(b"\x7fELF" + bytes(4095) + b"x")  # same size, other contents
    assert not _build.library_intact(tmp_path)
    (tmp_path / _build.COMPLETE_NAME).write_text(json.dumps({"module": str(lib)}))
    assert not _build.library_intact(tmp_path)  # a record without size and hash: rebuilt once


def test_finished_build_loads_without_lock_or_compiler(monkeypatch):
    """A finished, intact build (here: the emulation library) is imported as it is: a read-only
    cache, where neither the lock nor ninja's files can be written, still loads."""
    _build.load_emulation()  # built (or found) the usual way first
    directory = _build.emulation_dir()
    assert _build.library_intact(directory)

    def refuse(*a, **kw):
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr(_build, "build_lock", refuse)
    monkeypatch.setattr(_build, "_compile", refuse)
    name = f"bandlimit_cuda_emu_{_build.source_hash()}"
    mod = _build._build_locked(name, [], directory, False, cuda=False)
    assert mod.EMULATED and Path(mod.__file__) == directory / f"{name}.so"


def test_sanitizer_builds_ask_for_their_runtime(monkeypatch):
    """The checking builds of the emulation (tests/ops/test_cuda_sanitizers.py) are chosen by an
    environment variable that takes the known sanitizers only, and refuse to load (naming the
    command that works) into a process started without the sanitizer's runtime, instead of
    failing deep inside the dynamic loader."""
    monkeypatch.setattr(_build, "_emulation", None)
    monkeypatch.setenv(_build.ENV_SANITIZER, "memory")
    with pytest.raises(ValueError, match=r"SANITIZER='memory': expected one of \['address', "):
        _build.load_emulation()
    monkeypatch.setattr(_build, "_runtime_loaded", lambda sanitizer: False)
    for sanitizer in ("thread", "address"):
        monkeypatch.setenv(_build.ENV_SANITIZER, sanitizer)
        with pytest.raises(CudaBuildError, match=f"={sanitizer} needs .* LD_PRELOAD=.*lib"):
            _build.load_emulation()
        directory = _build.emulation_dir(sanitizer)
        assert directory.parent.name == f"emulate-{sanitizer}"
        assert directory.name.startswith(_build.source_hash())
        # The checking builds' flags live in _build.py, not csrc/: they key the cache too.
        libs, flags = _build.SANITIZERS[sanitizer]
        monkeypatch.setitem(_build.SANITIZERS, sanitizer, (libs, (*flags, "-DX")))
        assert _build.emulation_dir(sanitizer) != directory


def test_build_made_ahead_of_time_loads_without_the_toolchain(monkeypatch):
    """A runtime image with the cache built in its build stage but no nvcc: build() imports the
    cached library without running the preflight (here the emulation library stands in for the
    CUDA one; the cache is located as for the real extension)."""
    _build.load_emulation()
    name = f"bandlimit_cuda_emu_{_build.source_hash()}"

    def no_toolchain():
        raise CudaBuildError("cannot build the bandlimit CUDA extension: nvcc not found")

    monkeypatch.setattr(_build, "_module", None)
    monkeypatch.setattr(_build, "preflight", no_toolchain)
    monkeypatch.setattr(_build, "module_name", lambda: name)
    monkeypatch.setattr(_build, "build_dir", lambda arches: _build.emulation_dir())
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")
    assert _build.build().EMULATED
    # Without a finished build the preflight's error is what the user sees.
    monkeypatch.setattr(_build, "_module", None)
    monkeypatch.setattr(_build, "build_dir", lambda arches: Path("/nonexistent/bandlimit"))
    with pytest.raises(CudaBuildError, match="nvcc not found"):
        _build.build()


def _fake_gpus(monkeypatch, *caps):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(caps))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: caps[i])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"fake sm{caps[i]}")
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)


def test_a_build_made_for_several_architectures_serves_the_gpu(tmp_path, monkeypatch):
    """`TORCH_CUDA_ARCH_LIST='8.0;9.0' python -m bandlimit.ops.cuda build` in an image's build
    stage; at run time no TORCH_CUDA_ARCH_LIST, an H100 (9.0) and an A10 (8.6), no toolkit. The
    build used to be looked for under '-sm86_90' only (the visible GPUs) and missed. The
    emulation library stands in for the CUDA one, under the real cache key."""
    emu_dir = Path(_build.load_emulation().__file__).parent
    name = f"bandlimit_cuda_emu_{_build.source_hash()}"
    monkeypatch.setenv(_build.ENV_CACHE, str(tmp_path))
    _fake_gpus(monkeypatch, (9, 0), (8, 6))
    made = tmp_path / f"{_build._key_prefix()}sm80_90"
    made.mkdir()
    for f in (f"{name}{_build.LIBRARY_SUFFIX}", _build.COMPLETE_NAME):
        shutil.copy2(emu_dir / f, made / f)

    def no_toolchain():
        raise CudaBuildError("cannot build the bandlimit CUDA extension: nvcc not found")

    monkeypatch.setattr(_build, "_module", None)
    monkeypatch.setattr(_build, "preflight", no_toolchain)
    monkeypatch.setattr(_build, "module_name", lambda: name)
    assert _build.build_dir(_build.arch_list()[0]).name.endswith("sm86_90")
    assert _build.covering_builds([(9, 0), (8, 6)]) == [made]
    assert _build.build().EMULATED
    info = blcuda.info()
    assert info["built"] is True and info["build_dir"] == str(made)
    # A build that does not cover every GPU is not used: the toolchain's error stands.
    monkeypatch.setattr(_build, "_module", None)
    made.rename(tmp_path / f"{_build._key_prefix()}sm90")
    with pytest.raises(CudaBuildError, match="nvcc not found"):
        _build.build()


def test_a_finished_build_that_does_not_load_is_named_in_the_error(tmp_path, monkeypatch):
    """A cached library that fails to import (here: not a library at all) was skipped without a
    word; with no toolkit to rebuild it the user saw only "nvcc not found"."""
    monkeypatch.setenv(_build.ENV_CACHE, str(tmp_path))
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")
    d = _build.build_dir("9.0")
    d.mkdir(parents=True)
    lib = Path(_fake_library(d, _build.module_name()).__file__)
    _build.write_complete_marker(d, lib)

    def no_toolchain():
        raise CudaBuildError("cannot build the bandlimit CUDA extension: nvcc not found")

    monkeypatch.setattr(_build, "_module", None)
    monkeypatch.setattr(_build, "prebuilt_failure", None)
    monkeypatch.setattr(_build, "preflight", no_toolchain)
    with pytest.raises(CudaBuildError) as e:
        _build.build()
    msg = str(e.value)
    assert "nvcc not found" in msg
    assert f"A finished build, {lib}, is in the cache but does not load: " in msg


def test_interrupted_ninja_is_not_a_compiler_failure_and_is_not_remembered(tmp_path,
                                                                           monkeypatch):
    """ninja stopped by a signal (Python itself not interrupted) was reported as a compiler
    error with advice about C++20, and 'auto' remembered it for the whole process."""
    def interrupted(*a, **k):
        raise RuntimeError("Error building extension 'x': ninja: build stopped: interrupted by "
                           "user.")  # fmt: skip

    monkeypatch.setattr(_build, "_compile", interrupted)
    with pytest.raises(_build.CudaBuildInterrupted, match="was interrupted") as e:
        _build._build_locked("m", [], tmp_path, False, cuda=False)
    assert "C++20" not in str(e.value)
    monkeypatch.setattr(blcuda, "_error", None)
    monkeypatch.setattr(blcuda, "load", lambda: (_ for _ in ()).throw(e.value))
    assert blcuda.available() is False and blcuda.last_error() is None


def test_library_that_does_not_load_is_rebuilt_once(tmp_path, monkeypatch):
    calls = []

    def fake_compile(name, sources, directory, verbose, **kw):
        calls.append(sorted(p.name for p in directory.iterdir()))
        if len(calls) == 1:
            (directory / "junk.o").write_text("")
            raise ImportError("undefined symbol: _ZN2bl7upfirdn")
        return _fake_library(directory, name)

    monkeypatch.setattr(_build, "_compile", fake_compile)
    _build._build_locked("m", [], tmp_path, False, cuda=False)
    assert len(calls) == 2 and "junk.o" not in calls[1]

    calls.clear()

    def always_broken(name, sources, directory, verbose, **kw):
        raise ImportError("bad ELF")

    monkeypatch.setattr(_build, "_compile", always_broken)
    with pytest.raises(CudaBuildError, match=r"was built but does not load \(bad ELF\)"):
        _build._build_locked("m2", [], tmp_path / "other", False, cuda=False)


def test_a_retry_in_the_same_process_compiles_again(tmp_path, monkeypatch):
    """torch records each loaded extension name per process and then skips ninja; _compile must
    forget it, or a retry after a failed / interrupted build imports a library that is gone."""
    from torch.utils import cpp_extension

    seen = []

    def fake_load(name, **kw):
        seen.append(name in cpp_extension.JIT_EXTENSION_VERSIONER.entries)
        cpp_extension.JIT_EXTENSION_VERSIONER.entries[name] = (0, "recorded")
        raise RuntimeError("Error building extension: nvcc fatal : Unsupported gpu architecture")

    monkeypatch.setattr(cpp_extension, "load", fake_load)
    for _ in range(2):
        with pytest.raises(CudaBuildError, match="nvcc fatal : Unsupported gpu architecture"):
            _build._build_locked("bl_retry_ext", [], tmp_path, False, cuda=False)
    assert seen == [False, False]
    cpp_extension.JIT_EXTENSION_VERSIONER.entries.pop("bl_retry_ext", None)


def test_unwritable_cache_or_bad_arch_list_is_a_build_error(tmp_path, monkeypatch):
    def no_lock(directory):
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr(_build, "build_lock", no_lock)
    with pytest.raises(CudaBuildError, match=r"PermissionError.*writable.*BANDLIMIT"):
        _build._build_locked("m", [], tmp_path, False, cuda=False)

    def bad_arch(**kw):
        raise ValueError("Unknown CUDA arch (garbage) or GPU not supported")

    monkeypatch.setattr(blcuda, "_error", None)
    monkeypatch.setattr(blcuda, "load", bad_arch)
    assert blcuda.available() is False  # 'auto' falls back instead of raising
    assert "Unknown CUDA arch" in str(blcuda.last_error())


@pytest.mark.skipif(_build.ninja_available() is False, reason="needs ninja")
def test_compiler_error_names_the_log(tmp_path):
    src = tmp_path / "broken.cpp"
    src.write_text("int f( { return 0; }\n")
    with pytest.raises(CudaBuildError) as e:
        _build._build_locked("bl_broken_ext", [src], tmp_path / "build", False, cuda=False)
    msg = str(e.value)
    log = tmp_path / "build" / _build.LOG_NAME
    assert f"Full log: {log}" in msg and "error" in msg and "broken.cpp" in msg
    assert "broken.cpp" in log.read_text()


# ------------------------------------------------------------------------------------------
# Preflight errors


def _fake_nvcc(tmp_path: Path, release: str) -> Path:
    home = tmp_path / f"cuda-{release}"
    (home / "bin").mkdir(parents=True)
    nvcc = home / "bin" / "nvcc"
    nvcc.write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {release}, V{release}.1'\n")
    nvcc.chmod(0o755)
    return home


def test_error_cpu_only_torch(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(CudaBuildError, match=r"CPU-only build\. Install a CUDA build of torch"):
        _build.preflight()


def test_error_nvcc_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "no-cuda"))
    with pytest.raises(CudaBuildError) as e:
        _build.preflight()
    msg = str(e.value)
    assert "nvcc not found" in msg and str(tmp_path / "no-cuda" / "bin" / "nvcc") in msg
    assert "CUDA_HOME" in msg and "toolkit 13.0" in msg


def test_error_cuda_version_mismatch(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("CUDA_HOME", str(_fake_nvcc(tmp_path, "11.8")))
    with pytest.raises(CudaBuildError, match=r"CUDA version mismatch: .* is CUDA 11\.8 but torch"):
        _build.preflight()


def test_error_no_ninja(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("CUDA_HOME", str(_fake_nvcc(tmp_path, "13.0")))
    monkeypatch.setattr(_build, "ninja_available", lambda: False)
    with pytest.raises(CudaBuildError, match=r"ninja is not available. Install it \(pip install"):
        _build.preflight()


def test_error_no_host_compiler(tmp_path, monkeypatch):
    """Without a C++ compiler, info said buildable (the build then failed at its first step)."""
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("CUDA_HOME", str(_fake_nvcc(tmp_path, "13.0")))
    monkeypatch.setattr(_build, "ninja_available", lambda: True)
    monkeypatch.setenv("CXX", "no-such-c++-compiler")
    with pytest.raises(CudaBuildError, match=r"no host C\+\+ compiler: 'no-such-c\+\+-compiler' "
                                             r"is not found .* set CXX"):
        _build.preflight()


def test_error_no_gpu_and_no_arch_list(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("CUDA_HOME", str(_fake_nvcc(tmp_path, "13.0")))
    monkeypatch.setattr(_build, "ninja_available", lambda: True)
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CudaBuildError, match="Set TORCH_CUDA_ARCH_LIST"):
        _build.preflight()
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "native")
    with pytest.raises(CudaBuildError, match="TORCH_CUDA_ARCH_LIST=native but no GPU is visible"):
        _build.preflight()
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.6;9.0")
    arches, nvcc = _build.preflight()
    assert arches == "8.6;9.0" and nvcc.parent.parent == tmp_path / "cuda-13.0"


def test_cache_key(monkeypatch, tmp_path):
    monkeypatch.setenv(_build.ENV_CACHE, str(tmp_path))
    d = _build.build_dir("8.6;9.0+PTX")
    assert d.parent == tmp_path
    assert d.name.startswith(_build.source_hash()) and d.name.endswith("sm86_90+PTX")
    assert f"torch{torch.__version__.split('+')[0]}" in d.name
    # One key for one set of architectures, however written; a long list fits a file name.
    assert _build.build_dir("9.0;8.0") == _build.build_dir("8.0 9.0") == _build.build_dir(
        "8.0;;9.0;8.0")
    long = _build.build_dir(";".join(f"{m}.{n}" for m in range(5, 13) for n in range(10)))
    assert len(long.name) < 120 and _build.build_dir("9.0").name.endswith("-sm90")
    # The compiler flags are part of the key (a release that changes only them rebuilds).
    before = _build.source_hash()
    monkeypatch.setattr(_build, "CUDA_NVCC_FLAGS", ("-O2",))
    assert _build.source_hash() != before


def test_cache_root_that_cannot_be_resolved_is_a_build_error(monkeypatch):
    monkeypatch.setenv(_build.ENV_CACHE, "~nosuchuser-bandlimit/x")
    with pytest.raises(CudaBuildError, match=f"{_build.ENV_CACHE}='~nosuchuser-bandlimit/x'"):
        _build.cache_root()
    out = blcuda.info()  # info says so instead of raising
    assert out["cache_root"].startswith("unusable: ") and out["built"] is False


@pytest.mark.parametrize(
    ("value", "words"),
    [("8.0;foo", "does not accept it"), ("8.0,9.0", "does not accept it"),
     ("sm_90", "does not accept it"), (";", "names no architecture")],
)  # fmt: skip
def test_arch_list_is_checked_before_compiling(tmp_path, monkeypatch, value, words):
    """A malformed TORCH_CUDA_ARCH_LIST passed the preflight (`info`: buildable) and failed in
    torch after "compiling...", with advice about C++20; it is now the preflight's error, naming
    the variable and its value."""
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setenv("CUDA_HOME", str(_fake_nvcc(tmp_path, "13.0")))
    monkeypatch.setattr(_build, "ninja_available", lambda: True)
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", value)
    with pytest.raises(CudaBuildError, match=f"TORCH_CUDA_ARCH_LIST={value!r}: .*{words}"
                       if value != ";" else words):  # fmt: skip
        _build.preflight()
    assert blcuda.info()["buildable"] is False
    # What torch accepts passes, and the build gets it in torch's form (torch itself rejects
    # the empty entries of '9.0;' and '8.0  9.0').
    for good in ("9.0", "8.0;9.0", "8.6+PTX", "9.0a", "9.0 8.6", "Hopper", "9.0;", "8.0  9.0"):
        _build.check_arch_list(good)
        _build._torch_arch_flags(_build.normalized_arch_list(good))
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0;;8.0 ")
    assert _build.preflight()[0] == "8.0;9.0"


@pytest.mark.skipif(_cuda_toolchain_reason() is not None, reason=str(_cuda_toolchain_reason()))
def test_arch_list_names_what_this_nvcc_cannot_compile_for():
    """torch accepts 7.0, nvcc 13 does not: that failed only after ninja had started."""
    nvcc = _build.nvcc_path(_build.find_cuda_home())
    supported = _build.nvcc_architectures(nvcc)
    assert 90 in supported
    missing = next(c for c in (50, 60, 70, 72) if c not in supported)
    value = f"9.0;{missing // 10}.{missing % 10}"
    with pytest.raises(CudaBuildError, match=rf"cannot compile for compute capability "
                       rf"{missing // 10}\.{missing % 10} \(it supports"):  # fmt: skip
        _build.check_arch_list(value, nvcc)
    _build.check_arch_list("9.0;8.0", nvcc)


def test_which_architectures_a_build_covers():
    covers = _build.arch_tag_covers
    assert covers("sm80_90", (8, 6)) and covers("sm80_90", (9, 0))  # sm_80 code runs on 8.x
    assert not covers("sm90", (8, 9)) and not covers("sm86", (8, 0))
    assert covers("sm90a", (9, 0)) and not covers("sm90a", (10, 0))  # 'a': its own only
    assert covers("sm86+PTX", (9, 0)) and covers("sm86+PTX", (12, 0))  # PTX: JIT upwards
    assert not covers("sm90+PTX", (8, 6)) and not covers("smHopper", (9, 0))
    assert covers("sm90a+PTX", (9, 0)) and not covers("sm90a+PTX", (10, 0))  # 'a' PTX too
    # 'f' (family-specific, CUDA 12.9): its family, the same major version, minor upwards
    assert covers("sm100f", (10, 0)) and covers("sm100f", (10, 3))
    assert not covers("sm103f", (10, 0)) and not covers("sm100f", (12, 0))
    assert covers("sm100f+PTX", (10, 3)) and not covers("sm100f+PTX", (11, 0))
    # Binary code (no JIT when loading): '8.6+PTX' has sm_86 code, not sm_90 code.
    assert _build._binary_covers("sm86+PTX", (8, 6)) and not _build._binary_covers("sm86+PTX",
                                                                                   (9, 0))


def test_a_build_with_binary_code_for_the_gpus_is_preferred(tmp_path, monkeypatch):
    """Of several finished builds that cover the GPU, one with binary code for it is loaded
    before one that would be JIT-compiled from PTX, and the fewest architectures first."""
    monkeypatch.setenv(_build.ENV_CACHE, str(tmp_path))
    monkeypatch.setattr(_build, "library_intact", lambda d: True)
    _fake_gpus(monkeypatch, (9, 0))  # first: the cache key names torch's CUDA version
    prefix = _build._key_prefix()
    for tag in ("sm80+PTX", "sm80_86_90", "sm90", "sm75"):
        (tmp_path / f"{prefix}{tag}").mkdir()
    found = [d.name[len(prefix):] for d in _build.covering_builds([(9, 0)])]
    assert found == ["sm90", "sm80_86_90", "sm80+PTX"]
    assert [d.name[len(prefix):] for d in _build.prebuilt_dirs()] == [
        "sm90", "sm80_86_90", "sm80+PTX"]
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.0 9.0")  # asked for: that build only
    assert [d.name[len(prefix):] for d in _build.prebuilt_dirs()] == ["sm80_90"]


def test_builds_for_another_python_are_not_found(tmp_path, monkeypatch):
    """An extension module is linked against one interpreter: venvs of two Pythons sharing a
    cache (the default, ~/.cache) each build and load their own, for the extension and for its
    emulation (a Python 3.10 build found by 3.11 failed to load)."""
    monkeypatch.setenv(_build.ENV_CACHE, str(tmp_path))
    monkeypatch.setattr(_build, "library_intact", lambda d: True)
    _fake_gpus(monkeypatch, (9, 0))
    here = (_build.build_dir("9.0"), _build.emulation_dir(), _build.emulation_dir("thread"))
    here[0].mkdir()
    assert _build.covering_builds([(9, 0)]) == [here[0]]
    other = "cpython-310" if sys.implementation.cache_tag != "cpython-310" else "cpython-311"
    monkeypatch.setattr(sys.implementation, "cache_tag", other)
    there = (_build.build_dir("9.0"), _build.emulation_dir(), _build.emulation_dir("thread"))
    assert all(a != b and other in b.name for a, b in zip(here, there)), (here, there)
    assert _build.covering_builds([(9, 0)]) == []


# ------------------------------------------------------------------------------------------
# Command line


def _run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bandlimit.ops.cuda", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def test_cli_info_and_import_builds_nothing():
    """One fresh process: importing builds and loads nothing; ``info`` prints every key."""
    code = ("import sys, bandlimit.ops, bandlimit.ops.cuda, bandlimit.ops.cuda._ops; "
            "from bandlimit.ops.cuda.__main__ import main; "
            "print('loaded:', any(m.startswith('bandlimit_cuda') for m in sys.modules)); "
            "sys.exit(main(['info']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "loaded: False"
    keys = {line.split(":", 1)[0] for line in r.stdout.splitlines()}
    for key in ("torch", "torch_cuda", "nvcc", "nvcc_version", "ninja", "arch_list",
                "arch_reason", "buildable", "problem", "cache_root", "built", "tensor_cores"):
        assert key in keys, (key, r.stdout)


def test_cli_build_failure_is_one_clear_error(tmp_path):
    env = dict(os.environ, CUDA_HOME=str(tmp_path / "nowhere"), PATH=str(tmp_path),
               BANDLIMIT_CUDA_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    r = _run_cli("build", env=env)
    assert r.returncode == 1
    assert r.stderr.startswith("error: cannot build the bandlimit CUDA extension")
    assert "nvcc not found" in r.stderr or "CPU-only" in r.stderr


# ------------------------------------------------------------------------------------------
# Dispatch: impl='cuda' and the 'auto' fallback


@pytest.fixture
def broken_build(monkeypatch):
    err = CudaBuildError("cannot build the bandlimit CUDA extension: boom")
    monkeypatch.setattr(blcuda, "available", lambda: False)
    monkeypatch.setattr(blcuda, "last_error", lambda: err)
    monkeypatch.setattr(_dispatch, "_cuda_fallback_warned", False)
    monkeypatch.setattr(_dispatch, "get_default_impl", lambda: "auto")
    return err


def _cuda_like(dtype=torch.float32):
    # resolve_impl only looks at the device and dtype; no GPU is needed to describe one.
    return types.SimpleNamespace(device=torch.device("cuda", 0), is_cuda=True, is_cpu=False,
                                 dtype=dtype)


def test_auto_falls_back_to_ref_with_one_warning(broken_build):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _dispatch.resolve_impl("auto", _cuda_like(), "upfirdn2d") == "ref"
        assert _dispatch.resolve_impl("auto", _cuda_like(), "filtered_lrelu") == "ref"
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1, msgs
    assert "using impl='ref'" in msgs[0] and "boom" in msgs[0]
    assert caught[0].filename == __file__  # the user's line, not one inside bandlimit


def test_impl_cuda_raises_when_the_build_fails(broken_build):
    with pytest.raises(ValueError, match=r"filtered_lrelu: impl='cuda' is not available: .*boom"):
        _dispatch.resolve_impl("cuda", _cuda_like(), "filtered_lrelu")


def test_impl_cuda_rejects_cpu_tensors_and_other_dtypes():
    with pytest.raises(ValueError, match=r"impl='cuda' runs on CUDA tensors .* on cpu"):
        _dispatch.resolve_impl("cuda", torch.zeros(1), "upfirdn2d")
    with pytest.raises(ValueError, match=r"got a torch\.int32 tensor"):
        _dispatch.resolve_impl("cuda", _cuda_like(torch.int32), "upfirdn2d")


def test_auto_picks_cuda_when_it_builds(monkeypatch):
    monkeypatch.setattr(blcuda, "available", lambda: True)
    monkeypatch.setattr(_dispatch, "get_default_impl", lambda: "auto")
    assert _dispatch.resolve_impl("auto", _cuda_like(), "bias_act") == "cuda"
    assert _dispatch.resolve_impl("auto", _cuda_like(torch.float16), "bias_act") == "cuda"
    assert _dispatch.resolve_impl("auto", torch.zeros(1), "bias_act") in ("numba", "ref")


# ------------------------------------------------------------------------------------------
# The public API on fake CUDA tensors: routing, fake kernels and autograd wiring, without a GPU


class _Record(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


class _Ctx:
    """Stands in for autograd's ctx: the engine needs a real device for CUDA tensors."""

    needs_input_grad = (True,) * 32  # (every input's gradient asked for)

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


def test_public_api_on_fake_cuda_tensors(monkeypatch):
    """Forward through the public API (dispatch → custom op → fake kernel), then the registered
    backward formulas called directly (the autograd engine itself needs a GPU)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from bandlimit import ops
    from bandlimit.ops import _custom_ops
    from bandlimit.ops.cuda import _ops

    if not torch.cuda.is_available():
        try:  # torch 2.6 and 2.7 run some fake CUDA ops (indexing) on the (absent) device
            with FakeTensorMode():
                torch.empty(4, device="cuda")[None, :]
        except RuntimeError as e:
            pytest.skip(f"torch {torch.__version__}'s fake CUDA tensors need a GPU: {e}")
    monkeypatch.setattr(blcuda, "available", lambda: True)
    monkeypatch.setattr(_dispatch, "get_default_impl", lambda: "auto")
    with FakeTensorMode(), torch.no_grad():
        x = torch.empty(2, 3, 16, 16, device="cuda")
        b = torch.empty(3, device="cuda")
        f, f2 = torch.empty(12, device="cuda"), torch.empty(4, 4, device="cuda")
        with _Record() as rec:
            y = ops.filtered_lrelu(x, f, f2, b, up=2, down=2, padding=(11, 10, 11, 10),
                                   impl="cuda")
        # 16·2 + 21 − 11 = 42 up-sampled, (42 − 4) // 2 + 1 = 20 out
        assert y.shape == (2, 3, 20, 20) and y.device.type == "cuda"
        assert rec.ops.count("bandlimit.filtered_act_cuda.default") == 1

        inputs = (x, b, None, None, None, None, None, f2, [2, 2], [2, 2], [11, 10, 11, 10],
                  [0, 0, 0, 0], "lrelu", 0.2, 1.4, 256.0, True, None, None, "zeros", "zeros",
                  False)
        inputs = (x, b, f, f, None, None, None, f2, *inputs[8:])
        out = torch.ops.bandlimit.filtered_act_cuda(*inputs)
        assert out[1].shape == (6, 42, 3) and out[1].dtype == torch.int32
        ctx = _Ctx()
        _ops._fa_setup(ctx, inputs, out)
        with _Record() as rec:
            grads = _ops._fa_backward(ctx, torch.empty_like(out[0]), None)
        assert len(grads) == len(inputs)
        assert grads[0].shape == x.shape and grads[1].shape == b.shape
        assert all(g is None for g in grads[2:])
        assert "bandlimit.filtered_act_cuda_backward.default" in rec.ops  # the mask path
        assert "bandlimit.upfirdn_cuda.default" not in rec.ops
        # a smooth act saves u (the pre-activation, float32 here) and its backward reads it
        inputs = (*inputs[:12], "tanh", 0.0, 1.0, math.inf, False, None, None, "zeros",
                  "zeros", True)
        out = torch.ops.bandlimit.filtered_act_cuda(*inputs)
        assert out[1].shape == (6, 42, 42) and out[1].dtype == torch.float32
        ctx = _Ctx()
        _ops._fa_setup(ctx, inputs, out)
        with _Record() as rec:
            grads = _ops._fa_backward(ctx, torch.empty_like(out[0]), None)
        assert len(grads) == len(inputs) and grads[0].shape == x.shape
        assert "bandlimit.filtered_act_cuda_backward.default" in rec.ops  # reading u
        assert "bandlimit.upfirdn_cuda.default" not in rec.ops

        with _Record() as rec:
            u = ops.upfirdn2d(x, f, up=(2, 1), down=(1, 3), padding=5)  # 'auto' → cuda
        assert u.shape == (2, 3, (16 + 10 - 12) // 3 + 1, 32 + 10 - 12 + 1)
        assert rec.ops.count("bandlimit.upfirdn_cuda.default") == 1  # both passes in one op
        uin = (x, f, f, None, [2, 1], [1, 3], [5, 5, 5, 5])
        ctx = _Ctx()
        _custom_ops.upfirdn_setup(ctx, uin, u)
        gu = _custom_ops.upfirdn_backward(_ops.upfirdn_cuda, ctx, torch.empty_like(u))
        assert gu[0].shape == x.shape and len(gu) == len(uin)
        for fl, xl in [(f, x), (f2, x), (f, x.half())]:  # learned: separable, 2-D; half data
            fl = fl.clone().requires_grad_(True)
            uin = (xl, *((fl, fl, None) if fl.ndim == 1 else (None, None, fl)), [2, 1], [1, 3],
                   [5, 5, 5, 5])
            ul = torch.ops.bandlimit.upfirdn_cuda(*uin)
            ctx = _Ctx()
            _custom_ops.upfirdn_setup(ctx, uin, ul)
            gu = _custom_ops.upfirdn_backward(_ops.upfirdn_cuda, ctx, torch.empty_like(ul))
            assert gu[0].shape == xl.shape and gu[0].dtype == xl.dtype
            got = [g for g in gu[1:4] if g is not None]
            assert [(g.shape, g.dtype) for g in got] == [(fl.shape, fl.dtype)] * len(got) != []

        a = ops.bias_act(x, b, act="swish", clamp=1.0, impl="cuda")
        assert a.shape == x.shape
        ctx = _Ctx()
        bin_ = (x, b, 1, "swish", 0.0, 1.4, 1.0, False)
        _ops._ba_setup(ctx, bin_, a)
        ga = _ops._ba_backward(ctx, torch.empty_like(a))
        assert ga[0].shape == x.shape and ga[1].shape == b.shape and len(ga) == len(bin_)

        with _Record() as rec:  # StyleGAN3's ToRGB call: no filters, factors 1
            t = ops.filtered_lrelu(x, b=b, gain=1.0, slope=1.0, clamp=256.0, impl="cuda")
        assert t.shape == x.shape and rec.ops.count("bandlimit.bias_act_cuda.default") == 1
        assert "bandlimit.filtered_act_cuda.default" not in rec.ops

        s = ops.filtered_act(x, "tanh", f, f, b, up=2, down=2, padding=11, impl="cuda")
        assert s.shape == (2, 3, 16, 16)
        x1 = torch.empty(2, 3, 40, device="cuda")
        with _Record() as rec:
            a1 = ops.filtered_act1d(x1, "snake", f, f, up=2, down=2, padding=11, alpha=1.0,
                                    impl="cuda")
        assert a1.shape == (2, 3, 40)
        assert rec.ops.count("bandlimit.filtered_act_cuda.default") == 1  # fused
        alpha, beta = torch.empty(3, device="cuda"), torch.empty(3, device="cuda")
        for mode, dpad, fused in [("replicate", 0, True), ("circular", (-1, 0), True),
                                  ("replicate", (5, 6), True), ("zeros", (5, 6), True),
                                  ("circular", (5, 6), False), ("replicate", (12, 0), False)]:
            with _Record() as rec:
                a2 = ops.filtered_act1d(x1, "snakebeta", f, f, up=2, down=2, padding=(6, 5),
                                        alpha=alpha, beta=beta, padding_mode=mode,
                                        down_padding=dpad, impl="cuda")
            used = rec.ops.count("bandlimit.filtered_act_cuda.default")
            assert used == int(fused), (mode, dpad)  # else: the documented 'ref' fallback
            lu = 80 + 11 - 12 + 1
            d = (0, 0) if dpad == 0 else dpad
            assert a2.shape == (2, 3, (lu + d[0] + d[1] - 12) // 2 + 1)
        inputs = (x, b, f, f, None, None, None, f2, [2, 2], [2, 2], [11, 10, 11, 10],
                  [0, 0, 0, 0], "snakebeta", 0.0, 1.0, math.inf, False, alpha, beta)
        for save_u in (False, True):
            full = (*inputs, "replicate" if save_u else "zeros", "zeros", save_u)
            out = torch.ops.bandlimit.filtered_act_cuda(*full)
            assert out[1].shape == ((6, 42, 42) if save_u else (0,))
            ctx = _Ctx()
            _ops._fa_setup(ctx, full, out)
            with _Record() as rec:
                grads = _ops._fa_backward(ctx, torch.empty_like(out[0]), None)
            assert len(grads) == len(full)
            assert grads[0].shape == x.shape and grads[1].shape == b.shape
            assert grads[17].shape == alpha.shape and grads[18].shape == beta.shape
            assert all(g is None for g in grads[2:17] + grads[19:])
            # the fused backward, its alpha / beta sums reduced per channel, reading the u the
            # forward saved or, nothing saved, the u of the fused forward run again
            assert "bandlimit.filtered_act_cuda_backward.default" in rec.ops
            assert "bandlimit.upfirdn_cuda.default" not in rec.ops
            assert rec.ops.count("bandlimit.filtered_act_cuda.default") == int(not save_u)
            # a handful of ops in all, where the reference formula dispatched about 45
            aten = [op for op in rec.ops if not op.startswith("prim.")]
            assert len(aten) <= 5 + (not save_u), aten
        assert ops.upfirdn1d(x1, f, up=2, padding=(6, 5), impl="cuda").shape == (2, 3, 80)


# ------------------------------------------------------------------------------------------
# Packaging


def test_every_kernel_source_is_package_data():
    """A wheel must carry every file the build compiles or includes (csrc/*), or the extension
    cannot build on the user's machine: each file matches a package-data pattern, and every
    source the build lists exists."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bandlimit.ops.cuda"]
    files = sorted(p.relative_to(_build.CSRC.parent).as_posix()
                   for p in _build.CSRC.iterdir() if p.is_file())  # fmt: skip
    assert files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not in package-data {patterns}: {missing}"
    for name in (*_build.CUDA_SOURCES, *_build.EMULATION_SOURCES):
        assert (_build.CSRC / name).is_file(), name
