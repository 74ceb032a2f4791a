"""Checks a local copy of Oxford-IIIT Pet's raw files before TFDS's builder reads them.

The real builder opens every listed image and trimap: one missing file, a malformed list line
or an unparsable head-box XML ends the whole preparation with a stack trace. This check finds
those entries and builds a staging view of the directory (symlinks to the real images and
annotations, plus list files without the bad entries), so the builder runs on what is good and
the bad entries are reported by reason and file. The user's directory is never modified.
"""
import os
import xml.etree.ElementTree as ElementTree
from typing import Dict, List, Tuple

from components.data_quality import BadRecord

LIST_FILES = {"train": "trainval.txt", "test": "test.txt"}


def _check_entry(line: str, images: str, annotations: str) -> Tuple[str, BadRecord | None]:
    """Returns (image name, problem or None) for one list line, by the builder's own rules."""
    fields = line.strip().split(" ")
    name = fields[0] if fields and fields[0] else "<blank line>"
    if len(fields) != 4 or not (fields[1].isdigit() and fields[2].isdigit()):
        return name, BadRecord(name, "malformed_list_line", f"line reads {line.strip()[:80]!r}")
    if not os.path.isfile(os.path.join(images, name + ".jpg")):
        return name, BadRecord(name + ".jpg", "missing_image", f"no file images/{name}.jpg")
    if not os.path.isfile(os.path.join(annotations, "trimaps", name + ".png")):
        return name, BadRecord(name + ".jpg", "missing_mask",
                               f"no file annotations/trimaps/{name}.png")
    xml_path = os.path.join(annotations, "xmls", name + ".xml")
    if os.path.isfile(xml_path):
        try:
            root = ElementTree.parse(xml_path).getroot()
            box = root.find("object").find("bndbox")  # type: ignore[union-attr]
            for key in ("width", "height"):
                float(root.find("size").find(key).text)  # type: ignore[union-attr,arg-type]
            for key in ("xmin", "ymin", "xmax", "ymax"):
                float(box.find(key).text)  # type: ignore[union-attr,arg-type]
        except (ElementTree.ParseError, AttributeError, TypeError, ValueError) as error:
            return name, BadRecord(name + ".jpg", "unreadable_annotation",
                                   f"annotations/xmls/{name}.xml: {error or 'missing fields'}")
    return name, None


def stage_oxford_pets(roots: Dict[str, str], staging_dir: str) -> Tuple[Dict[str, str], List[BadRecord]]:
    """Builds the staging view from the builder's download roots ({'images', 'annotations'}).

    Returns the roots to hand to the builder instead, and the entries left out.
    """
    images = os.path.join(roots["images"], "images")
    annotations = os.path.join(roots["annotations"], "annotations")
    for required in (images, annotations):
        if not os.path.isdir(required):
            raise FileNotFoundError(
                f"{required}: not found; a local Oxford-IIIT Pet directory needs images/ and "
                f"annotations/ (with trimaps/, xmls/, trainval.txt, test.txt)")
    os.makedirs(os.path.join(staging_dir, "annotations"), exist_ok=True)
    links = {"images": images,
             os.path.join("annotations", "trimaps"): os.path.join(annotations, "trimaps"),
             os.path.join("annotations", "xmls"): os.path.join(annotations, "xmls")}
    for relative, target in links.items():
        link = os.path.join(staging_dir, relative)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.abspath(target), link)

    bad: List[BadRecord] = []
    for split, list_name in LIST_FILES.items():
        source = os.path.join(annotations, list_name)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{source}: list file of the {split} split is missing")
        kept = []
        with open(source, encoding="utf-8") as handle:
            for line in handle:
                _, problem = _check_entry(line, images, annotations)
                if problem:
                    bad.append(BadRecord(problem.file_name, problem.reason, problem.detail, split))
                else:
                    kept.append(line.strip() + "\n")
        with open(os.path.join(staging_dir, "annotations", list_name), "w", encoding="utf-8") as out:
            out.writelines(kept)
    return {key: staging_dir for key in roots}, bad
