"""Which phone model ships: int8 (half float16's size, integer maths that phones run fast) only
while it loses little against float16; float16 otherwise. One rule, one sentence saying why."""

import math
from typing import Any, Dict, Optional

from components.tflite.converter import FLOAT16, INT8

# Mean IoUs are differences of floats: a drop of exactly max_drop (0.59 against 0.60) qualifies.
_ROUNDING = 1e-9


def choose_variant(
    float16_miou: Optional[float], int8_miou: Optional[float], max_drop: float
) -> Dict[str, Any]:
    """{"shipped", "reason", "max_drop", "int8_change"}: int8 when its mean IoU is at most
    `max_drop` below float16's (a gain always qualifies), else float16."""
    change = None if float16_miou is None or int8_miou is None else int8_miou - float16_miou
    if change is None or not math.isfinite(change):
        shipped = FLOAT16
        reason = (
            f"float16 ships: the mean IoUs cannot be compared (float16 {float16_miou}, int8 {int8_miou}; "
            "no eval pixels?)"
        )
        change = None
    elif change >= -max_drop - _ROUNDING:
        shipped = INT8
        reason = (
            f"int8 ships: its mean IoU {int8_miou:.4f} is within {max_drop:.4f} of float16's "
            f"{float16_miou:.4f} (change {change:+.4f})"
        )
    else:
        shipped = FLOAT16
        reason = (
            f"float16 ships: int8's mean IoU {int8_miou:.4f} is {-change:.4f} below float16's "
            f"{float16_miou:.4f}, more than the allowed {max_drop:.4f} (--tflite-max-drop)"
        )
    return {"shipped": shipped, "reason": reason, "max_drop": max_drop, "int8_change": change}
