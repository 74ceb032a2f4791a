"""Pushing the shipped phone model beside the SavedModel: SERVING_ROOT/<model>-tflite/<N>/.

The phone model takes the version number the Pusher gave the SavedModel it was made from, so a
server and an app that say "version 7" mean the same weights. It ships only when that
SavedModel shipped (blessed and pushed), atomically (components/shared/publish.py: built in a
hidden sibling, renamed into place), and it is pruned with it: a number the Pusher removed
from the SavedModel's base is removed here too.
"""

import logging
from typing import Any, Dict, Optional

from components.shared.publish import TFLITE, prune_with, publish_as
from contract.names import TFLITE_SUFFIX


def tflite_base(serving_base: str) -> str:
    """SERVING_ROOT/<model>-tflite for the SavedModel base SERVING_ROOT/<model>."""
    return serving_base.rstrip("/") + TFLITE_SUFFIX


def release(variant_dir: str, serving_base: str, pushed_version: Optional[int]) -> Dict[str, Any]:
    """Pushes variant_dir as version `pushed_version` (None: the SavedModel was not pushed);
    {"pushed_model", "pushed_version", "reason"} for the summary."""
    if not serving_base:
        return _not_pushed("no local serving root (on Vertex AI the phone model stays in its artifact)")
    if pushed_version is None:
        return _not_pushed("the SavedModel was not pushed (not blessed), so neither is its phone model")
    base = tflite_base(serving_base)
    destination = publish_as(variant_dir, base, pushed_version, TFLITE)
    removed = prune_with(base, serving_base)
    logging.info("phone model version %d at %s; pruned %s", pushed_version, destination, removed or "none")
    return {
        "pushed_model": destination,
        "pushed_version": pushed_version,
        "reason": f"pushed as version {pushed_version}, the SavedModel's",
    }


def _not_pushed(reason: str) -> Dict[str, Any]:
    return {"pushed_model": None, "pushed_version": None, "reason": f"not pushed: {reason}"}
