"""The per-record checks and the report: each kind of bad record is caught and named."""

import io

import numpy as np
import pytest
from PIL import Image

from components.tfds_example_gen.data_quality import BadRecord, QualityReport
from components.tfds_example_gen.record_checks import check_record

VALUES = (1, 2, 3)


def _jpeg(width=40, height=30) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 120, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png(values: np.ndarray, mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.uint8), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _png16(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD_MASK = np.tile(np.array([1, 2, 3], np.uint8), (30, 14))[:, :40]


def test_a_good_record_passes_with_its_size():
    checked = check_record("a.jpg", _jpeg(), _png(GOOD_MASK), VALUES)
    assert checked.problem is None and (checked.height, checked.width) == (30, 40)
    assert checked.mask == _png(GOOD_MASK) and checked.notes == []  # an 8-bit trimap is kept as is


@pytest.mark.parametrize(
    "image,mask,reason,detail",
    [
        (_jpeg()[:300], _png(GOOD_MASK), "undecodable_image", "JPEG"),
        (b"", _png(GOOD_MASK), "undecodable_image", "empty"),
        (b"GIF89a nonsense", _png(GOOD_MASK), "undecodable_image", ""),
        (_jpeg(), _png(GOOD_MASK)[:60], "undecodable_mask", "truncated"),
        (_jpeg(), _png(np.stack([GOOD_MASK] * 3, -1), "RGB"), "undecodable_mask", "3 channels"),
        (_jpeg(), _png16(GOOD_MASK * 257), "unknown_mask_values", "16-bit mask values [257, 514, 771]"),
        (_jpeg(), _png(GOOD_MASK[:20]), "mask_size_mismatch", "40x20"),
        (_jpeg(), _png(np.where(GOOD_MASK == 3, 9, GOOD_MASK)), "unknown_mask_values", "[9]"),
        (_jpeg(), _png(np.zeros((30, 40))), "unknown_mask_values", "[0]"),
    ],
)
def test_each_bad_record_is_named_with_its_reason(image, mask, reason, detail):
    problem = check_record("pet_1.jpg", image, mask, VALUES).problem
    assert problem is not None
    assert (problem.file_name, problem.reason) == ("pet_1.jpg", reason)
    assert detail in problem.detail and "Traceback" not in problem.detail


def test_report_passes_up_to_the_allowed_share_and_fails_above():
    bad = [BadRecord(f"b{i}.jpg", "missing_image", "gone", "train") for i in range(5)]
    at_limit = QualityReport(good={"train": 60, "eval": 35}, bad=bad, max_bad_fraction=0.05)
    assert at_limit.total == 100 and at_limit.passed
    above = QualityReport(good={"train": 59, "eval": 35}, bad=bad + [bad[0]], max_bad_fraction=0.05)
    assert not above.passed
    message = above.failure_message("/x/report.json")
    assert "6 of 100" in message and "--max-bad-fraction" in message and "/x/report.json" in message
    assert "\n" not in message and "missing_image 6" in message


def test_report_groups_records_by_reason_with_file_names():
    report = QualityReport(
        good={"train": 3},
        bad=[
            BadRecord("b.jpg", "undecodable_image", "x", "train"),
            BadRecord("a.jpg", "undecodable_image", "y", "eval"),
            BadRecord("c.jpg", "missing_mask", "z", "train"),
        ],
        max_bad_fraction=1.0,
    )
    as_dict = report.to_dict()
    assert as_dict["bad_by_reason"]["undecodable_image"]["count"] == 2
    assert [r["file_name"] for r in as_dict["bad_by_reason"]["undecodable_image"]["records"]] == [
        "a.jpg",
        "b.jpg",
    ]
    assert "missing_mask: 1 (c.jpg)" in report.summary()


def test_an_empty_dataset_never_passes():
    report = QualityReport(good={"train": 0}, bad=[], max_bad_fraction=1.0)
    assert not report.passed and "no records" in report.failure_message("r.json")
