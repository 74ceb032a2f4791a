"""Tests for datagen.real_world: each case must be written in the real on-disk format.

The checks read the files the way real tools do (PIL's EXIF handling, palette indices versus
colours, PNG bit depth, raw list-file bytes, symlink targets), not through the generator's own
helpers, so a case that only looks right to its writer fails here.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from PIL import Image, ImageOps

from contract import oxford_pets as layout
from datagen import real_world as rw
from datagen.synthetic_pets import write_dataset


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> str:
    """A tiny clean dataset (8 train, 4 test) written once; tests work on copies."""
    root = str(tmp_path_factory.mktemp("real_world") / "pristine")
    write_dataset(root, n_train=8, n_test=4, seed=1)
    return root


@pytest.fixture
def root(pristine, tmp_path) -> str:
    """A private copy of the tiny dataset that a test may change."""
    copy = str(tmp_path / "raw")
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def _names(root: str, split: str) -> list[str]:
    with open(layout.list_file_path(root, split), encoding="utf-8") as f:
        return [line.split(" ")[0] for line in f]


def _rgb(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.int16)


def _trimap(root: str, name: str) -> np.ndarray:
    with Image.open(layout.trimap_path(root, name)) as trimap:
        return np.array(trimap)


def _list_bytes(root: str, split: str) -> bytes:
    with open(layout.list_file_path(root, split), "rb") as f:
        return f.read()


def _non_square(root: str, split: str = "train") -> str:
    for name in _names(root, split):
        with Image.open(layout.image_path(root, name)) as image:
            if image.width != image.height:
                return name
    raise AssertionError("the fixture dataset has no non-square image")


def _tree(root: str) -> dict[str, bytes]:
    """Every file's bytes and every symlink's target, by relative path."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for file in files:
            path = os.path.join(dirpath, file)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = os.readlink(path).encode()
            else:
                with open(path, "rb") as f:
                    found[os.path.relpath(path, root)] = f.read()
    return found


# --- EXIF orientation --------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_rotate_displays_the_photo_the_trimap_was_drawn_for(root, orientation):
    name = _non_square(root)
    original = _rgb(layout.image_path(root, name))
    height, width = _trimap(root, name).shape

    assert rw.exif_rotate(root, name, orientation) == [name]

    with Image.open(layout.image_path(root, name)) as stored:
        assert stored.format == "JPEG"
        assert stored.getexif()[0x0112] == orientation
        swapped = orientation >= 5
        assert stored.size == ((height, width) if swapped else (width, height))
        assert ImageOps.exif_transpose(stored).size == (width, height)
        raw = np.array(stored.convert("RGB"), dtype=np.int16)
    shown = _rgb(layout.image_path(root, name))
    # Displayed: the original up to JPEG re-encoding; stored: visibly different pixels.
    assert np.abs(shown - original).mean() < 2.0
    if not swapped:
        assert np.abs(raw - original).mean() > 10.0


def test_exif_rotate_rejects_orientations_that_do_not_transform(root):
    for orientation in (0, 1, 9):
        with pytest.raises(ValueError, match="orientation"):
            rw.exif_rotate(root, _names(root, "train")[0], orientation)


def test_square_entry_with_orientation_6_passes_a_size_check_but_is_stored_rotated(root):
    name = _non_square(root)
    original = _rgb(layout.image_path(root, name))
    original_trimap = _trimap(root, name)
    side = min(original_trimap.shape)

    assert rw.make_square_entry(root, name) == [name]
    rw.exif_rotate(root, name, 6)

    trimap = _trimap(root, name)
    assert trimap.shape == (side, side)
    # The trimap is a window of the original one; find where, and check the image's window.
    offsets = [
        (top, left)
        for top in range(original_trimap.shape[0] - side + 1)
        for left in range(original_trimap.shape[1] - side + 1)
        if np.array_equal(original_trimap[top : top + side, left : left + side], trimap)
    ]
    assert offsets, "the square trimap is not a crop of the original trimap"
    top, left = offsets[0]
    window = original[top : top + side, left : left + side]
    with Image.open(layout.image_path(root, name)) as stored:
        assert stored.size == (side, side)  # what a naive size check compares: equal
        raw = np.array(stored.convert("RGB"), dtype=np.int16)
    assert np.abs(_rgb(layout.image_path(root, name)) - window).mean() < 3.0
    assert np.abs(raw - window).mean() > 10.0
    # Stored = displayed turned 90 degrees counter-clockwise (orientation 6 shows it turned back).
    assert np.abs(np.rot90(window) - raw).mean() < 3.0

    annotation = ElementTree.parse(layout.xml_path(root, name)).getroot()
    assert annotation.findtext("size/width") == annotation.findtext("size/height") == str(side)
    box = {k: int(annotation.findtext(f"object/bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")}
    assert 0 <= box["xmin"] < box["xmax"] <= side and 0 <= box["ymin"] < box["ymax"] <= side


# --- Trimap encodings --------------------------------------------------------------------------


def _png_bit_depth(path: str) -> int:
    with open(path, "rb") as f:
        header = f.read(26)
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    return header[24]


def test_palette_trimap_holds_labels_as_indices_and_colours_in_the_palette(root):
    name = _names(root, "test")[0]
    labels = _trimap(root, name)

    assert rw.palette_trimap(root, name) == [name]

    path = layout.trimap_path(root, name)
    with Image.open(path) as trimap:
        assert trimap.mode == "P"
        indices = np.array(trimap)
        colours = np.array(trimap.convert("RGB"))
    assert set(np.unique(indices).tolist()) <= {1, 2, 3}
    np.testing.assert_array_equal(indices, labels)
    for label in (1, 2, 3):
        assert (colours[labels == label] == rw.PALETTE_COLOURS[label]).all()
    assert not np.isin(colours, [1, 2, 3]).all(axis=-1).any()
    assert _png_bit_depth(path) == 8


def test_sixteen_bit_trimap_holds_the_labels(root):
    name = _names(root, "train")[0]
    labels = _trimap(root, name)

    assert rw.sixteen_bit_trimap(root, name) == [name]

    path = layout.trimap_path(root, name)
    with Image.open(path) as trimap:
        assert trimap.mode == "I;16"
        values = np.array(trimap)
    assert _png_bit_depth(path) == 16
    assert set(np.unique(values).tolist()) == {1, 2, 3}
    np.testing.assert_array_equal(values, labels)


# --- List files --------------------------------------------------------------------------------


def test_blank_and_comment_lines(root):
    names = _names(root, "train")

    assert rw.add_comment_lines(root, "train") == [names[0]]
    assert rw.add_blank_lines(root, "train") == [names[0], names[-1]]

    lines = _list_bytes(root, "train").decode("utf-8").split("\n")
    assert lines[:6] == list(rw.LIST_TXT_HEADER)
    assert lines[6].startswith(names[0] + " ") and lines[7] == ""
    assert lines[-2:] == ["", ""]  # trailing blank line, then the final newline
    assert [line.split(" ")[0] for line in lines if line and not line.startswith("#")] == names


def test_bom_and_crlf_stack_without_changing_the_entries(root):
    before = _list_bytes(root, "test")
    names = _names(root, "test")

    assert rw.use_crlf(root, "test") == names
    assert rw.add_bom(root, "test") == [names[0]]
    assert rw.use_crlf(root, "test") == names  # idempotent, and the BOM survives

    data = _list_bytes(root, "test")
    assert data.startswith(b"\xef\xbb\xbf" + names[0].encode())
    assert data.count(b"\r\n") == data.count(b"\n") == len(names)
    assert data[3:].replace(b"\r\n", b"\n") == before


def test_renumber_breed_column_changes_only_the_fourth_column(root):
    original = _list_bytes(root, "train").decode().splitlines()
    entries = layout.parse_list_file(layout.list_file_path(root, "train"))

    changed = rw.renumber_breed_column(root, "train", scheme="class_id")

    lines = _list_bytes(root, "train").decode().splitlines()
    assert changed == [e.name for e in entries if e.class_id != e.breed_id]
    for entry, old, new in zip(entries, original, lines):
        assert new.split(" ")[:3] == old.split(" ")[:3]
        assert new.split(" ")[3] == str(entry.class_id)
    assert rw.renumber_breed_column(root, "train", [entries[0].name]) == [entries[0].name]
    with pytest.raises(ValueError, match="scheme"):
        rw.renumber_breed_column(root, "train", scheme="random")


# --- Names and files ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [" copy", "\tcopy"])
def test_rename_with_whitespace_moves_every_file_and_the_list_line(root, suffix):
    name = _names(root, "train")[2]
    new_name = name + suffix
    lines = _list_bytes(root, "train").decode().splitlines()
    line = next(li for li in lines if li.startswith(name + " "))

    assert rw.rename_with_whitespace(root, name, new_name) == [new_name]

    for path_of in (layout.image_path, layout.trimap_path, layout.xml_path):
        assert os.path.isfile(path_of(root, new_name))
        assert not os.path.exists(path_of(root, name))
    assert new_name + line[len(name) :] in _list_bytes(root, "train").decode().splitlines()
    annotation = ElementTree.parse(layout.xml_path(root, new_name)).getroot()
    assert annotation.findtext("filename") == new_name + ".jpg"


def test_rename_with_whitespace_refuses_names_a_list_could_not_hold(root):
    name = _names(root, "test")[0]
    for bad in ("no_whitespace", " leading", "trailing ", "a b/c"):
        with pytest.raises(ValueError):
            rw.rename_with_whitespace(root, name, bad)
    assert os.path.isfile(layout.image_path(root, name))


@pytest.mark.parametrize("listed", [True, False])
def test_dangling_symlink(root, listed):
    before = _list_bytes(root, "train")

    assert rw.dangling_symlink(root, "beagle_9999", listed=listed) == ["beagle_9999"]

    link = layout.image_path(root, "beagle_9999")
    assert os.path.islink(link) and not os.path.exists(link)
    after = _list_bytes(root, "train")
    if listed:
        assert after == before + b"beagle_9999 5 2 4\n"
        assert set(np.unique(_trimap(root, "beagle_9999")).tolist()) <= {1, 2, 3}
    else:
        assert after == before
        assert not os.path.exists(layout.trimap_path(root, "beagle_9999"))


# --- Whole splits ------------------------------------------------------------------------------


def test_empty_split(root):
    names = _names(root, "test")
    assert rw.empty_split(root, "test") == names
    assert os.path.getsize(layout.list_file_path(root, "test")) == 0
    assert all(os.path.isfile(layout.image_path(root, n)) for n in names)


def test_all_bad_split_breaks_every_image_and_keeps_the_list(root):
    before = _list_bytes(root, "test")
    names = rw.all_bad_split(root, "test")
    assert names == _names(root, "test") and _list_bytes(root, "test") == before
    for name in names:
        with pytest.raises(OSError), Image.open(layout.image_path(root, name)) as image:
            image.load()
    with Image.open(layout.image_path(root, _names(root, "train")[0])) as image:
        image.load()


# --- Everything at once ------------------------------------------------------------------------


def test_case_table_is_well_formed():
    outcomes = {rw.KEPT, rw.IGNORED, rw.RUN_FAILS}
    for case in rw.REAL_WORLD_CASES.values():
        assert case.scope in {"record", "list_file", "split"}
        assert case.description and "\n" not in case.description
        reason = case.expected.removeprefix("left out as ")
        assert case.expected in outcomes or reason != case.expected and reason.isidentifier()
        assert (case.expected == rw.RUN_FAILS) == (case.scope == "split")


def test_apply_real_world_is_deterministic_and_covers_every_case(pristine, tmp_path):
    results, trees = [], []
    for copy, seed in (("a", 7), ("b", 7), ("c", 8)):
        root = str(tmp_path / copy)
        shutil.copytree(pristine, root, symlinks=True)
        results.append(rw.apply_real_world(root, seed=seed))
        trees.append(_tree(root))

    assert results[0] == results[1] and trees[0] == trees[1]
    assert results[0] != results[2]
    done = results[0]
    assert set(done) == {c for c, case in rw.REAL_WORLD_CASES.items() if case.scope != "split"}
    # A name is never under two cases that expect different outcomes.
    outcome_of = {}
    for case, names in done.items():
        assert names, case
        for name in names:
            expected = rw.REAL_WORLD_CASES[case].expected
            assert outcome_of.setdefault(name, expected) == expected, (name, case)
    records = [n for c, ns in done.items() if rw.REAL_WORLD_CASES[c].scope == "record" for n in ns]
    assert len(records) == len(set(records))
