"""Publishing a model as a numbered version: complete or invisible, never half-written.

TF Serving watches MODEL_BASE/MODEL_NAME/ and loads any subdirectory named by an integer
(serving/model_layout.py). TFX's stock Pusher copies straight into such a directory (named by
the Unix time), so a server that polls mid-copy can find a version without its variables. Here
the copy is built in a hidden sibling, completed and checked there, and only then renamed to
its version number (components/shared/atomic.py): a version directory either does not exist
or is whole. Pruning hides a version before deleting it, so it never leaves half a version
either.

Two kinds of model are published this way (`Layout`): the SavedModel, by the Pusher, as the
next version 1, 2, 3, ... (always increasing; only the newest `keep` stay), and the phone
model (TFLite), beside it under the SavedModel's own number, pruned with it: an app and the
server then name the same model by the same version.

Publishing is idempotent: a model whose identity files are byte-identical to a published
version's (a rerun of a run killed after its push) is not published again.
"""

import dataclasses
import logging
import os
import shutil
from typing import Callable, List, Optional, Tuple

from components.shared import atomic
from contract.names import TFLITE_CONTRACT_FILE, TFLITE_MODEL_FILE
from serving.model_layout import SAVED_MODEL_FILE, VARIABLES_DIR, version_dir, versions


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a version directory must hold, and which of its files tell two models apart."""

    required: Tuple[str, ...]
    identity: Tuple[str, ...]


# A SavedModel is the same model when its graph and its variables' index are.
SAVED_MODEL = Layout(
    required=(SAVED_MODEL_FILE, VARIABLES_DIR),
    identity=(SAVED_MODEL_FILE, os.path.join(VARIABLES_DIR, "variables.index")),
)
TFLITE = Layout(
    required=(TFLITE_MODEL_FILE, TFLITE_CONTRACT_FILE),
    identity=(TFLITE_MODEL_FILE, TFLITE_CONTRACT_FILE),
)


class IncompleteModelError(RuntimeError):
    """The model to publish lacks a file its readers need."""


def _check_complete(model_dir: str, layout: Layout) -> None:
    missing = [name for name in layout.required if not os.path.exists(os.path.join(model_dir, name))]
    if missing:
        raise IncompleteModelError(f"{model_dir}: missing {', '.join(missing)}; not publishing it")


def _same_model(first: str, second: str, layout: Layout) -> bool:
    """Byte-identical identity files: the same exported model."""
    for name in layout.identity:
        paths = (os.path.join(first, name), os.path.join(second, name))
        if not all(os.path.isfile(p) for p in paths):
            return False
        with open(paths[0], "rb") as one, open(paths[1], "rb") as other:
            if one.read() != other.read():
                return False
    return True


def published_version_of(model_dir: str, base: str) -> Optional[int]:
    """The version under base that holds this very SavedModel, if it was published already."""
    return next(
        (v for v in reversed(versions(base)) if _same_model(model_dir, version_dir(base, v), SAVED_MODEL)),
        None,
    )


def publish(
    model_dir: str, base: str, keep: int, prepare: Callable[[str], None] = lambda staged: None
) -> int:
    """Copies a SavedModel to the next version under base; returns the version number.

    `prepare` runs on the staged copy before it becomes visible (e.g. writes warmup requests).
    """
    _check_complete(model_dir, SAVED_MODEL)
    os.makedirs(base, exist_ok=True)
    atomic.remove_leftovers(base)
    existing = published_version_of(model_dir, base)
    if existing is not None:
        logging.info("%s is already published as version %d under %s", model_dir, existing, base)
        return existing
    with atomic.staged_directory(base) as staged:
        shutil.copytree(model_dir, staged, dirs_exist_ok=True)
        prepare(staged)
        _check_complete(staged, SAVED_MODEL)
        version = atomic.move_to_free_name(staged, base, max(versions(base), default=0) + 1)
    logging.info("published %s as version %d under %s", model_dir, version, base)
    prune(base, keep)
    return version


def publish_as(model_dir: str, base: str, version: int, layout: Layout) -> str:
    """Copies model_dir to exactly `version` under base (another model's version N is
    replaced whole: the number belongs to the SavedModel it was made from); its directory."""
    _check_complete(model_dir, layout)
    os.makedirs(base, exist_ok=True)
    atomic.remove_leftovers(base)
    target = version_dir(base, version)
    if _same_model(model_dir, target, layout):
        logging.info("%s is already published as version %d under %s", model_dir, version, base)
        return target
    with atomic.staged_directory(base) as staged:
        shutil.copytree(model_dir, staged, dirs_exist_ok=True)
        _check_complete(staged, layout)
        atomic.replace_directory(staged, target)
    logging.info("published %s as version %d under %s", model_dir, version, base)
    return target


def prune(base: str, keep: int) -> List[int]:
    """Deletes all but the newest `keep` versions; returns the deleted ones."""
    old = versions(base)[:-keep] if keep > 0 else []
    return _remove(base, old)


def prune_with(base: str, reference_base: str) -> List[int]:
    """Deletes the versions under base whose number is gone from reference_base (the versions
    the Pusher pruned); returns the deleted ones."""
    kept = set(versions(reference_base))
    return _remove(base, [version for version in versions(base) if version not in kept])


def _remove(base: str, old: List[int]) -> List[int]:
    for version in old:
        atomic.remove_directory(version_dir(base, version))
        logging.info("removed old version %d from %s", version, base)
    return old
