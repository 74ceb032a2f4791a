"""`segpipe predict IMAGE...`: segment image files with the exported model; write what it sees.

One backend per call: TF Serving's REST API (--server http://HOST:8501), its gRPC API
(--grpc HOST:8500), the SavedModel in this process (--model-dir DIR: a version directory, or
a model base directory whose highest numbered version is used, as TF Serving would), or the
phone model on the TFLite interpreter (--tflite DIR_OR_FILE: a .tflite file, a version
directory or SERVING_ROOT/<model>-tflite/; serving/tflite_predictor.py).

Every file is checked before anything is sent (serving/image_inputs.py): a bad one gets one line
on stderr naming it, and the others carry on. Good images go in batches of --batch-size, also
capped so that a batch's padded class maps (the model pads each to the batch's largest height
and width) hold at most --max-pixels pixels: a batch never costs more than one image at the
limit. If the backend still rejects a batch's images, they are retried one by one so that only
the culprit fails. A backend that is down ends the call with one line naming it.

For each image it writes `<out>/<stem>_mask.png` and `<out>/<stem>_overlay.png` (encodings in
serving/mask_files.py; a repeated stem gets `-2`, `-3`...) and prints
`cat.jpg: pet 31.2%, background 61.0%, border 7.8% -> out/cat_mask.png, out/cat_overlay.png`.
Exit code 0 when every image was segmented, 1 when any was not, 2 for usage errors (argparse).

Wiring: `add_arguments(subparser)` declares the flags, `run(args)` is the handler;
`segment_files` is the same work for a caller that already has a Predictor.
"""

import argparse
import os
import re
import sys
from typing import Callable, Iterable, Iterator, List, Sequence, Set, Tuple, Union

from contract.names import DEFAULT_MODEL_NAME
from serving.image_inputs import CheckedImage, InputError, read_checked_image
from serving.mask_files import describe_shares, write_mask, write_overlay
from serving.predictors import (
    DEFAULT_TIMEOUT_S,
    GrpcPredictor,
    InProcessPredictor,
    Predictor,
    RestPredictor,
    resolve_model_dir,
)
from serving.tflite_predictor import TfLitePredictor, resolve_tflite
from serving.wire_format import Prediction, PredictionError

PROG = "segpipe predict"
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_BATCH_SIZE = 8
DEFAULT_OUT = "predictions"
EXIT_OK = 0
EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares `segpipe predict`'s arguments on `parser` (a subcommand's parser)."""
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG or PNG files to segment.")
    backend = parser.add_mutually_exclusive_group(required=True)
    backend.add_argument(
        "--server", metavar="URL", type=_http_url, help="TF Serving's REST API, e.g. http://localhost:8501."
    )
    backend.add_argument(
        "--grpc", metavar="HOST:PORT", type=_host_port, help="TF Serving's gRPC API, e.g. localhost:8500."
    )
    backend.add_argument(
        "--model-dir",
        metavar="DIR",
        help="Run the SavedModel in this process: a version directory (holding "
        "saved_model.pb) or a model base directory (its highest numbered version).",
    )
    backend.add_argument(
        "--tflite",
        metavar="DIR_OR_FILE",
        help="Run the phone model on the TFLite interpreter, fed as its contract.json says: a "
        ".tflite file, a version directory (holding model.tflite) or a model base directory "
        "such as SERVING_ROOT/segmenter-tflite (its highest numbered version).",
    )
    parser.add_argument(
        "--model-name",
        default=DEFAULT_MODEL_NAME,
        help=f"The model's name in TF Serving (default {DEFAULT_MODEL_NAME}).",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help=f"Where to write <stem>_mask.png and <stem>_overlay.png (default {DEFAULT_OUT}/).",
    )
    parser.add_argument(
        "--max-pixels",
        metavar="N",
        type=_positive(int),
        default=DEFAULT_MAX_PIXELS,
        help=f"Refuse images with more pixels than this (default {DEFAULT_MAX_PIXELS:_}).",
    )
    parser.add_argument(
        "--batch-size",
        metavar="N",
        type=_positive(int),
        default=DEFAULT_BATCH_SIZE,
        help=f"Images per request (default {DEFAULT_BATCH_SIZE}); a batching TF "
        "Serving refuses more than its max_batch_size (32 in "
        "serving/batching_parameters.txt).",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive(float),
        default=DEFAULT_TIMEOUT_S,
        help=f"How long to wait for TF Serving per request (default {DEFAULT_TIMEOUT_S:g}).",
    )


def run(args: argparse.Namespace) -> int:
    """The handler: segments args.images with the chosen backend; the exit code."""
    try:
        predictor = _predictor(args)
    except PredictionError as error:
        return _fail(str(error))
    return segment_files(args.images, predictor, args.out, args.max_pixels, args.batch_size)


def segment_files(
    paths: Sequence[str],
    predictor: Predictor,
    out_dir: str,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Checks, predicts, writes and reports each file; 0 when all were segmented, else 1."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        return _fail(f"cannot create --out {out_dir}: {error.strerror or error}")
    names = _OutputNames(out_dir)
    segmented = 0
    try:
        for batch in _batches(_checked_images(paths, max_pixels), batch_size, max_pixels):
            for image, result in _predict_each(predictor, batch):
                if isinstance(result, PredictionError):
                    _report(image.path, str(result))
                    continue
                try:
                    print(_write_outputs(image, result, names), flush=True)
                    segmented += 1
                except (OSError, ValueError) as error:
                    _report(image.path, f"cannot write its outputs: {error}")
    except PredictionError as error:
        _report("error", str(error))
    if segmented < len(paths):
        return _fail(f"{segmented} of {len(paths)} images segmented")
    return EXIT_OK


def _predictor(args: argparse.Namespace) -> Predictor:
    """The backend, saying first what it will use (loading a model takes seconds)."""
    count = f"{len(args.images)} image" + ("" if len(args.images) == 1 else "s")
    if args.server:
        _say(f"{count} to TF Serving's REST API at {args.server}, model {args.model_name!r}")
        return RestPredictor(args.server, args.model_name, args.timeout)
    if args.grpc:
        _say(f"{count} to TF Serving's gRPC API at {args.grpc}, model {args.model_name!r}")
        return GrpcPredictor(args.grpc, args.model_name, args.timeout)
    if args.tflite:
        model_path, _ = resolve_tflite(args.tflite)
        _say(f"loading the TFLite model {model_path} (TensorFlow takes a few seconds), then {count}")
        return TfLitePredictor(args.tflite)
    model_dir = resolve_model_dir(args.model_dir)
    version = os.path.basename(model_dir.rstrip("/"))
    which = f"version {version} of the model" if version.isdigit() else "the model"
    _say(f"loading {which} in {model_dir} (TensorFlow takes a few seconds), then {count}")
    return InProcessPredictor(model_dir)


def _say(message: str) -> None:
    """What the command is doing, on stderr: stdout holds one line per segmented image."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _checked_images(paths: Iterable[str], max_pixels: int) -> Iterator[CheckedImage]:
    """The files that pass the checks, read one at a time; the others reported as they come."""
    for path in paths:
        try:
            yield read_checked_image(path, max_pixels)
        except InputError as error:
            _report(path, str(error))


def _batches(
    images: Iterable[CheckedImage], batch_size: int, max_pixels: int
) -> Iterator[List[CheckedImage]]:
    """Consecutive batches of at most batch_size images whose padded maps fit in max_pixels."""
    batch: List[CheckedImage] = []
    for image in images:
        if batch and (len(batch) == batch_size or _padded_pixels(batch + [image]) > max_pixels):
            yield batch
            batch = []
        batch.append(image)
    if batch:
        yield batch


def _padded_pixels(batch: Sequence[CheckedImage]) -> int:
    return len(batch) * max(image.height for image in batch) * max(image.width for image in batch)


def _predict_each(
    predictor: Predictor, batch: List[CheckedImage]
) -> List[Tuple[CheckedImage, Union[Prediction, PredictionError]]]:
    """Each image with its Prediction, or with the error that rejected it alone.

    Raises PredictionError when the backend itself failed: every later batch would fail too.
    """
    try:
        return list(zip(batch, predictor.predict([image.data for image in batch])))
    except PredictionError as error:
        if not error.bad_input:
            raise
        if len(batch) == 1:
            return [(batch[0], error)]
        return [pair for image in batch for pair in _predict_each(predictor, [image])]


class _OutputNames:
    """`<out>/<stem>` per image, unique within the call: cat.jpg and cat.png (or a/cat.jpg and
    b/cat.jpg) must not overwrite each other's masks."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.used: Set[str] = set()

    def prefix(self, path: str) -> str:
        stem = os.path.splitext(os.path.basename(path))[0]
        candidate, number = stem, 2
        while candidate in self.used:
            candidate, number = f"{stem}-{number}", number + 1
        self.used.add(candidate)
        return os.path.join(self.out_dir, candidate)


def _write_outputs(image: CheckedImage, prediction: Prediction, names: _OutputNames) -> str:
    """Writes the mask and the overlay; the line to print for the image."""
    if prediction.class_map.shape != (image.height, image.width):
        raise ValueError(
            f"the model's map is {prediction.class_map.shape[1]}x"
            f"{prediction.class_map.shape[0]}, the image {image.width}x{image.height}"
        )
    prefix = names.prefix(image.path)
    mask_path, overlay_path = f"{prefix}_mask.png", f"{prefix}_overlay.png"
    write_mask(prediction.class_map, mask_path)
    write_overlay(image.data, prediction.class_map, overlay_path)
    return f"{image.path}: {describe_shares(prediction.class_map)} -> {mask_path}, {overlay_path}"


def _report(subject: str, problem: str) -> None:
    print(f"{PROG}: {subject}: {problem}", file=sys.stderr, flush=True)


def _fail(message: str) -> int:
    _report("error", message)
    return EXIT_FAILED


def _positive(kind: Callable[[str], Union[int, float]]) -> Callable[[str], Union[int, float]]:
    def parse(text: str) -> Union[int, float]:
        try:
            value = kind(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _http_url(text: str) -> str:
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", text):
        raise argparse.ArgumentTypeError(
            f"expected TF Serving's REST address such as http://localhost:8501, got {text!r}"
        )
    return text.rstrip("/")


def _host_port(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"expected TF Serving's gRPC address as HOST:PORT such as localhost:8500, got {text!r}"
        )
    return text
