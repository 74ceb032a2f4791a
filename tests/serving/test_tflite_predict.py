"""`segpipe predict --tflite`: the phone model on the TFLite interpreter, fed as its contract says,
writes the same mask and overlay files as the other backends, at each image's own size.

The models are conftest's `tflite_models`: the tiny trained U-Net converted to float16 and int8.
Its maps are compared with the SavedModel's `predict_images` on the same files, so a
preprocessing that differs from the Transform's (another resize, a missing /255, the wrong
orientation) fails here.
"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import ExifTags, Image

from contract.names import TFLITE_CONTRACT_FILE, TFLITE_MODEL_FILE
from serving.tflite_contract import AppContract, ContractError, read_contract
from tests.helpers import run_predict_cli, truth_classes


def _truth_photo(width: int, height: int, seed: int) -> np.ndarray:
    """An RGB photo of the trained task at any size: the truth in red, noise in green and blue."""
    classes = np.array(Image.fromarray(truth_classes(seed)).resize((width, height), Image.NEAREST))
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (height, width, 2))
    return np.concatenate([classes[..., None] * 120, noise], -1).astype(np.uint8)


def _save(pixels: np.ndarray, path, image_format: str, **options) -> str:
    Image.fromarray(pixels).save(path, format=image_format, **options)
    return str(path)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """(path, (width, height) as displayed): a JPEG, a PNG, an RGBA PNG and a phone photo stored
    rotated (EXIF orientation 6), all of odd sizes."""
    folder = tmp_path_factory.mktemp("images")
    rgba = np.concatenate([_truth_photo(40, 51, 3), np.full((51, 40, 1), 200, np.uint8)], -1)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    stored = np.ascontiguousarray(np.rot90(_truth_photo(61, 90, 4), k=1))  # displayed 61 wide, 90 high
    return [
        (_save(_truth_photo(123, 77, 1), folder / "cat.jpg", "JPEG", quality=95), (123, 77)),
        (_save(_truth_photo(97, 45, 2), folder / "dog.png", "PNG"), (97, 45)),
        (_save(rgba, folder / "rgba.png", "PNG"), (40, 51)),
        (_save(stored, folder / "phone.jpg", "JPEG", quality=95, exif=exif.tobytes()), (61, 90)),
    ]


@pytest.fixture(scope="module")
def predict_images(trained_model):
    return tf.saved_model.load(os.path.join(trained_model[0], "Format-Serving")).signatures["predict_images"]


@pytest.fixture(scope="module")
def model_base(tflite_models, tmp_path_factory):
    """SERVING_ROOT/segmenter-tflite with versions 2 (int8) and 10 (float16): 10 is the latest."""
    base = tmp_path_factory.mktemp("serving") / "segmenter-tflite"
    shutil.copytree(tflite_models["int8"], base / "2")
    shutil.copytree(tflite_models["float16"], base / "10")
    return str(base)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["file", "version", "base"])
def test_predict_tflite_writes_maps_of_each_images_own_size_like_the_saved_model(
    form, model_base, images, predict_images, tmp_path, capsys
):
    location = {
        "file": os.path.join(model_base, "10", TFLITE_MODEL_FILE),
        "version": os.path.join(model_base, "10"),
        "base": model_base,
    }[form]
    out_dir = str(tmp_path / "out")
    code, out, err = run_predict_cli(
        [path for path, _ in images] + ["--tflite", location, "--out", out_dir], capsys
    )
    assert code == 0, err
    assert f"loading the TFLite model {model_base}/10/{TFLITE_MODEL_FILE}" in err
    assert len(out.splitlines()) == len(images)
    for path, size in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        mask = Image.open(os.path.join(out_dir, f"{stem}_mask.png"))
        overlay = Image.open(os.path.join(out_dir, f"{stem}_overlay.png"))
        assert mask.mode == "P" and mask.size == size and overlay.mode == "RGB" and overlay.size == size
        with open(path, "rb") as handle:
            served = predict_images(images=tf.constant([handle.read()]))["class_map"].numpy()[0]
        assert np.mean(np.array(mask) == served[: size[1], : size[0]]) > 0.98, path


@pytest.mark.slow
def test_the_int8_model_segments_like_the_float16_one(tflite_models, images, tmp_path, capsys):
    maps = {}
    for variant in ("float16", "int8"):
        out_dir = str(tmp_path / variant)
        code, _, err = run_predict_cli(
            [images[0][0], "--tflite", tflite_models[variant], "--out", out_dir], capsys
        )
        assert code == 0, err
        maps[variant] = np.array(Image.open(os.path.join(out_dir, "cat_mask.png")))
    assert np.mean(maps["float16"] == maps["int8"]) > 0.9


@pytest.mark.slow
def test_a_model_without_its_contract_fails_in_one_line(tflite_models, images, tmp_path, capsys):
    folder = tmp_path / "bare"
    folder.mkdir()
    shutil.copy(os.path.join(tflite_models["int8"], TFLITE_MODEL_FILE), folder)
    code, out, err = run_predict_cli(
        [images[0][0], "--tflite", str(folder), "--out", str(tmp_path / "out")], capsys
    )
    assert code == 1 and not out
    assert f"{folder}/{TFLITE_CONTRACT_FILE}: no such file" in err and len(err.strip().splitlines()) == 2


@pytest.mark.slow
def test_a_contract_that_does_not_fit_the_model_fails_in_one_line(tflite_models, images, tmp_path, capsys):
    folder = tmp_path / "swapped"
    shutil.copytree(tflite_models["int8"], folder)
    shutil.copy(os.path.join(tflite_models["float16"], TFLITE_CONTRACT_FILE), folder)  # says float32 input
    code, _, err = run_predict_cli(
        [images[0][0], "--tflite", str(folder), "--out", str(tmp_path / "out")], capsys
    )
    assert code == 1 and "its contract says ('float32'" in err


@pytest.mark.parametrize("location", ["missing", "empty-dir"])
def test_a_location_with_no_model_fails_in_one_line(location, images, tmp_path, capsys):
    (tmp_path / "empty-dir").mkdir()
    code, out, err = run_predict_cli([images[0][0], "--tflite", str(tmp_path / location)], capsys)
    assert code == 1 and not out and str(tmp_path / location) in err


def test_the_contract_round_trips_and_refuses_other_files(tmp_path):
    contract = AppContract(
        variant="int8", image_size=128, input_dtype="uint8", class_names=("pet", "bg", "b")
    )
    (tmp_path / "contract.json").write_text(contract.to_json())
    assert read_contract(str(tmp_path / "contract.json")) == contract
    (tmp_path / "other.json").write_text('{"format": "something-else/2"}')
    with pytest.raises(
        ContractError, match=r"other.json: not a segpipe-tflite/1 contract \(format 'something"
    ):
        read_contract(str(tmp_path / "other.json"))
    (tmp_path / "broken.json").write_text(contract.to_json()[:40])
    with pytest.raises(ContractError, match="broken.json: not a readable JSON file"):
        read_contract(str(tmp_path / "broken.json"))
    (tmp_path / "int4.json").write_text(contract.to_json().replace('"uint8"', '"int4"'))
    with pytest.raises(ContractError, match="input dtype 'int4'"):
        read_contract(str(tmp_path / "int4.json"))
