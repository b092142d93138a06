r"""Training data for the Alias-Free GAN example: embedded procedural shapes, image folders/zips.

Both datasets return ``(image, label)`` with ``image`` a uint8 ``[C, R, R]`` numpy array and
``label`` a float32 ``[c_dim]`` array (``c_dim = 0`` when unlabelled); the trainer maps images to
``uint8 / 127.5 − 1``.

:class:`ShapesDataset` (the default, no download)
    Image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``: a smooth background (a
    linear gradient between two random colours in a random direction) and ``max_shapes`` (default
    1) random shapes (disc, rotated square or rotated triangle; with ``max_shapes > 1`` a random
    count from 1 to it) with random colours, positions and sizes. Edges are
    anti-aliased analytically: a pixel's coverage is :math:`\mathrm{clip}(1/2 - d\,R, 0, 1)` for
    the signed distance :math:`d` (canvas units, the image is 1 wide) of its centre to the
    shape's boundary. Any resolution; the same index gives the same picture at every resolution.
:class:`ImageFolderDataset`
    A folder (searched recursively) or a ``.zip`` of PNG/JPEG files, all square with the same
    size, RGB or greyscale; optional ``dataset.json`` ``{"labels": [[relative_path, label],
    ...]}`` (an int class → one-hot, or a list of floats), the StyleGAN dataset format; the rules
    are in :func:`parse_labels`. Problems raise :class:`DatasetError` with a one-line message
    naming the first bad file (and the bad ``dataset.json`` entry), at construction: every file is
    checked for truncation there (cheaply, without decoding most of them), and an image that
    still fails to decode later raises :class:`DatasetError` naming it, also from a loader's
    worker processes.

:class:`StepBatchSampler` fixes the data order as a function of the *global step* alone: sample
``k = step·batch + j`` of the global stream is ``perm_e[k mod N]`` with ``e = k div N`` and
``perm_e`` a permutation seeded by ``(seed, e)``; rank ``r`` of ``W`` takes the ``r``-th slice of
each global batch. Resuming at a step reproduces the data order exactly, for any worker count.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "ALPHA_BACKGROUNDS",
    "IMAGE_EXTENSIONS",
    "MAX_CLASSES",
    "DatasetError",
    "ImageFolderDataset",
    "ShapesDataset",
    "StepBatchSampler",
    "has_alpha",
    "make_loader",
    "one_line",
    "open_dataset",
    "parse_labels",
    "render_shapes",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_CLASSES = 1 << 16  # class ids beyond this are ids from another numbering (e.g. WordNet)


class DatasetError(ValueError):
    """A dataset that cannot be used for training (message: one line, naming the culprit)."""


def one_line(exc: BaseException) -> str:
    """``exc``'s message for a one-line report: its first line, or its type's name (without
    the reprs of in-memory files that PIL's messages carry: the caller names the file)."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r" ?<_io\.BytesIO object at 0x[0-9a-f]+>", "", line)


# ---------------------------------------------------------------------------------------------
# Embedded procedural dataset.


def _polygon_sdf(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    # Convex polygon, counter-clockwise vertices: max over edges of the signed distance to the
    # edge's line (exact inside and along edges; slightly rounded outside corners, which only
    # matters beyond the one-pixel anti-aliasing band).
    d = np.full(px.shape, -np.inf)
    for k in range(len(verts)):
        x0, y0 = verts[k]
        x1, y1 = verts[(k + 1) % len(verts)]
        ex, ey = x1 - x0, y1 - y0
        n = np.hypot(ex, ey)
        # Outward normal of a CCW edge (in x-right, y-down image coordinates: (ey, -ex)).
        d = np.maximum(d, ((px - x0) * ey - (py - y0) * ex) / n)
    return d


def render_shapes(index: int, resolution: int, seed: int = 0, max_shapes: int = 1) -> np.ndarray:
    """Image ``index`` of the embedded dataset, uint8 ``[3, resolution, resolution]``."""
    rng = np.random.default_rng([int(seed), int(index)])
    r = int(resolution)
    c = (np.arange(r) + 0.5) / r
    px, py = np.meshgrid(c, c)  # [y, x]
    # Smooth background: linear gradient between two colours.
    c0, c1 = rng.uniform(0.05, 0.95, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    t = (px - 0.5) * np.cos(angle) + (py - 0.5) * np.sin(angle)
    t = np.clip(t / 1.2 + 0.5, 0, 1)[..., None]
    img = c0 * (1 - t) + c1 * t
    for _ in range(rng.integers(1, max_shapes + 1)):
        kind = rng.integers(0, 3)
        colour = rng.uniform(0, 1, size=3)
        size = rng.uniform(0.15, 0.3)
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        rot = rng.uniform(0, 2 * np.pi)
        if kind == 0:
            sdf = np.hypot(px - cx, py - cy) - size
        else:
            n = 4 if kind == 1 else 3
            a = rot + 2 * np.pi * np.arange(n) / n
            verts = np.stack([cx + size * 1.2 * np.cos(a), cy + size * 1.2 * np.sin(a)], axis=1)
            sdf = _polygon_sdf(px, py, verts)
        cover = np.clip(0.5 - sdf * r, 0, 1)[..., None]
        img = img * (1 - cover) + colour * cover
    return np.rint(img.transpose(2, 0, 1) * 255).clip(0, 255).astype(np.uint8)


class ShapesDataset(torch.utils.data.Dataset):
    """Embedded procedural dataset (see the module docstring).

    Parameters
    ----------
    resolution : int ≥ 4
    size : int
        Number of distinct images (an epoch).
    seed : int
    mirror : bool
        Double the dataset with horizontally flipped copies (indices ``size … 2·size−1``).
    """

    def __init__(
        self, resolution: int, size: int = 50_000, seed: int = 0, mirror=False, max_shapes: int = 1
    ):
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 4:
            raise DatasetError(f"resolution must be an int >= 4, got {resolution!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise DatasetError(f"size must be an int >= 1, got {size!r}")
        if isinstance(max_shapes, bool) or not isinstance(max_shapes, int) or max_shapes < 1:
            raise DatasetError(f"max_shapes must be an int >= 1, got {max_shapes!r}")
        self.max_shapes = max_shapes
        self.resolution = resolution
        self.num_channels = 3
        self.raw_size = size
        self.seed = int(seed)
        self.mirror = bool(mirror)
        self.label_dim = 0
        self.name = f"shapes{resolution}"

    def __len__(self) -> int:
        return self.raw_size * (2 if self.mirror else 1)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        raw = int(idx) % self.raw_size
        img = render_shapes(raw, self.resolution, self.seed, self.max_shapes)
        if idx >= self.raw_size:
            img = img[:, :, ::-1].copy()
        return img, np.zeros([0], np.float32)

    def get_label(self, idx: int) -> np.ndarray:
        """The label of item ``idx`` without rendering it (the shapes have none)."""
        return np.zeros([0], np.float32)

    def transparency_note(self) -> None:
        """None: rendered images have no transparency (the folder dataset's can)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"kind": "embedded-shapes", "resolution": self.resolution, "size": self.raw_size,
                "seed": self.seed, "mirror": self.mirror,
                "max_shapes": self.max_shapes}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Folder / zip datasets.


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow ships with matplotlib
        raise DatasetError("reading image datasets needs Pillow (pip install pillow)") from exc
    return Image


ALPHA_BACKGROUNDS = {"black": 0, "white": 255}


def has_alpha(im: Any) -> bool:
    """Whether a PIL image has transparency: an alpha band or a transparent colour."""
    return "A" in im.getbands() or "a" in im.getbands() or "transparency" in im.info


def to_uint8(im: Any, channels: int, background: str | None = None) -> np.ndarray:
    """A PIL image as uint8 ``[H, W]`` (channels 1) or ``[H, W, 3]``. 16-bit greyscale
    (modes I;16*, I) is scaled by 255/65535; PIL's own ``convert('L')`` would clip it.

    ``background`` ('black' or 'white') composites a transparent image over that colour;
    None drops the transparency, so transparent pixels keep the colour stored under them
    (what StyleGAN's dataset tool does)."""
    if im.mode.startswith("I;16") or im.mode == "I":
        raw = np.asarray(im)
        a = raw.astype(np.float64) * (255 / 65535)
        scaled = _pil().fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))
        if "transparency" in im.info:  # a transparent grey level: an 8-bit mask of it, kept
            mask = np.where(raw == im.info["transparency"], 0, 255).astype(np.uint8)
            scaled = _pil().merge("LA", (scaled, _pil().fromarray(mask)))
        im = scaled
    if background is not None and has_alpha(im):
        rgba = im.convert("RGBA")
        canvas = _pil().new("RGBA", rgba.size, (ALPHA_BACKGROUNDS[background],) * 3 + (255,))
        im = _pil().alpha_composite(canvas, rgba)
    return np.asarray(im.convert("RGB" if channels == 3 else "L"), dtype=np.uint8)


def _check_complete(im: Any, data: bytes) -> None:
    # A file cut short passes Image.open (it reads the header only) and would fail mid-training.
    # PNG: verify() walks every chunk and its CRC without inflating (≈ free); it catches any cut
    # that breaks decoding, and bit rot; when it fails, a full decode decides (a lost end chunk
    # or a bad checksum in a chunk the decoder skips leaves the pixels intact). JPEG: a complete
    # file ends with the end-of-image marker (entropy-coded data cannot contain it); without it
    # at the very end (cut short, or a
    # trailer some cameras append), decoding at 1/8 scale reads the whole stream and decides.
    # MPO: a phone's .jpg holding several JPEGs (PIL's JPEG reader, ending with the last's marker).
    jpeg = im.format in ("JPEG", "MPO")
    if im.format == "PNG":
        try:
            im.verify()
        except Exception:  # e.g. a bad checksum in a chunk the decoder skips:
            with _pil().open(io.BytesIO(data)) as again:  # what decodes is usable
                again.load()
    elif not (jpeg and data.endswith(b"\xff\xd9")):
        if jpeg:
            im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()


def _show(value: Any) -> str:
    # A label value as the user wrote it in JSON (true, null, NaN), shortened.
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _label_problem(value: Any) -> str | None:
    # Why ``value`` is not a dataset.json label (None: it is one). See parse_labels.
    if isinstance(value, bool):  # before int: True is an int in Python
        return f"label {_show(value)} is a boolean, not a class id or a list of numbers"
    if isinstance(value, int):
        if value < 0:
            return f"class id {value} is negative"
        if value >= MAX_CLASSES:
            return f"class id {value} is over {MAX_CLASSES - 1} (number the classes from 0)"
        return None
    if isinstance(value, float):
        if value < 0:
            return f"class id {_show(value)} is negative"
        return f"label {_show(value)} is not an int class id (a vector label is a list)"
    if not isinstance(value, list):
        return f"label {_show(value)} is not an int class id or a list of numbers"
    if not value:
        return "label [] is empty"
    for k, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            return f"label {_show(value)}: element {k} ({_show(x)}) is not a number"
        try:  # NaN/Infinity parse as JSON; numbers beyond float32 would become inf
            finite = abs(float(x)) <= float(np.finfo(np.float32).max)
        except OverflowError:  # an int beyond float64
            finite = False
        if not finite:
            return f"label {_show(value)}: element {k} ({_show(x)}) is not a finite float32"
    return None


def parse_labels(
    raw: bytes | str, files: Sequence[str], where: str
) -> list[int] | list[list[float]] | None:
    """The labels of ``files`` (in that order) from a ``dataset.json``, or None if unlabelled.

    The StyleGAN format (whose official dataset_tool writes int class ids or null):

    - a JSON object; without a ``"labels"`` key, or with ``"labels": null``, unlabelled;
    - ``"labels"`` is a list of ``[path, label]`` pairs, ``path`` relative to the dataset root
      with ``/`` (``\\`` is read as ``/``); every image has exactly one entry; entries for
      files that are not in the dataset are ignored, as StyleGAN does (a curated copy of a
      dataset keeps its json);
    - either every ``label`` is an int class id ``0 ≤ id < MAX_CLASSES`` (used one-hot, width
      ``max id + 1``; an integral float such as ``1.0`` counts as the int), or every ``label``
      is a non-empty list of finite numbers, all of one length (a float32 vector). Rejected:
      booleans, null, strings, objects, nested lists, NaN/Infinity, fractional class ids
      (``0.5``; a vector label is ``[0.5]``).

    Parameters
    ----------
    raw : bytes or str
        The ``dataset.json`` contents.
    files : sequence of str
        The dataset's images, relative paths with ``/``.
    where : str
        How to name ``dataset.json`` in messages.

    Raises
    ------
    DatasetError
        One line naming ``where`` and, for a bad entry, its index and path.
    """
    try:
        doc = json.loads(raw)
    except ValueError as exc:  # also bad UTF-8
        raise DatasetError(f"{where}: not valid JSON ({one_line(exc)})") from None
    if not isinstance(doc, dict):
        raise DatasetError(
            f'{where}: expected a JSON object {{"labels": [["path", label], ...]}}, got '
            f"{type(doc).__name__}"
        )
    table = doc.get("labels")
    if table is None:
        return None
    if not isinstance(table, list):
        raise DatasetError(
            f'{where}: "labels" must be a list of ["path", label] pairs or null, got '
            f"{type(table).__name__}"
        )
    wanted = set(files)
    seen: dict[str, int] = {}  # path → its entry's index
    for i, entry in enumerate(table):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise DatasetError(f'{where}: labels[{i}] is {_show(entry)}, expected ["path", label]')
        path, value = entry[0].replace("\\", "/"), entry[1]
        if path not in wanted:
            continue  # a file this copy of the dataset does not hold
        if isinstance(value, float) and value.is_integer() and value >= 0:
            value = entry[1] = int(value)  # JSON writers that print every number as a float
        culprit = f"{where}: labels[{i}] ({path!r})"
        if path in seen:
            raise DatasetError(f"{culprit}: listed twice (also labels[{seen[path]}])")
        problem = _label_problem(value)
        first = min(seen.values(), default=i)  # the reference entry, checked already
        ref = table[first][1]
        kind = ("a list", "a class id")
        if problem is None and isinstance(value, int) != isinstance(ref, int):
            problem = (
                f"label {_show(value)} is {kind[isinstance(value, int)]} but labels[{first}] "
                f"is {kind[isinstance(ref, int)]} ({_show(ref)})"
            )
        elif problem is None and isinstance(value, list) and len(value) != len(ref):
            problem = f"label has {len(value)} numbers, labels[{first}] has {len(ref)}"
        if problem is not None:
            raise DatasetError(f"{culprit}: {problem}")
        seen[path] = i
    missing = [f for f in files if f not in seen]
    if missing:
        raise DatasetError(
            f"{where}: no label for {missing[0]!r} ({len(missing)} of {len(files)} images have "
            "none)"
        )
    return [table[seen[f]][1] for f in files]


class ImageFolderDataset(torch.utils.data.Dataset):
    """Square PNG/JPEG images from a folder or a zip (see the module docstring).

    Every file is read at construction to validate the whole dataset up front: its header, and
    whether it is complete (a PNG's chunk checksums, or a full decode when they fail; a JPEG's
    end marker, or a decode at 1/8 scale without it), cheap next to the reading (2000 PNGs of
    256²: +15 ms). A file that still fails
    to decode (corrupt inside, or changed since) raises :class:`DatasetError` naming it when it
    is loaded.

    Parameters
    ----------
    path : str or Path
        A directory or a ``.zip`` file.
    resolution : int or None
        Required image size (None: whatever the files have, as long as they agree).
    mirror : bool
    use_labels : bool
        Read ``dataset.json`` labels when present.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        resolution: int | None = None,
        mirror: bool = False,
        use_labels: bool = True,
    ) -> None:
        self.path = Path(path)
        self.mirror = bool(mirror)
        if not self.path.exists():
            raise DatasetError(f"--data {str(self.path)!r} does not exist")
        if self.path.is_dir():
            self._kind = "dir"
            names = sorted(
                p.relative_to(self.path).as_posix()
                for p in self.path.rglob("*")
                if p.is_file()
            )
        elif zipfile.is_zipfile(self.path):
            self._kind = "zip"
            with zipfile.ZipFile(self.path) as z:
                names = sorted(n for n in z.namelist() if not n.endswith("/"))
        else:
            raise DatasetError(
                f"--data {str(self.path)!r} must be a directory or a .zip of PNG/JPEG images"
            )
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None  # the process that opened _zip
        self.files = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
        if not self.files:
            raise DatasetError(
                f"--data {str(self.path)!r} contains no PNG/JPEG images ({len(names)} other files)"
            )
        Image = _pil()
        size = None
        channels = set()
        self.transparent: list[str] = []  # files whose transparency is dropped (see to_uint8)
        for name in self.files:
            try:
                data = self._read(name)
                with Image.open(io.BytesIO(data)) as im:
                    w, h, mode = im.width, im.height, im.mode
                    if has_alpha(im):
                        self.transparent.append(name)
                    _check_complete(im, data)
            except Exception as exc:
                raise DatasetError(
                    f"{self._where(name)}: not a readable image ({one_line(exc)})"
                ) from None
            if w != h:
                raise DatasetError(f"{self._where(name)}: image is {w}x{h}, expected square images")
            want = resolution if resolution is not None else size
            if want is not None and w != want:
                raise DatasetError(
                    f"{self._where(name)}: image is {w}x{h}, expected {want}x{want} like "
                    f"{'--resolution' if resolution is not None else repr(self.files[0])}"
                )
            size = w
            grey = mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;16")
            channels.add(1 if grey else 3)
        assert size is not None
        if size < 8 or size & (size - 1):
            raise DatasetError(
                f"{self._where(self.files[0])}: images are {size}x{size}, expected a power of two "
                ">= 8"
            )
        self.resolution = size
        self.num_channels = 3 if 3 in channels else 1
        self.labels = self._load_labels() if use_labels else None
        self.label_dim = 0 if self.labels is None else self.labels.shape[1]
        self.name = self.path.stem

    def transparency_note(self) -> str | None:
        """One line saying which images' transparency training drops, or None."""
        if not self.transparent:
            return None
        n = len(self.transparent)
        return (
            f"note: {n} image{'s' if n > 1 else ''} of {str(self.path)!r} "
            f"{'have' if n > 1 else 'has'} transparency (first: {self.transparent[0]}); it is "
            "dropped, so transparent pixels keep the colour stored under them (dataset_tool.py "
            "--alpha white|black composites them over a background instead)"
        )

    def _where(self, name: str) -> str:
        return f"{self.path}{'!' if self._kind == 'zip' else os.sep}{name}"

    def _read(self, name: str) -> bytes:
        if self._kind == "dir":
            return (self.path / name).read_bytes()
        # One handle per process: a forked DataLoader worker inherits the parent's, whose file
        # position the processes share, so their reads interleave ("Bad magic number").
        if self._zip is None or self._zip_pid != os.getpid():
            self._zip = zipfile.ZipFile(self.path)
            self._zip_pid = os.getpid()
        return self._zip.read(name)

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes open their own zip handle.
        return {**self.__dict__, "_zip": None, "_zip_pid": None}

    def _load_labels(self) -> np.ndarray | None:
        where = self._where("dataset.json")
        try:
            raw = self._read("dataset.json")
        except (FileNotFoundError, KeyError):
            return None
        except Exception as exc:  # a directory, unreadable, a bad zip member
            raise DatasetError(f"{where}: cannot be read ({one_line(exc)})") from None
        values = parse_labels(raw, self.files, where)
        if values is None:
            return None
        if isinstance(values[0], int):
            arr = np.zeros([len(values), max(values) + 1], np.float32)
            arr[np.arange(len(values)), values] = 1
            return arr
        return np.asarray(values, np.float32)

    def __len__(self) -> int:
        return len(self.files) * (2 if self.mirror else 1)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.files)
        raw = int(idx) % n
        Image = _pil()
        try:
            with Image.open(io.BytesIO(self._read(self.files[raw]))) as im:
                img = to_uint8(im, self.num_channels)
        except Exception as exc:
            raise DatasetError(
                f"{self._where(self.files[raw])}: not a readable image ({one_line(exc)})"
            ) from None
        img = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
        if idx >= n:
            img = img[:, :, ::-1]
        return np.ascontiguousarray(img), self.get_label(idx)

    def get_label(self, idx: int) -> np.ndarray:
        """The label of item ``idx`` without decoding its image."""
        if self.labels is None:
            return np.zeros([0], np.float32)
        return self.labels[int(idx) % len(self.files)]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "images", "path": str(self.path), "resolution": self.resolution,
            "size": len(self.files), "mirror": self.mirror, "label_dim": self.label_dim,
        }  # fmt: skip


def open_dataset(
    data: str | os.PathLike[str] | None,
    resolution: int | None,
    mirror: bool = False,
    seed: int = 0,
    use_labels: bool = True,
) -> ShapesDataset | ImageFolderDataset:
    """``data=None`` → the embedded :class:`ShapesDataset` at ``resolution``; else a folder/zip."""
    if data is None:
        return ShapesDataset(resolution if resolution is not None else 32, seed=seed, mirror=mirror)
    return ImageFolderDataset(data, resolution=resolution, mirror=mirror, use_labels=use_labels)


# ---------------------------------------------------------------------------------------------
# Deterministic data order.


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Infinite per-rank batches whose order depends only on ``(seed, step)`` (module docstring).

    Parameters
    ----------
    num_items : int
    batch : int
        Global batch size (all ranks).
    rank, world_size : int
    start_step : int
        The first step to yield (a resumed run passes its step counter).
    seed : int
    """

    def __init__(
        self,
        num_items: int,
        batch: int,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        seed: int = 0,
    ) -> None:
        if batch % world_size:
            raise ValueError(f"batch ({batch}) must be divisible by the world size ({world_size})")
        self.num_items = int(num_items)
        self.batch = int(batch)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.start_step = int(start_step)
        self.seed = int(seed)
        self._perm_epoch = -1
        self._perm = np.zeros([0], np.int64)

    def _item(self, k: int) -> int:
        epoch, pos = divmod(k, self.num_items)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
            self._perm_epoch = epoch
        return int(self._perm[pos])

    def indices(self, step: int) -> list[int]:
        """This rank's dataset indices at ``step``."""
        per = self.batch // self.world_size
        start = step * self.batch + self.rank * per
        return [self._item(k) for k in range(start, start + per)]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.indices(step)
            step += 1


def _collate(batch: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    imgs = torch.from_numpy(np.stack([b[0] for b in batch]))
    labels = torch.from_numpy(np.stack([b[1] for b in batch]).astype(np.float32))
    return imgs, labels


def _ignore_stop_signals(worker_id: int) -> None:
    """A DataLoader worker leaves Ctrl-C, SIGTERM and SIGHUP to the trainer: a signal sent to
    the process group (``timeout``, a closed terminal, a batch system) killed the workers, and
    the trainer then died on the lost worker before writing its stop checkpoint. The workers
    still end with the trainer (torch's parent watchdog)."""
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_IGN)


def make_loader(
    dataset: torch.utils.data.Dataset,
    batch: int,
    rank: int = 0,
    world_size: int = 1,
    start_step: int = 0,
    seed: int = 0,
    workers: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Infinite iterator of ``(uint8 [B, C, R, R], float32 [B, c_dim])`` per-rank batches."""
    sampler = StepBatchSampler(len(dataset), batch, rank, world_size, start_step, seed)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=_collate,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        worker_init_fn=_ignore_stop_signals if workers > 0 else None,
    )
    return _OneLineErrors(iter(loader))  # iter() now: workers start prefetching at once


class _OneLineErrors:
    """The loader's iterator, with a worker's DatasetError cut back to its own message.

    torch re-raises it as DatasetError("Caught DatasetError in DataLoader worker process 0.\n
    Original Traceback ...\n...DatasetError: <message>"). A class, not a generator: a generator
    is finished once it raises, and the batches after a bad one must still come."""

    def __init__(self, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self._batches = batches

    def __iter__(self) -> _OneLineErrors:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self._batches)
        except DatasetError as exc:
            last = (str(exc).strip().splitlines() or [""])[-1]
            raise DatasetError(last.partition("DatasetError: ")[2] or last) from None
