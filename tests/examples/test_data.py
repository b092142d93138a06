"""Tests of the training data: embedded shapes, folder/zip datasets, data order, dataset_tool."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from afgan.data import (
    DatasetError,
    ImageFolderDataset,
    ShapesDataset,
    StepBatchSampler,
    make_loader,
    open_dataset,
    render_shapes,
)
from hypothesis import given, settings
from hypothesis import strategies as st

Image = pytest.importorskip("PIL.Image")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_images(folder, sizes, mode="RGB", ext=".png", seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, s in enumerate(sizes):
        w, h = (s, s) if isinstance(s, int) else s
        shape = (h, w, 3) if mode == "RGB" else (h, w)
        arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
        p = folder / f"img{i:03d}{ext}"
        Image.fromarray(arr).save(p)
        paths.append((p, arr))
    return paths


# ---------------------------------------------------------------------------------------------
# Embedded shapes: properties.


@given(index=st.integers(0, 10**6), res=st.sampled_from([8, 16, 32, 64]))
@settings(max_examples=20, deadline=None)
def test_shapes_deterministic_uint8_any_resolution(index, res):
    a = render_shapes(index, res)
    assert a.dtype == np.uint8 and a.shape == (3, res, res)
    np.testing.assert_array_equal(a, render_shapes(index, res))


def test_shapes_differ_by_index_and_seed():
    imgs = [render_shapes(i, 16) for i in range(20)]
    assert len({im.tobytes() for im in imgs}) == 20
    assert not np.array_equal(render_shapes(3, 16, seed=0), render_shapes(3, 16, seed=1))


def test_shapes_are_antialiased_and_consistent_across_resolutions():
    # Anti-aliasing: box-downsampling the 64² image gives nearly the 16² image (same scene,
    # coverage-weighted edges), and edge pixels take intermediate values.
    hi = render_shapes(5, 64).astype(np.float64)
    lo = render_shapes(5, 16).astype(np.float64)
    pooled = hi.reshape(3, 16, 4, 16, 4).mean(axis=(2, 4))
    assert np.abs(pooled - lo).mean() < 6.0
    diff = np.abs(np.diff(render_shapes(5, 64).astype(int), axis=2)).max(axis=0)
    assert diff.max() > 40  # there are shape edges...
    assert np.count_nonzero((diff > 3) & (diff < diff.max() - 3)) > 0  # ...with soft steps


def test_shapes_dataset_mirror_and_length():
    ds = ShapesDataset(16, size=10, mirror=True)
    assert len(ds) == 20 and ds.label_dim == 0
    img, label = ds[3]
    flipped, _ = ds[13]
    np.testing.assert_array_equal(flipped, img[:, :, ::-1])
    assert label.shape == (0,)


@pytest.mark.parametrize("res", [0, 3, 2.5, True])
def test_shapes_dataset_bad_resolution(res):
    with pytest.raises(DatasetError, match="resolution"):
        ShapesDataset(res)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_shapes_dataset_bad_max_shapes(n):
    with pytest.raises(DatasetError, match="max_shapes"):
        ShapesDataset(16, max_shapes=n)


def test_shapes_max_shapes_changes_the_scenes_and_reaches_the_dataset():
    one = [render_shapes(i, 16) for i in range(12)]
    many = [render_shapes(i, 16, max_shapes=3) for i in range(12)]
    assert any(not np.array_equal(a, b) for a, b in zip(one, many, strict=True))
    ds = ShapesDataset(16, size=4, max_shapes=2)
    np.testing.assert_array_equal(ds[1][0], render_shapes(1, 16, max_shapes=2))


# ---------------------------------------------------------------------------------------------
# Folder / zip datasets.


def test_folder_dataset_reads_images_and_labels(tmp_path):
    paths = write_images(tmp_path / "d", [16] * 3)
    labels = {"labels": [[p.name, i % 2] for i, (p, _) in enumerate(paths)]}
    (tmp_path / "d" / "dataset.json").write_text(json.dumps(labels))
    ds = ImageFolderDataset(tmp_path / "d", mirror=True)
    assert len(ds) == 6 and ds.resolution == 16 and ds.num_channels == 3 and ds.label_dim == 2
    img, label = ds[1]
    np.testing.assert_array_equal(img, paths[1][1].transpose(2, 0, 1))
    np.testing.assert_array_equal(label, [0, 1])
    np.testing.assert_array_equal(ds[4][0], img[:, :, ::-1])


def test_zip_dataset_matches_folder(tmp_path):
    paths = write_images(tmp_path / "d", [8] * 4)
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p, _ in paths:
            z.write(p, p.name)
    a, b = ImageFolderDataset(tmp_path / "d"), ImageFolderDataset(zpath)
    assert len(a) == len(b) == 4
    for i in range(4):
        np.testing.assert_array_equal(a[i][0], b[i][0])


def test_greyscale_dataset(tmp_path):
    write_images(tmp_path / "g", [8] * 2, mode="L")
    ds = ImageFolderDataset(tmp_path / "g")
    assert ds.num_channels == 1 and ds[0][0].shape == (1, 8, 8)


def test_open_dataset_default_is_embedded():
    ds = open_dataset(None, 16)
    assert isinstance(ds, ShapesDataset) and ds.resolution == 16


# Bad input: one clear message naming the problem (and the first bad file).


def test_missing_path(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        ImageFolderDataset(tmp_path / "nope")


def test_empty_folder(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="no PNG/JPEG images"):
        ImageFolderDataset(tmp_path / "e")


def test_mixed_sizes_name_first_bad_file(tmp_path):
    write_images(tmp_path / "m", [16, 16, 8, 8])
    with pytest.raises(DatasetError, match=r"img002\.png: image is 8x8, expected 16x16"):
        ImageFolderDataset(tmp_path / "m")


def test_non_square_and_wrong_resolution(tmp_path):
    write_images(tmp_path / "n", [(16, 8)])
    with pytest.raises(DatasetError, match=r"img000\.png: image is 16x8, expected square"):
        ImageFolderDataset(tmp_path / "n")
    write_images(tmp_path / "r", [16])
    with pytest.raises(DatasetError, match="expected 32x32"):
        ImageFolderDataset(tmp_path / "r", resolution=32)


def test_not_power_of_two_and_not_a_dataset(tmp_path):
    write_images(tmp_path / "p", [12])
    with pytest.raises(DatasetError, match="power of two"):
        ImageFolderDataset(tmp_path / "p")
    f = tmp_path / "file.bin"
    f.write_bytes(b"hello")
    with pytest.raises(DatasetError, match=r"must be a directory or a \.zip"):
        ImageFolderDataset(f)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"x\.png: not a readable image") as info:
        ImageFolderDataset(tmp_path / "bad")
    assert "BytesIO" not in str(info.value)  # (PIL names its in-memory file; we name ours)


def test_missing_label(tmp_path):
    paths = write_images(tmp_path / "l", [8] * 2)
    (tmp_path / "l" / "dataset.json").write_text(json.dumps({"labels": [[paths[0][0].name, 0]]}))
    with pytest.raises(DatasetError, match=r"no label for 'img001\.png' \(1 of 2 images"):
        ImageFolderDataset(tmp_path / "l")


def labelled(folder, text):
    """Two 8×8 images in ``folder`` and ``text`` as their dataset.json."""
    write_images(folder, [8] * 2)
    (folder / "dataset.json").write_text(text)
    return folder


@pytest.mark.parametrize(
    "first, second, why",
    [
        (0, {"a": 1}, r'label \{"a": 1\} is not an int class id or a list'),
        (0, "cat", r'label "cat" is not an int class id'),
        ([1, 2], [[1, 2], [3, 4]], r"element 0 \(\[1, 2\]\) is not a number"),
        ([0.5], [0.5, 1], r"label has 2 numbers, labels\[0\] has 1"),
        (0, -1, r"class id -1 is negative"),
        ([0.5], 1, r"label 1 is a class id but labels\[0\] is a list \(\[0\.5\]\)"),
        (0, [1.0], r"label \[1\.0\] is a list but labels\[0\] is a class id"),
        (0, True, r"label true is a boolean"),
        ([0.5], [True], r"element 0 \(true\) is not a number"),
        (0, None, r"label null is not an int class id"),
        ([0.5], [float("nan")], r"element 0 \(NaN\) is not a finite float32"),
        ([0.5], [0, float("-inf")], r"element 1 \(-Infinity\) is not a finite float32"),
        ([0.5], [1e39], r"element 0 \(1e\+39\) is not a finite float32"),
        ([0.5], [10**400], r"element 0 \(1000.*\) is not a finite float32"),
        (0, 0.5, r"label 0\.5 is not an int class id \(a vector label is a list\)"),
        (0, -1.0, r"class id -1\.0 is negative"),
        ([0.5], [], r"label \[\] is empty"),
        (0, 1 << 16, r"class id 65536 is over 65535"),
    ],
)
def test_bad_label_value_names_the_entry(tmp_path, first, second, why):
    text = json.dumps({"labels": [["img000.png", first], ["img001.png", second]]})
    with pytest.raises(DatasetError) as info:
        ImageFolderDataset(labelled(tmp_path / "d", text))
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "d" / "dataset.json"))
    assert "labels[1] ('img001.png'): " in msg
    assert info.match(why)


@pytest.mark.parametrize(
    "text, why",
    [
        ("[1, 2]", r'expected a JSON object \{"labels": .*, got list'),
        ('{"labels": {"img000.png": 0}}', r'"labels" must be a list .* or null, got dict'),
        ('{"labels": "img000.png"}', r'"labels" must be a list .* or null, got str'),
        ('{"labels": [["img000.png", 0, 1]]}', r'labels\[0\] is \["img000.png", 0, 1\], expected'),
        ('{"labels": [[0, 0]]}', r"labels\[0\] is \[0, 0\], expected \[\"path\", label\]"),
        ('{"labels": [["img000.png", 0], ["img000.png", 0]]}',
         r"labels\[1\] \('img000.png'\): listed twice \(also labels\[0\]\)"),
        ('{"labels": [["img000.png", 0], ["gone.png", 2], ["img001.png", "x"]]}',
         r"labels\[2\] \('img001.png'\): label \"x\" is not"),
        ('{"labels": [["other/img000.png", 0], ["other/img001.png", 1]]}',
         r"no label for 'img000.png' \(2 of 2 images have none\)"),
        ("{not json", r"dataset\.json: not valid JSON"),
    ],
)  # fmt: skip
def test_bad_label_table(tmp_path, text, why):
    with pytest.raises(DatasetError, match=why):
        ImageFolderDataset(labelled(tmp_path / "d", text))


@pytest.mark.parametrize("text", ['{"labels": null}', "{}"])
def test_null_or_absent_labels_mean_unlabelled(tmp_path, text):
    ds = ImageFolderDataset(labelled(tmp_path / "d", text))
    assert ds.labels is None and ds.label_dim == 0 and ds[0][1].shape == (0,)


def test_float_class_ids_and_stray_entries_are_read_as_stylegan_does(tmp_path):
    """Integral floats are class ids (StyleGAN casts to int); entries for files that are not in
    the dataset (a curated copy) are ignored."""
    text = json.dumps({"labels": [["gone.png", [0.5]], ["img001.png", 2.0], ["old.png", None],
                                  ["img000.png", 0], ["older.png", 7]]})  # fmt: skip
    ds = ImageFolderDataset(labelled(tmp_path / "d", text))
    assert ds.label_dim == 3  # the stray entries neither widen the one-hot nor set the kind
    np.testing.assert_array_equal(ds[0][1], [1, 0, 0])
    np.testing.assert_array_equal(ds[1][1], [0, 0, 1])
    np.testing.assert_array_equal(ds.get_label(3), [0, 0, 1])  # no decoding, mirror-aware


def test_vector_labels_and_backslash_paths(tmp_path):
    text = json.dumps({"labels": [["img001.png", [1, -0.5]], ["img000.png", [0.25, 2]]]})
    ds = ImageFolderDataset(labelled(tmp_path / "d", text))
    assert ds.label_dim == 2
    np.testing.assert_array_equal(ds[0][1], np.float32([0.25, 2]))
    np.testing.assert_array_equal(ds[1][1], np.float32([1, -0.5]))
    write_images(tmp_path / "s" / "sub", [8])
    (tmp_path / "s" / "dataset.json").write_text(json.dumps({"labels": [["sub\\img000.png", 3]]}))
    np.testing.assert_array_equal(ImageFolderDataset(tmp_path / "s")[0][1], [0, 0, 0, 1])


@pytest.mark.parametrize(
    "ext, keep", [(".png", 0.5), (".png", -40), (".jpg", 0.9), (".jpg", -1)]
)
def test_truncated_image_is_caught_at_construction(tmp_path, ext, keep):
    paths = write_images(tmp_path / "t", [32] * 3, ext=ext)
    data = paths[1][0].read_bytes()
    paths[1][0].write_bytes(data[: int(len(data) * keep) if keep > 0 else keep])
    why = rf"img001\{ext}: not a readable image \(.*(runcated|incomplete)"
    with pytest.raises(DatasetError, match=why):
        ImageFolderDataset(tmp_path / "t")


def test_png_whose_pixels_are_complete_is_accepted(tmp_path):
    """Damage outside the pixel data (the end chunk lost, a bad checksum in a text chunk after
    the image data) fails PIL's verify() but not decoding: such files are used, as StyleGAN
    would, with their exact pixels."""
    import struct
    import zlib

    paths = write_images(tmp_path / "p", [16] * 3)
    no_end = paths[0][0].read_bytes()[:-12]
    paths[0][0].write_bytes(no_end)
    paths[1][0].write_bytes(paths[1][0].read_bytes()[:-13])  # and one byte of the last checksum
    data = paths[2][0].read_bytes()
    text = b"tEXt" + b"note\0hello"
    bad_crc = struct.pack(">I", (zlib.crc32(text) + 1) & 0xFFFFFFFF)
    paths[2][0].write_bytes(data[:-12] + struct.pack(">I", len(text) - 4) + text + bad_crc
                            + data[-12:])  # fmt: skip
    ds = ImageFolderDataset(tmp_path / "p")
    for i, (_, arr) in enumerate(paths):
        np.testing.assert_array_equal(ds[i][0], arr.transpose(2, 0, 1))


def test_jpeg_with_bytes_after_its_end_marker_is_accepted(tmp_path):
    # Some cameras append data after the image: the end-marker shortcut must not reject it.
    paths = write_images(tmp_path / "j", [16] * 2, ext=".jpg")
    paths[0][0].write_bytes(paths[0][0].read_bytes() + b"trailer\0\0")
    ds = ImageFolderDataset(tmp_path / "j")
    assert ds[0][0].shape == (3, 16, 16)


def test_image_that_fails_to_decode_later_is_a_one_line_dataset_error(tmp_path):
    """Corrupted after the up-front checks (or corrupt in a way they cannot see): loading it
    raises DatasetError naming the file, also through a loader's worker process."""
    paths = write_images(tmp_path / "c", [8] * 2)
    ds = ImageFolderDataset(tmp_path / "c")
    data = paths[1][0].read_bytes()
    paths[1][0].write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"img001\.png: not a readable image \(image file is"):
        ds[1]
    for workers in (0, 1):
        loader = make_loader(ds, 1, workers=workers)
        sampler = StepBatchSampler(len(ds), 1)
        for idx in [sampler.indices(step)[0] for step in range(4)]:
            if idx == 1:
                with pytest.raises(DatasetError) as info:
                    next(loader)
                assert info.match(
                    r"^\S*img001\.png: not a readable image \(image file is truncated\)$")
            else:  # the loader goes on after a bad batch
                assert next(loader)[0].shape == (1, 3, 8, 8)


# ---------------------------------------------------------------------------------------------
# Data order.


@given(
    n=st.integers(1, 40),
    batch=st.sampled_from([2, 4, 8]),
    start=st.integers(0, 30),
    seed=st.integers(0, 3),
)
@settings(max_examples=30, deadline=None)
def test_sampler_depends_only_on_step(n, batch, start, seed):
    full = StepBatchSampler(n, batch, seed=seed)
    it = iter(full)
    ref = [next(it) for _ in range(start + 3)]
    resumed = iter(StepBatchSampler(n, batch, start_step=start, seed=seed))
    assert [next(resumed) for _ in range(3)] == ref[start:]
    # Ranks split each global batch into consecutive slices.
    r0 = StepBatchSampler(n, batch, rank=0, world_size=2, seed=seed).indices(start)
    r1 = StepBatchSampler(n, batch, rank=1, world_size=2, seed=seed).indices(start)
    assert r0 + r1 == full.indices(start)


def test_sampler_epochs_are_permutations():
    s = StepBatchSampler(12, 4, seed=1)
    order = [i for step in range(6) for i in s.indices(step)]
    assert sorted(order[:12]) == list(range(12)) and sorted(order[12:]) == list(range(12))
    assert order[:12] != order[12:]
    with pytest.raises(ValueError, match="divisible"):
        StepBatchSampler(12, 5, world_size=2)


def test_loader_with_workers_keeps_the_order():
    ds = ShapesDataset(8, size=7)
    a = make_loader(ds, 4, start_step=2, workers=0)
    b = make_loader(ds, 4, start_step=2, workers=1)
    for _ in range(3):
        (xa, ca), (xb, _) = next(a), next(b)
        assert xa.shape == (4, 3, 8, 8) and ca.shape == (4, 0)
        assert np.array_equal(xa.numpy(), xb.numpy())


# ---------------------------------------------------------------------------------------------
# dataset_tool.


def test_dataset_tool_folder_to_zip(tmp_path):
    from dataset_tool import main as tool

    write_images(tmp_path / "src" / "a", [20, 20], seed=1)
    write_images(tmp_path / "src" / "b", [(30, 20)], seed=2, ext=".jpg")
    out = tmp_path / "out.zip"
    n = tool(["--source", str(tmp_path / "src"), "--dest", str(out), "--resolution", "16"])
    assert n == 3
    ds = ImageFolderDataset(out)
    assert len(ds) == 3 and ds.resolution == 16 and ds.num_channels == 3
    with pytest.raises(SystemExit):
        tool(["--source", str(tmp_path / "missing"), "--dest", str(out), "--resolution", "16"])


def test_dataset_tool_failure_keeps_an_existing_dest(tmp_path, capsys):
    """A failed conversion (unreadable image, missing label) leaves --dest as it was and no
    partial zip; the checks on labels run before anything is written."""
    from dataset_tool import main as tool

    write_images(tmp_path / "good", [16, 16], seed=1)
    out = tmp_path / "data.zip"
    tool(["--source", str(tmp_path / "good"), "--dest", str(out), "--resolution", "16"])
    before = out.read_bytes()
    bad = tmp_path / "bad"
    write_images(bad, [16], seed=2)
    (bad / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(SystemExit):
        tool(["--source", str(bad), "--dest", str(out), "--resolution", "16", "--overwrite"])
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))
    nolabel = tmp_path / "nolabel"
    write_images(nolabel, [16, 16], seed=3)
    first = sorted(p.name for p in nolabel.iterdir())[0]
    (nolabel / "dataset.json").write_text(json.dumps({"labels": [[first, 1]]}))
    with pytest.raises(SystemExit):
        tool(["--source", str(nolabel), "--dest", str(out), "--resolution", "16", "--overwrite"])
    assert "no label for" in capsys.readouterr().err
    assert out.read_bytes() == before
    (nolabel / "dataset.json").write_text("[1, 2]")
    with pytest.raises(SystemExit):
        tool(["--source", str(nolabel), "--dest", str(out), "--resolution", "16", "--overwrite"])
    assert "expected a JSON object" in capsys.readouterr().err


def test_dataset_tool_unwritable_dest_is_one_clear_line(tmp_path, capsys):
    from dataset_tool import main as tool

    write_images(tmp_path / "good", [16], seed=4)
    (tmp_path / "file").write_bytes(b"not a folder")
    with pytest.raises(SystemExit):  # the parent of --dest is a file
        tool(["--source", str(tmp_path / "good"), "--dest", str(tmp_path / "file" / "d.zip"),
              "--resolution", "16"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written" in err[0] and "d.zip" in err[0], err


def test_dataset_tool_checks_labels_like_the_dataset(tmp_path, capsys):
    """dataset_tool reads dataset.json with the dataset's rules (one error line naming the
    entry), carries valid labels over, and names a source image that does not decode."""
    from dataset_tool import main as tool

    src, out = tmp_path / "src", tmp_path / "out.zip"
    write_images(src, [16] * 2)
    args = ["--source", str(src), "--dest", str(out), "--resolution", "8", "--overwrite"]
    (src / "dataset.json").write_text('{"labels": [["img000.png", [1]], ["img001.png", [NaN]]]}')
    with pytest.raises(SystemExit):
        tool(args)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not out.exists()
    assert "labels[1] ('img001.png'): label [NaN]: element 0 (NaN) is not a finite" in err
    (src / "dataset.json").write_text('{"labels": [["img000.png", 2], ["img001.png", true]]}')
    with pytest.raises(SystemExit):
        tool(args)
    assert "labels[1] ('img001.png'): label true is a boolean" in capsys.readouterr().err
    (src / "dataset.json").write_text(
        '{"labels": [["img001.png", [1, 0.5]], ["img000.png", [2, 3]]]}'
    )
    tool(args)
    with zipfile.ZipFile(out) as z:
        assert json.loads(z.read("dataset.json")) == {
            "labels": [["img00000000.png", [2, 3]], ["img00000001.png", [1, 0.5]]]
        }
    (src / "dataset.json").write_text('{"labels": null}')  # unlabelled, as in the dataset
    tool(args)
    with zipfile.ZipFile(out) as z:
        assert "dataset.json" not in z.namelist()
    (src / "dataset.json").unlink()
    jpg = write_images(src, [16], ext=".jpg")[0][0]
    jpg.write_bytes(jpg.read_bytes()[:-40])
    with pytest.raises(SystemExit):
        tool(args)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "img000.jpg: not a readable image (image file is trunc" in err


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    from dataset_tool import main as tool

    folder = tmp_path / "g16"
    folder.mkdir()
    ramp = np.linspace(0, 65535, 256).astype(np.uint16).reshape(16, 16)
    for i in range(2):
        Image.fromarray(ramp).save(folder / f"{i}.png")
    img, _ = ImageFolderDataset(folder)[0]
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(img[0], expected)  # was 99.6 % white (PIL clips I;16 to L)
    out = tmp_path / "g16.zip"
    tool(["--source", str(folder), "--dest", str(out), "--resolution", "16", "--greyscale"])
    np.testing.assert_array_equal(ImageFolderDataset(out)[0][0][0], expected)


def _transparent_images(folder):
    """Two RGBA images: left half opaque red, right half transparent with green stored under it;
    and a greyscale + alpha (LA) one."""
    folder.mkdir()
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = (255, 0, 0, 255)
    rgba[:, 8:] = (0, 255, 0, 0)
    for i in range(2):
        Image.fromarray(rgba, "RGBA").save(folder / f"c{i}.png")
    return rgba


def test_transparency_is_dropped_by_default_and_said(tmp_path, capsys):
    """RGBA images used to lose their alpha without a word; the colour under a transparent pixel
    is often arbitrary. The dataset names the files, the trainer prints it, dataset_tool says it."""
    from dataset_tool import main as tool

    rgba = _transparent_images(tmp_path / "src")
    ds = ImageFolderDataset(tmp_path / "src")
    assert ds.transparent == ["c0.png", "c1.png"]
    assert "2 images" in ds.transparency_note() and "c0.png" in ds.transparency_note()
    img, _ = ds[0]
    np.testing.assert_array_equal(img.transpose(1, 2, 0), rgba[..., :3])  # StyleGAN's rule
    out = tmp_path / "out.zip"
    tool(["--source", str(tmp_path / "src"), "--dest", str(out), "--resolution", "16"])
    err = capsys.readouterr().err
    assert "2 images had transparency" in err and "c0.png" in err and "--alpha" in err
    np.testing.assert_array_equal(ImageFolderDataset(out)[0][0].transpose(1, 2, 0), rgba[..., :3])
    assert ImageFolderDataset(out).transparency_note() is None  # the zip's PNGs are RGB
    write_images(tmp_path / "opaque", [16, 16])
    assert ImageFolderDataset(tmp_path / "opaque").transparency_note() is None


@pytest.mark.parametrize("background, value", [("white", 255), ("black", 0)])
def test_dataset_tool_composites_transparency_over_a_background(tmp_path, capsys, background,
                                                                 value):
    from dataset_tool import main as tool

    _transparent_images(tmp_path / "src")
    # A half-transparent greyscale image (LA) stays greyscale and blends with the background.
    la = np.zeros((16, 16, 2), np.uint8)
    la[..., 0], la[..., 1] = 100, 128
    Image.fromarray(la, "LA").save(tmp_path / "src" / "g.png")
    out = tmp_path / "out.zip"
    tool(["--source", str(tmp_path / "src"), "--dest", str(out), "--resolution", "16",
          "--alpha", background])  # fmt: skip
    assert f"composited over {background}" in capsys.readouterr().err
    ds = ImageFolderDataset(out)
    img = ds[0][0].transpose(1, 2, 0)
    np.testing.assert_array_equal(img[:, :8], np.broadcast_to([255, 0, 0], (16, 8, 3)))
    np.testing.assert_array_equal(img[:, 8:], np.full((16, 8, 3), value))
    grey = ds[2][0]  # g.png sorts after c0, c1; stored as RGB with equal channels
    expected = round((100 * 128 + value * 127) / 255)
    assert np.abs(grey.astype(int) - expected).max() <= 1


def test_greyscale_with_alpha_is_a_greyscale_dataset(tmp_path):
    folder = tmp_path / "la"
    folder.mkdir()
    la = np.zeros((16, 16, 2), np.uint8)
    la[..., 0] = np.arange(16)[:, None] * 16
    la[..., 1] = 255
    for i in range(2):
        Image.fromarray(la, "LA").save(folder / f"{i}.png")
    ds = ImageFolderDataset(folder)
    assert ds.num_channels == 1  # LA used to count as colour and train as RGB
    np.testing.assert_array_equal(ds[0][0][0], la[..., 0])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_dataset_tool_out_of_memory_is_one_line(tmp_path):
    """A resolution whose images do not fit in memory (65536²: 12 GiB each) is one error line,
    not a MemoryError traceback. Run with an address-space limit 1 GiB above what the process
    already maps, so the allocation fails for real."""
    src = tmp_path / "src"
    write_images(src, [20])
    script = f"""
import resource, sys
sys.path.insert(0, {str(EXAMPLES)!r})
from dataset_tool import main
import PIL.Image
kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize"))
limit = kib * 1024 + 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
main(["--source", {str(src)!r}, "--dest", {str(tmp_path / "d.zip")!r}, "--resolution", "65536"])
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        f"error: {src / 'img000.png'}: out of memory resizing to --resolution 65536 "
        "(12.0 GiB an image)"
    )
    assert not (tmp_path / "d.zip").exists()


def test_sixteen_bit_transparency_is_composited_after_scaling(tmp_path, capsys):
    """A 16-bit greyscale PNG with a transparent grey level (tRNS): compositing used to convert
    it to RGBA first, which clips 16-bit values to 255."""
    from dataset_tool import main as tool

    folder = tmp_path / "g16a"
    folder.mkdir()
    ramp = np.linspace(0, 65535, 256).astype(np.uint16).reshape(16, 16)
    for i in range(2):
        Image.fromarray(ramp).save(folder / f"{i}.png", transparency=0)  # pixel 0 transparent
    out = tmp_path / "out.zip"
    tool(["--source", str(folder), "--dest", str(out), "--resolution", "16", "--greyscale",
          "--alpha", "white"])  # fmt: skip
    assert "2 images had transparency" in capsys.readouterr().err
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    expected[0, 0] = 255  # the transparent pixel, over white
    np.testing.assert_array_equal(ImageFolderDataset(out)[0][0][0], expected)
