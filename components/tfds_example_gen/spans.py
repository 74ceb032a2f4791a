"""Spans of a local data location: `/data/pets/span-{SPAN}` holds one directory per delivery.

TFX ExampleGens number their input deliveries as spans and always read the latest one; the
span number travels on the Examples artifact, so later components (and a retraining run) know
which delivery a model saw. The fingerprint changes whenever a file is added, removed or
rewritten, which is what lets TFX's cache skip ExampleGen when nothing changed.
"""

import glob
import hashlib
import os
import re

SPAN_SPEC = "{SPAN}"


def has_span(location: str) -> bool:
    """True when the location holds the {SPAN} placeholder."""
    return SPAN_SPEC in location


def latest_span(location: str) -> int:
    """The highest span number among the directories that match the location's pattern."""
    prefix, _, suffix = location.partition(SPAN_SPEC)
    if SPAN_SPEC in suffix:
        raise ValueError(f"{location}: {SPAN_SPEC} may appear only once")
    matcher = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix) + r"$")
    spans = [int(m.group(1)) for path in glob.glob(prefix + "*" + suffix) if (m := matcher.match(path))]
    if not spans:
        raise FileNotFoundError(
            f"{location}: no directory matches this span pattern (expected e.g. {prefix}1{suffix})"
        )
    return max(spans)


def span_location(location: str, span: int) -> str:
    """The location with {SPAN} replaced by the span number."""
    return location.replace(SPAN_SPEC, str(span))


def fingerprint_directory(root: str) -> str:
    """A digest of every file's relative path, size and modification time under root.

    A symlink counts by its target's size and time; a dangling one (a file moved away that no
    list may name) by the link itself, so it neither stops the run nor goes unnoticed.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: data directory does not exist")
    digest = hashlib.sha256()
    count = 0
    for directory, subdirs, files in os.walk(root, followlinks=True):
        subdirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            try:
                stat = os.stat(path)
            except FileNotFoundError:  # a dangling symlink
                stat = os.lstat(path)
            digest.update(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            count += 1
    return f"files:{count},sha256:{digest.hexdigest()}"
