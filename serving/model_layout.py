"""TF Serving's model layout: MODEL_BASE/MODEL_NAME/<version>/saved_model.pb.

TF Serving loads every subdirectory of a model base whose name is an integer, and serves the
highest by default. The Pusher publishes versions in this layout and `segpipe predict
--model-dir` picks a version from it the way TF Serving would, so both read it here.
"""

import os
from typing import List

SAVED_MODEL_FILE = "saved_model.pb"
VARIABLES_DIR = "variables"


def versions(base: str) -> List[int]:
    """The integer version directories under a model base, ascending ([] if there is none)."""
    if not os.path.isdir(base):
        return []
    return sorted(
        int(name) for name in os.listdir(base) if name.isdigit() and os.path.isdir(os.path.join(base, name))
    )


def version_dir(base: str, version: int) -> str:
    """The directory of one version under a model base."""
    return os.path.join(base, str(version))
