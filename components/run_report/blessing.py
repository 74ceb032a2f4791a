"""Why a model was or was not blessed, in one sentence a person can act on.

TFMA's validation result is the verdict (the Evaluator writes BLESSED from it); the sentence is
rebuilt from the same numbers: the candidate's mean IoU, the floor, and the last blessed
model's mean IoU when there was one.
"""

from typing import Any, Dict, Optional

from components.shared.blessing_rule import required_gain


def blessing_decision(
    blessed: bool, candidate_miou: float, floor: float, baseline_miou: Optional[float], min_improvement: float
) -> Dict[str, Any]:
    """{"blessed", "reason", "mean_iou", "floor", "baseline_mean_iou", "min_improvement"}."""
    needed = required_gain(min_improvement)
    parts = []
    above_floor = candidate_miou >= floor
    parts.append(f"mean IoU {candidate_miou:.4f} {'>=' if above_floor else '<'} floor {floor:.4f}")
    if baseline_miou is None:
        parts.append("no other blessed model to compare with, so the floor alone decides")
    else:
        gain = candidate_miou - baseline_miou
        verdict = "beats" if gain >= needed else "does not beat"
        parts.append(
            f"{verdict} the last blessed model's {baseline_miou:.4f} "
            f"(change {gain:+.4f}, needed {needed:+.4f})"
        )
    return {
        "blessed": blessed,
        "reason": "; ".join(parts),
        "mean_iou": candidate_miou,
        "floor": floor,
        "baseline_mean_iou": baseline_miou,
        "min_improvement": min_improvement,
    }
