"""Span resolution and input fingerprints of local data locations."""

import os

import pytest

from components.tfds_example_gen import spans


def test_latest_span_is_the_highest_number(tmp_path):
    for span in (1, 2, 10):
        (tmp_path / f"span-{span}").mkdir()
    (tmp_path / "span-x").mkdir()
    location = str(tmp_path / "span-{SPAN}")
    assert spans.latest_span(location) == 10
    assert spans.span_location(location, 10) == str(tmp_path / "span-10")


def test_no_span_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory matches"):
        spans.latest_span(str(tmp_path / "span-{SPAN}"))


def test_fingerprint_changes_when_a_file_changes(tmp_path):
    (tmp_path / "a").write_text("1")
    first = spans.fingerprint_directory(str(tmp_path))
    assert spans.fingerprint_directory(str(tmp_path)) == first
    (tmp_path / "a").write_text("22")
    assert spans.fingerprint_directory(str(tmp_path)) != first
    second = spans.fingerprint_directory(str(tmp_path))
    (tmp_path / "b").write_text("")
    assert spans.fingerprint_directory(str(tmp_path)) != second
    os.remove(tmp_path / "b")
    with pytest.raises(FileNotFoundError):
        spans.fingerprint_directory(str(tmp_path / "missing"))
