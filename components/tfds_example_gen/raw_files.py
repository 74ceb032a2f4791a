"""Checks a local copy of Oxford-IIIT Pet's raw files before TFDS's builder reads them.

The real builder reads each list line with `line.strip().split(" ")`, expects exactly four
fields, and opens every listed image and trimap: one missing file, a blank line, a `#` comment,
a byte-order mark, a name with a space or an unparsable head-box XML ends the whole preparation
with a stack trace. This check reads the list files the way people write them and builds a
staging view the builder can read: a folder of symlinks to the listed files only, and list files
holding one clean line per usable entry. So:

- blank lines, `#` comment lines (the real `list.txt` starts with six), a UTF-8 byte-order mark
  and CRLF line ends are read past, and counted as notes;
- a name with spaces or tabs is kept whole: it is staged under an escaped name the builder can
  split (`staged_name`), and the executor turns it back (`original_name`);
- the fourth column (breed id within species) is never read by the builder: a line whose fourth
  column follows another numbering is kept, and counted as a note;
- what the builder cannot use is left out and reported by reason: a line that is not
  `<name> <class> <species> <breed id>`, a class id outside 1..37, a species that contradicts the
  class (the builder would store it as the label), a name listed twice, a listed image or mask
  that is missing (a dangling symlink included), a head-box XML the builder would die on;
- files in images/ that no list names are never opened (a dangling symlink among them is
  harmless);
- a split left with no usable entry stops the run with one line naming it, before the builder
  fails on it ("No examples were yielded").

The user's directory is never modified.
"""

import dataclasses
import os
import re
import xml.etree.ElementTree as ElementTree
from typing import Callable, Dict, List, Optional, Set, Tuple

from PIL import Image

from components.tfds_example_gen.data_quality import BadRecord, DataQualityError
from contract import oxford_pets as layout

# A list line as people write it: a name (which may hold spaces or tabs), then three integers.
_LIST_LINE = re.compile(r"(?P<name>.+?) +(?P<class_id>-?\d+) +(?P<species_id>-?\d+) +(?P<breed_id>-?\d+)")
_BOM = "\ufeff"
# Notes: what was read past or kept although unusual; counted in the data-quality report.
NOTE_BLANK_LINES = "blank_lines"
NOTE_COMMENT_LINES = "comment_lines"
NOTE_BYTE_ORDER_MARK = "byte_order_marks"
NOTE_OTHER_BREED_NUMBERING = "breed_column_other_numbering"
NOTE_NAMES_WITH_SPACES = "names_with_spaces"


class EmptySplitError(DataQualityError):
    """A TFDS split has no usable entry: its builder would fail, and nothing could train or score.

    Carries what the check found, so the caller can still write the data-quality report.
    """

    def __init__(self, message: str, staged: "StagedFiles"):
        super().__init__(message)
        self.staged = staged


@dataclasses.dataclass
class StagedFiles:
    """What the raw-file check did: the roots to hand the builder, and what it found."""

    roots: Dict[str, str]
    bad: List[BadRecord]
    notes: Dict[str, int]
    kept: Dict[str, int]


def staged_name(name: str) -> str:
    """A name the builder's `split(" ")` keeps whole: '%' and ' ' escaped, reversibly."""
    return name.replace("%", "%25").replace(" ", "%20")


def original_name(staged: str) -> str:
    """The name `staged_name` escaped (any file name the builder reports after staging)."""
    return re.sub(r"%(20|25)", lambda match: " " if match.group(1) == "20" else "%", staged)


def _xml_number(root: ElementTree.Element, path: str) -> float:
    """The number at an element path of the head-box XML; ValueError naming a missing element."""
    text = root.findtext(path)
    if text is None:
        raise ValueError(f"no <{path}>")
    return float(text)


def _head_box_problem(path: str) -> Optional[str]:
    """Why the builder's XML reader would fail on this file, or None (absent files are fine)."""
    if not os.path.isfile(path):
        return None  # the builder gives entries without an XML an empty head box
    try:
        root = ElementTree.parse(path).getroot()
        size = {key: _xml_number(root, f"size/{key}") for key in ("width", "height")}
        coords = {key: _xml_number(root, f"object/bndbox/{key}") for key in ("xmin", "ymin", "xmax", "ymax")}
    except (ElementTree.ParseError, ValueError) as error:
        return str(error) or "missing fields"
    # TFDS's BBox feature refuses boxes outside the image ("Failed to encode example").
    if not (
        0 <= coords["xmin"] <= coords["xmax"] <= size["width"]
        and 0 <= coords["ymin"] <= coords["ymax"] <= size["height"]
    ):
        return f"head box {coords} lies outside the {size['width']:g}x{size['height']:g} image"
    return None


def read_list_line(line: str) -> Tuple[layout.ListEntry, bool]:
    """A list line as an entry, and whether its breed column follows the dataset's numbering.

    ValueError (without location) for what the builder cannot use: not four fields, a class id
    outside 1..37, or a species that contradicts the class. The name keeps its inner spaces
    and tabs; the builder's `strip()` removes the outer ones, and so does this.
    """
    text = line.strip()
    match = _LIST_LINE.fullmatch(text)
    if not match:
        raise ValueError(f"expected '<name> <class> <species> <breed id>', got {text!r}")
    name = match["name"].strip()
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"invalid image name {name!r}")
    class_id, species_id, breed_id = (int(match[key]) for key in ("class_id", "species_id", "breed_id"))
    if not 1 <= class_id <= layout.NUM_CLASSES:
        raise ValueError(f"class id {class_id} is outside 1..{layout.NUM_CLASSES}")
    expected = layout.ListEntry.for_class(name, class_id)
    if species_id != expected.species_id:
        raise ValueError(
            f"species {species_id} contradicts class {class_id} ({expected.breed}, species "
            f"{expected.species_id}); the builder would store it as the species label"
        )
    return expected, breed_id == expected.breed_id


def check_entry(
    entry: layout.ListEntry, images_root: str, annotations_root: str, split: str
) -> Optional[BadRecord]:
    """The problem that would stop the builder on this (parsed) entry's files, or None."""
    file_name = entry.name + layout.IMAGE_SUFFIX
    if not os.path.isfile(layout.image_path(images_root, entry)):
        dangling = os.path.islink(layout.image_path(images_root, entry))
        detail = f"{layout.IMAGES_DIR}/{file_name} is a symlink to a missing file" if dangling else None
        return BadRecord(
            file_name, "missing_image", detail or f"no file {layout.IMAGES_DIR}/{file_name}", split
        )
    if not os.path.isfile(layout.trimap_path(annotations_root, entry)):
        return BadRecord(
            file_name,
            "missing_mask",
            f"no file {layout.TRIMAPS_DIR}/{entry.name}{layout.TRIMAP_SUFFIX}",
            split,
        )
    if entry.name in layout.TFDS_REENCODED_NAMES:  # the builder decodes these while preparing
        try:
            with Image.open(layout.image_path(images_root, entry)) as image:
                image.load()
        except (OSError, ValueError) as error:
            return BadRecord(file_name, "undecodable_image", str(error), split)
    problem = _head_box_problem(layout.xml_path(annotations_root, entry))
    if problem:
        return BadRecord(
            file_name,
            "unreadable_annotation",
            f"{layout.XMLS_DIR}/{entry.name}{layout.XML_SUFFIX}: {problem}",
            split,
        )
    return None


def _shown_name(line: str) -> str:
    """The name a malformed line gives, for the report: all before the three numbers if they are
    there, else its first word."""
    match = _LIST_LINE.fullmatch(line.strip())
    return match["name"].strip() if match else line.split()[0]


def _entries(path: str, split: str, notes: Dict[str, int], bad: List[BadRecord]) -> List[layout.ListEntry]:
    """The usable entries of one list file; what is read past is counted, what is not usable
    is reported (with its whole name)."""
    entries: List[layout.ListEntry] = []
    seen: Set[str] = set()
    with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
        text = handle.read()
    if text.startswith(_BOM):
        notes[NOTE_BYTE_ORDER_MARK] = notes.get(NOTE_BYTE_ORDER_MARK, 0) + 1
        text = text[len(_BOM) :]
    for line in text.splitlines():
        if not line.strip():
            notes[NOTE_BLANK_LINES] = notes.get(NOTE_BLANK_LINES, 0) + 1
            continue
        if line.lstrip().startswith("#"):
            notes[NOTE_COMMENT_LINES] = notes.get(NOTE_COMMENT_LINES, 0) + 1
            continue
        try:
            entry, usual_breed_column = read_list_line(line)
        except ValueError as error:
            bad.append(
                BadRecord(_shown_name(line) + layout.IMAGE_SUFFIX, "malformed_list_line", str(error), split)
            )
            continue
        if entry.name in seen:
            bad.append(
                BadRecord(entry.name + layout.IMAGE_SUFFIX, "malformed_list_line", "name listed twice", split)
            )
            continue
        seen.add(entry.name)
        if not usual_breed_column:
            notes[NOTE_OTHER_BREED_NUMBERING] = notes.get(NOTE_OTHER_BREED_NUMBERING, 0) + 1
        entries.append(entry)
    return entries


def _link(source: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.symlink(os.path.abspath(source), target)


def stage_oxford_pets(roots: Dict[str, str], staging_dir: str) -> StagedFiles:
    """Builds the staging view from the builder's download roots ({'images', 'annotations'}).

    Raises FileNotFoundError when the layout's folders or list files are missing. A split that
    keeps no entry is staged empty: `empty_splits` names it, for the caller to stop before the
    builder fails on it.
    """
    images_root, annotations_root = roots["images"], roots["annotations"]
    for root, required in ((images_root, layout.IMAGES_DIR), (annotations_root, layout.ANNOTATIONS_DIR)):
        if not os.path.isdir(os.path.join(root, required)):
            raise FileNotFoundError(
                f"{os.path.join(root, required)}: not found; a local Oxford-IIIT Pet directory "
                f"needs images/ and annotations/ (trimaps/, xmls/, trainval.txt, test.txt)"
            )
    staged = StagedFiles(roots={key: staging_dir for key in roots}, bad=[], notes={}, kept={})
    for split in layout.SPLIT_LIST_FILES:
        source = layout.list_file_path(annotations_root, split)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{source}: the list file of TFDS split {split!r} is missing")
        lines = []
        for entry in _entries(source, split, staged.notes, staged.bad):
            problem = check_entry(entry, images_root, annotations_root, split)
            if problem:
                staged.bad.append(problem)
                continue
            alias = staged_name(entry.name)
            if alias != entry.name and " " in entry.name:
                staged.notes[NOTE_NAMES_WITH_SPACES] = staged.notes.get(NOTE_NAMES_WITH_SPACES, 0) + 1
            _link(layout.image_path(images_root, entry), layout.image_path(staging_dir, alias))
            _link(layout.trimap_path(annotations_root, entry), layout.trimap_path(staging_dir, alias))
            if os.path.isfile(layout.xml_path(annotations_root, entry)):
                _link(layout.xml_path(annotations_root, entry), layout.xml_path(staging_dir, alias))
            lines.append(layout.format_list_line(dataclasses.replace(entry, name=alias)) + "\n")
        staged.kept[split] = len(lines)
        os.makedirs(os.path.dirname(layout.list_file_path(staging_dir, split)), exist_ok=True)
        with open(layout.list_file_path(staging_dir, split), "w", encoding="utf-8") as out:
            out.writelines(lines)
    os.makedirs(os.path.join(staging_dir, layout.IMAGES_DIR), exist_ok=True)
    os.makedirs(os.path.join(staging_dir, layout.TRIMAPS_DIR), exist_ok=True)
    os.makedirs(os.path.join(staging_dir, layout.XMLS_DIR), exist_ok=True)
    return staged


def check_no_split_is_empty(staged: StagedFiles) -> None:
    """EmptySplitError naming the first TFDS split the check left without a usable entry."""
    for split, count in staged.kept.items():
        if count:
            continue
        bad = [record for record in staged.bad if record.split == split]
        reasons: Dict[str, int] = {}
        for record in bad:
            reasons[record.reason] = reasons.get(record.reason, 0) + 1
        counts = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        why = f"all {len(bad)} listed entries are bad ({counts})" if bad else "it lists no entry"
        raise EmptySplitError(
            f"TFDS split {split!r} ({layout.SPLIT_LIST_FILES[split]}) has no usable entry: {why}", staged
        )


# The raw-file check of each dataset whose local copy TFDS's builder reads from --data-dir:
# (download roots, staging dir) -> what it staged and found.
RawFilesCheck = Callable[[Dict[str, str], str], StagedFiles]
RAW_FILE_CHECKS: Dict[str, RawFilesCheck] = {"oxford_iiit_pet": stage_oxford_pets}
