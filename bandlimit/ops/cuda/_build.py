"""Building and loading the CUDA extension (and its CPU emulation build, for tests).

The extension is compiled on first use with :func:`torch.utils.cpp_extension.load` (ninja), never
at import. Its build directory is a cache keyed by everything that changes the binary::

    $BANDLIMIT_CUDA_CACHE or ~/.cache/bandlimit/cuda /
        <sources and flags hash>-<Python tag>-torch<version>-cu<CUDA version>-sm<sorted arch list>/

so a rebuild happens only when the sources, the compiler flags, the Python interpreter, torch,
CUDA or the target architectures change.

Robustness, because building extensions is the field's most common failure:

* Preflight checks turn the usual failures into one clear :class:`CudaBuildError` that says what
  was tried and how to fix it: a CPU-only torch, no ``nvcc``, an ``nvcc`` whose major version
  differs from torch's CUDA, no ninja, no GPU and no ``TORCH_CUDA_ARCH_LIST``, and compiler errors
  (the full log is written to ``build.log`` in the build directory; the error names it).
* Concurrent and interrupted builds: builders of one cache directory take ``bandlimit.lock``
  (``O_EXCL``; it records pid, host and time). A lock whose owner is dead (same host), or of an
  owner on another host that is older than ``$BANDLIMIT_CUDA_LOCK_STALE_S`` (default 3600 s), is
  removed; otherwise the wait is bounded by ``$BANDLIMIT_CUDA_LOCK_TIMEOUT_S`` (default 900 s)
  and a timeout names the lock file. The new owner then waits, within the same bound, for any
  process still working in the directory (the compilers of a builder killed without them).
  A leftover torch ``lock`` file (older torch versions block on its mere existence) is removed
  while the bandlimit lock is held, and a cache directory whose build never completed (no
  ``complete`` marker) or whose library does not load is wiped and rebuilt once. Removing a stale
  lock is itself serialised (``flock`` on ``bandlimit.lock.guard``), so two waiters that judged
  the same lock stale cannot both build.
* A damaged cache: the ``complete`` marker records the library's size and SHA-256; a library that
  no longer matches (a truncated copy, a full disk) is rebuilt instead of being loaded, because
  mapping a truncated shared library kills the process with SIGBUS. A finished, intact build is
  imported directly (no ninja, no lock, no nvcc), so a read-only cache, or a runtime image
  that holds a library built ahead of time but no toolkit, works.
* Architectures: ``TORCH_CUDA_ARCH_LIST`` when set (checked first: torch's forms, and the
  architectures the installed nvcc lists); otherwise the compute capabilities of the visible
  GPUs, and then any finished build whose architectures cover them serves. No ``-gencode`` list
  is hard-coded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import cast

import torch

try:
    import fcntl
except ImportError:  # Windows: no flock; the stale-lock removal is then unserialised
    fcntl = None  # type: ignore[assignment]

CSRC = Path(__file__).resolve().parent / "csrc"
# Translation units of the real extension (one per kernel family, so a 2-core build overlaps).
CUDA_SOURCES = (
    "binding.cpp", "upfirdn.cu", "bias_act.cu", "filtered_act.cu", "filtered_act_fast.cu",
)
EMULATION_SOURCES = ("emulate_ext.cpp",)
LOCK_NAME = "bandlimit.lock"
GUARD_NAME = "bandlimit.lock.guard"
TORCH_LOCK_NAME = "lock"
COMPLETE_NAME = "complete"
LOG_NAME = "build.log"
# What torch.utils.cpp_extension names the built module: name.pyd on Windows, name.so elsewhere.
LIBRARY_SUFFIX = ".pyd" if sys.platform == "win32" else ".so"

ENV_CACHE = "BANDLIMIT_CUDA_CACHE"
ENV_LOCK_TIMEOUT = "BANDLIMIT_CUDA_LOCK_TIMEOUT_S"
ENV_LOCK_STALE = "BANDLIMIT_CUDA_LOCK_STALE_S"
ENV_SANITIZER = "BANDLIMIT_EMULATION_SANITIZER"
# Checking builds of the emulation: the runtime library to preload and the extra flags. The race
# check runs two blocks at a time (emulate.h), so that races between blocks are seen as well.
# The 'address' build also checks for undefined behaviour (UBSan: signed overflow, shifts past
# the width, misaligned pointers), and its exception interceptor needs libstdc++ loaded first.
SANITIZER_CFLAGS = ("-O1", "-g", "-fno-omit-frame-pointer", "-std=c++20")
SANITIZERS = {
    "thread": (("libtsan",), ("-DBL_EMULATE_TEAMS=2",)),
    "address": (
        ("libasan", "libubsan", "libstdc++"),
        ("-fsanitize=undefined", "-fno-sanitize-recover=undefined"),
    ),
}


class CudaBuildError(RuntimeError):
    """The CUDA extension cannot be built or loaded; the message says why and how to fix it."""


class CudaBuildInterrupted(CudaBuildError):
    """The build was stopped by a signal (not a failure to remember: the next call retries)."""


# ------------------------------------------------------------------------------------------
# Inputs of the build


# The real extension's compiler flags (part of the cache key: a release that changes only these
# must not load the old binary).
CUDA_CFLAGS = ("-O3",)
CUDA_NVCC_FLAGS = ("-O3", "-lineinfo")


def source_hash() -> str:
    """12 hex digits of the SHA-256 of every file in ``csrc/`` (names and contents) and of the
    compiler flags."""
    h = hashlib.sha256(repr((CUDA_CFLAGS, CUDA_NVCC_FLAGS)).encode())
    for p in sorted(CSRC.iterdir()):
        if p.is_file() and p.suffix in (".cu", ".cpp", ".h", ".cuh"):
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def cache_root() -> Path:
    env = os.environ.get(ENV_CACHE)
    try:
        if env:
            return Path(env).expanduser()
        return Path.home() / ".cache" / "bandlimit" / "cuda"
    except RuntimeError as e:  # "~nosuchuser/...", or no home directory to expand
        raise CudaBuildError(
            f"cannot place the CUDA build cache: {e} ({ENV_CACHE}={env!r}); set {ENV_CACHE} to "
            "an absolute directory"
        ) from None


def find_cuda_home() -> Path | None:
    """``$CUDA_HOME``, ``$CUDA_PATH``, the directory above the ``nvcc`` on PATH, /usr/local/cuda."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            return Path(os.environ[var])
    nvcc = shutil.which("nvcc")
    if nvcc:
        return Path(nvcc).resolve().parent.parent
    default = Path("/usr/local/cuda")
    return default if default.exists() else None


def nvcc_path(home: Path | None) -> Path | None:
    if home is None:
        return None
    p = home / "bin" / "nvcc"
    return p if p.is_file() and os.access(p, os.X_OK) else None


def nvcc_version(nvcc: Path) -> str | None:
    """``'13.0'`` from ``nvcc --version`` (None if it cannot be run or parsed)."""
    try:
        out = subprocess.run(
            [str(nvcc), "--version"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"release (\d+)\.(\d+)", out)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def cuda_lib_dir(nvcc: Path) -> Path | None:
    """The directory holding ``libcudart.so`` of the toolkit ``nvcc`` belongs to.

    ``nvcc`` may be a wrapper script outside the toolkit (e.g. /usr/local/bin/nvcc), so the
    toolkit root is taken from nvcc's own ``TOP=`` line of ``-dryrun`` output."""
    roots = [nvcc.resolve().parent.parent]
    try:
        out = subprocess.run(
            [str(nvcc), "-dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
            capture_output=True, text=True, timeout=60, check=False,
        )
        m = re.search(r"TOP=(\S+)", out.stdout + out.stderr)
        if m:
            roots.insert(0, Path(m.group(1)).resolve())
    except (OSError, subprocess.SubprocessError):
        pass
    for root in roots:
        for d in (root / "lib64", root / "lib", *sorted(root.glob("targets/*/lib"))):
            if (d / "libcudart.so").exists():
                return d
    return None


def ninja_available() -> bool:
    from torch.utils.cpp_extension import is_ninja_available

    return is_ninja_available()


FROM_GPUS = "the visible GPU(s)"  # arch_list's reason when TORCH_CUDA_ARCH_LIST is not set


def arch_list() -> tuple[str | None, str]:
    """``(TORCH_CUDA_ARCH_LIST value to build for, why)``; the value is None when unknown."""
    env = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if env and env != "native":
        return env, "from TORCH_CUDA_ARCH_LIST"
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        caps = sorted(
            {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
        )
        return ";".join(f"{a}.{b}" for a, b in caps), FROM_GPUS
    if env == "native":
        return None, "TORCH_CUDA_ARCH_LIST=native but no GPU is visible to take it from"
    return None, "no GPU is visible and TORCH_CUDA_ARCH_LIST is not set"


def arch_entries(arches: str) -> list[str]:
    """The entries of an architecture list (torch separates them by ';' or spaces), sorted and
    without repeats: one cache key and one build for '8.0;9.0', '9.0;8.0' and '8.0 9.0'."""
    return sorted(set(arches.replace(" ", ";").split(";")) - {""})


def normalized_arch_list(arches: str) -> str:
    """What is handed to torch: :func:`arch_entries` joined by ';' (torch rejects the empty
    entries of '9.0;' or '8.0  9.0')."""
    return ";".join(arch_entries(arches))


def _torch_arch_flags(arches: str) -> list[str]:
    """The ``-gencode`` flags torch derives from ``arches`` (its own parser: the forms and the
    architectures this torch knows); ValueError for what it rejects."""
    from torch.utils import cpp_extension

    old = os.environ.get("TORCH_CUDA_ARCH_LIST")
    os.environ["TORCH_CUDA_ARCH_LIST"] = arches
    try:
        return cpp_extension._get_cuda_arch_flags()
    finally:
        if old is None:
            os.environ.pop("TORCH_CUDA_ARCH_LIST", None)
        else:
            os.environ["TORCH_CUDA_ARCH_LIST"] = old


def check_arch_list(arches: str, nvcc: Path | None = None) -> None:
    """A CudaBuildError naming TORCH_CUDA_ARCH_LIST unless torch accepts every entry and (given
    ``nvcc``) nvcc can compile for each architecture torch makes of it."""
    expected = "expected compute capabilities like '9.0', '8.0;9.0' or '8.6+PTX'"
    normal = normalized_arch_list(arches)
    if not normal:
        raise CudaBuildError(f"TORCH_CUDA_ARCH_LIST={arches!r} names no architecture; {expected}")
    try:
        flags = _torch_arch_flags(normal)
    except ValueError as e:
        raise CudaBuildError(
            f"TORCH_CUDA_ARCH_LIST={arches!r}: torch {torch.__version__} does not accept it "
            f"({e}); {expected}, separated by ';' or spaces"
        ) from None
    supported = None if nvcc is None else nvcc_architectures(nvcc)
    if not supported:
        return
    for cap in sorted({int(c) for c in re.findall(r"arch=compute_(\d+)", " ".join(flags))}):
        if cap not in supported:
            have = sorted(supported)
            raise CudaBuildError(
                f"TORCH_CUDA_ARCH_LIST={arches!r}: {nvcc} cannot compile for compute capability "
                f"{cap // 10}.{cap % 10} (it supports {have[0] // 10}.{have[0] % 10} to "
                f"{have[-1] // 10}.{have[-1] % 10}); leave it out, or use a toolkit that has it"
            )


def nvcc_architectures(nvcc: Path) -> set[int]:
    """The compute capabilities ``nvcc --list-gpu-arch`` names (e.g. {75, 80, ..., 121}); empty
    when it cannot say."""
    try:
        out = subprocess.run([str(nvcc), "--list-gpu-arch"], capture_output=True, text=True,
                             timeout=60, check=False).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return set()
    return {int(v) for v in re.findall(r"compute_(\d+)", out)}


def _arch_tag(arches: str) -> str:
    tag = "sm" + "_".join(re.sub(r"[^0-9a-zA-Z+]", "", a) for a in arch_entries(arches))
    if len(tag) > 64:  # a long list: a file name has at most 255 bytes
        tag = "sm" + hashlib.sha256(tag.encode()).hexdigest()[:12]
    return tag


def arch_tag_covers(tag: str, capability: tuple[int, int]) -> bool:
    """Whether a build directory's architecture tag (``sm80_90``, ``sm86+PTX``, ``sm100f``)
    holds code that runs on a GPU of ``capability``: a binary of the same major version and a
    minor at most the GPU's; arch-specific 'a' code (binary or PTX) only on its own
    architecture; family-specific 'f' code (binary or PTX) within its family, the same major
    version and a minor at most the GPU's (CUDA 12.9: ``sm_100f`` runs on 10.0 and 10.3); plain
    PTX on any GPU of at least its version."""
    major, minor = capability
    for entry in tag.removeprefix("sm").split("_"):
        m = re.match(r"^(\d+)(\d)([af]?)(\+PTX)?$", entry)
        if m is None:
            continue
        emaj, emin, kind, ptx = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        if kind == "a":
            covered = (emaj, emin) == (major, minor)
        elif kind == "f" or not ptx:
            covered = emaj == major and emin <= minor
        else:  # PTX, JIT-compiled by the driver for later GPUs
            covered = (emaj, emin) <= (major, minor)
        if covered:
            return True
    return False


def _binary_covers(tag: str, capability: tuple[int, int]) -> bool:
    """Whether the tag holds binary code for ``capability`` (no PTX to compile when loading;
    '8.6+PTX' has both)."""
    entries = tag.removeprefix("sm").split("_")
    return arch_tag_covers("sm" + "_".join(e.removesuffix("+PTX") for e in entries), capability)


def _runtime_tag() -> str:
    """The interpreter and torch a build is linked against: an extension module built for one
    Python (``cpython-310``) does not load into another, so builds for several venvs sharing
    one cache must not meet."""
    # abiflags: 't' for a free-threaded build, 'd' for a debug one (same cache_tag, other ABI)
    tag = sys.implementation.cache_tag + getattr(sys, "abiflags", "")
    return f"{tag}-torch{torch.__version__.split('+')[0]}"


def _key_prefix() -> str:
    cu = (torch.version.cuda or "none").replace(".", "")
    return f"{source_hash()}-{_runtime_tag()}-cu{cu}-"


def build_dir(arches: str) -> Path:
    return cache_root() / f"{_key_prefix()}{_arch_tag(arches)}"


def covering_builds(capabilities: list[tuple[int, int]]) -> list[Path]:
    """Finished builds of these sources, torch and CUDA in the cache, for any architecture list,
    whose code runs on every one of ``capabilities`` (a build made ahead of time for
    '8.0;9.0' serves an H100 with no TORCH_CUDA_ARCH_LIST set)."""
    root, prefix = cache_root(), _key_prefix()
    try:
        dirs = sorted(d for d in root.glob(f"{prefix}sm*") if d.is_dir())
    except OSError:
        return []
    found = [d for d in dirs
             if all(arch_tag_covers(d.name[len(prefix):], c) for c in capabilities)
             and library_intact(d)]  # fmt: skip

    def preference(d: Path) -> tuple[bool, int, str]:  # binary code for every GPU, then fewest
        tag = d.name[len(prefix):]
        return (not all(_binary_covers(tag, c) for c in capabilities), tag.count("_"), d.name)

    return sorted(found, key=preference)


def prebuilt_dirs() -> list[Path]:
    """Where :func:`build` looks for a finished build before compiling, in order: the build
    directory of the architecture list, then (when that list comes from the visible GPUs, not
    TORCH_CUDA_ARCH_LIST) any finished build that covers them (:func:`covering_builds`)."""
    arches, why = arch_list()
    if arches is None:
        return []
    exact = build_dir(arches)
    if why != FROM_GPUS:
        return [exact]
    caps = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    return [exact, *(d for d in covering_builds(caps) if d != exact)]


def module_name() -> str:
    return f"bandlimit_cuda_{source_hash()}"


# ------------------------------------------------------------------------------------------
# Preflight


def preflight() -> tuple[str, Path]:
    """Check what a CUDA build needs; returns ``(arch list, nvcc)`` (the list as handed to
    torch: :func:`normalized_arch_list`) or raises CudaBuildError."""
    how = "(then `python -m bandlimit.ops.cuda build`; `... info` shows what is used)"
    if torch.version.cuda is None:
        raise CudaBuildError(
            f"cannot build the bandlimit CUDA extension: torch {torch.__version__} is a CPU-only "
            "build. Install a CUDA build of torch (https://pytorch.org/get-started/) " + how
        )
    home = find_cuda_home()
    nvcc = nvcc_path(home)
    if nvcc is None:
        where = f"{home}/bin/nvcc" if home is not None else "PATH, $CUDA_HOME, /usr/local/cuda"
        what = "is not executable" if home is not None and (home / "bin" / "nvcc").is_file() \
            else "not found"  # fmt: skip
        raise CudaBuildError(
            f"cannot build the bandlimit CUDA extension: nvcc {what} (looked in {where}). "
            f"Install the CUDA toolkit {torch.version.cuda} (torch was built with it) and set "
            f"CUDA_HOME to its directory or put its bin/ on PATH " + how
        )
    version = nvcc_version(nvcc)
    if version is None:
        raise CudaBuildError(
            f"cannot build the bandlimit CUDA extension: `{nvcc} --version` failed or printed no "
            "release number; check the CUDA toolkit installation " + how
        )
    if version.split(".")[0] != torch.version.cuda.split(".")[0]:
        raise CudaBuildError(
            f"cannot build the bandlimit CUDA extension: CUDA version mismatch: {nvcc} is CUDA "
            f"{version} but torch {torch.__version__} was built with CUDA {torch.version.cuda}. "
            f"Point CUDA_HOME at a CUDA {torch.version.cuda.split('.')[0]}.x toolkit or install "
            f"the torch build for CUDA {version} " + how
        )
    if not ninja_available():
        raise CudaBuildError(
            "cannot build the bandlimit CUDA extension: ninja is not available. "
            "Install it (pip install ninja) " + how
        )
    cxx = os.environ.get("CXX") or "c++"  # (what torch's build runs for the host code)
    if shutil.which(cxx) is None:
        raise CudaBuildError(
            f"cannot build the bandlimit CUDA extension: no host C++ compiler: {cxx!r} is not "
            f"found (torch's build runs $CXX, default c++). Install one (e.g. g++) or set CXX "
            + how
        )
    arches, why = arch_list()
    if arches is None:
        raise CudaBuildError(
            f"cannot build the bandlimit CUDA extension: {why}. Set TORCH_CUDA_ARCH_LIST to the "
            "target GPU's compute capability (e.g. TORCH_CUDA_ARCH_LIST=9.0 for H100, 8.0 for "
            "A100) to build without a GPU " + how
        )
    try:
        check_arch_list(arches, nvcc)
    except CudaBuildError as e:
        raise CudaBuildError(f"cannot build the bandlimit CUDA extension: {e} {how}") from None
    return normalized_arch_list(arches), nvcc


# ------------------------------------------------------------------------------------------
# Lock


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) there sends CTRL_C_EVENT: never probe, assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        v = float(raw)
    except ValueError:
        raise CudaBuildError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 <= v < math.inf:  # (NaN fails too: a wait must end)
        raise CudaBuildError(f"{name} must be a finite number of seconds >= 0, got {raw!r}")
    return v


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, Linux ``/proc``), or None: with the
    pid it names a process uniquely, so a lock whose pid was reused (a container restarted,
    its builder's pid now another process's) is seen to be stale."""
    try:  # "pid (comm) state ppid ... starttime(22nd)": comm may hold spaces, so after its ')'
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def lock_owner(path: Path) -> dict | None:
    """The owner record of a lock file: a dict whose pid is a plausible process id (None if the
    file is absent, unreadable, or holds anything else)."""
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(owner, dict):
        return None
    pid = owner.get("pid")
    if type(pid) is not int or not 0 < pid < 2**31:
        return None
    return owner


def lock_is_stale(path: Path, stale_after: float) -> bool:
    """Dead owner on this host (its pid gone, or now another process's: :func:`process_start`);
    else (another host's owner) older than ``stale_after`` seconds;
    or an unreadable record that is more than 10 s old (a writer killed between create and
    write). A live owner on this host is never stale, however long its build takes. On Windows,
    where no process is probed (:func:`_pid_alive`), every owner is judged by age."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    owner = lock_owner(path)
    if owner is None:
        return age > 10.0
    if owner.get("host") == socket.gethostname() and os.name != "nt":  # (no pid probe there)
        pid = owner["pid"]
        if not _pid_alive(pid):
            return True
        started = owner.get("start")  # None in a record written before it was recorded
        return started is not None and started != process_start(pid)
    return age > stale_after


def remove_if_stale(path: Path, stale_after: float) -> bool:
    """Delete the lock at ``path`` if :func:`lock_is_stale`; True if it did.

    Judging and deleting happen under an ``flock`` of a guard file: otherwise two waiters that
    judged one dead lock stale could both delete, the second one deleting the fresh lock that the
    first one took in between, and both would build."""
    if not lock_is_stale(path, stale_after):  # the common case (a live builder): no guard
        return False
    guard = path.with_name(GUARD_NAME)
    with open(guard, "a") as fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX)  # released when fh closes
            except OSError:  # a filesystem without flock (Lustre noflock, some FUSE): unguarded
                pass
        if not lock_is_stale(path, stale_after):  # judged again: another waiter may have won
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True


# The programs a torch extension build runs (ninja runs them all in the build directory).
_COMPILER = re.compile(
    r"^(ninja|nvcc|cicc|ptxas|cudafe\+\+|fatbinary|nvlink|nvprune|cc1|cc1plus|collect2|as|ld"
    r"|ld\.\w+|(.+-)?(g\+\+|gcc|c\+\+|cc|clang|clang\+\+)(-\d+)?)$"
)


def processes_in(directory: Path) -> list[int]:
    """Compilers (ninja, nvcc and what they run, by program name) whose working directory is
    ``directory`` (Linux ``/proc``; elsewhere none): ninja runs every command there, so these
    are the compilers of a build whose Python process died or was interrupted, and which may
    still be writing its files. (Another user's processes cannot be seen; a shell left in the
    directory is not a compiler.)"""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    try:
        target = directory.resolve()
    except OSError:
        return []
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == target and _COMPILER.match(
                (entry / "comm").read_text().strip()
            ):
                found.append(int(entry.name))
        except OSError:  # gone, or another user's process
            continue
    return sorted(found)


def wait_for_leftover_compilers(directory: Path, deadline: float) -> None:
    """Wait until no other process works in ``directory`` (see :func:`processes_in`), so that
    a new build does not compile the same files alongside an earlier build's orphans; a
    CudaBuildError naming them at ``deadline`` (``time.monotonic()``)."""
    announced = False
    while pids := processes_in(directory):
        if time.monotonic() >= deadline:
            raise CudaBuildError(
                f"compilers {pids} still run in the build directory {directory} (an earlier, "
                "interrupted build's); wait for them or stop them, then retry. "
                f"{ENV_LOCK_TIMEOUT} sets the wait."
            )
        if not announced:
            print(f"bandlimit: waiting for compilers {pids} still running in {directory} "
                  "(an earlier, interrupted build's)", file=sys.stderr)  # fmt: skip
            announced = True
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.01)))


@contextlib.contextmanager
def build_lock(
    directory: Path, timeout: float | None = None, stale_after: float | None = None
) -> Iterator[Path]:
    """Hold ``directory/bandlimit.lock`` (see the module docstring); yields the lock path."""
    timeout = _env_seconds(ENV_LOCK_TIMEOUT, 900.0) if timeout is None else timeout
    stale_after = _env_seconds(ENV_LOCK_STALE, 3600.0) if stale_after is None else stale_after
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    deadline = time.monotonic() + timeout
    announced = False
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(),
                         "start": process_start(os.getpid())})  # fmt: skip
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if remove_if_stale(path, stale_after):
                print(f"bandlimit: removed a stale build lock {path}", file=sys.stderr)
                continue
            owner = lock_owner(path) or {}
            holder = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
            if time.monotonic() >= deadline:
                raise CudaBuildError(
                    f"timed out after {timeout:g} s waiting for the build lock {path} (held by "
                    f"{holder}): another process is building the bandlimit CUDA extension. If "
                    f"no build is running, delete {path}; {ENV_LOCK_TIMEOUT} sets the wait."
                ) from None
            if not announced:
                print(
                    f"bandlimit: waiting up to {timeout:g} s for the build lock {path} "
                    f"(held by {holder})",
                    file=sys.stderr,
                )
                announced = True
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0.01)))
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(record)
        break
    try:
        # Serialised by our lock, so anything still compiling here, or a torch `lock` file, is
        # left over from a build whose owner died or was interrupted.
        wait_for_leftover_compilers(directory, deadline)
        with contextlib.suppress(FileNotFoundError):
            (directory / TORCH_LOCK_NAME).unlink()
        yield path
    finally:
        if lock_owner(path) == json.loads(record):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# ------------------------------------------------------------------------------------------
# Build and load


def _compile(
    name: str, sources: list[Path], directory: Path, verbose: bool, *, cuda: bool, env=None,
    lib_dir: Path | None = None, sanitizer: str | None = None,
) -> ModuleType:
    from torch.utils import cpp_extension
    from torch.utils.cpp_extension import load

    # torch remembers every extension name it loaded in this process and then skips ninja: a
    # retry after a failed or interrupted build (or the corrupt-cache rebuild) must compile.
    versioner = getattr(cpp_extension, "JIT_EXTENSION_VERSIONER", None)
    if versioner is not None:
        versioner.entries.pop(name, None)
    old = {k: os.environ.get(k) for k in (env or {})}
    for k, v in (env or {}).items():  # None: unset for the build
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        kwargs: dict = dict(
            name=name,
            sources=[str(s) for s in sources],
            extra_include_paths=[str(CSRC)],
            build_directory=str(directory),
            verbose=verbose,
            with_cuda=cuda,
        )
        if cuda:
            kwargs["extra_cflags"] = list(CUDA_CFLAGS)
            if lib_dir is not None:  # cpp_extension guesses it from CUDA_HOME, often wrongly
                kwargs["extra_ldflags"] = [f"-L{lib_dir}"]
            kwargs["extra_cuda_cflags"] = list(CUDA_NVCC_FLAGS)
        else:
            # std::atomic_ref of the emulation needs C++20.
            kwargs["extra_cflags"] = ["-O2", "-std=c++20"]
            if sanitizer is not None:
                flags = [f"-fsanitize={sanitizer}", *SANITIZERS[sanitizer][1]]
                kwargs["extra_cflags"] = [*SANITIZER_CFLAGS, *flags]
                kwargs["extra_ldflags"] = flags
        return load(**kwargs)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _wipe(directory: Path) -> None:
    """Delete everything in a build directory except the lock files we hold."""
    for p in directory.iterdir():
        if p.name not in (LOCK_NAME, GUARD_NAME):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_complete_marker(directory: Path, library: Path) -> None:
    """Record a finished build: the library's file name (the directory may be copied or moved
    as a whole, e.g. into a container image), size and SHA-256."""
    record = {
        "time": time.time(), "library": library.name, "size": library.stat().st_size,
        "sha256": _file_sha256(library),
    }
    (directory / COMPLETE_NAME).write_text(json.dumps(record))


def intact_library(directory: Path) -> Path | None:
    """The library of a finished build in ``directory`` if it still has the size and hash its
    ``complete`` marker recorded, else None (no marker, a damaged library, or a marker from
    before size and hash were recorded: one rebuild)."""
    try:
        record = json.loads((directory / COMPLETE_NAME).read_text())
        library = directory / Path(record["library"]).name
        if library.stat().st_size != record["size"]:
            return None
        return library if _file_sha256(library) == record["sha256"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def library_intact(directory: Path) -> bool:
    """Whether ``directory`` holds a finished, undamaged build (see :func:`intact_library`)."""
    return intact_library(directory) is not None


def _import_library(name: str, library: Path) -> ModuleType:
    # What cpp_extension.load ends with, without ninja or the lock: a finished build in a
    # read-only cache (a shared install, a container image) loads as it is.
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, library)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {library} as module {name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Why the last finished build that was found did not import (library, error), for the error
# message when no toolkit is there to rebuild it.
prebuilt_failure: tuple[Path, str] | None = None


def finished_library(name: str, directory: Path) -> Path | None:
    """The library of module ``name`` if ``directory`` holds a finished, intact build of it."""
    library = intact_library(directory)
    return library if library is not None and library.name == f"{name}{LIBRARY_SUFFIX}" else None


def load_prebuilt(name: str, directory: Path) -> ModuleType | None:
    """The finished, intact build of module ``name`` in ``directory``, imported; None if there
    is none (or it does not load: then the locked path rebuilds it, and
    :data:`prebuilt_failure` says why)."""
    global prebuilt_failure
    library = finished_library(name, directory)
    if library is None:
        return None
    try:
        return _import_library(name, library)
    except ImportError as e:
        prebuilt_failure = (library, str(e))
        return None


def _build_locked(
    name: str, sources: list[Path], directory: Path, verbose: bool, *, cuda: bool, env=None,
    lib_dir: Path | None = None, sanitizer: str | None = None,
) -> ModuleType:
    prebuilt = load_prebuilt(name, directory)
    if prebuilt is not None:
        return prebuilt
    try:
        return _build_in(
            name, sources, directory, verbose, cuda=cuda, env=env, lib_dir=lib_dir,
            sanitizer=sanitizer,
        )
    except CudaBuildError:
        raise
    except (OSError, ValueError) as e:  # an unwritable cache, an arch list torch rejects, ...
        raise CudaBuildError(
            f"building the bandlimit extension in {directory} failed: {type(e).__name__}: {e}. "
            f"Check that the directory is writable (or set {ENV_CACHE} to one that is) and "
            "that TORCH_CUDA_ARCH_LIST holds versions like '9.0' or '8.6+PTX'"
        ) from e


def _build_in(
    name: str, sources: list[Path], directory: Path, verbose: bool, *, cuda: bool, env=None,
    lib_dir: Path | None = None, sanitizer: str | None = None,
) -> ModuleType:
    with build_lock(directory):
        marker = directory / COMPLETE_NAME
        if marker.exists() and not library_intact(directory):
            print(
                f"bandlimit: the cached library in {directory} does not match its build record "
                "(truncated or modified); rebuilding",
                file=sys.stderr,
            )
            _wipe(directory)
        elif not marker.exists() and any(directory.glob(f"*{LIBRARY_SUFFIX}")):
            # A library without the marker: an interrupted build. Start from scratch.
            _wipe(directory)
        if cuda and not marker.exists():
            # Minutes of silence on the first GPU call would look like a hang.
            print(
                f"bandlimit: compiling the CUDA extension into {directory} (a few minutes; "
                "once per version and GPU architecture)...",
                file=sys.stderr,
            )
        for attempt in (0, 1):
            try:
                mod = _compile(
                    name, sources, directory, verbose, cuda=cuda, env=env, lib_dir=lib_dir,
                    sanitizer=sanitizer,
                )
                write_complete_marker(directory, Path(cast(str, mod.__file__)))
                return mod
            except ImportError as e:  # built but does not load: a corrupt cache, rebuild once
                if attempt == 1:
                    raise CudaBuildError(
                        f"the bandlimit extension in {directory} was built but does not load "
                        f"({e}); delete that directory and retry"
                    ) from e
                _wipe(directory)
            except (RuntimeError, subprocess.CalledProcessError, OSError, ValueError) as e:
                log = directory / LOG_NAME
                text = str(e)
                out = getattr(e, "output", None)
                if out:
                    text += "\n" + (out.decode(errors="replace") if isinstance(out, bytes) else out)
                log.write_text(text)
                if "interrupted by user" in text:  # ninja stopped by a signal, not a compiler
                    raise CudaBuildInterrupted(
                        f"building the bandlimit extension in {directory} was interrupted "
                        f"(ninja: build stopped: interrupted by user); run it again (log: {log})"
                    ) from e
                lines = text.splitlines()
                causes = ("error:", "fatal", "not found", "no such file")
                first = next(
                    (ln for ln in lines if any(c in ln.lower() for c in causes)), None
                ) or next(
                    (ln for ln in lines if "error" in ln.lower()), text[:200]
                )
                advice = (
                    f"Check that the compiler (g++/nvcc) supports C++20 and that torch "
                    f"{torch.__version__} matches the CUDA toolkit; rerun `python -m "
                    f"bandlimit.ops.cuda build --verbose` to see the commands"
                    if cuda else
                    "Check that the host compiler (g++, $CXX) supports C++20 (the emulation "
                    "is the kernels compiled for the CPU, for the tests)"
                )  # fmt: skip
                raise CudaBuildError(
                    f"compiling the bandlimit {'CUDA' if cuda else 'emulation'} extension "
                    f"({', '.join(s.name for s in sources)}) in {directory} failed: "
                    f"{first.strip()}. Full log: {log}. {advice}"
                ) from e
    raise AssertionError("unreachable")


_module: ModuleType | None = None
_emulation: ModuleType | None = None


def build(verbose: bool = False) -> ModuleType:
    """Build (or load from the cache) the CUDA extension; raises :class:`CudaBuildError`."""
    global _module, prebuilt_failure
    if _module is None and torch.version.cuda is not None:
        # A build made ahead of time (`python -m bandlimit.ops.cuda build` in an image's build
        # stage) loads without the toolchain: a runtime image needs no nvcc or ninja. Without
        # TORCH_CUDA_ARCH_LIST, any finished build whose architectures cover the GPUs serves.
        prebuilt_failure = None
        for d in prebuilt_dirs():
            _module = load_prebuilt(module_name(), d)
            if _module is not None:
                break
    if _module is None:
        try:
            arches, nvcc = preflight()
        except CudaBuildError as e:
            if prebuilt_failure is None:
                raise
            library, why_not = prebuilt_failure
            raise CudaBuildError(
                f"{e}. (A finished build, {library}, is in the cache but does not load: "
                f"{why_not})"
            ) from None
        _module = _build_locked(
            module_name(), [CSRC / s for s in CUDA_SOURCES], build_dir(arches), verbose,
            cuda=True, env={"TORCH_CUDA_ARCH_LIST": arches}, lib_dir=cuda_lib_dir(nvcc),
        )
    return _module


def emulation_sanitizer() -> str | None:
    """``$BANDLIMIT_EMULATION_SANITIZER``: None, or a sanitizer of :data:`SANITIZERS`."""
    value = os.environ.get(ENV_SANITIZER, "").strip()
    if value in ("", "none"):
        return None
    if value not in SANITIZERS:
        raise ValueError(
            f"{ENV_SANITIZER}={value!r}: expected one of {sorted(SANITIZERS)} or unset"
        )
    return value


def sanitizer_preload(sanitizer: str) -> str | None:
    """What ``LD_PRELOAD`` must hold for ``sanitizer``'s build to load (the C++ compiler's
    runtime libraries), or None where the compiler has none."""
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        return None
    paths = []
    for lib in SANITIZERS[sanitizer][0]:
        try:
            found = subprocess.run(  # CXX may carry arguments ("ccache g++")
                [*shlex.split(cxx), f"-print-file-name={lib}.so"], capture_output=True,
                text=True, timeout=30,
            ).stdout.strip()
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
        path = Path(found)
        if not (path.is_absolute() and path.exists()):
            return None
        paths.append(str(path.resolve()))
    return ":".join(paths)


def _runtime_loaded(sanitizer: str) -> bool:
    try:
        return SANITIZERS[sanitizer][0][0] in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def emulation_dir(sanitizer: str | None = None) -> Path:
    if sanitizer is None:
        return cache_root() / "emulate" / f"{source_hash()}-{_runtime_tag()}"
    # The checking builds' flags live here, not in csrc/: they key the cache as well.
    flags = hashlib.sha256(repr((SANITIZER_CFLAGS, SANITIZERS[sanitizer])).encode()).hexdigest()[:6]
    return cache_root() / f"emulate-{sanitizer}" / f"{source_hash()}-{flags}-{_runtime_tag()}"


def load_emulation(verbose: bool = False) -> ModuleType:
    """The CPU emulation build of the same kernel sources (tests only; no CUDA needed).

    ``BANDLIMIT_EMULATION_SANITIZER`` selects a checking build: 'thread' (ThreadSanitizer, two
    blocks running at a time: data races) or 'address' (AddressSanitizer and UBSan: reads and
    writes out of bounds of a tensor or of the shared memory's guards, undefined behaviour such
    as signed overflow in index arithmetic). Such a library loads only into a
    process started with the sanitizer's runtime preloaded
    (:func:`sanitizer_preload`, e.g. ``LD_PRELOAD=$(c++ -print-file-name=libtsan.so)``);
    ``tests/ops/test_cuda_sanitizers.py`` runs the emulation tests that way.
    """
    global _emulation
    if _emulation is None:
        sanitizer = emulation_sanitizer()
        if sanitizer is not None and not _runtime_loaded(sanitizer):
            libs = ":".join(lib + ".so" for lib in SANITIZERS[sanitizer][0])
            raise CudaBuildError(
                f"{ENV_SANITIZER}={sanitizer} needs the sanitizer's runtime loaded first: start "
                f"Python with LD_PRELOAD={sanitizer_preload(sanitizer) or libs}"
            )
        suffix = "" if sanitizer is None else f"{sanitizer}_"
        _emulation = _build_locked(
            f"bandlimit_cuda_emu_{suffix}{source_hash()}",
            [CSRC / s for s in EMULATION_SOURCES], emulation_dir(sanitizer), verbose, cuda=False,
            sanitizer=sanitizer,
            # The compiler must not run with the sanitizer's runtime preloaded (it fails so).
            env=None if sanitizer is None else {"LD_PRELOAD": None},
        )
    return _emulation
