"""The gain over the last blessed model that a candidate needs: one rule for the Evaluator's
threshold (evaluator/eval_config.py) and the sentence that explains its verdict
(run_report/blessing.py)."""

# With --min-improvement 0 a model must still beat its baseline, not tie it.
STRICT_IMPROVEMENT = 1e-6


def required_gain(min_improvement: float) -> float:
    """The smallest mean-IoU change over the baseline that blesses a model."""
    return max(min_improvement, STRICT_IMPROVEMENT)
