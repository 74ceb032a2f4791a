"""Directories that appear whole or not at all: built beside their target, then renamed.

A reader (TF Serving polling its model base, a person opening the report, a web server) must
never see half a directory. So a directory is built in a hidden sibling (`.staging-*`, on the
same filesystem, which TF Serving ignores because the name is not an integer), completed there,
and renamed into place: on POSIX a rename is atomic. A directory that goes away is first renamed
out of sight (`.deleting-*`) and only then deleted, so an interrupted delete leaves nothing half
visible either. Leftovers of an interrupted run are hidden names, removed by the next one.

Used by the Pusher (new TF Serving versions, pruning), the report (its folder) and the local
runner (OUTPUT/report and OUTPUT/run_summary.json).
"""

import contextlib
import os
import shutil
import tempfile
import uuid
from typing import Iterator

STAGING_PREFIX = ".staging-"
DELETING_PREFIX = ".deleting-"


@contextlib.contextmanager
def staged_directory(parent: str) -> Iterator[str]:
    """A fresh hidden directory under `parent`, deleted afterwards unless it was moved away.

    mkdtemp's mode 0700 would hide a report from a web server or teammates: it gets 0755.
    """
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent)
    os.chmod(staging, 0o755)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # nothing left once it was renamed into place


def replace_directory(staging: str, target: str) -> None:
    """Renames a finished staging directory to `target`, replacing what was there.

    Directories cannot be swapped in one step on POSIX: an existing target is first renamed
    aside, so `target` is missing for the instant between the two renames, but never
    half-written. If the second rename fails, the old directory is put back.
    """
    if os.path.lexists(target) and not os.path.isdir(target):
        raise NotADirectoryError(f"{target} exists and is not a directory")
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    retired = os.path.join(os.path.dirname(target), f"{DELETING_PREFIX}{uuid.uuid4().hex}")
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def move_to_free_name(staging: str, parent: str, first: int) -> int:
    """Renames staging to the first integer name >= `first` that is free under parent.

    Another publisher may take a number first: the rename onto an existing non-empty directory
    then fails, and the next number is tried. Returns the number taken.
    """
    number = first
    while True:
        try:
            os.rename(staging, os.path.join(parent, str(number)))
            return number
        except OSError:
            if not os.path.isdir(os.path.join(parent, str(number))):
                raise
            number += 1


def remove_directory(path: str) -> None:
    """Deletes a directory after renaming it out of sight (a hidden sibling), atomically gone."""
    hidden = os.path.join(os.path.dirname(path), f"{DELETING_PREFIX}{uuid.uuid4().hex}")
    os.rename(path, hidden)
    shutil.rmtree(hidden)


def remove_leftovers(parent: str) -> None:
    """Removes what interrupted staging or deleting left under parent (never visible names)."""
    if os.path.isdir(parent):
        for name in os.listdir(parent):
            if name.startswith((STAGING_PREFIX, DELETING_PREFIX)):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def write_file(path: str, data: bytes) -> None:
    """Writes a file through a hidden sibling and os.replace: readers see the old or the new."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise
