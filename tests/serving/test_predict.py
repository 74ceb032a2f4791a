"""`segpipe predict` end to end: over REST, over gRPC and in process, with good and bad inputs.

TF Serving cannot run here, so the two servers are stand-ins on 127.0.0.1 that speak its
protocols (paths, JSON row format, b64, error bodies, status codes, PredictionService) and
answer by running the exported model's `predict_images`, as TF Serving would.
"""

import base64
import contextlib
import io
import json
import os
import re
import socket
import tempfile
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import predict_cli
from serving.predictors import InProcessPredictor, PredictionError, resolve_model_dir
from tests.helpers import jpeg_bytes, predict_parser, run_predict_cli

# Hypothesis caches under ./.hypothesis even with no example database; keep the tree clean.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "segpipe-hypothesis")
)
SHARES = re.compile(r"pet ([\d.]+)%, background ([\d.]+)%, border ([\d.]+)%")


# --- stand-ins for TF Serving ---------------------------------------------------------------


class _RestHandler(BaseHTTPRequestHandler):
    """POST /v1/models/<name>:predict as TF Serving answers it (row format)."""

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        match = re.fullmatch(r"/v1/models/([^/:]+):predict", self.path)
        if not match:
            return self._send(404, {"error": f"Malformed request: POST {self.path}"})
        instances = body["instances"]
        server.batch_sizes.append(len(instances))
        if match.group(1) == "broken":  # a proxy or another model answering 200
            return self._send(200, {"predictions": "not a list"})
        if match.group(1) != "segmenter":
            return self._send(404, {"error": f"Servable not found for request: Latest({match.group(1)})"})
        if len(instances) > server.max_batch_size:
            return self._send(
                400,
                {
                    "error": f"Task size {len(instances)} is larger than maximum "
                    f"input batch size {server.max_batch_size}"
                },
            )
        images = [base64.b64decode(instance["b64"], validate=True) for instance in instances]
        try:
            outputs = server.signature(images=tf.constant(images))
        except tf.errors.InvalidArgumentError as error:
            return self._send(400, {"error": error.message})
        return self._send(
            200,
            {
                "predictions": [
                    {name: value.numpy()[index].tolist() for name, value in outputs.items()}
                    for index in range(len(images))
                ]
            },
        )

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """PredictionService/Predict as TF Serving answers it."""

    def __init__(self, signature):
        self.signature = signature

    def Predict(self, request, context):
        if request.model_spec.name != "segmenter":
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Latest({request.model_spec.name})",
            )
        try:
            outputs = self.signature(images=tf.constant(tf.make_ndarray(request.inputs["images"])))
        except tf.errors.InvalidArgumentError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


@pytest.fixture(scope="module")
def signature(exported_model):
    return tf.saved_model.load(exported_model).signatures["predict_images"]


@pytest.fixture(scope="module")
def rest_server(signature):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RestHandler)
    server.signature, server.max_batch_size, server.batch_sizes = signature, 2, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def rest_url(rest_server):
    rest_server.batch_sizes.clear()
    return f"http://127.0.0.1:{rest_server.server_address[1]}"


@pytest.fixture(scope="module")
def grpc_target(signature):
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Servicer(signature), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


@pytest.fixture(scope="module")
def model_base_dir(exported_model, tmp_path_factory):
    """TF Serving's MODEL_BASE/MODEL_NAME layout: version 10 is the model, version 2 is empty
    (so picking versions as strings, "2" > "10", would fail)."""
    base = tmp_path_factory.mktemp("serving") / "segmenter"
    (base / "2").mkdir(parents=True)
    (base / "10").symlink_to(exported_model, target_is_directory=True)
    return str(base)


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- inputs and the command line --------------------------------------------------------------


def _png(array, path):
    Image.fromarray(array).save(path, format="PNG")
    return str(path)


def phone_photo(width: int, height: int, orientation: int = 6) -> bytes:
    """A JPEG stored as a phone stores it: pixels of width×height, shown turned by its EXIF
    orientation (6: a quarter turn clockwise, so it is displayed height wide)."""
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    Image.open(io.BytesIO(jpeg_bytes(width, height, seed=4))).save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture
def good_images(tmp_path):
    """(path, (width, height) as displayed): a JPEG, an RGBA PNG, a greyscale PNG and a phone
    photo stored rotated, all different sizes."""
    rng = np.random.default_rng(0)
    cat = tmp_path / "cat.jpg"
    cat.write_bytes(jpeg_bytes(123, 77))
    dog = _png(rng.integers(0, 256, (51, 40, 4), np.uint8), tmp_path / "dog.png")
    grey = _png(rng.integers(0, 256, (30, 66), np.uint8), tmp_path / "grey.png")
    phone = tmp_path / "phone.jpg"
    phone.write_bytes(phone_photo(90, 60))
    return [(str(cat), (123, 77)), (dog, (40, 51)), (grey, (66, 30)), (str(phone), (60, 90))]


def _assert_outputs(out_dir, stem, size, line):
    """The mask holds class ids at the image's size, the overlay is RGB at that size, and the
    printed shares are the mask's and sum to 100%."""
    mask = Image.open(os.path.join(out_dir, f"{stem}_mask.png"))
    assert mask.mode == "P" and mask.size == size
    class_map = np.array(mask)
    assert set(np.unique(class_map)) <= {0, 1, 2}
    overlay = Image.open(os.path.join(out_dir, f"{stem}_overlay.png"))
    assert overlay.mode == "RGB" and overlay.size == size
    shares = [float(share) for share in SHARES.search(line).groups()]
    assert sum(shares) == pytest.approx(100, abs=0.2)
    expected = np.bincount(class_map.ravel(), minlength=3) / class_map.size * 100
    np.testing.assert_allclose(shares, expected, atol=0.051)
    assert line.endswith(f"-> {out_dir}/{stem}_mask.png, {out_dir}/{stem}_overlay.png")
    return class_map


@pytest.fixture(params=["rest", "grpc", "in-process"])
def backend(request):
    """The flags that pick each backend, its server or model started only when asked for."""
    if request.param == "rest":
        return ["--server", request.getfixturevalue("rest_url")]
    if request.param == "grpc":
        return ["--grpc", request.getfixturevalue("grpc_target")]
    return ["--model-dir", request.getfixturevalue("model_base_dir")]


def test_each_backend_writes_maps_of_each_images_own_size(backend, good_images, signature, tmp_path, capsys):
    out_dir = str(tmp_path / "out")
    code, out, err = run_predict_cli(
        [path for path, _ in good_images] + backend + ["--out", out_dir, "--batch-size", "2"], capsys
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(good_images)
    for (path, size), line in zip(good_images, lines):
        assert line.startswith(f"{path}: ")
        class_map = _assert_outputs(out_dir, os.path.splitext(os.path.basename(path))[0], size, line)
        with open(path, "rb") as handle:
            direct = signature(images=tf.constant([handle.read()]))["class_map"].numpy()[0]
        assert np.mean(class_map != direct) < 0.01  # batched vs alone: float noise at most


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_phone_photo_is_segmented_as_displayed(signature, orientation):
    """predict_images turns a JPEG by its EXIF orientation: the class map has the displayed size
    and is the map of the displayed pixels, as if the client had sent them upright."""
    stored = phone_photo(90, 60, orientation)
    pixels = tf.io.decode_jpeg(stored).numpy()
    upright = np.rot90(pixels, k={3: 2, 6: -1, 8: 1}[orientation])
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(upright)).save(buffer, format="PNG")  # lossless: the same pixels
    maps = signature(images=tf.constant([stored]))["class_map"].numpy()[0]
    expected = signature(images=tf.constant([buffer.getvalue()]))["class_map"].numpy()[0]
    assert maps.shape == upright.shape[:2]
    np.testing.assert_array_equal(maps, expected)


def test_bad_inputs_fail_alone_with_a_message_naming_them(exported_model, good_images, tmp_path, capsys):
    (tmp_path / "text.jpg").write_text("not an image at all")
    (tmp_path / "empty.jpg").write_bytes(b"")
    whole = jpeg_bytes(90, 60)
    (tmp_path / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    big = _png(np.zeros((100, 200, 3), np.uint8), tmp_path / "big.png")
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "cat.jpg").write_bytes(jpeg_bytes(20, 10))
    bad = {
        str(tmp_path / "text.jpg"): "not a JPEG or PNG image",
        str(tmp_path / "empty.jpg"): "empty file",
        str(tmp_path / "missing.jpg"): "no such file",
        str(tmp_path / "truncated.jpg"): "damaged image: image file is truncated",
        big: "200x100 is 20,000 pixels, over the limit of 10,000 (--max-pixels)",
    }
    good = good_images[:3] + [(str(tmp_path / "again" / "cat.jpg"), (20, 10))]
    paths = [good[0][0], *list(bad)[:3], good[1][0], *list(bad)[3:], good[2][0], good[3][0]]
    out_dir = str(tmp_path / "out")
    code, out, err = run_predict_cli(
        paths
        + ["--model-dir", exported_model, "--out", out_dir, "--max-pixels", "10000", "--batch-size", "3"],
        capsys,
    )
    assert code == 1
    for path, problem in bad.items():
        assert any(line.startswith(f"segpipe predict: {path}: {problem}") for line in err.splitlines()), err
    assert err.splitlines()[-1] == f"segpipe predict: error: 4 of {len(paths)} images segmented"
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [path for path, _ in good]
    stems = ["cat", "dog", "grey", "cat-2"]  # the second cat.jpg must not overwrite the first
    for (_, size), stem, line in zip(good, stems, lines):
        _assert_outputs(out_dir, stem, size, line)


def test_a_batch_the_server_refuses_is_retried_image_by_image(
    rest_server, rest_url, good_images, tmp_path, capsys
):
    code, out, err = run_predict_cli(
        [path for path, _ in good_images]
        + ["--server", rest_url, "--batch-size", "3", "--out", str(tmp_path)],
        capsys,
    )
    assert code == 0, err
    # 4 images in batches of 3: the stand-in's max_batch_size is 2, so the first is retried alone
    assert rest_server.batch_sizes == [3, 1, 1, 1, 1]
    assert len(out.splitlines()) == 4


def test_an_image_pillow_reads_but_the_model_refuses_fails_alone(
    rest_server, rest_url, good_images, tmp_path, capsys
):
    # A PNG whose IEND chunk has a bad checksum: Pillow reads it, libpng (in the model) does not,
    # so it passes the checks and sinks its whole batch on the server.
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(buffer, format="PNG")
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(buffer.getvalue()[:-4] + b"\0\0\0\0")
    paths = [good_images[0][0], str(damaged), good_images[1][0]]
    code, out, err = run_predict_cli(
        paths + ["--server", rest_url, "--batch-size", "2", "--out", str(tmp_path / "out")], capsys
    )
    assert code == 1 and rest_server.batch_sizes == [2, 1, 1, 1]
    assert (
        f"segpipe predict: {damaged}: TF Serving at {rest_url} answered HTTP 400 for model "
        f"'segmenter': Invalid PNG data" in err
    )
    assert [line.split(": ")[0] for line in out.splitlines()] == [good_images[0][0], good_images[1][0]]


def _assert_backend_error(argv, message, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run_predict_cli(argv + ["--out", str(out_dir)], capsys)
    assert code == 1 and out == ""
    problems = [line for line in err.splitlines() if line.startswith("segpipe predict: error: ")]
    assert problems[0].startswith(f"segpipe predict: error: {message}"), err
    said = err.splitlines()[: err.splitlines().index(problems[0])]  # what it was doing, at most
    assert len(said) <= 1 and all(" to TF Serving" in line or "loading" in line for line in said), err
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_a_rest_server_that_does_not_answer(good_images, tmp_path, capsys):
    port = _closed_port()
    _assert_backend_error(
        [good_images[0][0], good_images[1][0], "--server", f"http://127.0.0.1:{port}"],
        f"no TF Serving at http://127.0.0.1:{port}: Connection refused",
        tmp_path,
        capsys,
    )


def test_a_grpc_server_that_does_not_answer(good_images, tmp_path, capsys):
    port = _closed_port()
    _assert_backend_error(
        [good_images[0][0], "--grpc", f"127.0.0.1:{port}"],
        f"no TF Serving at 127.0.0.1:{port} (gRPC): ",
        tmp_path,
        capsys,
    )


def test_a_server_that_accepts_but_never_answers(good_images, tmp_path, capsys):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        _assert_backend_error(
            [good_images[0][0], "--server", url, "--timeout", "0.3"],
            f"TF Serving at {url} did not answer within 0.3 s",
            tmp_path,
            capsys,
        )


def test_an_unknown_model_is_one_error_not_one_per_image(
    rest_server, rest_url, good_images, tmp_path, capsys
):
    _assert_backend_error(
        [path for path, _ in good_images] + ["--server", rest_url, "--model-name", "nope"],
        f"TF Serving at {rest_url} answered HTTP 404 for model 'nope': "
        "Servable not found for request: Latest(nope)",
        tmp_path,
        capsys,
    )
    assert rest_server.batch_sizes == [len(good_images)]


def test_an_unknown_model_over_grpc(grpc_target, good_images, tmp_path, capsys):
    _assert_backend_error(
        [good_images[0][0], "--grpc", grpc_target, "--model-name", "nope"],
        f"TF Serving at {grpc_target} (gRPC) answered NOT_FOUND for model 'nope'",
        tmp_path,
        capsys,
    )


def test_a_malformed_answer(rest_url, good_images, tmp_path, capsys):
    _assert_backend_error(
        [good_images[0][0], "--server", rest_url, "--model-name", "broken"],
        f"TF Serving at {rest_url}/v1/models/broken:predict: malformed answer",
        tmp_path,
        capsys,
    )


def test_a_model_dir_without_a_version(good_images, tmp_path, capsys):
    base = tmp_path / "segmenter"
    (base / "notes").mkdir(parents=True)
    _assert_backend_error(
        [good_images[0][0], "--model-dir", str(base)],
        f"model dir {base} has no saved_model.pb and no numbered version",
        tmp_path,
        capsys,
    )


def test_the_latest_version_is_the_highest_number(model_base_dir, tmp_path):
    assert resolve_model_dir(model_base_dir) == os.path.join(model_base_dir, "10")
    (tmp_path / "7").mkdir()
    with pytest.raises(PredictionError, match="the latest version in model dir .* has no saved_model.pb"):
        resolve_model_dir(str(tmp_path))


@pytest.mark.parametrize(
    "argv",
    [
        ["x.jpg"],
        ["x.jpg", "--server", "http://localhost:8501", "--grpc", "localhost:8500"],
        ["--server", "http://localhost:8501"],
        ["x.jpg", "--server", "localhost:8501"],
        ["x.jpg", "--grpc", "localhost"],
        ["x.jpg", "--model-dir", "m", "--batch-size", "0"],
        ["x.jpg", "--model-dir", "m", "--max-pixels", "many"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "segpipe predict: error:" in capsys.readouterr().err


# --- random inputs through the in-process path ------------------------------------------------


@pytest.fixture(scope="module")
def in_process(exported_model):
    return InProcessPredictor(exported_model)


@st.composite
def _files(draw):
    """(file bytes, (width, height) of a valid image or None): random bytes, or random small
    images in the modes and formats people have, sometimes cut short."""
    mode = draw(st.sampled_from(["bytes", "L", "RGB", "RGBA", "LA", "P", "1", "I;16", "CMYK"]))
    if mode == "bytes":
        return draw(st.binary(max_size=300)), None
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (height, width), np.uint16))
    elif mode == "1":
        image = Image.fromarray(rng.integers(0, 2, (height, width)).astype(bool))
    else:
        bands = len(Image.new(mode, (1, 1)).getbands())
        image = Image.frombytes(mode, (width, height), rng.bytes(width * height * bands))
    image_format = (
        draw(st.sampled_from(["PNG", "JPEG"]))
        if mode in ("L", "RGB")
        else ("JPEG" if mode == "CMYK" else "PNG")
    )
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    data = buffer.getvalue()
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))], None
    return data, (width, height)


@settings(max_examples=25, deadline=None, database=None)
@given(case=_files())
def test_random_inputs_give_a_map_of_their_size_or_a_clear_error(in_process, case):
    data, size = case
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input.png")
        with open(path, "wb") as handle:
            handle.write(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = predict_cli.segment_files([path], in_process, os.path.join(tmp, "out"))
        assert "Traceback" not in out.getvalue() + err.getvalue()
        if size is not None:  # a whole, valid image must be segmented
            assert code == 0, err.getvalue()
        if code == 0:
            with Image.open(os.path.join(tmp, "out", "input_mask.png")) as mask:
                assert mask.size == (size or Image.open(io.BytesIO(data)).size)
        else:
            problem, summary = err.getvalue().splitlines()
            assert problem.startswith(f"segpipe predict: {path}: ") and len(problem) > len(path) + 20
            assert summary == "segpipe predict: error: 0 of 1 images segmented"
    # The model itself, fed the raw bytes with no checks first, answers or refuses; never dies.
    try:
        (prediction,) = in_process.predict([data])
    except PredictionError as error:
        assert error.bad_input and "cannot read the image" in str(error)
    else:
        assert prediction.class_map.ndim == 2 and (size is None or prediction.class_map.shape == size[::-1])
