"""Data dirs in the terms of TFX's file-based driver, and what that driver resolves from them."""

import os
import re
import shutil

import pytest

from components.tfds_example_gen import spans
from components.tfds_example_gen.driver import resolve_input
from contract import oxford_pets as layout

SPLITS = ["train", "eval"]


@pytest.mark.parametrize(
    "data_dir,expected",
    [
        ("", ("", "")),
        ("/data/pets", ("/data/pets", "annotations/*.txt")),
        ("/data/pets/span-{SPAN}", ("/data/pets", "span-{SPAN}/annotations/*.txt")),
        ("/data/pets/span-{SPAN}/", ("/data/pets", "span-{SPAN}/annotations/*.txt")),
        ("gs://bucket/pets/span-{SPAN}", ("gs://bucket/pets", "span-{SPAN}/annotations/*.txt")),
        ("gs://bucket/{SPAN:3}/v{VERSION}", ("gs://bucket", "{SPAN:3}/v{VERSION}/annotations/*.txt")),
        ("gs://bucket/pets/{YYYY}-{MM}-{DD}", ("gs://bucket/pets", "{YYYY}-{MM}-{DD}/annotations/*.txt")),
    ],
)
def test_the_data_dir_is_cut_before_its_first_spec(data_dir, expected):
    assert spans.input_location(data_dir) == expected


def test_a_relative_data_dir_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert spans.input_location("pets/span-{SPAN}") == (
        str(tmp_path / "pets"),
        "span-{SPAN}/annotations/*.txt",
    )


@pytest.mark.parametrize(
    "data_dir,message",
    [
        ("/data/pets/v{VERSION}", "Version spec provided, but Span or Date spec is not present"),
        ("/data/{SPAN}/again-{SPAN}", "Only one {SPAN} is allowed"),
        ("/span-{SPAN}", "needs a fixed folder above it"),
        ("gs://pets-{SPAN}/x", "needs a fixed folder above it"),
    ],
)
def test_a_data_dir_tfx_would_refuse_is_named(data_dir, message):
    with pytest.raises(ValueError, match=f"^{re.escape(data_dir)}: .*{re.escape(message)}"):
        spans.input_location(data_dir)


def test_the_data_folder_is_the_resolved_pattern_without_the_list_files():
    assert spans.data_folder("gs://b/pets", "span-12/v3/annotations/*.txt") == "gs://b/pets/span-12/v3"
    assert spans.data_folder("/data/pets", "annotations/*.txt") == "/data/pets"
    with pytest.raises(ValueError, match="unresolved"):
        spans.data_folder("/data/pets", "span-{SPAN}/annotations/*.txt")
    with pytest.raises(ValueError, match="not a TfdsExampleGen split pattern"):
        spans.data_folder("/data/pets", "train")


def _delivery(pristine_dataset, folder):
    shutil.copytree(pristine_dataset, folder, copy_function=shutil.copy2)  # keeps modification times
    return folder


def test_the_driver_resolves_the_highest_span_that_has_its_list_files(pristine_dataset, tmp_path):
    for span in (1, 2, 10):
        _delivery(pristine_dataset, tmp_path / f"span-{span}")
    os.makedirs(tmp_path / "span-11" / "images")  # still being copied: no list files yet
    span, version, fingerprint = resolve_input(str(tmp_path / "span-{SPAN}"), SPLITS)
    assert (span, version) == (10, None)
    list_files = len(list((tmp_path / "span-10" / layout.ANNOTATIONS_DIR).glob("*.txt")))
    lines = fingerprint.split("\n")
    assert [line.split(",")[0] for line in lines] == ["split:train", "split:eval"]
    assert list_files >= 2 and all(f"num_files:{list_files}," in line for line in lines)


def test_the_fingerprint_follows_the_list_files(pristine_dataset, tmp_path):
    """The contract the README states: list files are fingerprinted, images are not."""
    data = _delivery(pristine_dataset, tmp_path / "pets")
    first = resolve_input(str(data), SPLITS)
    assert first[:2] == (0, None) and resolve_input(str(data), SPLITS) == first
    image = next((data / layout.IMAGES_DIR).iterdir())
    image.write_bytes(image.read_bytes() + b"\0")
    assert resolve_input(str(data), SPLITS) == first  # a delivery is immutable
    with open(data / layout.TRAINVAL_LIST, "a") as handle:
        handle.write("# one more line\n")
    assert resolve_input(str(data), SPLITS)[2] != first[2]


def test_versions_of_a_span_resolve_to_the_newest(pristine_dataset, tmp_path):
    for span, version in ((1, 1), (2, 1), (2, 3)):
        _delivery(pristine_dataset, tmp_path / f"span-{span}" / f"v{version}")
    assert resolve_input(str(tmp_path / "span-{SPAN}" / "v{VERSION}"), SPLITS)[:2] == (2, 3)


def test_no_delivery_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Cannot find matching for split train based on span-{SPAN}"):
        resolve_input(str(tmp_path / "span-{SPAN}"), SPLITS)


def test_without_a_data_dir_tfds_downloads_and_there_is_nothing_to_fingerprint():
    assert resolve_input("", SPLITS) == (0, None, None)
