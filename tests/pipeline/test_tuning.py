"""--tune and --reuse-tuning: their settings, the DAG they build, and how a search reads back
(console line, `segpipe metrics`, the run view). The search itself runs in test_tuning_e2e.py."""

import io
import json

import pytest
from tfx import v1 as tfx

from pipeline import cli, flags
from pipeline.config import build_config
from pipeline.errors import ConfigError
from pipeline.pipeline import HYPERPARAMETERS, LATEST_TUNING_RESOLVER, create_components, tuning_description
from pipeline.run_summary import describe_tuning, format_metrics_table
from pipeline.run_view import RunView
from trainer.settings import HYPERPARAMETERS as NAMES
from trainer.settings import SearchSettings, TrainerSettings

SEARCH = {
    "source": "search",
    "algorithm": "random",
    "max_trials": 2,
    "epochs_per_trial": 1,
    "searched": ["learning_rate", "batch_size"],
    "best_hyperparameters": {"learning_rate": 0.000505466, "batch_size": 16},
    "best_score": 0.41234,
    "trials": [
        {
            "trial_id": "1",
            "number": 2,
            "score": 0.41234,
            "values": {"learning_rate": 0.000505466, "batch_size": 16},
        },
        {"trial_id": "0", "number": 1, "score": 0.3, "values": {"learning_rate": 0.0019, "batch_size": 8}},
    ],
}


def _config(tmp_path, **tuning):
    return build_config(
        overrides={("output", "output_dir"): str(tmp_path), **{("tuning", k): v for k, v in tuning.items()}}
    )


def _nodes(config):
    return {node.id: node for node in create_components(config)}


def test_tuning_is_off_by_default_and_the_dag_unchanged(tmp_path):
    nodes = _nodes(_config(tmp_path))
    assert "Tuner" not in nodes and LATEST_TUNING_RESOLVER not in nodes
    assert "hyperparameters" not in nodes["Trainer"].inputs
    assert "hyperparameters" not in nodes["RunReport"].inputs
    assert nodes["RunReport"].exec_properties["tuning"] == ""


def test_tune_puts_a_tuner_on_the_trainers_splits_before_it_and_feeds_it_the_best_values(tmp_path):
    config = _config(
        tmp_path, enabled=True, trials=4, epochs=2, algorithm="hyperband", hyperparameters="loss"
    )
    order = [node.id for node in create_components(config)]
    assert order.index("Transform") < order.index("Tuner") < order.index("Trainer")
    nodes = _nodes(config)
    tuner, trainer = nodes["Tuner"], nodes["Trainer"]
    assert isinstance(tuner, tfx.components.Tuner)
    assert tuner.exec_properties["tuner_fn"] == "trainer.tuning.tuner_fn"
    assert trainer.inputs["hyperparameters"] is tuner.outputs[HYPERPARAMETERS]
    for key in ("examples", "transform_graph", "schema"):
        assert tuner.inputs[key] is trainer.inputs[key]
    # Trials are scored on the validation split, never on the eval split.
    for node in (tuner, trainer):
        assert json.loads(node.exec_properties["train_args"]) == {"splits": ["train"]}
        assert json.loads(node.exec_properties["eval_args"]) == {"splits": ["validation"]}
    custom_config = json.loads(tuner.exec_properties["custom_config"])
    assert TrainerSettings.from_custom_config(custom_config) == TrainerSettings.from_custom_config(
        json.loads(trainer.exec_properties["custom_config"])
    )
    assert SearchSettings.model_validate(custom_config["tuning"]) == SearchSettings(
        hyperparameters=["loss"], trials=4, epochs=2, algorithm="hyperband"
    )
    assert custom_config["code"] == json.loads(trainer.exec_properties["custom_config"])["code"]
    report = nodes["RunReport"]
    assert report.inputs["hyperparameters"] is tuner.outputs[HYPERPARAMETERS]
    assert report.inputs["tuner_results"] is tuner.outputs["tuner_results"]
    assert json.loads(report.exec_properties["tuning"]) == {
        "source": "search",
        "algorithm": "hyperband",
        "max_trials": 4,
        "epochs_per_trial": 2,
        "searched": ["loss"],
    }


def test_a_tuner_warm_starts_its_trials_as_the_trainer_does(tmp_path):
    config = build_config(
        overrides={
            ("output", "output_dir"): str(tmp_path),
            ("tuning", "enabled"): True,
            ("training", "warm_start_from_blessed"): True,
        }
    )
    nodes = _nodes(config)
    assert nodes["Tuner"].inputs["base_model"] is nodes["Trainer"].inputs["base_model"]


def test_reuse_tuning_feeds_the_trainer_the_latest_search_through_a_resolver(tmp_path):
    nodes = _nodes(_config(tmp_path, reuse=True))
    assert "Tuner" not in nodes
    resolver = nodes[LATEST_TUNING_RESOLVER]
    assert resolver.exec_properties["resolver_class"] is tfx.dsl.experimental.LatestArtifactStrategy
    assert {key: channel.type for key, channel in resolver.outputs.items()} == {
        HYPERPARAMETERS: tfx.types.standard_artifacts.HyperParameters,
        "tuner_results": tfx.types.standard_artifacts.TunerResults,
    }
    assert nodes["Trainer"].inputs["hyperparameters"] is resolver.outputs[HYPERPARAMETERS]
    assert json.loads(nodes["RunReport"].exec_properties["tuning"]) == {"source": "reused"}
    assert json.loads(tuning_description(_config(tmp_path, reuse=True))) == {"source": "reused"}


def test_tune_and_reuse_together_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"^--reuse-tuning: a run with --tune yes trains with its own"):
        _config(tmp_path, enabled=True, reuse=True)


def test_fine_tuning_names_are_refused_for_an_encoder_trained_from_scratch(tmp_path):
    overrides = {
        ("output", "output_dir"): str(tmp_path),
        ("model", "encoder_weights"): "none",
        ("tuning", "hyperparameters"): "learning_rate,fine_tune_epochs",
    }
    build_config(overrides=overrides)  # without --tune the names are not used
    with pytest.raises(ConfigError, match=r"^--tune-hyperparameters \(config key tuning.hyperparameters\): "):
        build_config(overrides={**overrides, ("tuning", "enabled"): True})


def test_tuning_flags_read_as_the_settings(tmp_path):
    args = cli.build_parser().parse_args(
        [
            "run",
            "--output",
            str(tmp_path),
            "--tune",
            "yes",
            "--tune-trials",
            "2",
            "--tune-epochs",
            "1",
            "--tune-algorithm",
            "bayesian",
            "--tune-hyperparameters",
            "loss,batch_size",
            "--tune-hyperparameters",
            "learning_rate",
        ]
    )
    tuning = flags.config_from_args(args).tuning
    assert (tuning.enabled, tuning.trials, tuning.epochs, tuning.algorithm) == (True, 2, 1, "bayesian")
    assert tuning.hyperparameters == ["loss", "batch_size", "learning_rate"]


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["--tune-hyperparameters", "dropout"], "--tune-hyperparameters"),
        (["--tune-trials", "0"], "--tune-trials"),
        (["--tune-algorithm", "grid"], "--tune-algorithm"),
        (["--reuse-tuning", "perhaps"], "--reuse-tuning"),
    ],
)
def test_bad_tuning_flags_exit_2_naming_the_flag(argv, flag, tmp_path, capsys):
    try:
        code = cli.main(["run", "--output", str(tmp_path), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2 and flag in capsys.readouterr().err


def test_the_run_help_lists_every_tuning_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    shown = capsys.readouterr().out
    assert "tuning settings:" in shown
    for flag in ("--tune ", "--reuse-tuning", "--tune-trials", "--tune-epochs", "--tune-algorithm"):
        assert flag in shown
    assert all(name in shown for name in NAMES)


def test_a_search_reads_as_one_line():
    assert describe_tuning(SEARCH) == (
        "2 trials, best validation mean IoU 0.412: learning_rate 0.000505, batch_size 16"
    )
    assert describe_tuning({**SEARCH, "source": "reused"}).startswith(
        "reused the latest search (2 trials, best validation mean IoU 0.412): learning_rate"
    )
    assert describe_tuning({"source": "reused", "best_hyperparameters": None, "trials": []}) == (
        "no search result in this pipeline's metadata store yet: trained with the config's values"
    )


def test_segpipe_metrics_shows_the_search_after_the_table():
    summary = {
        "metrics": {"overall": {"mean_iou": 0.5}, "slices": {}},
        "blessing": {"blessed": True, "reason": "r"},
        "pushed_model": None,
        "report": "x",
    }
    assert "hyperparameter search" not in format_metrics_table(summary)
    table = format_metrics_table({**summary, "tuning": SEARCH})
    assert table.splitlines()[-1] == f"hyperparameter search: {describe_tuning(SEARCH)}"


def test_the_run_view_shows_each_trials_values_and_score_on_one_line_each():
    stream = io.StringIO()
    view = RunView(stream, lambda node: ("done", ""))
    base = {"phase": "tuning", "trials": 2}
    view.training(
        {**base, "event": "trial_start", "trial": 1, "values": {"learning_rate": 0.00123456, "loss": "focal"}}
    )
    view.training({**base, "event": "trial_end", "trial": 1, "score": 0.41234})
    view.training({**base, "event": "trial_failed", "trial": 2, "reason": "OOM when allocating"})
    lines = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "  trial 1/2: learning_rate 0.00123, loss focal",
        "  trial 1/2: validation mean IoU 0.412",
        "  trial 2/2 failed: OOM when allocating",
    ]
