"""On-disk layout of the Oxford-IIIT Pet dataset, as TFDS's `oxford_iiit_pet` builder reads it.

The facts live in one place because three parties must agree on them byte for byte: the synthetic
data generator (which writes this layout), the ExampleGen's pre-check (which looks for missing or
malformed files before TFDS fails on them half-way through a split), and TFDS's own builder (which
parses the list files with `line.strip().split(" ")` and joins file names onto fixed directories).

Layout under a root directory:

    images/<name>.jpg                 RGB JPEG
    annotations/trimaps/<name>.png    8-bit single-channel PNG: 1 pet, 2 background, 3 border
    annotations/xmls/<name>.xml       PASCAL VOC-style head box (trainval images only)
    annotations/trainval.txt          TFDS split "train"
    annotations/test.txt              TFDS split "test"

List-file lines read `<name> <class id 1..37> <species id 1=cat|2=dog> <breed id>`, the breed id
being the 1-based index of the breed among the breeds of its species.

This module only computes names and parses text: it has no side effects beyond reading the file
handed to `parse_list_file`, and imports nothing beyond the standard library.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Union

# The 37 breeds in the dataset's class-id order (class id = index + 1). The order is the real
# dataset's (alphabetical, case-insensitive) and equals TFDS's `_LABEL_CLASSES`, so TFDS label
# `class_id - 1` names the same breed here. Cat breeds are the capitalised names.
CLASS_NAMES: tuple[str, ...] = (
    "Abyssinian",
    "american_bulldog",
    "american_pit_bull_terrier",
    "basset_hound",
    "beagle",
    "Bengal",
    "Birman",
    "Bombay",
    "boxer",
    "British_Shorthair",
    "chihuahua",
    "Egyptian_Mau",
    "english_cocker_spaniel",
    "english_setter",
    "german_shorthaired",
    "great_pyrenees",
    "havanese",
    "japanese_chin",
    "keeshond",
    "leonberger",
    "Maine_Coon",
    "miniature_pinscher",
    "newfoundland",
    "Persian",
    "pomeranian",
    "pug",
    "Ragdoll",
    "Russian_Blue",
    "saint_bernard",
    "samoyed",
    "scottish_terrier",
    "shiba_inu",
    "Siamese",
    "Sphynx",
    "staffordshire_bull_terrier",
    "wheaten_terrier",
    "yorkshire_terrier",
)
NUM_CLASSES: int = len(CLASS_NAMES)

# Species ids as the list files write them; TFDS's `species` label is `species_id - 1` into
# SPECIES_NAMES (its ClassLabel names are exactly "Cat" and "Dog").
SPECIES_CAT: int = 1
SPECIES_DOG: int = 2
SPECIES_NAMES: tuple[str, ...] = ("Cat", "Dog")

# Trimap pixel values, per the dataset's README (the TensorFlow tutorial's text swaps 2 and 3).
TRIMAP_PET: int = 1
TRIMAP_BACKGROUND: int = 2
TRIMAP_BORDER: int = 3
TRIMAP_VALUES: frozenset[int] = frozenset({TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER})

# Paths relative to the dataset root. TFDS joins "images" onto its images archive's extraction
# directory and "annotations" onto the annotations archive's, so one root can serve as both.
IMAGES_DIR: str = "images"
ANNOTATIONS_DIR: str = "annotations"
TRIMAPS_DIR: str = os.path.join(ANNOTATIONS_DIR, "trimaps")
XMLS_DIR: str = os.path.join(ANNOTATIONS_DIR, "xmls")
TRAINVAL_LIST: str = os.path.join(ANNOTATIONS_DIR, "trainval.txt")
TEST_LIST: str = os.path.join(ANNOTATIONS_DIR, "test.txt")

# TFDS split name -> list file that defines it.
SPLIT_LIST_FILES: dict[str, str] = {"train": TRAINVAL_LIST, "test": TEST_LIST}

IMAGE_SUFFIX: str = ".jpg"
TRIMAP_SUFFIX: str = ".png"
XML_SUFFIX: str = ".xml"

# Names that TFDS's builder always decodes and re-encodes with `tf.io.encode_jpeg` (the real
# dataset has corrupt JPEGs under these names). In tensorflow-datasets 4.9.10 this happens in
# memory, so the records hold re-encoded bytes, not the file's, and an undecodable file under one
# of these names fails `download_and_prepare` (any other undecodable image is stored as is and
# only fails when read). Earlier 4.x releases rewrote the file in place in the extraction
# directory. Generators avoid these names; pre-checks can warn about them.
TFDS_REENCODED_NAMES: frozenset[str] = frozenset(
    {
        "beagle_116",
        "chihuahua_121",
        "Abyssinian_5",
        "Abyssinian_34",
        "Egyptian_Mau_14",
        "Egyptian_Mau_139",
        "Egyptian_Mau_145",
        "Egyptian_Mau_156",
        "Egyptian_Mau_167",
        "Egyptian_Mau_177",
        "Egyptian_Mau_186",
        "Egyptian_Mau_191",
    }
)

PathLike = Union[str, "os.PathLike[str]"]


def species_of(class_id: int) -> int:
    """Species id (1 = cat, 2 = dog) of a class id; the dataset capitalises cat breeds only."""
    _check_class_id(class_id)
    return SPECIES_CAT if CLASS_NAMES[class_id - 1][0].isupper() else SPECIES_DOG


def breed_id_of(class_id: int) -> int:
    """1-based index of the class among the classes of its species, as the list files write it."""
    species = species_of(class_id)
    same_species = [c for c in range(1, NUM_CLASSES + 1) if species_of(c) == species]
    return same_species.index(class_id) + 1


def class_id_of(breed: str) -> int:
    """Class id (1..37) of a breed name spelled exactly as in CLASS_NAMES."""
    try:
        return CLASS_NAMES.index(breed) + 1
    except ValueError:
        raise ValueError(f"unknown breed {breed!r}; expected one of {CLASS_NAMES}") from None


def _check_class_id(class_id: int) -> None:
    """Rejects class ids outside 1..37, which would silently index the wrong breed."""
    if not 1 <= class_id <= NUM_CLASSES:
        raise ValueError(f"class id {class_id} is outside 1..{NUM_CLASSES}")


@dataclasses.dataclass(frozen=True)
class ListEntry:
    """One line of trainval.txt / test.txt: an image name and its (redundant) label ids.

    species_id and breed_id follow from class_id; they are kept because the files carry them and a
    mismatch is a sign of a damaged or hand-edited list file.
    """

    name: str
    class_id: int
    species_id: int
    breed_id: int

    @property
    def breed(self) -> str:
        """Breed name of the entry's class, e.g. "Abyssinian"."""
        return CLASS_NAMES[self.class_id - 1]

    @classmethod
    def for_class(cls, name: str, class_id: int) -> ListEntry:
        """Entry whose species and breed ids are derived from the class id (so consistent)."""
        return cls(name, class_id, species_of(class_id), breed_id_of(class_id))


def format_list_line(entry: ListEntry) -> str:
    """The entry as a list-file line, without newline: `<name> <class> <species> <breed id>`."""
    return f"{entry.name} {entry.class_id} {entry.species_id} {entry.breed_id}"


def parse_list_line(line: str) -> ListEntry:
    """Parses one list-file line; raises ValueError (without location) if it is malformed.

    Mirrors TFDS's `line.strip().split(" ")`: exactly four fields separated by single spaces, so a
    line this accepts is one TFDS reads the same way, and one it rejects would break TFDS.
    """
    fields = line.strip().split(" ")
    if len(fields) != 4:
        raise ValueError(f"expected 4 space-separated fields, got {len(fields)}: {line.strip()!r}")
    name = fields[0]
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"invalid image name {name!r}")
    try:
        class_id, species_id, breed_id = (int(f) for f in fields[1:])
    except ValueError:
        raise ValueError(f"class, species and breed ids must be integers: {line.strip()!r}") from None
    _check_class_id(class_id)
    expected = ListEntry.for_class(name, class_id)
    if (species_id, breed_id) != (expected.species_id, expected.breed_id):
        raise ValueError(
            f"class {class_id} ({expected.breed}) has species {expected.species_id} and breed id "
            f"{expected.breed_id}, the line says species {species_id} and breed id {breed_id}"
        )
    return expected


def parse_list_file(path: PathLike) -> list[ListEntry]:
    """Parses a whole list file; raises ValueError naming the file and 1-based line number.

    Blank lines are errors (TFDS would crash on them) and so are repeated names (TFDS keys
    examples by file name and rejects duplicate keys).
    """
    entries: list[ListEntry] = []
    first_seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            try:
                entry = parse_list_line(line)
            except ValueError as e:
                raise ValueError(f"{os.fspath(path)}:{line_no}: malformed list line: {e}") from None
            if entry.name in first_seen:
                raise ValueError(
                    f"{os.fspath(path)}:{line_no}: name {entry.name!r} repeats line {first_seen[entry.name]}"
                )
            first_seen[entry.name] = line_no
            entries.append(entry)
    return entries


def _name(entry: Union[ListEntry, str]) -> str:
    """Image name of an entry, or the name itself."""
    return entry.name if isinstance(entry, ListEntry) else entry


def image_path(root: PathLike, entry: Union[ListEntry, str]) -> str:
    """Path of the entry's JPEG under a dataset root."""
    return os.path.join(root, IMAGES_DIR, _name(entry) + IMAGE_SUFFIX)


def trimap_path(root: PathLike, entry: Union[ListEntry, str]) -> str:
    """Path of the entry's trimap PNG under a dataset root."""
    return os.path.join(root, TRIMAPS_DIR, _name(entry) + TRIMAP_SUFFIX)


def xml_path(root: PathLike, entry: Union[ListEntry, str]) -> str:
    """Path of the entry's head-box XML under a dataset root (only trainval images have one)."""
    return os.path.join(root, XMLS_DIR, _name(entry) + XML_SUFFIX)


def list_file_path(root: PathLike, split: str) -> str:
    """Path of the list file defining a TFDS split ("train" or "test") under a dataset root."""
    try:
        return os.path.join(root, SPLIT_LIST_FILES[split])
    except KeyError:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_LIST_FILES)}") from None
