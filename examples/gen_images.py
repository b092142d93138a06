r"""Generate images with a StyleGAN3 generator built on bandlimit.

Reads a bandlimit checkpoint (:func:`afgan.legacy.save_checkpoint`, or any ``torch.save`` of
``{'init_kwargs', 'state_dict'}``), a training run directory (its latest checkpoint) or an
official StyleGAN3 network pickle (read without NVIDIA's code by
:func:`afgan.legacy.load_network_pkl`), and writes one PNG per seed. As the official tool does:
:math:`z` is ``numpy.random.RandomState(seed).randn(1, z_dim)``, the user transform
:math:`m = [[\cos\theta, \sin\theta, t_x], [-\sin\theta, \cos\theta, t_y], [0, 0, 1]]` is stored
*inverted* in ``G.synthesis.input.transform``, and images are ``clamp(x · 127.5 + 128, 0, 255)``
as uint8.

Example::

    python examples/gen_images.py --network ckpt.pt --seeds 0-3,10 --trunc 0.7 \
        --translate 0.1,0 --rotate 15 --outdir out/
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import re
import struct
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/gen_images.py`

from afgan.cli import fail, write_replacing
from afgan.legacy import load_network
from afgan.networks import Generator

__all__ = [
    "MAX_SEEDS",
    "SEED_MAX",
    "arg_type",
    "check_class_arg",
    "class_label",
    "finite_float",
    "float32_float",
    "generate_images",
    "generator_for_cli",
    "int_at_least",
    "load_generator",
    "main",
    "make_parent",
    "make_transform",
    "nonfinite_message",
    "parse_range",
    "parse_vec2",
    "write_png",
    "write_replacing",
]

SEED_MAX = 2**32 - 1  # numpy.random.RandomState accepts seeds in [0, 2**32 - 1]
MAX_SEEDS = 1_000_000  # one call's seed list (a typo like 0-4294967295 would not end)

_T = TypeVar("_T")


def parse_range(text: str) -> list[int]:
    """``'1,3-5,8'`` → ``[1, 3, 4, 5, 8]`` (inclusive ranges of seeds in ``[0, SEED_MAX]``)."""
    out: list[int] = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ValueError(
                f"seeds must be non-negative integers and ranges like '0-7,12', got {text!r}"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ValueError(
                f"seed range {part.strip()!r} in {text!r} must be increasing, like '0-7,12'"
            )
        if hi > SEED_MAX:
            raise ValueError(f"seeds must be in [0, 2**32 - 1] (numpy's limit), got {hi}")
        if len(out) + hi - lo + 1 > MAX_SEEDS:
            raise ValueError(f"at most {MAX_SEEDS:,} seeds per call, got more in {text!r}")
        out.extend(range(lo, hi + 1))
    return out


FLOAT32_MAX = float(np.finfo(np.float32).max)  # the generator computes in float32


def parse_vec2(text: str) -> tuple[float, float]:
    """``'0.1,-0.2'`` → ``(0.1, -0.2)`` (finite numbers that fit float32 only)."""
    try:
        vec = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        vec = ()
    if len(vec) != 2 or not all(math.isfinite(v) for v in vec):
        raise ValueError(f"a 2-vector must look like 'x,y' with finite numbers, got {text!r}")
    if not all(abs(v) <= FLOAT32_MAX for v in vec):  # inf in float32: a blank image
        raise ValueError(
            f"numbers must be at most {FLOAT32_MAX:.4g} in magnitude (float32), got {text!r}"
        )
    return vec[0], vec[1]


def finite_float(text: str) -> float:
    """A float that is not NaN or ±inf (those render blank or garbage images without a word)."""
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {text!r}")
    return v


def float32_float(text: str) -> float:
    """A :func:`finite_float` that fits float32 (a larger one is inf in the generator)."""
    v = finite_float(text)
    if abs(v) > FLOAT32_MAX:
        raise ValueError(f"must be at most {FLOAT32_MAX:.4g} in magnitude (float32), got {text!r}")
    return v


def nonfinite_message(
    G: torch.nn.Module, what: str, truncation_psi: float = 1.0, **options: object
) -> str:
    """Why ``G``'s output for ``what`` is not finite, as one line naming the likely cause.

    ``options`` are the command line's values that shape the output (``translate=(1e38, 0)``
    is named ``--translate 1e+38,0``); those at their defaults should be left out.
    """
    mapping = getattr(G, "mapping", None)
    w_avg = getattr(mapping, "w_avg", None)
    bad = [
        name
        for name, t in (*G.named_parameters(), *G.named_buffers())
        if t.is_floating_point() and not name.endswith("input.transform")
        and not bool(torch.isfinite(t).all())
    ]  # fmt: skip
    if truncation_psi != 1 and w_avg is not None and not bool(torch.isfinite(w_avg).all()):
        cause = (
            f"the network's w_avg (the average latent --trunc {truncation_psi:g} pulls towards) "
            "is not finite: use --trunc 1, or another checkpoint"
        )
    elif bad:
        cause = f"the network holds non-finite values ({bad[0]}{', ...' if bad[1:] else ''})"
    else:

        def show(v: object) -> str:
            return ",".join(f"{x:g}" for x in v) if isinstance(v, tuple) else f"{v:g}"

        flags = {f"--{k.replace('_', '-')}": show(v) for k, v in options.items()}
        if truncation_psi != 1:
            flags = {"--trunc": f"{truncation_psi:g}", **flags}
        cause = (
            "likely too large: " + ", ".join(f"{k} {v}" for k, v in flags.items())
            if flags else "the network's activations overflowed"
        )  # fmt: skip
    return f"the generator's output for {what} is not finite (NaN or inf), not written: {cause}"


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= lo``."""

    def parse(text: str) -> int:
        v = int(text)
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text!r}")
        return v

    parse.__name__ = "int"  # argparse's "invalid int value: 'x'" for non-integers
    return parse


def arg_type(parse: Callable[[str], _T]) -> Callable[[str], _T]:
    """``parse`` as an argparse ``type`` that reports its ValueError message.

    (argparse shows only ``invalid <name> value: '...'`` for a plain ValueError.)
    """

    def wrapped(text: str) -> _T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    wrapped.__name__ = parse.__name__
    return wrapped


def make_parent(path: Path, flag: str) -> None:
    """Create ``path``'s directory, or :func:`fail` naming ``flag`` (e.g. a file in the way)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{flag}: cannot create {str(path.parent)!r}: {exc.strerror or exc}")


def load_generator(network: str | os.PathLike[str]) -> Generator:
    """``G_ema`` (else ``G``) from a ``--network`` argument.

    Parameters
    ----------
    network : str or path
        A bandlimit checkpoint, an official network pickle, or a training run directory (its
        latest ``checkpoint-*.pt``).

    Raises
    ------
    ValueError
        A one-line reason naming ``--network`` when there is no such file, the directory holds
        no checkpoint, or the file is not a readable network.
    """
    path = Path(network)
    if path.is_dir():  # a training run directory: its latest checkpoint
        from afgan.training import find_latest_checkpoint  # lazy: the trainer's imports

        latest = find_latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"--network {str(path)!r} is a directory with no checkpoint-*.pt")
        path = latest
    elif not path.exists():
        raise ValueError(f"--network {str(path)!r} does not exist")
    try:
        nets = load_network(path)
    except (OSError, EOFError, RuntimeError, ValueError, TypeError, pickle.UnpicklingError) as exc:
        # Unreadable, truncated, or not a network: torch.load and the unpickler say why, torch's
        # weights_only refusal in a paragraph whose reason is its "WeightsUnpickler error" line.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        why = next(
            (x for x in lines if x.startswith("WeightsUnpickler")), lines[0] if lines else ""
        )
        if why.endswith(":") and why in lines:  # a heading ("Error(s) in loading state_dict
            # for Generator:"): the lines under it are the reason
            i = lines.index(why)
            why = " ".join([why, *lines[i + 1 : i + 4]])
        raise ValueError(
            f"--network {str(path)!r} is not a readable network: {why or type(exc).__name__}"
        ) from None
    G = nets.get("G_ema") if nets.get("G_ema") is not None else nets.get("G")
    if not isinstance(G, Generator):
        raise ValueError(f"--network {str(path)!r} holds no generator (G_ema or G)")
    return G


def make_transform(translate: Sequence[float], angle_degrees: float) -> np.ndarray:
    r"""The official tool's user transform (before inversion), float64 ``[3, 3]``.

    :math:`[[\cos\theta, \sin\theta, t_x], [-\sin\theta, \cos\theta, t_y], [0, 0, 1]]`, with
    :math:`\theta` in degrees and :math:`t` in canvas units (the image is one unit wide).
    """
    tx, ty = (float(t) for t in translate)
    a = np.deg2rad(float(angle_degrees))
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]])


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    # [B, C, H, W] in ≈[-1, 1] → [B, H, W, C] uint8.
    x = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.cpu().numpy()


def class_label(
    G: torch.nn.Module, class_idx: int | None, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """The one-hot ``[1, c_dim]`` label of ``class_idx`` (``[1, 0]`` for an unconditional G).

    Raises
    ------
    ValueError
        A conditional generator (``c_dim > 0``) without a ``class_idx`` in ``[0, c_dim)``.
    """
    label = torch.zeros([1, G.c_dim], device=device)
    if G.c_dim > 0:
        if class_idx is None or not 0 <= int(class_idx) < G.c_dim:
            raise ValueError(
                f"class_idx must be in [0, {G.c_dim}) for a conditional generator, "
                f"got {class_idx!r}"
            )
        label[:, int(class_idx)] = 1
    return label


def check_class_arg(G: torch.nn.Module, class_idx: int | None) -> None:
    """``--class`` against the network: required and in range when it is conditional."""
    if G.c_dim > 0 and class_idx is None:
        fail(f"the network is conditional ({G.c_dim} classes): give --class N, 0 <= N < {G.c_dim}")
    if G.c_dim > 0 and not 0 <= class_idx < G.c_dim:
        fail(f"--class must be in [0, {G.c_dim}) ({G.c_dim} classes), got {class_idx}")
    if G.c_dim == 0 and class_idx is not None:  # as the official tool: ignored, but said
        print("warning: --class ignored: the network is unconditional", file=sys.stderr)


def generator_for_cli(network: str, device: str, class_idx: int | None) -> Generator:
    """``--network`` loaded after checking ``--device`` and, against it, ``--class``; any
    problem is one error line (:func:`fail`)."""
    from afgan.training import check_device  # lazy: the trainer's imports

    try:
        check_device(device)
        G = load_generator(network)
    except ValueError as exc:
        fail(str(exc))
    check_class_arg(G, class_idx)
    return G


def iter_images(
    G: Generator,
    seeds: Sequence[int],
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    translate: Sequence[float] = (0.0, 0.0),
    rotate: float = 0.0,
    device: str | torch.device = "cpu",
) -> Iterator[tuple[int, np.ndarray]]:
    """``(seed, image [H, W, C] uint8)`` for each seed as it is generated (a caller that writes
    each one keeps what was made if it is stopped, and holds one image at a time).

    Parameters
    ----------
    G : Generator
        Any generator with ``z_dim``, ``c_dim``, ``mapping``/``synthesis`` and (optionally)
        ``synthesis.input.transform``.
    seeds : sequence of int
    truncation_psi, truncation_cutoff : float, int or None
    class_idx : int or None
        Required for a conditional generator (``c_dim > 0``).
    translate : (float, float)
        Canvas units.
    rotate : float
        Degrees.
    device : str or torch.device

    Raises
    ------
    ValueError
        When an image is not finite (NaN or inf), naming the likely cause
        (:func:`nonfinite_message`), instead of yielding a black image.
    """
    G = G.to(device)
    label = class_label(G, class_idx, device)
    # The caller's generator is left as it was (its transform buffer and train/eval mode: every
    # later G(z, c) was silently translated and rotated), once the iteration ends or is closed.
    was_training = G.training
    transform = G.synthesis.input.transform if hasattr(G.synthesis, "input") else None
    saved = None if transform is None else transform.clone()
    try:
        G.eval()
        if transform is not None:
            transform.copy_(torch.from_numpy(np.linalg.inv(make_transform(translate, rotate))))
        for seed in seeds:
            z = torch.from_numpy(np.random.RandomState(int(seed)).randn(1, G.z_dim)).to(device)
            with torch.no_grad():
                img = G(z, label, truncation_psi=truncation_psi,
                        truncation_cutoff=truncation_cutoff)  # fmt: skip
            if not bool(torch.isfinite(img).all()):  # would be a black (or garbage) image
                moved = tuple(translate) != (0, 0)  # (a rotation cannot overflow)
                options = {"translate": tuple(translate)} if moved else {}
                raise ValueError(nonfinite_message(G, f"seed {seed}", truncation_psi, **options))
            yield int(seed), _to_uint8(img)[0]
    finally:
        if transform is not None and saved is not None:
            transform.copy_(saved)
        G.train(was_training)


def generate_images(
    G: Generator, seeds: Sequence[int], **kwargs: Any
) -> list[tuple[int, np.ndarray]]:
    """The images of :func:`iter_images` (same arguments) as a list."""
    return list(iter_images(G, seeds, **kwargs))


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write an ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]`` uint8 array as an 8-bit PNG."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3)):
        raise ValueError(
            f"image must be uint8 [H, W], [H, W, 1] or [H, W, 3], got {a.dtype} {a.shape}"
        )
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    h, w = a.shape[:2]
    color_type = 2 if a.ndim == 3 else 0
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(a))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6))
    png += chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Command-line entry point; returns the written paths."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--network", required=True, help="checkpoint, run directory or official .pkl")
    p.add_argument("--seeds", required=True, type=arg_type(parse_range), help="e.g. 0-7,12")
    p.add_argument("--trunc", dest="truncation_psi", type=arg_type(float32_float), default=1.0)
    p.add_argument("--trunc-cutoff", dest="truncation_cutoff", type=int_at_least(0), default=None)
    p.add_argument("--class", dest="class_idx", type=int, default=None)
    p.add_argument(
        "--translate", type=arg_type(parse_vec2), default=(0.0, 0.0),
        help="x,y canvas units (a negative x needs '=': --translate=-0.1,0)",
    )  # fmt: skip
    p.add_argument("--rotate", type=arg_type(finite_float), default=0.0, help="degrees")
    # (the official tool's option: accepted so that its command lines run; these generators
    # have no noise inputs, so every mode gives the same images)
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                   help="accepted for the official command lines; no effect (no noise inputs)")
    p.add_argument(
        "--outdir", required=True, type=Path,
        help="where seedNNNN.png go (an existing file of that name is replaced)",
    )  # fmt: skip
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)

    G = generator_for_cli(args.network, args.device, args.class_idx)
    if args.outdir.exists() and not args.outdir.is_dir():
        fail(f"--outdir {str(args.outdir)!r} is a file, not a directory")
    make_parent(args.outdir / "x", "--outdir")
    written = []
    images = iter_images(
        G,
        args.seeds,
        truncation_psi=args.truncation_psi,
        truncation_cutoff=args.truncation_cutoff,
        class_idx=args.class_idx,
        translate=args.translate,
        rotate=args.rotate,
        device=args.device,
    )
    while True:
        try:
            seed, img = next(images)
        except StopIteration:
            break
        except ValueError as exc:  # a non-finite image: not written
            fail(str(exc))
        path = args.outdir / f"seed{seed:04d}.png"
        try:
            write_replacing(path, lambda tmp, img=img: write_png(tmp, img))
        except OSError as exc:  # a full disk, a read-only directory
            fail(f"cannot write {str(path)!r}: {exc.strerror or exc}")
        written.append(path)
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
