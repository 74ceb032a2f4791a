"""Data shaped like real downloads and real users' folders, through TFDS's real builder.

One dataset gets every record and list-file case of datagen/real_world.py (phone photos stored
rotated, palette and 16-bit trimaps, names with spaces and tabs, blank and '#' lines, a BOM, CRLF,
another breed numbering, dangling symlinks); the ExampleGen executor runs on it once, and each
case is checked against what it should become: kept (and how), ignored, or left out with its
real reason. Splits that are empty or all bad stop the run with one line naming the split, and
the report it names exists.
"""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from components.tfds_example_gen.data_quality import DataQualityError
from contract import oxford_pets as layout
from datagen import real_world
from datagen.synthetic_pets import write_dataset
from tests.components.tfds_example_gen.test_example_gen import read_report, read_split, run_executor
from trainer.preprocessing import preprocessing_fn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_world_run(tmp_path_factory):
    """(data dir, cases applied, examples by file name, report) of one executor run."""
    root = tmp_path_factory.mktemp("real_world")
    data = str(root / "data")
    write_dataset(data, n_train=16, n_test=8, seed=3)
    cases = real_world.apply_real_world(data, seed=0)
    uri = run_executor(data, root)
    examples = {}
    for split in ("train", "eval"):
        for example in read_split(uri, split):
            name = example.features.feature["file_name"].bytes_list.value[0].decode()
            examples[name] = example
    return data, cases, examples, read_report(uri)


def _feature(example, key):
    feature = example.features.feature[key]
    return feature.bytes_list.value[0] if feature.bytes_list.value else feature.int64_list.value[0]


def _bad_names(report):
    return {
        r["file_name"]: reason for reason, group in report["bad_by_reason"].items() for r in group["records"]
    }


def _trimap(data, name):
    return np.asarray(Image.open(layout.trimap_path(data, name)))


def test_only_the_listed_dangling_symlink_is_left_out_and_everything_else_is_kept(real_world_run):
    data, cases, examples, report = real_world_run
    assert _bad_names(report) == {cases["dangling_symlink_listed"][0] + ".jpg": "missing_image"}
    detail = report["bad_by_reason"]["missing_image"]["records"][0]["detail"]
    assert "symlink to a missing file" in detail
    listed = sum(1 for s in ("train", "test") for _ in real_world._ListFile.read(data, s).entry_lines())
    assert report["good"] == len(examples) == listed - 1
    assert cases["dangling_symlink_unlisted"][0] + ".jpg" not in examples  # never opened


@pytest.mark.parametrize("case", ["exif_orientation", "exif_orientation_square"])
def test_a_photo_stored_rotated_is_kept_as_displayed(real_world_run, case):
    data, cases, examples, report = real_world_run
    (name,) = cases[case]
    example = examples[name + ".jpg"]
    trimap = _trimap(data, name)
    assert (_feature(example, "height"), _feature(example, "width")) == trimap.shape
    with Image.open(layout.image_path(data, name)) as stored:
        displayed = np.asarray(ImageOps.exif_transpose(stored).convert("RGB"))
        as_stored = np.asarray(stored.convert("RGB"))
    # Transform's graph sees the photo as displayed, not as stored (the square case's sizes agree).
    raw = {
        "image": tf.constant([[_feature(example, "image")]]),
        "segmentation_mask": tf.constant([[_feature(example, "segmentation_mask")]]),
        "label": tf.constant([[0]], tf.int64),
        "species": tf.constant([[0]], tf.int64),
        "file_name": tf.constant([[(name + ".jpg").encode()]]),
    }
    seen = preprocessing_fn(raw, {"image_size": 64, "dataset": "oxford_iiit_pet"})["image_xf"][0].numpy()

    def resized(pixels):
        return tf.image.resize(pixels.astype(np.float32) / 255.0, [64, 64]).numpy()

    assert np.abs(seen - resized(displayed)).mean() < 0.02
    if as_stored.shape == displayed.shape:
        assert np.abs(seen - resized(as_stored)).mean() > 0.05
    assert report["notes"]["images_exif_oriented"]["count"] == 2


@pytest.mark.parametrize("case", ["palette_trimap", "sixteen_bit_trimap"])
def test_palette_and_16_bit_trimaps_are_read_by_their_labels(real_world_run, case):
    data, cases, examples, report = real_world_run
    (name,) = cases[case]
    stored = tf.io.decode_png(_feature(examples[name + ".jpg"], "segmentation_mask"), channels=1).numpy()[
        ..., 0
    ]
    np.testing.assert_array_equal(stored, _trimap(data, name))  # the indices / values, 1..3
    assert set(np.unique(stored)) <= {1, 2, 3}
    note = {"palette_trimap": "masks_palette_indices", "sixteen_bit_trimap": "masks_16_bit"}[case]
    assert report["notes"][note]["count"] == 1


@pytest.mark.parametrize("case", ["name_with_space", "name_with_tab"])
def test_names_with_spaces_and_tabs_are_kept_whole(real_world_run, case):
    _, cases, examples, report = real_world_run
    (name,) = cases[case]
    assert name + ".jpg" in examples and (" " in name or "\t" in name)
    if case == "name_with_space":
        assert report["notes"]["names_with_spaces"]["count"] == 1


@pytest.mark.parametrize(
    "case,note,count",
    [
        ("blank_lines", "blank_lines", 2),
        ("comment_lines", "comment_lines", len(real_world.LIST_TXT_HEADER)),
        ("bom", "byte_order_marks", 1),
        ("renumbered_breed_column", "breed_column_other_numbering", 1),
    ],
)
def test_list_file_oddities_are_read_past_and_counted(real_world_run, case, note, count):
    _, cases, examples, report = real_world_run
    assert report["notes"][note]["count"] == count
    assert all(name + ".jpg" in examples for name in cases[case])  # no entry lost around them
    assert report["bad"] == 1  # only the dangling symlink


def test_crlf_list_files_lose_nothing(real_world_run):
    _, cases, examples, _ = real_world_run
    assert all(name + ".jpg" in examples for name in cases["crlf"])


def test_an_empty_split_stops_the_run_naming_it_and_keeps_the_report(dataset, tmp_path):
    real_world.empty_split(dataset, "test")
    with pytest.raises(DataQualityError) as raised:
        run_executor(dataset, tmp_path, failure_report_dir=str(tmp_path / "kept"))
    message = str(raised.value)
    assert "\n" not in message and "'test'" in message and "annotations/test.txt" in message
    assert "lists no entry" in message
    assert os.path.isfile(message.rsplit("report: ", 1)[1])


def test_a_split_whose_every_record_is_bad_stops_the_run_even_below_the_limit(tmp_path):
    data = str(tmp_path / "data")
    write_dataset(data, n_train=40, n_test=1, seed=5)
    real_world.all_bad_split(data, "test")  # 1 of 41 records: below a 5% limit
    with pytest.raises(DataQualityError) as raised:
        run_executor(data, tmp_path, failure_report_dir=str(tmp_path / "kept"))
    message = str(raised.value)
    assert "\n" not in message and "split 'eval' has no usable record" in message
    assert "undecodable_image 1" in message
    report_path = message.rsplit("report: ", 1)[1]
    assert report_path.startswith(str(tmp_path / "kept")) and os.path.isfile(report_path)


def test_the_real_world_generator_through_the_command_line(tmp_path, capsys):
    from pipeline import cli

    assert cli.main(["make-data", str(tmp_path / "d"), "--train", "8", "--test", "2", "--real-world"]) == 0
    assert '"real_world"' in capsys.readouterr().out
    with open(layout.list_file_path(str(tmp_path / "d"), "test"), "rb") as handle:
        assert handle.read().startswith(b"\xef\xbb\xbf")  # the BOM case was applied


def test_a_jpeg_cut_before_its_pixels_is_still_reported_by_name(dataset, tmp_path):
    name = layout.parse_list_file(layout.list_file_path(dataset, "test"))[0].name
    path = layout.image_path(dataset, name)
    with Image.open(path) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", exif=Image.Exif().tobytes())
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue()[:200])
    uri = run_executor(dataset, tmp_path, max_bad_fraction=0.5)
    assert _bad_names(read_report(uri)) == {name + ".jpg": "undecodable_image"}
