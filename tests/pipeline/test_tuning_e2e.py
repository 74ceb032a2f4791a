"""The hyperparameter search end to end: `segpipe run --tune yes`, then `--reuse-tuning yes`."""

import json
import os
import re

import pytest

from pipeline import cli
from pipeline.config import build_config
from pipeline.run_outputs import latest_artifacts
from pipeline.run_summary import load_summary
from tests.helpers import SMALL_FLAGS

pytestmark = pytest.mark.e2e

TRIALS = 2


def _history(config) -> dict:
    with open(os.path.join(latest_artifacts(config)["Trainer.Model"].uri, "history.json")) as handle:
        return json.load(handle)


def test_a_two_trial_search_trains_the_model_with_its_best_values_and_a_rerun_reuses_them(
    pristine_dataset, tmp_path, capsys
):
    out = str(tmp_path / "out")
    common = ["run", "--data-dir", pristine_dataset, "--output", out, *SMALL_FLAGS]
    search = ["--tune", "yes", "--tune-trials", str(TRIALS), "--tune-epochs", "1"]
    search += ["--tune-algorithm", "random"]
    assert cli.main([*common, *search]) == 0
    printed = capsys.readouterr().out
    config = build_config(overrides={("output", "output_dir"): out})

    # The Tuner ran before the Trainer, each trial on one console line with its score.
    assert re.search(r"[✓] Tuner done", printed), printed
    assert printed.index("Tuner done") < printed.index("Trainer done")
    scored = re.findall(r"trial (\d)/2: validation mean IoU (\d\.\d{3})", printed)
    assert sorted(number for number, _ in scored) == ["1", "2"], printed

    tuning = load_summary(out)["tuning"]
    assert tuning["source"] == "search" and tuning["objective_split"] == "validation"
    assert len(tuning["trials"]) == TRIALS
    scores = [trial["score"] for trial in tuning["trials"]]
    assert tuning["best_score"] == max(scores)
    assert sorted(round(score, 3) for score in scores) == sorted(float(score) for _, score in scored)
    best = tuning["best_hyperparameters"]
    assert best and tuning["trials"][0]["values"] == best
    # The Trainer trained with the best trial's values, and says which settings they set.
    history = _history(config)
    assert history["hyperparameters"]["values"] == best
    assert tuning["trainer_applied"] == history["hyperparameters"]["settings"]
    assert f"hyperparameter search: {TRIALS} trials" in printed

    # A later run without a search trains with the latest search's values through the Resolver.
    assert cli.main([*common, "--reuse-tuning", "yes", "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Tuner done" not in printed and "latest_tuning_resolver" in printed
    reused = load_summary(out)["tuning"]
    assert reused["source"] == "reused" and reused["best_hyperparameters"] == best
    assert _history(config)["hyperparameters"]["values"] == best
