"""Checks a local copy of Oxford-IIIT Pet's raw files before TFDS's builder reads them.

The real builder opens every listed image and trimap: one missing file, a malformed list line
or an unparsable head-box XML ends the whole preparation with a stack trace. This check finds
those entries and builds a staging view of the directory (symlinks to the real images and
annotations, plus list files without the bad entries), so the builder runs on what is good and
the bad entries are reported by reason and file. The user's directory is never modified.
"""

import os
import xml.etree.ElementTree as ElementTree
from typing import Callable, Dict, List, Optional, Set, Tuple

from PIL import Image

from components.tfds_example_gen.data_quality import BadRecord
from contract import oxford_pets as layout


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


def check_entry(
    line: str, images_root: str, annotations_root: str, split: str, seen: Set[str]
) -> Optional[BadRecord]:
    """The problem that would stop the builder on this list line, or None."""
    try:
        entry = layout.parse_list_line(line)
    except ValueError as error:
        name = line.strip().split(" ")[0]
        file_name = name + layout.IMAGE_SUFFIX if name else "<blank line>"
        return BadRecord(file_name, "malformed_list_line", str(error), split)
    file_name = entry.name + layout.IMAGE_SUFFIX
    if entry.name in seen:
        return BadRecord(file_name, "malformed_list_line", "name listed twice", split)
    seen.add(entry.name)
    if not os.path.isfile(layout.image_path(images_root, entry)):
        return BadRecord(file_name, "missing_image", f"no file {layout.IMAGES_DIR}/{file_name}", split)
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


def stage_oxford_pets(roots: Dict[str, str], staging_dir: str) -> Tuple[Dict[str, str], List[BadRecord]]:
    """Builds the staging view from the builder's download roots ({'images', 'annotations'}).

    Returns the roots to hand to the builder instead, and the entries left out.
    """
    images_root, annotations_root = roots["images"], roots["annotations"]
    for root, required in ((images_root, layout.IMAGES_DIR), (annotations_root, layout.ANNOTATIONS_DIR)):
        if not os.path.isdir(os.path.join(root, required)):
            raise FileNotFoundError(
                f"{os.path.join(root, required)}: not found; a local Oxford-IIIT Pet directory "
                f"needs images/ and annotations/ (trimaps/, xmls/, trainval.txt, test.txt)"
            )
    os.makedirs(os.path.join(staging_dir, layout.ANNOTATIONS_DIR), exist_ok=True)
    for relative, root in (
        (layout.IMAGES_DIR, images_root),
        (layout.TRIMAPS_DIR, annotations_root),
        (layout.XMLS_DIR, annotations_root),
    ):
        os.symlink(os.path.abspath(os.path.join(root, relative)), os.path.join(staging_dir, relative))

    bad: List[BadRecord] = []
    for split in layout.SPLIT_LIST_FILES:
        source = layout.list_file_path(annotations_root, split)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{source}: the list file of TFDS split {split!r} is missing")
        kept: List[str] = []
        seen: Set[str] = set()
        with open(source, encoding="utf-8") as handle:
            for line in handle:
                problem = check_entry(line, images_root, annotations_root, split, seen)
                if problem:
                    bad.append(problem)
                else:
                    kept.append(line.strip() + "\n")
        with open(layout.list_file_path(staging_dir, split), "w", encoding="utf-8") as out:
            out.writelines(kept)
    return {key: staging_dir for key in roots}, bad


# The raw-file check of each dataset whose local copy TFDS's builder reads from --data-dir:
# (download roots, staging dir) -> (roots to hand to the builder, entries left out).
RawFilesCheck = Callable[[Dict[str, str], str], Tuple[Dict[str, str], List[BadRecord]]]
RAW_FILE_CHECKS: Dict[str, RawFilesCheck] = {"oxford_iiit_pet": stage_oxford_pets}
