"""A digest of the user code that Transform and the Trainer run, for TFX's cache.

TFX names the preprocessing_fn and run_fn by import path ("trainer.preprocessing.preprocessing_fn"),
and its cache keys on the exec properties, not on the code behind that path: after an upgrade
that changes the decoding or the training recipe, an unchanged output directory would reuse the
old transformed examples and the old model. The pipeline puts this digest of trainer/ and
contract/ (the names they use) into both components' custom_config, so changed code runs again
and unchanged code is still served from the cache.
"""

import hashlib
import os

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGES = ("trainer", "contract")


def source_fingerprint() -> str:
    """sha256 (first 16 hex digits) over the .py files of trainer/ and contract/, path and bytes."""
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for directory, subdirs, files in os.walk(os.path.join(_ROOT, package)):
            subdirs.sort()
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(directory, name)
                digest.update(os.path.relpath(path, _ROOT).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()[:16]
