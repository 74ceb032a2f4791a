"""Publishing a SavedModel as a TF Serving version: complete or invisible, never half-written.

TF Serving watches MODEL_BASE/MODEL_NAME/ and loads any subdirectory named by an integer. TFX's
stock Pusher copies straight into such a directory (named by the Unix time), so a server that
polls mid-copy can find a version without its variables. Here the copy goes to a sibling whose
name is not an integer (`.staging-*`, which TF Serving ignores), is completed and checked there,
and only then renamed to the next version number: on a POSIX filesystem the rename is atomic,
so a version directory either does not exist or is whole. Versions are 1, 2, 3, ... (always
increasing), and only the newest `keep` stay; an old version is first renamed out of sight
(`.deleting-*`) and only then deleted, so pruning never leaves half a version either.

Publishing is idempotent: a model whose SavedModel is byte-identical to a published version
(a rerun of a run killed after its push) is not published again; its version is returned.
"""
import logging
import os
import shutil
import uuid
from typing import Callable, List, Optional

STAGING_PREFIX = ".staging-"
DELETING_PREFIX = ".deleting-"
REQUIRED = ("saved_model.pb", "variables")


class IncompleteModelError(RuntimeError):
    """The model to publish lacks a file TF Serving needs."""


def versions(base: str) -> List[int]:
    """The integer version directories under a model base, ascending."""
    if not os.path.isdir(base):
        return []
    return sorted(int(name) for name in os.listdir(base)
                  if name.isdigit() and os.path.isdir(os.path.join(base, name)))


def _check_complete(model_dir: str) -> None:
    missing = [name for name in REQUIRED if not os.path.exists(os.path.join(model_dir, name))]
    if missing:
        raise IncompleteModelError(f"{model_dir}: missing {', '.join(missing)}; not publishing it")


def remove_stale_staging(base: str) -> None:
    """Removes what an interrupted publish or prune left behind (never visible to TF Serving)."""
    if os.path.isdir(base):
        for name in os.listdir(base):
            if name.startswith((STAGING_PREFIX, DELETING_PREFIX)):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _same_model(first: str, second: str) -> bool:
    """Byte-identical saved_model.pb and variables index: the same exported model."""
    for name in ("saved_model.pb", os.path.join("variables", "variables.index")):
        paths = (os.path.join(first, name), os.path.join(second, name))
        if not all(os.path.isfile(p) for p in paths):
            return False
        with open(paths[0], "rb") as one, open(paths[1], "rb") as other:
            if one.read() != other.read():
                return False
    return True


def published_version_of(model_dir: str, base: str) -> Optional[int]:
    """The version under base that holds this very model, if it was published already."""
    return next((v for v in reversed(versions(base)) if _same_model(model_dir, os.path.join(base, str(v)))),
                None)


def publish(model_dir: str, base: str, keep: int,
            prepare: Callable[[str], None] = lambda staged: None) -> int:
    """Copies model_dir to the next version under base; returns the version number.

    `prepare` runs on the staged copy before it becomes visible (e.g. writes warmup requests).
    """
    _check_complete(model_dir)
    os.makedirs(base, exist_ok=True)
    remove_stale_staging(base)
    existing = published_version_of(model_dir, base)
    if existing is not None:
        logging.info("%s is already published as version %d under %s", model_dir, existing, base)
        return existing
    staged = os.path.join(base, f"{STAGING_PREFIX}{uuid.uuid4().hex}")
    try:
        shutil.copytree(model_dir, staged)
        prepare(staged)
        _check_complete(staged)
        version = max(versions(base), default=0) + 1
        while True:  # another publisher may take a number first: the rename then fails
            try:
                os.rename(staged, os.path.join(base, str(version)))
                break
            except OSError:
                if not os.path.isdir(os.path.join(base, str(version))):
                    raise
                version += 1
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    logging.info("published %s as version %d under %s", model_dir, version, base)
    prune(base, keep)
    return version


def prune(base: str, keep: int) -> List[int]:
    """Deletes all but the newest `keep` versions; returns the deleted ones."""
    old = versions(base)[:-keep] if keep > 0 else []
    for version in old:
        hidden = os.path.join(base, f"{DELETING_PREFIX}{version}-{uuid.uuid4().hex}")
        os.rename(os.path.join(base, str(version)), hidden)  # atomic: gone for TF Serving
        shutil.rmtree(hidden)
        logging.info("removed old version %d from %s", version, base)
    return old
