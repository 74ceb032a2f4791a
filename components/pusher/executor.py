"""Pusher executor: TFX's blessing check and artifact bookkeeping, with an atomic publish.

Only a blessed model is pushed (TFX's own CheckBlessing); it is published as the next integer
version under `push_destination.filesystem.base_directory` (SERVING_ROOT/MODEL_NAME) through
components/shared/publish.py, with TF Serving warmup requests for `predict_images`
written into its `assets.extra/` before it becomes visible.
"""

import io
import logging
from typing import Any, Dict, List

import numpy as np
from PIL import Image
from tfx import types
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils, proto_utils

from components.shared.publish import publish
from serving.wire_format import write_warmup_file

KEEP_VERSIONS_KEY = "keep_versions"
MODEL_NAME_KEY = "model_name"
# Warmup requests exercise the graph at two image sizes and two batch sizes, so TF Serving has
# traced and allocated before the first real request; the pixels do not matter.
WARMUP_SIZES = ((128, 128), (500, 375))


def warmup_images() -> List[bytes]:
    """Small deterministic JPEGs (smooth gradients) of the warmup sizes."""
    images = []
    for width, height in WARMUP_SIZES:
        y, x = np.mgrid[0:height, 0:width]
        pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], -1).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
        images.append(buffer.getvalue())
    return images


class Executor(tfx_pusher.Executor):
    """Pushes a blessed model as the next TF Serving version, atomically."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        custom = json_utils.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}")
        base = destination.filesystem.base_directory
        images = warmup_images()

        def prepare(staged: str) -> None:
            write_warmup_file(staged, images, custom[MODEL_NAME_KEY])

        version = publish(
            self.GetModelPath(input_dict),
            base,
            int(custom[KEEP_VERSIONS_KEY]),
            prepare=prepare,
        )
        serving_path = f"{base.rstrip('/')}/{version}"
        io_utils.copy_dir(serving_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=str(version))
        logging.info("pushed version %d to %s", version, serving_path)
