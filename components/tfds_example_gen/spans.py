"""Where a TfdsExampleGen reads its raw files, in the terms of TFX's file-based ExampleGen driver.

`--data-dir` names one delivery of raw files, local or on GCS, and may number deliveries with
{SPAN} (and corrections of a delivery with {VERSION}), e.g. gs://bucket/pets/span-{SPAN}. TFX's
file-based ExampleGen driver resolves them: it globs input_base/pattern through TFX's fileio (so
local folders, gs:// and any registered filesystem alike), keeps the highest span (and version),
fingerprints the files it matched and records span, version and fingerprint on the Examples
artifact; the cache skips the ExampleGen while they are unchanged. It is the same driver under
LocalDagRunner and, as the step's pre-cache-check hook, under KubeflowV2 on Vertex AI
(docs/stack.md, "ExampleGen").

That driver reads specs in split patterns only, never in input_base, and it globs files: so a
data dir is cut before its first path component that holds a spec, and the pattern goes on to
the delivery's list files: /data/pets/span-{SPAN} becomes input_base /data/pets and pattern
span-{SPAN}/annotations/*.txt. Every split gets that one pattern (which TFDS split each output
split reads is the executor's business), so all splits resolve the same span.

Why the list files: they say what each split holds, so they change when entries are added or
removed; a span exists for the driver only once they are there, so a delivery copied with its
list files last is never read half-copied; and a few files keep the fingerprint cheap on GCS,
where every matched file costs a request. What the fingerprint does not see, an image or mask
rewritten in place, a span does not get: a delivery is immutable, a correction is a new span or
{VERSION}. Archives (images.tar.gz, annotations.tar.gz) have no list files outside them: they
can be read from a folder without spans, whose fingerprint is then empty.
"""

import os
import posixpath
import re
from typing import Tuple

from tfx.components.example_gen import utils
from tfx.proto import example_gen_pb2

from contract import oxford_pets

# The files of a delivery that the driver globs and fingerprints, relative to its folder.
LIST_FILES = posixpath.join(oxford_pets.ANNOTATIONS_DIR, "*.txt")
# Any spec TFX's driver resolves: {SPAN}, {SPAN:width}, {VERSION}, {VERSION:width}, {YYYY} {MM} {DD}.
_SPECS = [
    re.compile(utils.SPAN_FULL_REGEX),
    re.compile(utils.VERSION_FULL_REGEX),
    *map(re.compile, map(re.escape, utils.DATE_SPECS)),
]
_URL_SCHEME = re.compile(r"[a-z0-9]+://")


def _has_spec(text: str) -> bool:
    return any(spec.search(text) for spec in _SPECS)


def is_remote(location: str) -> bool:
    """Whether the location is a URL (gs://...) rather than a path on this machine."""
    return bool(_URL_SCHEME.match(location))


def input_location(data_dir: str) -> Tuple[str, str]:
    """(input_base, split pattern) of a data dir for TFX's file-based driver; ("", "") without one.

    A local path is made absolute, so that the driver and the executor agree on it whatever
    their working directory. ValueError names a spec TFX would refuse (two {SPAN}s, {VERSION}
    without {SPAN}) or one with no fixed folder above it.
    """
    if not data_dir:
        return "", ""
    location = data_dir if is_remote(data_dir) else os.path.abspath(data_dir)
    parts = location.rstrip("/").split("/")
    first = next((index for index, part in enumerate(parts) if _has_spec(part)), len(parts))
    # "gs:", "", "bucket" (or "", "data" for /data) is the least a glob can start from.
    if first < (3 if is_remote(location) else 2):
        raise ValueError(
            f"{data_dir}: a span pattern needs a fixed folder above it, e.g. gs://BUCKET/pets/span-{{SPAN}}"
        )
    pattern = posixpath.join(*parts[first:], LIST_FILES)
    try:
        utils.verify_split_pattern_specs(example_gen_pb2.Input.Split(pattern=pattern))
    except ValueError as error:
        raise ValueError(f"{data_dir}: {error}") from None
    return "/".join(parts[:first]), pattern


def data_folder(input_base: str, resolved_pattern: str) -> str:
    """The folder of the delivery the driver chose: input_base/pattern without the list files.

    ValueError when the pattern still holds a spec (no driver resolved it) or is not one that
    `input_location` made.
    """
    if _has_spec(resolved_pattern):
        raise ValueError(
            f"{resolved_pattern}: its span is unresolved; TFX's file-based ExampleGen driver "
            "must run before the executor"
        )
    if not resolved_pattern.endswith(LIST_FILES):
        raise ValueError(f"{resolved_pattern}: not a TfdsExampleGen split pattern (it ends in {LIST_FILES})")
    relative = resolved_pattern[: -len(LIST_FILES)].rstrip("/")
    return posixpath.join(input_base, relative) if relative else input_base
