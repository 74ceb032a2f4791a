"""Publishing a SavedModel as a TF Serving version: complete or invisible, never half-written.

TF Serving watches MODEL_BASE/MODEL_NAME/ and loads any subdirectory named by an integer. TFX's
stock Pusher copies straight into such a directory (named by the Unix time), so a server that
polls mid-copy can find a version without its variables. Here the copy goes to a sibling whose
name is not an integer (`.staging-*`, which TF Serving ignores), is completed and checked there,
and only then renamed to the next version number: on a POSIX filesystem the rename is atomic,
so a version directory either does not exist or is whole. Versions are 1, 2, 3, ... (always
increasing), and only the newest `keep` stay.
"""
import logging
import os
import shutil
import uuid
from typing import Callable, List

STAGING_PREFIX = ".staging-"
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
    """Removes what an interrupted publish left behind (never visible to TF Serving)."""
    if os.path.isdir(base):
        for name in os.listdir(base):
            if name.startswith(STAGING_PREFIX):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def publish(model_dir: str, base: str, keep: int,
            prepare: Callable[[str], None] = lambda staged: None) -> int:
    """Copies model_dir to the next version under base; returns the version number.

    `prepare` runs on the staged copy before it becomes visible (e.g. writes warmup requests).
    """
    _check_complete(model_dir)
    os.makedirs(base, exist_ok=True)
    remove_stale_staging(base)
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
        shutil.rmtree(os.path.join(base, str(version)))
        logging.info("removed old version %d from %s", version, base)
    return old
