"""FLOPs per training image, from bench/ceiling.py's measurement (how achieved TFLOP/s are counted:
see bench/gpu/__init__.py).
"""

import json
import os
from typing import Any, Dict

from bench.common import RESULTS_DIR, TRAINING_OVER_FORWARD
from bench.gpu.settings import CEILING_FILE


def forward_flops_per_image(image_size: int) -> Dict[str, Any]:
    """bench/ceiling.py's measured forward FLOPs, scaled from its image size to this one."""
    with open(CEILING_FILE, encoding="utf-8") as handle:
        ceiling = json.load(handle)
    measured = ceiling["forward_flops_per_image"]["tf_profiler"]
    scale = (image_size / ceiling["image_size"]) ** 2
    return {
        "forward": measured * scale,
        "training": TRAINING_OVER_FORWARD * measured * scale,
        "training_over_forward": TRAINING_OVER_FORWARD,
        "source": f"{os.path.relpath(CEILING_FILE, os.path.dirname(RESULTS_DIR))} "
        f"(tf_profiler at {ceiling['image_size']} px) x ({image_size}/"
        f"{ceiling['image_size']})^2",
    }
