"""Configuration: defaults, config files, flags, and errors that name the flag (exit code 2)."""

import json

import pytest

from pipeline import cli, flags
from pipeline.config import PipelineConfig, build_config, load_file, settings
from pipeline.errors import ConfigError


def test_defaults_are_valid_and_follow_the_tutorial():
    config = build_config()
    assert config.model.name == "unet" and config.model.image_size == 128
    assert config.dataset.name == "oxford_iiit_pet"
    assert (config.dataset.train_split, config.dataset.validation_split, config.dataset.eval_split) == (
        "train[:90%]",
        "train[90%:]",
        "test",
    )
    assert config.model.encoder_weights == "imagenet"


def test_every_setting_has_a_unique_flag_and_help():
    names = [field.json_schema_extra["flag"] for _, _, field in settings()]
    assert len(names) == len(set(names))
    assert all(field.description for _, _, field in settings())


def test_derived_paths_live_under_the_output_directory(tmp_path):
    config = build_config(overrides={("output", "output_dir"): str(tmp_path)})
    for path in (config.pipeline_root, config.metadata_path, config.tfds_dir, config.serving_root):
        assert path.startswith(str(tmp_path))
    assert "--direct_running_mode=multi_processing" in config.beam_pipeline_args()


def test_file_then_flags_override_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  epochs: 7\n  batch_size: 4\nmodel:\n  name: fcn8\n")
    args = cli.build_parser().parse_args(["run", "--config", str(path), "--epochs", "3"])
    config = flags.config_from_args(args)
    assert (config.training.epochs, config.training.batch_size, config.model.name) == (3, 4, "fcn8")


def test_json_config_file_and_list_values(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {"training": {"class_weights": [1, 2, 3]}, "beam": {"extra_args": ["--runner=DirectRunner"]}}
        )
    )
    config = build_config(load_file(str(path)))
    assert config.training.class_weights == [1.0, 2.0, 3.0]
    assert config.beam_pipeline_args()[-1] == "--runner=DirectRunner"


@pytest.mark.parametrize(
    "key,value,flag,words",
    [
        (("model", "image_size"), 100, "--image-size", "multiple of 32"),
        (("model", "image_size"), "big", "--image-size", "expected an integer"),
        (("training", "epochs"), True, "--epochs", "not yes/no"),
        (("training", "warm_start_from_blessed"), "maybe", "--warm-start-from-blessed", "yes or no"),
        (("training", "class_weights"), "1,x,2", "--class-weights", "list of numbers"),
        (("training", "epochs"), 0, "--epochs", ">= 1"),
        (("training", "learning_rate"), 0, "--learning-rate", "> 0.0"),
        (("training", "class_weights"), "1,2", "--class-weights", "pet,background,border"),
        (("dataset", "max_bad_fraction"), 1.5, "--max-bad-fraction", "<= 1.0"),
        (("dataset", "train_split"), "train[:90%", "--train-split", "TFDS split"),
        (("model", "name"), "resnet", "--model", "unet, fcn8"),
        (("model", "encoder_weights"), "/no/such/file.h5", "--encoder-weights", "imagenet"),
        (("output", "pipeline_name"), "My Pipeline", "--pipeline-name", "lowercase"),
    ],
)
def test_bad_values_name_the_flag_and_what_it_accepts(key, value, flag, words):
    with pytest.raises(ConfigError) as error:
        build_config(overrides={key: value})
    assert flag in str(error.value) and words in str(error.value)


def test_bad_config_file_names_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match="unknown keys \\['epoch'\\]"):
        load_file(str(path))
    path.write_text("trainer: {}\n")
    with pytest.raises(ConfigError, match="unknown section 'trainer'"):
        load_file(str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        load_file(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["run", "--epochs", "many"], "--epochs"),
        (["run", "--epochs", "-1"], "--epochs"),
        (["run", "--model", "vgg"], "--model"),
        (["run", "--image-size", "130"], "--image-size"),
        (["run", "--beam-mode", "fast"], "--beam-mode"),
        (["make-data", "d", "--train", "0"], "--train"),
        (["run", "--no-such-flag"], "--no-such-flag"),
    ],
)
def test_cli_rejects_bad_flags_with_exit_code_2_before_any_work(argv, flag, capsys, monkeypatch):
    import pipeline.dag_run as dag_run

    def must_not_run(config):
        raise AssertionError("the pipeline ran despite a bad flag")

    monkeypatch.setattr(dag_run, "run", must_not_run)
    with pytest.raises(SystemExit) as raised:
        code = cli.main(argv)
        raise SystemExit(code)
    assert raised.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.parametrize(
    "overrides",
    [
        {("dataset", "train_split"): "test"},
        {("dataset", "validation_split"): "test"},
        {("dataset", "eval_split"): "train[85%:]"},
        {("dataset", "eval_split"): "train[-5%:]"},
        {("dataset", "train_split"): "train+test[:10%]"},
        {("dataset", "validation_split"): "test[100:200]", ("dataset", "eval_split"): "test[:150]"},
    ],
)
def test_the_eval_split_is_kept_for_the_evaluator_alone(overrides):
    with pytest.raises(ConfigError, match="--eval-split: must not share examples"):
        build_config(overrides=overrides)


def test_disjoint_sub_splits_of_one_split_are_allowed():
    config = build_config(
        overrides={
            ("dataset", "train_split"): "train[:80%]",
            ("dataset", "validation_split"): "train[80%:90%]",
            ("dataset", "eval_split"): "train[90%:]",
        }
    )
    assert config.dataset.eval_split == "train[90%:]"


def test_balanced_class_weights_exclude_explicit_ones():
    with pytest.raises(ConfigError, match="--balance-classes"):
        build_config(
            overrides={("training", "balance_classes"): True, ("training", "class_weights"): "1,1,2"}
        )


def test_explicit_class_weights_replace_the_default_balancing():
    config = build_config(overrides={("training", "class_weights"): "1,1,2"})
    assert config.training.class_weights == [1.0, 1.0, 2.0]


def test_fine_tuning_needs_a_frozen_encoder():
    with pytest.raises(ConfigError, match="--fine-tune-epochs"):
        build_config(overrides={("model", "encoder_weights"): "none", ("training", "fine_tune_epochs"): 2})


def test_config_round_trips_through_a_file(tmp_path):
    config = build_config(overrides={("training", "epochs"): 2})
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config.to_dict()))
    assert build_config(load_file(str(path))) == config
    assert isinstance(config, PipelineConfig)


def test_data_dir_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="--data-dir.*existing directory"):
        build_config(overrides={("dataset", "data_dir"): str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="--data-dir.*spans"):
        build_config(overrides={("dataset", "data_dir"): str(tmp_path / "nope" / "span-{SPAN}")})
    assert build_config(overrides={("dataset", "data_dir"): str(tmp_path / "span-{SPAN}")})


@pytest.mark.parametrize(
    "encoding,named",
    [("utf-16", "UTF-16"), ("utf-32", "UTF-32"), ("latin-1", "not UTF-8 (byte 0xe9")],
)
def test_a_config_file_in_another_encoding_is_refused_naming_it(tmp_path, encoding, named, capsys):
    path = tmp_path / "c.yaml"
    path.write_bytes("output:\n  pipeline_name: caf\u00e9\n".encode(encoding))
    with pytest.raises(ConfigError) as error:
        load_file(str(path))
    assert named in str(error.value) and str(path) in str(error.value) and "UTF-8" in str(error.value)
    assert cli.main(["run", "--config", str(path)]) == 2  # one line on stderr, no traceback
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_json_file_is_read_as_json_with_line_and_column(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{\n  "training": {"epochs": 3,}\n}\n')  # a trailing comma: YAML would accept it
    with pytest.raises(ConfigError, match=r"c\.json:2:28: not valid JSON"):
        load_file(str(path))


def test_a_utf8_file_with_a_byte_order_mark_reads_fine(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbftraining:\n  epochs: 4\n")
    assert build_config(load_file(str(path))).training.epochs == 4


def test_a_yaml_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  epochs: [3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:\d+:\d+: not valid YAML"):
        load_file(str(path))
