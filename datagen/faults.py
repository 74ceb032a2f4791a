"""Damages a generated Oxford-layout dataset in the ways real data goes bad.

Used by the tests and by `segpipe make-data --faults N` so that anyone can watch the bad-data
gate work: each kind of fault is applied to N distinct list entries (trainval first), chosen
deterministically from the seed, and the damaged names are returned per kind.
"""

import os
from typing import Dict, List

import numpy as np
from PIL import Image

from contract import oxford_pets as layout

FAULT_KINDS = (
    "truncated_image",  # JPEG cut in half: 'Premature end of JPEG data'
    "not_an_image",  # random bytes under a .jpg name
    "truncated_mask",  # PNG cut in half
    "mask_wrong_size",  # trimap of another size than its image
    "mask_unknown_values",  # trimap holding a value outside {1, 2, 3}
    "missing_image",  # listed, but the JPEG is gone
    "missing_mask",  # listed, but the trimap is gone
    "malformed_list_line",  # a list line that does not read '<name> <class> <species> <breed>'
)

# The reason (components/data_quality.REASONS) under which the gate must report each fault.
REPORTED_AS = {
    "truncated_image": "undecodable_image",
    "not_an_image": "undecodable_image",
    "truncated_mask": "undecodable_mask",
    "mask_wrong_size": "mask_size_mismatch",
    "mask_unknown_values": "unknown_mask_values",
    "missing_image": "missing_image",
    "missing_mask": "missing_mask",
    "malformed_list_line": "malformed_list_line",
}


def _truncate(path: str) -> None:
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])


def _rewrite_mask(path: str, change) -> None:
    with Image.open(path) as mask:
        values = np.array(mask)
    Image.fromarray(change(values).astype(np.uint8), mode="L").save(path, format="PNG")


def _break_list_line(root: str, name: str) -> None:
    for split in layout.SPLIT_LIST_FILES:
        path = layout.list_file_path(root, split)
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
        changed = [f"{name} not-a-class\n" if line.split(" ")[0] == name else line for line in lines]
        if changed != lines:
            with open(path, "w", encoding="utf-8") as handle:
                handle.writelines(changed)


def inject_faults(root: str, per_kind: int, seed: int = 0) -> Dict[str, List[str]]:
    """Applies every fault kind to `per_kind` distinct entries; returns the names per kind."""
    entries = [
        e for split in ("train", "test") for e in layout.parse_list_file(layout.list_file_path(root, split))
    ]
    needed = per_kind * len(FAULT_KINDS)
    if needed > len(entries):
        raise ValueError(f"per_kind={per_kind}: needs {needed} entries, the dataset has {len(entries)}")
    rng = np.random.default_rng(seed)
    chosen = [entries[i] for i in sorted(rng.choice(len(entries), size=needed, replace=False))]
    damaged: Dict[str, List[str]] = {}
    for index, kind in enumerate(FAULT_KINDS):
        for entry in chosen[index * per_kind : (index + 1) * per_kind]:
            image, mask = layout.image_path(root, entry), layout.trimap_path(root, entry)
            if kind == "truncated_image":
                _truncate(image)
            elif kind == "not_an_image":
                with open(image, "wb") as handle:
                    handle.write(rng.bytes(2048))
            elif kind == "truncated_mask":
                _truncate(mask)
            elif kind == "mask_wrong_size":
                _rewrite_mask(mask, lambda v: v[: max(1, v.shape[0] // 2)])
            elif kind == "mask_unknown_values":
                _rewrite_mask(mask, lambda v: np.where(v == layout.TRIMAP_BORDER, 7, v))
            elif kind == "missing_image":
                os.remove(image)
            elif kind == "missing_mask":
                os.remove(mask)
            else:
                _break_list_line(root, entry.name)
            damaged.setdefault(kind, []).append(entry.name)
    return damaged
