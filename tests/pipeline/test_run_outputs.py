"""The Trainer's figures as the console prints them: the kept epoch's validation mean IoU, and
the exported model's, which names what it adds (class offsets; the test-time flip too)."""

from pipeline.run_outputs import validation_mean_iou_text


def test_the_console_names_what_the_exported_models_validation_figure_adds():
    result = {"validation_mean_iou": 0.6936, "calibrated_validation_mean_iou": 0.7196}
    assert validation_mean_iou_text(result) == "validation mean IoU 0.694, 0.720 with class offsets"
    flipped = {**result, "flip_tta": True}
    assert validation_mean_iou_text(flipped) == (
        "validation mean IoU 0.694, 0.720 with test-time flip and class offsets"
    )
    assert validation_mean_iou_text(
        {"validation_mean_iou": 0.6936, "calibrated_validation_mean_iou": None}
    ) == ("validation mean IoU 0.694")
