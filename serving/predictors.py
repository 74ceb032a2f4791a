"""Three ways to run `predict_images`, behind one `predict(images) -> [Prediction]` interface.

- RestPredictor: TF Serving's REST API (`POST /v1/models/<name>:predict`);
- GrpcPredictor: TF Serving's gRPC PredictionService;
- InProcessPredictor: the SavedModel itself, through tf.saved_model.load, exactly the signature
  TF Serving would run (for a laptop with no server, and for tests: TF Serving cannot be
  installed here).

Every failure surfaces as one PredictionError whose one-line message names the server or the
model directory, so the command line can print it without a traceback. TensorFlow (and TF
Serving's protos, which import it) load only in the backends that need them.
"""

import os
import re
from typing import Callable, List, Protocol, Sequence

import grpc
import requests

from contract.names import DEFAULT_MODEL_NAME, IMAGES_INPUT, PREDICT_IMAGES
from serving.model_layout import SAVED_MODEL_FILE, version_dir, versions
from serving.tf_errors import one_line
from serving.wire_format import (
    Prediction,
    PredictionError,
    grpc_predict_request,
    parse_grpc_response,
    parse_rest_response,
    predictions_from_arrays,
    rest_predict_body,
)

__all__ = [
    "Predictor",
    "RestPredictor",
    "GrpcPredictor",
    "InProcessPredictor",
    "PredictionError",
    "resolve_model_dir",
]

DEFAULT_TIMEOUT_S = 60.0
# TF Serving accepts messages up to 2 GiB; gRPC clients stop at 4 MiB by default, which one
# class map of a 1000×1000 image already exceeds (int64 values, padding -1 takes 10 bytes each).
_GRPC_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class Predictor(Protocol):
    """What the command line needs from a backend."""

    def predict(self, images: Sequence[bytes]) -> List[Prediction]:
        """One Prediction per encoded image, in order; PredictionError on failure."""


class RestPredictor:
    """TF Serving's REST API, in its row ("instances") format."""

    def __init__(
        self, server_url: str, model_name: str = DEFAULT_MODEL_NAME, timeout: float = DEFAULT_TIMEOUT_S
    ):
        self.server_url = server_url.rstrip("/")
        self.model_name = model_name
        self.timeout = timeout
        self.url = f"{self.server_url}/v1/models/{model_name}:predict"
        self._session = requests.Session()  # one kept-alive connection for all the batches

    def predict(self, images: Sequence[bytes]) -> List[Prediction]:
        try:
            response = self._session.post(self.url, json=rest_predict_body(images), timeout=self.timeout)
        except requests.ConnectionError as error:
            raise PredictionError(
                f"no TF Serving at {self.server_url}: {_connection_reason(error)}"
            ) from None
        except requests.Timeout:
            raise PredictionError(
                f"TF Serving at {self.server_url} did not answer within {self.timeout:g} s"
            ) from None
        except requests.RequestException as error:
            raise PredictionError(f"request to {self.url} failed: {error}") from None
        if response.status_code != 200:
            # TF Serving answers INVALID_ARGUMENT (an image it cannot decode) with HTTP 400.
            raise PredictionError(
                f"TF Serving at {self.server_url} answered HTTP {response.status_code} for model "
                f"{self.model_name!r}: {_rest_error_text(response)}",
                bad_input=response.status_code == 400,
            )
        try:
            payload = response.json()
        except ValueError:
            raise PredictionError(
                f"TF Serving at {self.server_url} answered with no JSON: {response.text[:200]!r}"
            ) from None
        return _checked(lambda: parse_rest_response(payload), len(images), f"TF Serving at {self.url}")


class GrpcPredictor:
    """TF Serving's gRPC PredictionService (port 8500): binary tensors, no base64 or JSON."""

    def __init__(self, target: str, model_name: str = DEFAULT_MODEL_NAME, timeout: float = DEFAULT_TIMEOUT_S):
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.target = target
        self.model_name = model_name
        self.timeout = timeout
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(target, options=_GRPC_OPTIONS)
        )

    def predict(self, images: Sequence[bytes]) -> List[Prediction]:
        codes = grpc.StatusCode
        try:
            response = self._stub.Predict(grpc_predict_request(images, self.model_name), timeout=self.timeout)
        except grpc.RpcError as error:
            code, details = error.code(), one_line(error.details() or "")
            if code == codes.UNAVAILABLE:
                # Also what a batching server answers when its queue is full.
                what = "no TF Serving at" if "connect" in details.lower() else "unavailable: TF Serving at"
                raise PredictionError(f"{what} {self.target} (gRPC): {details}") from None
            if code == codes.DEADLINE_EXCEEDED:
                raise PredictionError(
                    f"TF Serving at {self.target} (gRPC) did not answer within {self.timeout:g} s"
                ) from None
            raise PredictionError(
                f"TF Serving at {self.target} (gRPC) answered {code.name} for "
                f"model {self.model_name!r}: {details}",
                bad_input=code == codes.INVALID_ARGUMENT,
            ) from None
        return _checked(
            lambda: parse_grpc_response(response), len(images), f"TF Serving at {self.target} (gRPC)"
        )


class InProcessPredictor:
    """The exported SavedModel loaded here; `model_dir` as resolve_model_dir takes it."""

    def __init__(self, model_dir: str):
        self.model_dir = resolve_model_dir(model_dir)  # before TensorFlow's 4 s import
        import tensorflow as tf

        self._tf = tf
        try:
            self._model = tf.saved_model.load(self.model_dir)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise PredictionError(
                f"cannot load the SavedModel in {self.model_dir}: {one_line(str(error))}"
            ) from None
        if PREDICT_IMAGES not in self._model.signatures:
            raise PredictionError(
                f"the SavedModel in {self.model_dir} has no {PREDICT_IMAGES!r} "
                f"signature (it has {sorted(self._model.signatures)})"
            )
        self._signature = self._model.signatures[PREDICT_IMAGES]

    def predict(self, images: Sequence[bytes]) -> List[Prediction]:
        tf = self._tf
        try:
            outputs = self._signature(**{IMAGES_INPUT: tf.constant(list(images), dtype=tf.string)})
        except tf.errors.InvalidArgumentError as error:
            raise PredictionError(
                f"the model in {self.model_dir} cannot read the image: {one_line(error.message)}",
                bad_input=True,
            ) from None
        except tf.errors.OpError as error:
            raise PredictionError(
                f"the model in {self.model_dir} failed: {one_line(error.message)}"
            ) from None
        return _checked(
            lambda: predictions_from_arrays({k: v.numpy() for k, v in outputs.items()}),
            len(images),
            f"the model in {self.model_dir}",
        )


def resolve_model_dir(model_dir: str, model_file: str = SAVED_MODEL_FILE) -> str:
    """The model directory to load: `model_dir` itself if it holds `model_file` (saved_model.pb,
    or the phone model's model.tflite), else its highest integer-named version, as TF Serving
    picks under MODEL_BASE/MODEL_NAME/VERSION/."""
    if not os.path.isdir(model_dir):
        raise PredictionError(f"model dir {model_dir} does not exist or is not a directory")
    if os.path.isfile(os.path.join(model_dir, model_file)):
        return model_dir
    numbered = versions(model_dir)
    if not numbered:
        raise PredictionError(
            f"model dir {model_dir} has no {model_file} and no numbered "
            f"version directory (expected {model_dir}/<version>/{model_file})"
        )
    latest = version_dir(model_dir, numbered[-1])
    if not os.path.isfile(os.path.join(latest, model_file)):
        raise PredictionError(f"{latest}, the latest version in model dir {model_dir}, has no {model_file}")
    return latest


def _checked(parse: Callable[[], List[Prediction]], expected: int, source: str) -> List[Prediction]:
    """Runs a parser, naming the backend in its error and checking one prediction per image."""
    try:
        predictions = parse()
    except PredictionError as error:
        raise PredictionError(f"{source}: {error}") from None
    if len(predictions) != expected:
        raise PredictionError(f"{source}: {len(predictions)} predictions for {expected} images")
    return predictions


def _connection_reason(error: Exception) -> str:
    """'Connection refused' out of requests' nested 'HTTPConnectionPool(...): Max retries...'."""
    if isinstance(error, requests.ConnectTimeout):
        return "connection timed out"
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return match.group(1).strip() if match else one_line(str(error))


def _rest_error_text(response: requests.Response) -> str:
    """TF Serving's `{"error": ...}` text, or the start of whatever else answered."""
    try:
        return one_line(str(response.json()["error"]))
    except (ValueError, KeyError, TypeError):
        return one_line(response.text[:200]) or response.reason
