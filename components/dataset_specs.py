"""What the pipeline needs to know about each TFDS segmentation dataset it can read.

TFDS builders name their features differently and label their masks differently, so each
supported builder is registered here once: which TFDS features hold the image, the mask, the
breed label, the species and the file name, which values a mask may hold (anything else is bad
data), the names of its classes, species and breeds (for reports), and how to check a local copy
of its raw files before the builder reads them.
"""
import dataclasses
from typing import Callable, Dict, List, Optional, Tuple

from contract import oxford_pets
from components.data_quality import BadRecord
from components.raw_files_check import stage_oxford_pets

RawFilesCheck = Callable[[Dict[str, str], str], Tuple[Dict[str, str], List[BadRecord]]]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One TFDS builder's features, mask labels and raw-file check."""
    image_feature: str
    mask_feature: str
    label_feature: str
    species_feature: str
    file_name_feature: str
    mask_values: Tuple[int, ...]
    class_names: Tuple[str, ...]
    species_names: Tuple[str, ...]
    label_names: Tuple[str, ...]
    check_raw_files: Optional[RawFilesCheck] = None


DATASETS: Dict[str, DatasetSpec] = {
    # Trimap values per the dataset's README: 1 = pet, 2 = background, 3 = border
    # ("not classified"); the model's class is value - 1.
    "oxford_iiit_pet": DatasetSpec(
        image_feature="image", mask_feature="segmentation_mask", label_feature="label",
        species_feature="species", file_name_feature="file_name", mask_values=(1, 2, 3),
        class_names=("pet", "background", "border"),
        species_names=oxford_pets.SPECIES_NAMES, label_names=oxford_pets.CLASS_NAMES,
        check_raw_files=stage_oxford_pets),
}


def dataset_spec(name: str) -> DatasetSpec:
    """The registered spec of a TFDS builder, or an error naming the supported ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"dataset {name!r} is not registered in components/dataset_specs.py; "
                         f"supported: {', '.join(sorted(DATASETS))}") from None
