"""The ablation's bookkeeping: which settings each row trains with, its summaries, tables and targets."""

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import ablation
from trainer.settings import TrainingSettings


def test_each_option_row_changes_one_thing_from_the_plain_recipe():
    rows = {row.name: row.training for row in ablation.rows()}
    assert rows["tutorial"] is None and rows["plain"] == ablation.PLAIN
    for name, _, change in ablation.OPTIONS:
        differs = {key for key in rows[name] if rows[name][key] != ablation.PLAIN.get(key)}
        assert differs == set(change), name
    assert rows["default"] == {} and rows["fcn8"] == {}
    assert rows["default-unbalanced"] == {"balance_classes": False}
    assert rows["default-uncalibrated"] == {"calibrate_classes": False}
    assert rows["default-flip-tta"] == {"flip_tta": True}


@pytest.mark.parametrize(
    "base, batch_size",
    [
        ("tutorial", ablation.DEMO_BATCH),
        ("tutorial", ablation.SMALLEST_BATCH),
        ("default", ablation.DEMO_BATCH),
        ("default-flip-tta", ablation.DEMO_BATCH),
        ("default", ablation.SMALLEST_BATCH),
    ],
)
def test_the_smaller_batch_rows_change_only_the_batch_size(base, batch_size):
    rows = {row.name: row for row in ablation.rows()}
    row = rows[f"{base}-b{batch_size}"]
    assert row.training == rows[base].training and row.model == rows[base].model
    assert row.batch_size == batch_size and rows[base].batch_size is None
    assert ablation.FULL.at_batch(None) is ablation.FULL
    assert ablation.FULL.at_batch(batch_size).batch_size == batch_size
    settings = ablation.row_settings(ablation.FULL.at_batch(batch_size), "unet", {}, seed=0)
    assert settings.training.batch_size == batch_size


def test_the_demo_batch_rows_train_at_the_batch_size_make_demo_uses():
    makefile = (Path(ablation.REPO_ROOT) / "Makefile").read_text()
    demo_command = next(
        line for line in makefile.splitlines() if "segpipe run" in line and "DEMO_OUT" in line
    )
    assert f"--batch-size {ablation.DEMO_BATCH} " in demo_command
    assert f"--epochs {ablation.DEMO_SCALE.epochs} " in demo_command


def test_a_cached_result_is_kept_when_only_the_rows_that_run_change_and_not_when_the_batch_does():
    sizes = ablation.DEMO_SCALE
    other_rows = dataclasses.replace(sizes, only=("default",), flag="", published=False)
    assert other_rows.cache_key() == sizes.cache_key()
    assert sizes.at_batch(ablation.DEMO_BATCH).cache_key() != sizes.cache_key()
    assert dataclasses.replace(sizes, epochs=9).cache_key() != sizes.cache_key()


def test_a_result_that_fails_to_write_leaves_no_cache_entry_and_trains_again(tmp_path, monkeypatch):
    monkeypatch.setattr(ablation, "SCRATCH_DIR", str(tmp_path))
    key = {"row": "default", "seed": 0}
    # The first value writes; the object after it does not: a writer that streams leaves half a file.
    broken = {"mean_iou": 0.5, "model": object()}
    with pytest.raises(TypeError):
        ablation.cached_run(key, "code", lambda: broken)
    assert not any(path.is_file() for path in tmp_path.rglob("*")), "a partial cache entry was left"
    result = ablation.cached_run(key, "code", lambda: {"mean_iou": 0.7})
    assert result == {"mean_iou": 0.7, "cached": False}
    assert ablation.cached_run(key, "code", lambda: {"mean_iou": 0.0}) == {"mean_iou": 0.7, "cached": True}


def test_a_row_trains_with_the_trainers_defaults_at_the_ablation_sizes():
    settings = ablation.row_settings(ablation.FULL, "fcn8", {"loss": "focal"}, seed=2)
    assert settings.model.name == "fcn8" and settings.model.encoder_weights == "none"
    assert settings.model.image_size == ablation.FULL.image_size
    training = settings.training
    assert (training.epochs, training.batch_size, training.seed) == (
        ablation.FULL.epochs,
        ablation.FULL.batch_size,
        2,
    )
    assert training.loss == "focal" and training.augment == TrainingSettings().augment


def _run(seed, same, border, other=0.5):
    scores = {
        "same style": {"mean_iou": same, "iou": {"border": border}},
        "other style": {"mean_iou": other, "iou": {"border": border / 2}},
    }
    return {
        "seed": seed,
        "scores": scores,
        "kept_epoch": 3,
        "parameters": 1000,
        "forward_flops_per_image": 2.5e9,
        "timing": {"steady_images_per_second": 10.0 + seed},
    }


def _result():
    rows = {}
    for name, values in {
        "tutorial": [(0.50, 0.20), (0.52, 0.22), (0.54, 0.24)],
        "default": [(0.70, 0.46), (0.705, 0.47), (0.708, 0.48)],
        "fcn8": [(0.60, 0.30), (0.61, 0.31), (0.62, 0.32)],
    }.items():
        runs = [_run(seed, same, border) for seed, (same, border) in enumerate(values)]
        rows[name] = {"what": name, "runs": runs, "summary": ablation.summarise(runs)}
    return {"rows": rows}


def test_summaries_give_the_mean_and_the_seed_spread():
    summary = _result()["rows"]["tutorial"]["summary"]["same style"]
    assert summary["mean_iou"] == pytest.approx(0.52)
    assert summary["mean_iou_spread"] == pytest.approx(0.04)
    assert summary["border_iou"] == pytest.approx(0.22)


def test_targets_are_judged_from_the_measured_rows():
    result = _result()
    targets = ablation.targets(result)
    assert targets["mean_iou_margin_over_tutorial"]["value"] == pytest.approx(0.1843, abs=1e-4)
    assert targets["mean_iou_margin_over_tutorial"]["met"]
    assert targets["border_iou"]["met"] and targets["seed_spread"]["met"]
    result["rows"]["default"]["runs"][0]["scores"]["same style"]["mean_iou"] = 0.55
    result["rows"]["default"]["summary"] = ablation.summarise(result["rows"]["default"]["runs"])
    missed = ablation.targets(result)
    assert not missed["seed_spread"]["met"] and not missed["mean_iou_margin_over_tutorial"]["met"]
    fcn8 = ablation.targets(result, "fcn8")  # any row can be judged: FCN-8s' border misses
    assert (
        fcn8["mean_iou_margin_over_tutorial"]["value"] == pytest.approx(0.09)
        and not fcn8["border_iou"]["met"]
    )


def test_the_margin_is_over_the_tutorials_best_variant():
    result = _result()
    assert ablation.targets(result)["mean_iou_margin_over_tutorial"]["tutorial_row"] == "tutorial"
    runs = [_run(seed, same, 0.3) for seed, same in enumerate((0.60, 0.61, 0.62))]
    result["rows"]["tutorial-b8"] = {"what": "", "runs": runs, "summary": ablation.summarise(runs)}
    margin = ablation.targets(result)["mean_iou_margin_over_tutorial"]
    assert margin["tutorial_row"] == "tutorial-b8" and margin["value"] == pytest.approx(0.0943, abs=1e-4)
    assert not margin["met"]
    for b4_scores, best in (((0.58, 0.59, 0.60), "tutorial-b8"), ((0.64, 0.65, 0.66), "tutorial-b4")):
        runs = [_run(seed, same, 0.3) for seed, same in enumerate(b4_scores)]
        result["rows"]["tutorial-b4"] = {"what": "", "runs": runs, "summary": ablation.summarise(runs)}
        assert ablation.targets(result)["mean_iou_margin_over_tutorial"]["tutorial_row"] == best


def test_tables_show_every_row_and_both_models():
    result = _result()
    table = ablation.ablation_table(result)
    assert table.count("\n") == 2 + 2  # header, rule, three rows
    assert "| default | default | 0.704 ± 0.008 | 0.470 ± 0.020 |" in table
    models = ablation.model_table(result)
    assert "| U-Net (MobileNetV2) | 1,000 | 2.50 | 11.0 | 0.704 ± 0.008 | 0.470 |" in models
    assert "FCN-8s" in models


def test_make_bench_prints_the_last_ablation_and_says_whether_the_code_changed_since(tmp_path):
    assert ablation.latest_tables(results_dir=str(tmp_path)) is None
    result = _result()
    result["targets"] = {"default": ablation.targets(result)}
    result.update(code=ablation.code_fingerprint(), finished="2026-12-03 22:40 UTC")
    (tmp_path / "ablation.json").write_text(json.dumps(result))
    (tmp_path / "ablation.md").write_text(ablation.ablation_table(result) + "\n")
    printed = ablation.latest_tables(results_dir=str(tmp_path))
    assert printed.startswith(
        "Training recipe ablation, full sizes (`make bench-ablation`, 2026-12-03 22:40 UTC; "
    )
    assert "code is unchanged since" in printed and ablation.ablation_table(result) in printed
    assert "target seed_spread (default): 0.008 (target 0.01) met" in printed
    assert "target mean_iou_margin_over_tutorial (default): 0.184 (target 0.15) met, over tutorial" in printed
    result["code"] = "0" * 16
    (tmp_path / "ablation.json").write_text(json.dumps(result))
    assert "changed since: rerun `make bench-ablation`" in ablation.latest_tables(results_dir=str(tmp_path))
    assert ablation.latest_tables(ablation.DEMO_SCALE, str(tmp_path)) is None  # its own files
    (tmp_path / "ablation-demo-scale.json").write_text(json.dumps(result))
    (tmp_path / "ablation-demo-scale.md").write_text(ablation.ablation_table(result) + "\n")
    demo = ablation.latest_tables(ablation.DEMO_SCALE, str(tmp_path))
    assert "demo-scale sizes (`make bench-ablation BENCH_ABLATION_FLAGS=--demo-scale`" in demo


def test_the_demo_scale_compares_the_tutorial_and_the_defaults_at_the_demos_sizes_and_every_batch():
    sizes = ablation.DEMO_SCALE
    assert (sizes.image_size, sizes.epochs, sizes.batch_size, len(sizes.seeds)) == (128, 10, 16, 3)
    assert sizes.only == (
        "tutorial",
        "tutorial-b8",
        "tutorial-b4",
        "default",
        "default-flip-tta",
        "default-b8",
        "default-flip-tta-b8",
        "default-b4",
    )
    assert set(sizes.only) <= {row.name for row in ablation.rows()}
    assert set(ablation.TARGET_ROWS) <= set(sizes.only) and sizes.results_dir == ablation.FULL.results_dir
    assert sizes.stem != ablation.FULL.stem


def test_the_console_counts_the_runs_and_keras_and_the_libraries_write_to_the_log(
    tmp_path, monkeypatch, capfd
):
    """A run of two rows and two seeds, with training that prints as Keras and TensorFlow do."""
    monkeypatch.setattr(ablation, "SCRATCH_DIR", str(tmp_path))  # the log, the cache, QUICK's results
    monkeypatch.setattr(ablation, "load_data", lambda sizes: _tiny_data())
    monkeypatch.setattr(ablation, "machine_snapshot", dict)

    def train(settings, data):
        print("Epoch 1/1 - loss: 0.5")  # Keras's fit, verbose=2
        os.write(2, b"W tensorflow/core/kernels/data/cache_dataset_ops.cc:858] a C++ notice\n")
        iou = 0.5 + settings.training.seed / 100
        scores = {"mean_iou": iou, "iou": {"border": 0.25}}
        return {
            "fit_seconds": 12.3,
            "epochs_run": 1,
            "kept_epoch": 1,
            "scores": dict.fromkeys(_EVALS, scores),
        }

    monkeypatch.setattr(ablation, "train_trainer_row", train)
    # As on a terminal, Python's stdout writes to file descriptor 1 (pytest's would bypass it).
    monkeypatch.setattr(sys, "stdout", open(1, "w", buffering=1, closefd=False))  # noqa: SIM115
    ablation.main(["--quick", "--only", "plain", "color"])
    console = capfd.readouterr()
    log = tmp_path / "ablation-quick.log"
    assert f"output goes to {os.path.relpath(log, ablation.REPO_ROOT)}" in console.out
    assert "[1/4] plain seed 0: eval mean IoU 0.500, border IoU 0.250 (trained in 12 s)" in console.out
    assert "[4/4] color seed 1: eval mean IoU 0.510, border IoU 0.250 (trained in 12 s)" in console.out
    assert "| color |" in console.out  # the table comes after the runs
    assert "Epoch 1/1" not in console.out + console.err and "C++ notice" not in console.out + console.err
    assert log.read_text().count("Epoch 1/1") == 4 and log.read_text().count("C++ notice") == 4
    ablation.main(["--quick", "--only", "plain"])
    assert "[2/2] plain seed 1: eval mean IoU 0.510, border IoU 0.250 (cached)" in capfd.readouterr().out


_EVALS = ("same style", "other style")


def _tiny_data() -> ablation.Data:
    split = (np.zeros((2, 8, 8, 3), np.float32), np.zeros((2, 8, 8), np.int32))
    return ablation.Data(train=split, validation=split, evals=dict.fromkeys(_EVALS, split), builder=None)
