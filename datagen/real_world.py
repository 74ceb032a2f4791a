"""Turns a dataset written by `synthetic_pets.write_dataset` into data shaped like real downloads
and real users' folders (issue 11), for `segpipe make-data --real-world` and the tests.

`faults.py` makes data that is plainly broken. The cases here are different: most are valid data
in a form the synthetic generator never writes but real files do (phone photos stored rotated
with an EXIF Orientation tag, trimaps saved by an image editor as palette or 16-bit PNGs, list
files edited on Windows or copied from `annotations/list.txt`, names such as "IMG 0001 copy"),
and the rest is what users' folders hold besides (symlinks into a disk that is gone, a split
whose list was emptied or whose every image is damaged). Each case is written in its real
on-disk format, so the tests can run TFDS's real builder on it.

Every function changes one dataset root in place and returns the names of the list entries it
touched, as they read after the change, so a test can assert what happened to exactly those
records. `REAL_WORLD_CASES` says, per case, what the pipeline is expected to do with them.
numpy and PIL only: no TensorFlow, so generating data stays cheap.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import xml.etree.ElementTree as ElementTree
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image, ImageOps

from contract import oxford_pets as layout

# EXIF tag number of Orientation (TIFF/EXIF standard).
EXIF_ORIENTATION_TAG = 0x0112

# For each EXIF orientation, the transpose that turns the DISPLAYED photo into the STORED pixels:
# the inverse of what `ImageOps.exif_transpose` applies to display it. Orientations 2, 3, 4, 5
# and 7 are their own inverses; 6 (displayed by rotating 270 degrees) and 8 (90) swap.
_STORE_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

# Re-encoding settings for rewritten JPEGs: high quality without chroma subsampling, so a
# re-saved image stays within about one grey level of the original on average and tests can
# compare pixels.
_JPEG_OPTIONS: dict[str, object] = {"format": "JPEG", "quality": 95, "subsampling": 0}

# Colours of the palette trimap, as an annotation tool might pick them (PASCAL VOC's first
# entries). Index = label, so the colours differ from the labels: whoever decodes the PNG to RGB
# (as TensorFlow's decode_png does) gets colours, whoever reads the indices gets labels.
PALETTE_COLOURS: dict[int, tuple[int, int, int]] = {
    0: (0, 0, 0),
    layout.TRIMAP_PET: (128, 0, 0),
    layout.TRIMAP_BACKGROUND: (0, 128, 0),
    layout.TRIMAP_BORDER: (128, 128, 0),
}

# The six comment lines that open the real dataset's annotations/list.txt, verbatim (including
# its typos): what a user who builds a split list from list.txt carries over.
LIST_TXT_HEADER: tuple[str, ...] = (
    "#Image CLASS-ID SPECIES BREED ID",
    "#ID: 1:37 Class ids",
    "#SPECIES: 1:Cat 2:Dog",
    "#BREED ID: 1-25:Cat 1:12:Dog",
    "#All images with 1st letter as captial are cat images",
    "#images with small first letter are dog images",
)

_BOM = "\ufeff"

# Expected outcomes, as the strings REAL_WORLD_CASES uses.
KEPT = "kept"
IGNORED = "ignored"
RUN_FAILS = "run fails naming the split"


def left_out(reason: str) -> str:
    """Expected outcome of a record the pipeline must drop and report under `reason`."""
    return f"left out as {reason}"


@dataclasses.dataclass(frozen=True)
class RealWorldCase:
    """One case: what it looks like on disk, what the pipeline must do, and what it applies to.

    scope is "record" (one list entry), "list_file" (a split's list file; its entries survive)
    or "split" (a whole split; the run cannot go on, so `apply_real_world` leaves these out).
    """

    description: str
    expected: str
    scope: str


REAL_WORLD_CASES: dict[str, RealWorldCase] = {
    "exif_orientation": RealWorldCase(
        "non-square JPEG stored rotated with EXIF Orientation 6, as phones save photos: its stored "
        "size is the trimap's with width and height swapped",
        KEPT,
        "record",
    ),
    "exif_orientation_square": RealWorldCase(
        "square JPEG stored rotated with EXIF Orientation 6: sizes agree, so only honouring the "
        "tag lines the pixels up with the trimap",
        KEPT,
        "record",
    ),
    "palette_trimap": RealWorldCase(
        "trimap saved as an 8-bit palette PNG whose indices are the labels 1/2/3 (decoded to RGB "
        "it gives colours)",
        KEPT,
        "record",
    ),
    "sixteen_bit_trimap": RealWorldCase(
        "trimap saved as a 16-bit greyscale PNG holding 1/2/3", KEPT, "record"
    ),
    "name_with_tab": RealWorldCase(
        "image, trimap, XML and list entry renamed to a name with a tab inside; the line still "
        "splits into four fields on spaces",
        KEPT,
        "record",
    ),
    "name_with_space": RealWorldCase(
        "image, trimap, XML and list entry renamed to '<name> copy': the list line has five "
        "space-separated fields, which TFDS's builder cannot split (the pipeline stages it under "
        "an escaped name and reports it whole)",
        KEPT,
        "record",
    ),
    "dangling_symlink_listed": RealWorldCase(
        "images/<name>.jpg is a symlink to a missing file, the name is listed and has a valid trimap",
        left_out("missing_image"),
        "record",
    ),
    "dangling_symlink_unlisted": RealWorldCase(
        "images/<name>.jpg is a symlink to a missing file that no list names", IGNORED, "record"
    ),
    "blank_lines": RealWorldCase(
        "a list file gains a blank line after its first entry and one at its end", KEPT, "list_file"
    ),
    "comment_lines": RealWorldCase(
        "trainval.txt starts with the six '#' lines of the real annotations/list.txt", KEPT, "list_file"
    ),
    "renumbered_breed_column": RealWorldCase(
        "an entry's 4th column is 0-based instead of the breed-within-species id (TFDS never "
        "reads that column)",
        KEPT,
        "list_file",
    ),
    "crlf": RealWorldCase("test.txt has Windows line endings (CRLF)", KEPT, "list_file"),
    "bom": RealWorldCase(
        "test.txt starts with a UTF-8 byte order mark, glued to its first entry's name", KEPT, "list_file"
    ),
    "empty_split": RealWorldCase("a split's list file is empty (0 bytes)", RUN_FAILS, "split"),
    "all_bad_split": RealWorldCase(
        "every image of a split is truncated, the list file unchanged", RUN_FAILS, "split"
    ),
}


# ---------------------------------------------------------------------------------------------
# List files, read and written byte-faithfully
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _ListFile:
    """A list file as lines without endings, plus what must survive a rewrite unchanged.

    The cases stack (a BOM on a CRLF file with comments), so each edit keeps the BOM, line
    ending style and final newline that earlier edits produced.
    """

    path: str
    lines: list[str]
    bom: bool
    newline: str
    final_newline: bool

    @classmethod
    def read(cls, root: str, split: str) -> _ListFile:
        """Loads the split's list file, noting its BOM, line ending and final newline."""
        path = layout.list_file_path(root, split)
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        bom = text.startswith(_BOM)
        text = text[len(_BOM) :] if bom else text
        newline = "\r\n" if "\r\n" in text else "\n"
        final_newline = text.endswith("\n")
        lines = text.split(newline)
        if final_newline or not text:
            lines.pop()
        return cls(path, lines, bom, newline, final_newline)

    def write(self) -> None:
        """Writes the lines back with the recorded BOM, line ending and final newline."""
        text = self.newline.join(self.lines)
        if self.lines and self.final_newline:
            text += self.newline
        with open(self.path, "w", encoding="utf-8", newline="") as f:
            f.write((_BOM if self.bom else "") + text)

    def index_of(self, name: str) -> int:
        """Line index of the entry called `name`; raises ValueError if it is not listed."""
        for i, line in enumerate(self.lines):
            if _line_name(line) == name:
                return i
        raise ValueError(f"{name!r} is not listed in {self.path}")

    def entry_lines(self) -> list[int]:
        """Indices of the lines that are entries (not blank, not comments)."""
        return [i for i, line in enumerate(self.lines) if _line_name(line) is not None]


def _line_name(line: str) -> Optional[str]:
    """Entry name of a list line, or None for blank and comment lines.

    Splits the last three fields off the right, so names with spaces (see
    `rename_with_whitespace`) are found too.
    """
    if not line.strip() or line.startswith("#"):
        return None
    return line.rsplit(" ", 3)[0]


def _split_of(root: str, name: str) -> str:
    """The split ("train" or "test") whose list file names the entry."""
    for split in layout.SPLIT_LIST_FILES:
        try:
            _ListFile.read(root, split).index_of(name)
        except ValueError:
            continue
        return split
    raise ValueError(f"{name!r} is listed in no split under {root}")


def add_blank_lines(root: str, split: str, after: Optional[Sequence[str]] = None) -> list[str]:
    """Inserts an empty line after each named entry of a split's list file.

    Default: after the first entry and after the last one (a trailing blank line, the most common
    form in edited files). Returns the names the blank lines follow.
    """
    lst = _ListFile.read(root, split)
    entries = lst.entry_lines()
    if after is None:
        if not entries:
            raise ValueError(f"{lst.path} has no entries to put blank lines after")
        after = list(dict.fromkeys(str(_line_name(lst.lines[i])) for i in (entries[0], entries[-1])))
    names = [str(n) for n in after]
    for name in names:
        lst.lines.insert(lst.index_of(name) + 1, "")
    lst.final_newline = True
    lst.write()
    return names


def add_comment_lines(
    root: str, split: str, lines: Sequence[str] = LIST_TXT_HEADER, before: Optional[str] = None
) -> list[str]:
    """Inserts '#' comment lines before the named entry, by default at the top of the file.

    Returns the name of the entry that the comments precede (empty if the file has none).
    """
    if not lines or any(not line.startswith("#") for line in lines):
        raise ValueError(f"comment lines must start with '#': {list(lines)!r}")
    lst = _ListFile.read(root, split)
    at = 0 if before is None else lst.index_of(before)
    lst.lines[at:at] = list(lines)
    lst.final_newline = True
    lst.write()
    follow = [_line_name(lst.lines[i]) for i in lst.entry_lines() if i >= at + len(lines)]
    return [str(follow[0])] if follow else []


def add_bom(root: str, split: str) -> list[str]:
    """Prepends a UTF-8 byte order mark (as Windows Notepad saves "UTF-8") to a split's list.

    Returns the name of the entry on the first line, which a reader that does not strip the BOM
    sees as "\\ufeff<name>"; empty if the first line is not an entry (e.g. a comment).
    """
    lst = _ListFile.read(root, split)
    lst.bom = True
    lst.write()
    first = _line_name(lst.lines[0]) if lst.lines else None
    return [first] if first is not None else []


def use_crlf(root: str, split: str) -> list[str]:
    """Rewrites a split's list file with CRLF line endings; returns every listed name."""
    lst = _ListFile.read(root, split)
    lst.newline = "\r\n"
    lst.write()
    return [str(_line_name(lst.lines[i])) for i in lst.entry_lines()]


def renumber_breed_column(
    root: str, split: str, names: Optional[Sequence[str]] = None, scheme: str = "zero_based"
) -> list[str]:
    """Rewrites the 4th column of the named entries (default: all) in another numbering.

    scheme "zero_based" writes breed id - 1 (always a change); "class_id" repeats the class id
    (a change except where the two coincide). TFDS ignores this column, so the data stays valid;
    a strict parser that cross-checks it would reject the line. Returns the names whose line
    changed.
    """
    renumber: dict[str, Callable[[layout.ListEntry], int]] = {
        "zero_based": lambda e: e.breed_id - 1,
        "class_id": lambda e: e.class_id,
    }
    if scheme not in renumber:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {sorted(renumber)}")
    lst = _ListFile.read(root, split)
    indices = lst.entry_lines() if names is None else [lst.index_of(n) for n in names]
    changed = []
    for i in indices:
        name, class_id, species_id, breed_id = lst.lines[i].rsplit(" ", 3)
        entry = layout.ListEntry.for_class(name, int(class_id))
        new_breed = renumber[scheme](entry)
        if new_breed != int(breed_id):
            lst.lines[i] = f"{name} {class_id} {species_id} {new_breed}"
            changed.append(name)
    lst.write()
    return changed


# ---------------------------------------------------------------------------------------------
# Images and trimaps
# ---------------------------------------------------------------------------------------------


def _displayed(path: str) -> Image.Image:
    """The JPEG as a viewer shows it (EXIF orientation applied), loaded and detached from file."""
    with Image.open(path) as image:
        shown = ImageOps.exif_transpose(image)
        shown.load()
    return shown.convert("RGB")


def _trimap_values(root: str, name: str) -> np.ndarray:
    """The trimap's label array (H x W), whatever PNG form it is stored in."""
    with Image.open(layout.trimap_path(root, name)) as trimap:
        values = np.array(trimap)
    if values.ndim != 2 or not set(np.unique(values).tolist()) <= layout.TRIMAP_VALUES:
        raise ValueError(f"trimap of {name!r} is not a single-channel map of 1/2/3")
    return values.astype(np.uint8)


def exif_rotate(root: str, name: str, orientation: int = 6) -> list[str]:
    """Re-saves the entry's JPEG stored transposed, with an EXIF Orientation tag that undoes it.

    A viewer (or `ImageOps.exif_transpose`) shows the same photo as before, still matching the
    trimap, which is left as it is; decoders that ignore EXIF (`tf.io.decode_jpeg`) see the stored
    pixels, which for orientations 5..8 have width and height swapped. Re-encoding is at quality
    95 without chroma subsampling, so the displayed pixels differ from the original by JPEG
    error only. Returns [name].
    """
    if orientation not in _STORE_TRANSPOSE:
        raise ValueError(f"orientation must be in 2..8, got {orientation!r}")
    path = layout.image_path(root, name)
    stored = _displayed(path).transpose(_STORE_TRANSPOSE[orientation])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    stored.save(path, exif=exif, **_JPEG_OPTIONS)
    return [name]


def _element(parent: ElementTree.Element, path: str) -> ElementTree.Element:
    """A sub-element the generator's head-box XML always has; KeyError naming it otherwise."""
    found = parent.find(path)
    if found is None:
        raise KeyError(f"the head-box XML has no <{path}>")
    return found


def make_square_entry(root: str, name: str) -> list[str]:
    """Crops the entry's image and trimap to the same square (side = shorter side).

    The crop slides along the longer side to keep the head box inside where it fits, and the
    head-box XML (train entries) is rewritten for the cropped image, so the entry stays valid
    for TFDS's BBox feature. Used before `exif_rotate` to make a case that no size check can
    catch. Returns [name].
    """
    image = _displayed(layout.image_path(root, name))
    values = _trimap_values(root, name)
    w, h = image.size
    if values.shape != (h, w):
        raise ValueError(f"trimap of {name!r} is {values.shape[1]}x{values.shape[0]}, its image {w}x{h}")
    side = min(w, h)
    xml = layout.xml_path(root, name)
    tree = ElementTree.parse(xml) if os.path.isfile(xml) else None
    box = tree.getroot().find("object/bndbox") if tree is not None else None
    if box is not None:
        lo, hi = ("xmin", "xmax") if w > h else ("ymin", "ymax")
        centre = (float(_element(box, lo).text or 0) + float(_element(box, hi).text or 0)) / 2
    else:
        centre = max(w, h) / 2
    offset = int(np.clip(round(centre - side / 2), 0, max(w, h) - side))
    left, top = (offset, 0) if w > h else (0, offset)
    image.crop((left, top, left + side, top + side)).save(layout.image_path(root, name), **_JPEG_OPTIONS)
    Image.fromarray(values[top : top + side, left : left + side]).save(
        layout.trimap_path(root, name), format="PNG"
    )
    if tree is not None:
        for key in ("width", "height"):
            _element(tree.getroot(), f"size/{key}").text = str(side)
        if box is not None:
            for key, shift in (("xmin", left), ("xmax", left), ("ymin", top), ("ymax", top)):
                element = _element(box, key)
                value = float(element.text or 0) - shift
                element.text = str(int(np.clip(round(value), 0, side)))
        with open(xml, "w", encoding="utf-8", newline="\n") as f:
            f.write(ElementTree.tostring(tree.getroot(), encoding="unicode") + "\n")
    return [name]


def palette_trimap(root: str, name: str) -> list[str]:
    """Rewrites the trimap as a palette ("P") PNG: indices 1/2/3, colours PALETTE_COLOURS.

    Returns [name].
    """
    values = _trimap_values(root, name)
    palette = np.zeros((256, 3), np.uint8)
    for index, colour in PALETTE_COLOURS.items():
        palette[index] = colour
    trimap = Image.fromarray(values)
    trimap.putpalette(palette.ravel().tolist())
    trimap.save(layout.trimap_path(root, name), format="PNG")
    return [name]


def sixteen_bit_trimap(root: str, name: str) -> list[str]:
    """Rewrites the trimap as a 16-bit greyscale PNG (PIL mode "I;16") holding 1/2/3.

    Returns [name].
    """
    values = _trimap_values(root, name)
    Image.fromarray(values.astype(np.uint16)).save(layout.trimap_path(root, name), format="PNG")
    return [name]


def truncate_image(root: str, name: str) -> list[str]:
    """Cuts the entry's JPEG to half its bytes ("Premature end of JPEG data"); returns [name]."""
    path = layout.image_path(root, name)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    return [name]


# ---------------------------------------------------------------------------------------------
# Names and files
# ---------------------------------------------------------------------------------------------


def rename_with_whitespace(root: str, name: str, new_name: str) -> list[str]:
    """Renames the entry's image, trimap and XML (if any) and its list line to new_name.

    new_name must hold a space or tab inside it; leading or trailing whitespace is refused,
    because every list reader strips lines and could never name such a file. The XML's
    <filename> follows. Returns [new_name].
    """
    if not (" " in new_name or "\t" in new_name):
        raise ValueError(f"new name {new_name!r} holds neither a space nor a tab")
    if new_name != new_name.strip() or any(c in new_name for c in "/\\\r\n"):
        raise ValueError(f"new name {new_name!r} has whitespace at an end, a slash or a newline")
    if os.path.lexists(layout.image_path(root, new_name)):
        raise ValueError(f"{new_name!r} already exists under {root}")
    split = _split_of(root, name)
    for path_of in (layout.image_path, layout.trimap_path):
        os.rename(path_of(root, name), path_of(root, new_name))
    xml = layout.xml_path(root, name)
    if os.path.isfile(xml):
        tree = ElementTree.parse(xml)
        element = tree.getroot().find("filename")
        if element is not None:
            element.text = new_name + layout.IMAGE_SUFFIX
        with open(layout.xml_path(root, new_name), "w", encoding="utf-8", newline="\n") as f:
            f.write(ElementTree.tostring(tree.getroot(), encoding="unicode") + "\n")
        os.remove(xml)
    lst = _ListFile.read(root, split)
    i = lst.index_of(name)
    lst.lines[i] = new_name + lst.lines[i][len(name) :]
    lst.write()
    return [new_name]


def dangling_symlink(
    root: str, name: str, listed: bool, split: str = "train", class_id: Optional[int] = None
) -> list[str]:
    """Creates images/<name>.jpg as a symlink to a file that does not exist.

    Like a folder copied with its links from a disk that is no longer mounted. The target is
    relative (images/../_unmounted/<name>.jpg), so the link dangles wherever the root is copied.
    If listed, a line is appended to the split's list (class from the name's breed prefix unless
    class_id is given) and a valid trimap is written for it, a copy of the split's first entry's
    trimap: only the image is missing. Returns [name].
    """
    link = layout.image_path(root, name)
    if os.path.lexists(link):
        raise ValueError(f"{link} already exists")
    if listed:
        if class_id is None:
            class_id = layout.class_id_of(name.rsplit("_", 1)[0])
        entry = layout.ListEntry.for_class(name, class_id)
        lst = _ListFile.read(root, split)
        donors = lst.entry_lines()
        if not donors:
            raise ValueError(f"{lst.path} has no entry whose trimap could be copied")
        shutil.copyfile(
            layout.trimap_path(root, str(_line_name(lst.lines[donors[0]]))), layout.trimap_path(root, name)
        )
        lst.lines.append(layout.format_list_line(entry))
        lst.final_newline = True
        lst.write()
    os.symlink(os.path.join("..", "_unmounted", name + layout.IMAGE_SUFFIX), link)
    return [name]


# ---------------------------------------------------------------------------------------------
# Whole splits
# ---------------------------------------------------------------------------------------------


def empty_split(root: str, split: str) -> list[str]:
    """Truncates the split's list file to 0 bytes (files stay); returns the names it listed."""
    lst = _ListFile.read(root, split)
    names = [str(_line_name(lst.lines[i])) for i in lst.entry_lines()]
    with open(lst.path, "wb"):
        pass
    return names


def all_bad_split(root: str, split: str) -> list[str]:
    """Truncates every listed image of the split, keeping the list; returns the names."""
    lst = _ListFile.read(root, split)
    names = [str(_line_name(lst.lines[i])) for i in lst.entry_lines()]
    for name in names:
        truncate_image(root, name)
    return names


# ---------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------


def _is_square(root: str, name: str) -> bool:
    """Whether the entry's stored image has equal sides."""
    with Image.open(layout.image_path(root, name)) as image:
        return image.width == image.height


def apply_real_world(root: str, seed: int = 0) -> dict[str, list[str]]:
    """Applies every record and list-file case of REAL_WORLD_CASES once; returns {case: names}.

    No name appears under two cases with different expected outcomes, so a test can check each
    case's names against its expected outcome:
    - trainval.txt gets the comment header (before its first entry, kept out of every other
      case), one entry with a renumbered breed column, and the record cases, each on its own
      entry drawn by the seed from the rest; the listed dangling symlink is appended to it;
    - test.txt gets the file cases that keep every entry: blank lines, CRLF, and the BOM last,
      so that it sits at the very start, glued to the first entry's name;
    - dangling symlinks get fresh names; split cases are not applied, since they stop the run.
    The same seed on the same dataset gives the same choice and the same files. Needs at least
    8 train entries (one with sides that differ) and 1 test entry.
    """
    train = _ListFile.read(root, "train")
    train_names = [str(_line_name(train.lines[i])) for i in train.entry_lines()]
    if len(train_names) < 8 or not _ListFile.read(root, "test").entry_lines():
        raise ValueError(f"needs at least 8 train entries and 1 test entry under {root}")
    rng = np.random.default_rng(seed)
    rest = train_names[1:]
    pool = [rest[i] for i in rng.permutation(len(rest))]
    renumbered = pool.pop()
    # The non-square EXIF case needs an image whose sides differ; take the first one drawn.
    exif_name = next((n for n in pool if not _is_square(root, n)), None)
    if exif_name is None:
        raise ValueError("every drawn train image is square; the non-square EXIF case needs one")
    pool.remove(exif_name)
    done: dict[str, list[str]] = {"exif_orientation": exif_rotate(root, exif_name, 6)}
    square = pool.pop(0)
    make_square_entry(root, square)
    done["exif_orientation_square"] = exif_rotate(root, square, 6)
    done["palette_trimap"] = palette_trimap(root, pool.pop(0))
    done["sixteen_bit_trimap"] = sixteen_bit_trimap(root, pool.pop(0))
    tab = pool.pop(0)
    done["name_with_tab"] = rename_with_whitespace(root, tab, tab.replace("_", "\t", 1))
    spaced = pool.pop(0)
    done["name_with_space"] = rename_with_whitespace(root, spaced, spaced + " copy")
    existing = set(os.listdir(os.path.join(root, layout.IMAGES_DIR)))
    fresh: list[str] = []
    while len(fresh) < 2:
        breed = layout.CLASS_NAMES[int(rng.integers(layout.NUM_CLASSES))]
        name = f"{breed}_{9000 + int(rng.integers(1000))}"
        if name + layout.IMAGE_SUFFIX not in existing and name not in fresh:
            fresh.append(name)
    done["dangling_symlink_listed"] = dangling_symlink(root, fresh[0], listed=True, split="train")
    done["dangling_symlink_unlisted"] = dangling_symlink(root, fresh[1], listed=False)
    done["renumbered_breed_column"] = renumber_breed_column(root, "train", [renumbered])
    done["comment_lines"] = add_comment_lines(root, "train")
    done["blank_lines"] = add_blank_lines(root, "test")
    done["crlf"] = use_crlf(root, "test")
    done["bom"] = add_bom(root, "test")
    return done
