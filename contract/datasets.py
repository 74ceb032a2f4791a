"""What every stage needs to know about each dataset the pipeline can read.

TFDS builders name their features differently and label their masks differently, so each
supported builder is registered here once: which TFDS features hold the image, the mask, the
breed label, the species and the file name; which values a mask may hold (anything else is bad
data; the model's class k is the k-th value); and the names of its classes, species and breeds,
for reports and clients.
"""

import dataclasses
from typing import Dict, Tuple

from contract import oxford_pets


@dataclasses.dataclass(frozen=True)
class DatasetFacts:
    """One TFDS builder's features, mask labels and the names of its classes."""

    image_feature: str
    mask_feature: str
    label_feature: str
    species_feature: str
    file_name_feature: str
    mask_values: Tuple[int, ...]
    class_names: Tuple[str, ...]
    species_names: Tuple[str, ...]
    label_names: Tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


DATASETS: Dict[str, DatasetFacts] = {
    # Trimap values per the dataset's README: 1 = pet, 2 = background, 3 = border
    # ("not classified"); the model's class is value - 1 (docs/stack.md, "Data").
    "oxford_iiit_pet": DatasetFacts(
        image_feature="image",
        mask_feature="segmentation_mask",
        label_feature="label",
        species_feature="species",
        file_name_feature="file_name",
        mask_values=(oxford_pets.TRIMAP_PET, oxford_pets.TRIMAP_BACKGROUND, oxford_pets.TRIMAP_BORDER),
        class_names=("pet", "background", "border"),
        species_names=oxford_pets.SPECIES_NAMES,
        label_names=oxford_pets.CLASS_NAMES,
    ),
}
DEFAULT_DATASET = "oxford_iiit_pet"
# The classes of the default dataset, which `segpipe predict` and the report colour.
CLASS_NAMES = DATASETS[DEFAULT_DATASET].class_names


def dataset_facts(name: str) -> DatasetFacts:
    """The registered facts of a TFDS builder, or an error naming the supported ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"dataset {name!r} is not registered in contract/datasets.py; "
            f"supported: {', '.join(sorted(DATASETS))}"
        ) from None
