"""The serving wire formats and config files, checked against the exported SavedModel.

TF Serving cannot run here, so each request is unpacked the way TF Serving unpacks it and fed to
the `predict_images` signature of a real export, as TF Serving would call it.
"""

import base64
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from contract.names import CLASS_MAP, IMAGES_INPUT, PREDICT_IMAGES, PREDICT_IMAGES_OUTPUTS, PROBABILITIES
from serving import wire_format as wire
from tests.helpers import jpeg_bytes, png_mask_bytes

SERVING_DIR = os.path.dirname(wire.__file__)
# Different sizes (so the batch is padded), a PNG among them, and a JPEG whose bytes end in NUL:
# string tensors must carry bytes exactly (numpy's "S" dtype would strip trailing NULs).
IMAGES = [jpeg_bytes(123, 77), png_mask_bytes(40, 90), jpeg_bytes(31, 20, seed=2) + b"\0\0"]


@pytest.fixture(scope="module")
def predict_images(exported_model):
    return tf.saved_model.load(exported_model).signatures[PREDICT_IMAGES]


@pytest.fixture(scope="module")
def direct(predict_images):
    """The signature's outputs for IMAGES, called directly: what every format must reproduce."""
    return {name: value.numpy() for name, value in predict_images(images=tf.constant(IMAGES)).items()}


def _assert_matches_direct(predictions, direct):
    assert len(predictions) == len(IMAGES)
    for index, prediction in enumerate(predictions):
        height, width = direct["height"][index], direct["width"][index]
        assert prediction.class_map.shape == (height, width)
        np.testing.assert_array_equal(prediction.class_map, direct[CLASS_MAP][index, :height, :width])
        np.testing.assert_allclose(prediction.probabilities, direct[PROBABILITIES][index], atol=1e-6)


def test_output_names_are_the_exported_ones(predict_images):
    assert set(predict_images.structured_outputs) == set(PREDICT_IMAGES_OUTPUTS)
    assert list(predict_images.structured_input_signature[1]) == [IMAGES_INPUT]


def test_rest_body_is_tf_servings_row_format():
    body = wire.rest_predict_body(IMAGES[:2])
    assert body == {
        "signature_name": "predict_images",
        "instances": [
            {"b64": base64.b64encode(IMAGES[0]).decode("ascii")},
            {"b64": base64.b64encode(IMAGES[1]).decode("ascii")},
        ],
    }
    assert json.loads(json.dumps(body)) == body


def test_rest_round_trip_through_the_saved_model(predict_images, direct):
    body = json.loads(json.dumps(wire.rest_predict_body(IMAGES)))
    # TF Serving: a single-input signature's instances are its values; {"b64": s} is bytes.
    assert body["signature_name"] == PREDICT_IMAGES
    decoded = [base64.b64decode(instance["b64"], validate=True) for instance in body["instances"]]
    assert decoded == IMAGES
    outputs = predict_images(images=tf.constant(decoded))
    # TF Serving's row-format answer: one object per instance, every output sliced on dim 0.
    answer = {
        "predictions": [
            {name: value.numpy()[index].tolist() for name, value in outputs.items()}
            for index in range(len(IMAGES))
        ]
    }
    _assert_matches_direct(wire.parse_rest_response(json.loads(json.dumps(answer))), direct)


def test_grpc_request_round_trips_into_the_signature(predict_images, direct):
    request = wire.grpc_predict_request(IMAGES, "segmenter")
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert (request.model_spec.name, request.model_spec.signature_name) == ("segmenter", "predict_images")
    tensor = request.inputs[IMAGES_INPUT]
    assert tensor.dtype == tf.string.as_datatype_enum
    assert [dim.size for dim in tensor.tensor_shape.dim] == [len(IMAGES)]
    images = tf.make_ndarray(tensor)
    assert images.tolist() == IMAGES
    outputs = predict_images(images=tf.constant(images))
    response = predict_pb2.PredictResponse()
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    _assert_matches_direct(wire.parse_grpc_response(response), direct)


def test_warmup_file_holds_requests_the_model_runs(tmp_path, predict_images):
    path = wire.write_warmup_file(str(tmp_path), IMAGES, "segmenter")
    assert path == os.path.join(str(tmp_path), "assets.extra", "tf_serving_warmup_requests")
    records = [record.numpy() for record in tf.data.TFRecordDataset(path)]
    assert len(records) == len(IMAGES)
    for record, image in zip(records, IMAGES):
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        assert request.model_spec.signature_name == PREDICT_IMAGES
        outputs = predict_images(images=tf.constant(tf.make_ndarray(request.inputs[IMAGES_INPUT])))
        height, width = int(outputs["height"][0]), int(outputs["width"][0])
        assert outputs[CLASS_MAP].shape == (1, height, width)
        assert tf.image.decode_image(image).shape[:2] == (height, width)


@pytest.mark.parametrize("count", [0, wire.MAX_WARMUP_RECORDS + 1])
def test_warmup_refuses_counts_tf_serving_would_not_load(tmp_path, count):
    with pytest.raises(ValueError, match="1 to 1000"):
        wire.write_warmup_file(str(tmp_path), [IMAGES[0]] * count)


@pytest.mark.parametrize(
    "answer",
    [
        {"error": "Servable not found"},
        {"predictions": "oops"},
        {"predictions": [{"class_map": [[0]], "height": 1, "width": 1}]},
        {"predictions": [{"class_map": [[0, 1], [2]], "height": 2, "width": 2, "probabilities": [[[1.0]]]}]},
        {"predictions": [{"class_map": [[0]], "height": 3, "width": 1, "probabilities": [[[1.0]]]}]},
        {"predictions": [{"class_map": [[0, -1]], "height": 1, "width": 2, "probabilities": [[[1.0]]]}]},
        ["not", "an", "object"],
    ],
)
def test_malformed_rest_answers_raise_prediction_error(answer):
    with pytest.raises(wire.PredictionError, match="malformed answer"):
        wire.parse_rest_response(answer)


def test_models_config_serves_segmenter_keeping_two_versions():
    with open(os.path.join(SERVING_DIR, "models.config")) as handle:
        config = text_format.Parse(handle.read(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (
        "segmenter",
        "/models/segmenter",
        "tensorflow",
    )
    assert model.model_version_policy.latest.num_versions == 2


def _batching_parameters_class():
    """tensorflow_serving.BatchingParameters, whose proto tensorflow-serving-api does not ship:
    rebuilt from session_bundle_config.proto so the file is parsed as strictly as TF Serving does."""
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    proto = descriptor_pb2.FileDescriptorProto(
        name="batching.proto", package="tensorflow.serving", dependency=[wrappers.name], syntax="proto3"
    )
    message = proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for number, name, type_name in [
        (1, "max_batch_size", "Int64Value"),
        (2, "batch_timeout_micros", "Int64Value"),
        (3, "max_enqueued_batches", "Int64Value"),
        (4, "num_batch_threads", "Int64Value"),
        (5, "thread_pool_name", "StringValue"),
    ]:
        message.field.add(
            name=name,
            number=number,
            label=field.LABEL_OPTIONAL,
            type=field.TYPE_MESSAGE,
            type_name=f".google.protobuf.{type_name}",
        )
    message.field.add(name="allowed_batch_sizes", number=6, label=field.LABEL_REPEATED, type=field.TYPE_INT64)
    message.field.add(
        name="pad_variable_length_inputs", number=7, label=field.LABEL_OPTIONAL, type=field.TYPE_BOOL
    )
    pool.Add(proto)
    return message_factory.MessageFactory(pool).GetPrototype(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    )


def test_batching_parameters_parse_as_tf_serving_reads_them():
    with open(os.path.join(SERVING_DIR, "batching_parameters.txt")) as handle:
        params = text_format.Parse(handle.read(), _batching_parameters_class()())
    assert params.max_batch_size.value == 32
    assert params.batch_timeout_micros.value > 0
    assert params.num_batch_threads.value >= 1 and params.max_enqueued_batches.value >= 1


EXPECTED_FLAGS = {
    "--port=8500",
    "--rest_api_port=8501",
    "--model_config_file=/config/models.config",
    "--enable_batching",
    "--batching_parameters_file=/config/batching_parameters.txt",
}


def test_docker_compose_runs_tf_serving_with_the_config_files():
    with open(os.path.join(SERVING_DIR, "docker-compose.yml")) as handle:
        (service,) = yaml.safe_load(handle)["services"].values()
    assert service["image"] == "tensorflow/serving:2.16.1"
    assert set(service["command"]) >= EXPECTED_FLAGS
    assert {"8500:8500", "8501:8501"} <= set(service["ports"])
    volumes = [volume.rsplit(":", 2) for volume in service["volumes"]]
    assert all(mode == "ro" for _, _, mode in volumes)
    mounts = {target: source for source, target, _ in volumes}
    assert mounts["/models"] == "${SERVING_ROOT:-../demo_out/serving}"
    for name in ("models.config", "batching_parameters.txt"):
        assert mounts[f"/config/{name}"] == f"./{name}"
        assert os.path.isfile(os.path.join(SERVING_DIR, name))


def test_kubernetes_deployment_and_service():
    with open(os.path.join(SERVING_DIR, "kubernetes.yaml")) as handle:
        documents = {document["kind"]: document for document in yaml.safe_load_all(handle)}
    assert set(documents) == {"Deployment", "Service"}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "tensorflow/serving:2.16.1"
    assert set(container["args"]) >= EXPECTED_FLAGS
    with open(os.path.join(SERVING_DIR, "docker-compose.yml")) as handle:
        (service,) = yaml.safe_load(handle)["services"].values()
    assert container["args"] == service["command"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == "/v1/models/segmenter" and ports[probe["port"]] == 8501
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert {"persistentVolumeClaim", "hostPath"} & set(volumes[mounts["/models"]])
    assert "configMap" in volumes[mounts["/config"]]
    assert (
        documents["Deployment"]["spec"]["selector"]["matchLabels"].items()
        <= documents["Service"]["spec"]["selector"].items()
    )
    service_ports = {port["port"]: port["targetPort"] for port in documents["Service"]["spec"]["ports"]}
    assert service_ports == {8500: "grpc", 8501: "http"}


def test_a_grpc_answer_without_the_outputs_raises_prediction_error():
    response = predict_pb2.PredictResponse()
    response.outputs[CLASS_MAP].CopyFrom(tf.make_tensor_proto(np.zeros((1, 2, 2), np.int64)))
    with pytest.raises(
        wire.PredictionError, match=r"malformed answer: no output \['height', 'width', 'probabilities'\]"
    ):
        wire.parse_grpc_response(response)
