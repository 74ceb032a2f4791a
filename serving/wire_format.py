"""The wire formats of the `predict_images` signature: building and reading requests, no network.

Kept apart from the transports (serving/predictors.py) so that each format can be checked against
the exported SavedModel without a server, and so that the warmup file TF Serving replays when it
loads a version is made of the very request the gRPC client sends.

The gRPC half imports TensorFlow only when called: TF Serving's protos pull all of TensorFlow in
(about 5 s here), and a REST client needs nothing but numpy.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Sequence

import numpy as np

from contract.names import (
    CLASS_MAP,
    DEFAULT_MODEL_NAME,
    HEIGHT_OUTPUT,
    IMAGES_INPUT,
    PREDICT_IMAGES,
    PREDICT_IMAGES_OUTPUTS,
    PROBABILITIES,
    WARMUP_FILE,
    WIDTH_OUTPUT,
)

if TYPE_CHECKING:
    from tensorflow_serving.apis import predict_pb2

# How many warmup requests TF Serving accepts: more than 1000 records fail the version's load.
MAX_WARMUP_RECORDS = 1000


class PredictionError(Exception):
    """Why a prediction failed, in one line that names the server, model directory or input.

    `bad_input` is True when the backend rejected the images themselves (TF Serving's
    INVALID_ARGUMENT, a decode error in process): the model decodes a batch in one op, so one
    undecodable image fails its whole batch, and a caller can retry the images one by one.
    Otherwise the backend itself failed (down, wrong model, malformed answer) and retrying the
    same images elsewhere in the batch would not help.
    """

    def __init__(self, message: str, bad_input: bool = False):
        super().__init__(message)
        self.bad_input = bad_input


@dataclasses.dataclass
class Prediction:
    """One image's result.

    `class_map`: int64 [height, width] class ids at the image's own size (the batch's -1 padding
    cut off); `probabilities`: float32 [s, s, classes] at the model's resolution.
    """

    class_map: np.ndarray
    probabilities: np.ndarray


def rest_predict_body(images: Sequence[bytes], signature: str = PREDICT_IMAGES) -> Dict[str, Any]:
    """The JSON body of `POST /v1/models/<name>:predict` in TF Serving's row format.

    The signature has a single input, so each instance is that input's value; TF Serving only
    takes binary strings as `{"b64": <standard base64>}` (raw bytes are not valid JSON).
    """
    return {
        "signature_name": signature,
        "instances": [{"b64": base64.b64encode(image).decode("ascii")} for image in images],
    }


def parse_rest_response(response: Any) -> List[Prediction]:
    """TF Serving's row-format answer `{"predictions": [{output: value, ...}, ...]}` → Predictions.

    Raises PredictionError for anything else, so a proxy's error page or another model's answer
    is reported rather than crashing later.
    """
    if not isinstance(response, Mapping):
        raise PredictionError(
            f"malformed answer: expected a JSON object, got a JSON {type(response).__name__}"
        )
    if not isinstance(response.get("predictions"), list):
        found = (
            f"'predictions' of type {type(response['predictions']).__name__}"
            if "predictions" in response
            else f"only {sorted(response)}"
        )
        raise PredictionError(f"malformed answer: expected a 'predictions' list, got {found}")
    results = []
    for index, row in enumerate(response["predictions"]):
        if not isinstance(row, Mapping) or not set(PREDICT_IMAGES_OUTPUTS) <= set(row):
            raise PredictionError(
                f"malformed answer: prediction {index} lacks one of {PREDICT_IMAGES_OUTPUTS}"
            )
        try:
            results.append(
                _prediction(
                    np.asarray(row[CLASS_MAP]),
                    row[HEIGHT_OUTPUT],
                    row[WIDTH_OUTPUT],
                    np.asarray(row[PROBABILITIES], np.float32),
                )
            )
        except (TypeError, ValueError) as error:
            raise PredictionError(f"malformed answer: prediction {index}: {error}") from None
    return results


def predictions_from_arrays(outputs: Mapping[str, np.ndarray]) -> List[Prediction]:
    """The signature's batched outputs (as TF Serving or the SavedModel return them) → Predictions."""
    missing = [name for name in PREDICT_IMAGES_OUTPUTS if name not in outputs]
    if missing:
        raise PredictionError(f"malformed answer: no output {missing} (got {sorted(outputs)})")
    class_maps, heights, widths, probabilities = (
        np.asarray(outputs[name]) for name in PREDICT_IMAGES_OUTPUTS
    )
    try:
        if not len(class_maps) == len(heights) == len(widths) == len(probabilities):
            raise ValueError("the outputs disagree on the batch size")
        return [_prediction(*one) for one in zip(class_maps, heights, widths, probabilities)]
    except (TypeError, ValueError) as error:
        raise PredictionError(f"malformed answer: {error}") from None


def _prediction(class_map: np.ndarray, height: Any, width: Any, probabilities: np.ndarray) -> Prediction:
    """Crops a padded class map to its image's size, checking it is one (ValueError if not)."""
    height, width = int(height), int(width)
    if class_map.ndim != 2 or not (0 < height <= class_map.shape[0] and 0 < width <= class_map.shape[1]):
        raise ValueError(f"class map of shape {class_map.shape} cannot hold {height}x{width}")
    if probabilities.ndim != 3:
        raise ValueError(f"probabilities of shape {probabilities.shape}, expected [s, s, classes]")
    cropped = class_map[:height, :width].astype(np.int64)
    if (cropped < 0).any():
        raise ValueError("padding (-1) inside the image's own class map")
    return Prediction(class_map=cropped, probabilities=probabilities)


def grpc_predict_request(
    images: Sequence[bytes], model_name: str = DEFAULT_MODEL_NAME, signature: str = PREDICT_IMAGES
) -> predict_pb2.PredictRequest:
    """The PredictRequest for PredictionService/Predict: `images` as a 1-D string tensor."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    request.inputs[IMAGES_INPUT].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string))
    return request


def parse_grpc_response(response: predict_pb2.PredictResponse) -> List[Prediction]:
    """A PredictResponse's output tensors → Predictions (PredictionError if malformed)."""
    import tensorflow as tf

    try:
        arrays = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
    except (TypeError, ValueError) as error:
        raise PredictionError(f"malformed answer: {error}") from None
    return predictions_from_arrays(arrays)


def warmup_records(images: Sequence[bytes], model_name: str = DEFAULT_MODEL_NAME) -> List[bytes]:
    """Serialized PredictionLogs, one single-image Predict request per image, for TF Serving to
    replay when it loads a version: the first real request then finds the model warm instead of
    paying for the runtime's lazy initialisation."""
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for image in images:
        log = prediction_log_pb2.PredictionLog()
        log.predict_log.request.CopyFrom(grpc_predict_request([image], model_name))
        records.append(log.SerializeToString())
    return records


def write_warmup_file(
    saved_model_dir: str, images: Sequence[bytes], model_name: str = DEFAULT_MODEL_NAME
) -> str:
    """Writes the warmup requests as a TFRecord at `<saved_model_dir>/assets.extra/
    tf_serving_warmup_requests`; returns its path. Refuses counts TF Serving would not load."""
    if not 1 <= len(images) <= MAX_WARMUP_RECORDS:
        raise ValueError(
            f"TF Serving takes 1 to {MAX_WARMUP_RECORDS} warmup requests, got {len(images)} images"
        )
    import tensorflow as tf

    path = os.path.join(saved_model_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for record in warmup_records(images, model_name):
            writer.write(record)
    return path
