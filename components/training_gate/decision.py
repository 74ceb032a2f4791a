"""The gate's rule, apart from TFX: train when the latest blessed model was not trained on
exactly what this run would train on (contract/trained_on.py: the Transform output's train and
validation files, and the digest of the Trainer's settings and code)."""

from typing import Any, Dict, Optional, Tuple

from contract.trained_on import EVAL_FILES, KEY, TRAIN_FILES


def should_train(
    blessed_model: Optional[str], recorded: Optional[Dict[str, Any]], now: Dict[str, Any]
) -> Tuple[bool, str]:
    """(train?, why in words), given the latest blessed model's folder (None: none yet), its
    record (None: it has none) and this run's."""
    if blessed_model is None:
        return True, "no blessed model yet"
    if recorded is None:
        return True, f"the latest blessed model ({blessed_model}) does not record what it was trained on"
    if (recorded.get(TRAIN_FILES), recorded.get(EVAL_FILES)) != (now[TRAIN_FILES], now[EVAL_FILES]):
        return True, "new examples since the latest blessed model was trained"
    if recorded.get(KEY) != now[KEY]:
        return True, "the Trainer's settings or code changed since the latest blessed model was trained"
    return False, "nothing new: the latest blessed model was trained on these examples with these settings"
