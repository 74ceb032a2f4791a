"""A profiler trace of a few training steps, and its reduction to the top kernels by device time.

The trace itself is not kept: only the summary goes into the results.
"""

import glob
import os
import re
from typing import Any, Dict, List

import tensorflow as tf
import tf_keras as keras

from bench.gpu.settings import KERNEL_NAME_CHARS, TOP_KERNELS


class ProfileSteps(keras.callbacks.Callback):
    """Runs TensorFlow's profiler over `steps` steps after `warmup` steps of a fit."""

    def __init__(self, logdir: str, warmup: int, steps: int):
        super().__init__()
        self._supports_tf_logs = True
        self.logdir, self.first, self.last = logdir, warmup, warmup + steps - 1
        self.running = False

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.first:
            tf.test.experimental.sync_devices()
            tf.profiler.experimental.start(self.logdir)
            self.running = True

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.last:
            self.stop()

    def stop(self) -> None:
        if self.running:
            tf.test.experimental.sync_devices()
            tf.profiler.experimental.stop()
            self.running = False


def summarize_xplane(logdir: str, top: int = TOP_KERNELS) -> Dict[str, Any]:
    """Device time per kernel name from the profiler's XSpace, the largest `top` of them.

    GPU planes hold one line per CUDA stream ("Stream #N..."), whose events are kernels and
    copies; lines derived from them (XLA Ops, TensorFlow Ops, Steps) would count the same time
    twice and are left out. Without a GPU plane (CPU runs), the host plane's TensorFlow op events
    are summed instead; those nest, so their shares are only indicative.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # only needed when profiling

    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        return {"status": "no trace written", "top_kernels": []}
    space = xplane_pb2.XSpace()
    with open(paths[0], "rb") as handle:
        space.ParseFromString(handle.read())
    gpu_planes = [p for p in space.planes if p.name.startswith("/device:GPU:")]
    if gpu_planes:
        planes, keep_line, source = gpu_planes, re.compile(r"^Stream #\d+").match, "GPU streams"
    else:
        planes = [p for p in space.planes if p.name == "/host:CPU"]
        keep_line, source = re.compile(r"^tf_Compute").match, "host TensorFlow ops (no GPU plane)"
    totals: Dict[str, List[float]] = {}
    lines = []
    for plane in planes:
        for line in plane.lines:
            lines.append(
                {
                    "plane": plane.name,
                    "line": line.name,
                    "events": len(line.events),
                    "counted": bool(keep_line(line.name)),
                }
            )
            if not keep_line(line.name):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                entry = totals.setdefault(name, [0.0, 0])
                entry[0] += event.duration_ps / 1e9
                entry[1] += 1
    total_ms = sum(ms for ms, _ in totals.values())
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])[:top]
    return {
        "status": "ok",
        "source": source,
        "total_device_ms": total_ms,
        "lines": lines,
        "top_kernels": [
            {
                "name": name[:KERNEL_NAME_CHARS],
                "total_ms": ms,
                "calls": calls,
                "share": ms / total_ms if total_ms else None,
            }
            for name, (ms, calls) in ranked
        ],
    }
