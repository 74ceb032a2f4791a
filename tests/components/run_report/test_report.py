"""The evaluation report: files, links, escaping, missing inputs, overlays and the atomic write."""

import json
import math
import os
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from components.run_report import charts
from components.run_report.render import Sample, image_scores, write_report
from serving.colors import CLASS_COLORS, overlay

CLASSES = ("pet", "background", "border")
CHARTS = ("iou_per_class.png", "confusion_matrix.png", "training_curves.png", "slices.png", "overlays.png")


def ellipse_sample(name: str, seed: int, size: int = 48) -> Sample:
    """A pet-shaped ellipse with a border band, and a prediction of it shifted a little."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]

    def classes(dy: float) -> np.ndarray:
        r = ((yy - size / 2 - dy) / (size / 3)) ** 2 + ((xx - size / 2) / (size / 4)) ** 2
        return np.where(r < 0.8, 0, np.where(r < 1.0, 2, 1))

    truth = classes(0.0)
    image = np.clip(90 + 80 * (truth == 0)[..., None] + rng.normal(0, 15, (size, size, 3)), 0, 255)
    return Sample(name, image.astype(np.uint8), truth, classes(float(rng.integers(1, 4))))


def make_metrics(class_names=CLASSES) -> dict:
    """Realistic Evaluator output, slices for both species and a few breeds."""
    pet, background, border = class_names
    per_class = {
        "iou": {pet: 0.80, background: 0.88, border: 0.45},
        "dice": {pet: 0.89, background: 0.94, border: 0.62},
    }
    return {
        "overall": {
            "pixel_accuracy": 0.893,
            "mean_iou": 0.712,
            **per_class,
            "confusion_matrix": [[3400, 300, 190], [220, 8100, 310], [240, 198, 781]],
        },
        "slices": {
            "breed=pug": {"pixel_accuracy": 0.87, "mean_iou": 0.66, **per_class},
            "species=Dog": {"pixel_accuracy": 0.90, "mean_iou": 0.72, **per_class},
            "breed=Bengal": {"pixel_accuracy": 0.91, "mean_iou": 0.74, **per_class},
            "species=Cat": {"pixel_accuracy": 0.88, "mean_iou": 0.69, **per_class},
        },
        "blessing": {
            "blessed": False,
            "reason": "mean IoU 0.712 < baseline 0.730",
            "baseline_mean_iou": 0.730,
        },
        "majority_class_baseline": {"pixel_accuracy": 0.59, "mean_iou": 0.197},
    }


def make_history(epochs: int = 6) -> dict:
    """history.json as the Trainer writes it (kept_epoch counts from 1)."""
    ramp = [1 - 0.5 ** (k + 1) for k in range(epochs)]
    return {
        "metrics": {
            "loss": [1 - r for r in ramp],
            "val_loss": [1.1 - r for r in ramp],
            "pixel_accuracy": [0.6 + 0.3 * r for r in ramp],
            "val_pixel_accuracy": [0.58 + 0.3 * r for r in ramp],
            "mean_iou": [0.3 + 0.5 * r for r in ramp],
            "val_mean_iou": [0.28 + 0.45 * r for r in ramp],
        },
        "kept_epoch": epochs - 1,
        "class_calibration": {
            "offsets": [0.0, 1.0, -0.5],
            "validation_mean_iou_before": 0.673,
            "validation_mean_iou_after": 0.697,
        },
    }


class _Links(HTMLParser):
    """Every src and href attribute value of a page, and its tag names."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.targets += [value for name, value in attrs if name in ("src", "href")]


def parse(index: str) -> _Links:
    parser = _Links()
    with open(index, encoding="utf-8") as f:
        parser.feed(f.read())
    return parser


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def files_under(directory) -> set[str]:
    return {
        os.path.relpath(os.path.join(root, name), directory).replace(os.sep, "/")
        for root, _, names in os.walk(directory)
        for name in names
    }


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> str:
    """One complete report (rendering takes a second or two, so the tests share it)."""
    out_dir = tmp_path_factory.mktemp("full") / "report"
    samples = [ellipse_sample(f"sample_{k}", k) for k in range(3)]
    return write_report(
        str(out_dir),
        metrics=make_metrics(),
        history=make_history(),
        samples=samples,
        title="run 7",
        class_names=CLASSES,
    )


def test_full_report_writes_every_file(full_report):
    out_dir = os.path.dirname(full_report)
    expected = {"index.html", "report.json", *CHARTS, *(f"overlays/sample_{k}.png" for k in range(3))}
    assert files_under(out_dir) == expected
    assert os.listdir(os.path.dirname(out_dir)) == ["report"], "staging left behind"


def test_the_page_names_the_split_of_each_figure_and_the_majority_class_guess(full_report):
    with open(full_report, encoding="utf-8") as handle:
        page = handle.read()
    assert "always the majority class" in page and "59.0%" in page and "0.197" in page
    assert "best on the validation split" in page and "eval split" in page
    assert "(pet +0.00, background +1.00, border -0.50) move its mean IoU from 0.673 to 0.697" in page
    assert "test-time flip" not in page


def test_a_flip_averaged_model_says_so_before_its_offsets(tmp_path):
    index = write_report(
        str(tmp_path / "report"),
        metrics=make_metrics(),
        history={**make_history(), "flip_tta": True},
        samples=[ellipse_sample("sample_0", 0)],
        title="run 8",
        class_names=CLASSES,
    )
    page = read(index)
    flip = page.index(
        "averages its logits on each image and on its mirror image (test-time flip, --flip-tta)"
    )
    assert flip < page.index("move its mean IoU from 0.673 to 0.697")


def test_pngs_open_and_have_plausible_sizes(full_report):
    out_dir = os.path.dirname(full_report)
    for name in sorted(files_under(out_dir)):
        if name.endswith(".png"):
            with Image.open(os.path.join(out_dir, name)) as png:
                png.verify()
            with Image.open(os.path.join(out_dir, name)) as png:
                width, height = png.size
            assert 300 <= width <= 2000 and 200 <= height <= 3000, (name, png.size)


def test_index_links_only_to_files_that_exist_and_shows_every_picture(full_report):
    out_dir = os.path.dirname(full_report)
    page = parse(full_report)
    assert page.targets
    for target in page.targets:
        assert "://" not in target and not target.startswith("/"), target
        assert os.path.isfile(os.path.join(out_dir, target)), target
    pictures = {name for name in files_under(out_dir) if name.endswith(".png")}
    assert pictures <= set(page.targets)


def test_index_is_self_contained(full_report):
    page = parse(full_report)
    assert not page.tags & {"script", "link", "iframe", "object"}
    assert "style" in page.tags
    html = read(full_report)
    assert "<h1>run 7</h1>" in html
    assert "NOT BLESSED" in html and "mean IoU 0.712 &lt; baseline 0.730" in html
    assert "0.730 (-0.018)" in html  # this model against the blessed baseline


def test_report_json_lists_the_files_and_headline_numbers(full_report):
    out_dir = os.path.dirname(full_report)
    summary = json.loads(read(os.path.join(out_dir, "report.json")))
    assert set(summary["files"]) == files_under(out_dir) - {"report.json"}
    headline = summary["headline"]
    assert headline["pixel_accuracy"] == pytest.approx(0.893)
    assert headline["mean_iou"] == pytest.approx(0.712)
    assert headline["iou"] == {"pet": 0.80, "background": 0.88, "border": 0.45}
    assert headline["blessed"] is False and headline["baseline_mean_iou"] == pytest.approx(0.730)


def test_slices_come_species_first_then_breeds_best_first(full_report):
    html = read(full_report)
    names = ("species=Dog", "species=Cat", "breed=Bengal", "breed=pug")
    order = [html.index(f"<td>{name}</td>") for name in names]
    assert order == sorted(order)


def test_names_are_escaped_and_sample_file_names_made_safe(tmp_path):
    evil = "<script>alert(1)</script>"
    class_names = ("pet", "background", evil)
    metrics = make_metrics(class_names)
    metrics["slices"] = {f"breed={evil}": {"pixel_accuracy": 0.5, "mean_iou": 0.4}}
    index = write_report(
        str(tmp_path / "report"),
        metrics=metrics,
        history=None,
        samples=[ellipse_sample(f"../{evil}", 0)],
        title=f"title {evil}",
        class_names=class_names,
    )
    html = read(index)
    assert "<script" not in html.lower()
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # title, class, slice, sample link
    assert files_under(tmp_path) >= {"report/overlays/script_alert_1_script.png"}
    assert all(os.path.isfile(os.path.join(tmp_path / "report", t)) for t in parse(index).targets)


def test_missing_optional_parts_leave_sections_out_with_a_note(tmp_path):
    metrics = make_metrics()
    del metrics["slices"], metrics["blessing"]
    metrics["overall"]["iou"]["border"] = float("nan")  # class absent from truth and prediction
    index = write_report(
        str(tmp_path / "report"), metrics=metrics, history=None, samples=[], title="bare", class_names=CLASSES
    )
    out_dir = tmp_path / "report"
    assert files_under(out_dir) == {"index.html", "report.json", "iou_per_class.png", "confusion_matrix.png"}
    html = read(index)
    for note in ("no blessing decision", "No training history", "no slices", "No samples"):
        assert note in html
    assert all(os.path.isfile(out_dir / target) for target in parse(index).targets)
    summary = json.loads(read(str(out_dir / "report.json")))
    assert summary["headline"]["iou"]["border"] is None and summary["headline"]["blessed"] is None


def test_no_baseline_no_breakdown_and_partial_history_still_render(tmp_path):
    metrics = {
        "overall": {"pixel_accuracy": 0.9, "mean_iou": 0.7},
        "blessing": {"blessed": True, "reason": "first model", "baseline_mean_iou": None},
    }
    history = {"metrics": {"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}}  # no accuracy, no kept epoch
    index = write_report(
        str(tmp_path / "report"),
        metrics=metrics,
        history=history,
        samples=[],
        title="first",
        class_names=CLASSES,
    )
    html = read(index)
    assert "BLESSED" in html and "<td>baseline model</td><td>none</td>" in html
    assert "No per-class IoU or Dice" in html and "no confusion matrix" in html
    assert files_under(tmp_path / "report") == {"index.html", "report.json", "training_curves.png"}


def test_a_new_report_replaces_the_old_one(tmp_path):
    out_dir = tmp_path / "report"
    write_report(
        str(out_dir),
        metrics=make_metrics(),
        history=None,
        samples=[ellipse_sample("a", 0)],
        title="old",
        class_names=CLASSES,
    )
    (out_dir / "stale.txt").write_text("from before")
    write_report(
        str(out_dir), metrics=make_metrics(), history=None, samples=[], title="new", class_names=CLASSES
    )
    assert "overlays.png" not in files_under(out_dir) and "stale.txt" not in files_under(out_dir)
    assert "<h1>new</h1>" in read(str(out_dir / "index.html"))
    assert os.listdir(tmp_path) == ["report"]


def test_a_failure_midway_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    out_dir = tmp_path / "report"
    write_report(
        str(out_dir), metrics=make_metrics(), history=None, samples=[], title="old", class_names=CLASSES
    )
    before = {name: (out_dir / name).read_bytes() for name in files_under(out_dir)}

    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(charts, "plot_training_curves", broken)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_report(
            str(out_dir),
            metrics=make_metrics(),
            history=make_history(),
            samples=[],
            title="new",
            class_names=CLASSES,
        )
    assert {name: (out_dir / name).read_bytes() for name in files_under(out_dir)} == before
    assert os.listdir(tmp_path) == ["report"]


def test_inconsistent_inputs_fail_before_anything_is_written(tmp_path):
    bad_ids = ellipse_sample("a", 0)
    bad_ids.prediction[0, 0] = 3
    with pytest.raises(ValueError, match="class ids"):
        write_report(
            str(tmp_path / "report"),
            metrics=make_metrics(),
            history=None,
            samples=[bad_ids],
            title="t",
            class_names=CLASSES,
        )
    with pytest.raises(ValueError, match="confusion matrix"):
        write_report(
            str(tmp_path / "report"),
            metrics=make_metrics(),
            history=None,
            samples=[],
            title="t",
            class_names=CLASSES[:2],
        )
    assert os.listdir(tmp_path) == []


def test_sample_rejects_mismatched_arrays():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="truth"):
        Sample("a", image, np.zeros((8, 9), int), np.zeros((8, 8), int))
    with pytest.raises(ValueError, match="image"):
        Sample("a", image.astype(np.float32), np.zeros((8, 8), int), np.zeros((8, 8), int))


def test_image_scores_average_iou_over_classes_present():
    truth = np.array([[0, 0], [1, 1]])
    assert image_scores(truth, truth, 3) == (1.0, 1.0)  # border absent from both: not counted
    accuracy, mean_iou = image_scores(truth, np.array([[0, 1], [1, 1]]), 3)
    assert accuracy == 0.75 and math.isclose(mean_iou, (1 / 2 + 2 / 3) / 2)


def test_overlay_blends_image_and_class_colours():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    classes = rng.integers(0, len(CLASS_COLORS), (5, 7))
    blended = overlay(image, classes)
    assert blended.shape == (5, 7, 3) and blended.dtype == np.uint8
    np.testing.assert_array_equal(overlay(image, classes, alpha=0.0), image)
    np.testing.assert_array_equal(overlay(image, classes, alpha=1.0), CLASS_COLORS[classes])
    assert np.all(np.minimum(image, CLASS_COLORS[classes]) <= blended)
    assert np.all(blended <= np.maximum(image, CLASS_COLORS[classes]))


def test_overlay_rejects_what_it_cannot_colour():
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="class ids"):
        overlay(image, np.full((4, 4), len(CLASS_COLORS)))
    with pytest.raises(ValueError, match="do not match"):
        overlay(image, np.zeros((4, 5), int))
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, np.zeros((4, 4), int), alpha=1.5)


def _phone_model_scores(shipped: str) -> dict:
    """tflite_scores.json as TfliteExport writes it (components/tflite/component.py)."""
    iou = {"pet": 0.79, "background": 0.88, "border": 0.44}

    def variant(size: int, mean_iou: float) -> dict:
        return {
            "size_bytes": size,
            "pixel_accuracy": 0.89,
            "mean_iou": mean_iou,
            "iou": iou,
            "change_against_saved_model": {"mean_iou": mean_iou - 0.712},
        }

    return {
        "saved_model": {"pixel_accuracy": 0.893, "mean_iou": 0.712, "iou": iou},
        "variants": {"float16": variant(13_000_000, 0.7118), "int8": variant(6_900_000, 0.6801)},
        "gate": {"shipped": shipped, "reason": f"{shipped} ships: because <b>"},
        "push": {"pushed_model": None, "reason": "not pushed: the SavedModel was not pushed (not blessed)"},
    }


def test_the_phone_model_section_shows_each_variant_and_why_one_ships(tmp_path):
    metrics = {**make_metrics(), "tflite": _phone_model_scores("float16")}
    index = write_report(
        str(tmp_path / "report"), metrics=metrics, history=None, samples=[], title="t", class_names=CLASSES
    )
    html = read(index)
    section = html[html.index("Phone model (TFLite)") :]
    assert "FLOAT16 SHIPS" in section and "float16 ships: because &lt;b&gt;" in section
    assert "not pushed: the SavedModel was not pushed" in section
    for row in ("<td>TFLite float16 (ships)</td><td>12.4 MiB</td>", "<td>TFLite int8</td><td>6.6 MiB</td>"):
        assert row in section
    assert "<td>-0.0319</td>" in section and "<td>-0.0002</td>" in section  # change against the SavedModel
    no_phone = write_report(
        str(tmp_path / "bare"),
        metrics=make_metrics(),
        history=None,
        samples=[],
        title="t",
        class_names=CLASSES,
    )
    assert "No phone model was built in this run (--tflite no)." in read(no_phone)
