"""Publishing a SavedModel as a TF Serving version: complete or invisible, never half-written.

TF Serving watches MODEL_BASE/MODEL_NAME/ and loads any subdirectory named by an integer
(serving/model_layout.py). TFX's stock Pusher copies straight into such a directory (named by
the Unix time), so a server that polls mid-copy can find a version without its variables. Here
the copy is built in a hidden sibling, completed and checked there, and only then renamed to
the next version number (components/shared/atomic.py): a version directory either does not
exist or is whole. Versions are 1, 2, 3, ... (always increasing), and only the newest `keep`
stay; pruning hides a version before deleting it, so it never leaves half a version either.

Publishing is idempotent: a model whose SavedModel is byte-identical to a published version
(a rerun of a run killed after its push) is not published again; its version is returned.
"""

import logging
import os
import shutil
from typing import Callable, List, Optional

from components.shared import atomic
from serving.model_layout import SAVED_MODEL_FILE, VARIABLES_DIR, version_dir, versions

REQUIRED = (SAVED_MODEL_FILE, VARIABLES_DIR)
# What makes two exports the same model: the graph and the variables' index.
IDENTITY_FILES = (SAVED_MODEL_FILE, os.path.join(VARIABLES_DIR, "variables.index"))


class IncompleteModelError(RuntimeError):
    """The model to publish lacks a file TF Serving needs."""


def _check_complete(model_dir: str) -> None:
    missing = [name for name in REQUIRED if not os.path.exists(os.path.join(model_dir, name))]
    if missing:
        raise IncompleteModelError(f"{model_dir}: missing {', '.join(missing)}; not publishing it")


def _same_model(first: str, second: str) -> bool:
    """Byte-identical identity files: the same exported model."""
    for name in IDENTITY_FILES:
        paths = (os.path.join(first, name), os.path.join(second, name))
        if not all(os.path.isfile(p) for p in paths):
            return False
        with open(paths[0], "rb") as one, open(paths[1], "rb") as other:
            if one.read() != other.read():
                return False
    return True


def published_version_of(model_dir: str, base: str) -> Optional[int]:
    """The version under base that holds this very model, if it was published already."""
    return next((v for v in reversed(versions(base)) if _same_model(model_dir, version_dir(base, v))), None)


def publish(
    model_dir: str, base: str, keep: int, prepare: Callable[[str], None] = lambda staged: None
) -> int:
    """Copies model_dir to the next version under base; returns the version number.

    `prepare` runs on the staged copy before it becomes visible (e.g. writes warmup requests).
    """
    _check_complete(model_dir)
    os.makedirs(base, exist_ok=True)
    atomic.remove_leftovers(base)
    existing = published_version_of(model_dir, base)
    if existing is not None:
        logging.info("%s is already published as version %d under %s", model_dir, existing, base)
        return existing
    with atomic.staged_directory(base) as staged:
        shutil.copytree(model_dir, staged, dirs_exist_ok=True)
        prepare(staged)
        _check_complete(staged)
        version = atomic.move_to_free_name(staged, base, max(versions(base), default=0) + 1)
    logging.info("published %s as version %d under %s", model_dir, version, base)
    prune(base, keep)
    return version


def prune(base: str, keep: int) -> List[int]:
    """Deletes all but the newest `keep` versions; returns the deleted ones."""
    old = versions(base)[:-keep] if keep > 0 else []
    for version in old:
        atomic.remove_directory(version_dir(base, version))
        logging.info("removed old version %d from %s", version, base)
    return old
