"""Imported by every Beam worker process (`--beam_plugin`, see PipelineConfig.beam_pipeline_args).

When a multi-processing DirectRunner worker exits after Transform, Python tears its modules
down before the last TensorFlow function objects are collected: `AtomicFunction.__del__` then
finds its module's globals already None and raises "TypeError: 'NoneType' object is not
subscriptable", which Python prints as "Exception ignored in: <function AtomicFunction.__del__>"
in every successful run's log. Nothing is lost (the process is exiting and its work is done),
so this hook drops exactly that message and hands every other unraisable exception on.
"""

import sys
from typing import Any

_PASS_ON = sys.unraisablehook
_TEARDOWN = "AtomicFunction.__del__"


def _drop_tensorflow_teardown_noise(unraisable: Any) -> None:
    if getattr(unraisable.object, "__qualname__", "") == _TEARDOWN and isinstance(
        unraisable.exc_value, TypeError
    ):
        return
    _PASS_ON(unraisable)


sys.unraisablehook = _drop_tensorflow_teardown_noise
