"""The whole pipeline's settings: the Trainer's sections composed with the pipeline's own.

Every setting is declared once, as a pydantic field that also carries its command-line flag and
help (`flag(...)` in json_schema_extra): the Trainer declares the model and training sections
(trainer/settings.py), this module the rest, pipeline/vertex_settings.py the Vertex AI section.
`segpipe` builds its flags from these declarations (pipeline/flags.py), a config file (YAML or
JSON, pipeline/config_files.py) overrides the defaults and flags override the file. pydantic
turns every value into its real type (booleans are booleans, 'auto' is None) and checks it
before any work starts; `ConfigError` then names the flag, the config key, what it accepts and
what it got, and the command exits with code 2.
"""

import os
import re
from typing import Any, Dict, List, Literal, Optional, Tuple, Type, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from contract.datasets import DATASETS
from pipeline import config_files
from pipeline.errors import ConfigError
from pipeline.vertex_settings import VertexSettings
from trainer.hyperparameters import search_problem
from trainer.settings import ModelSettings, SearchSettings, Section, TrainingSettings, flag, flag_of

# Imported by every Beam worker: drops TensorFlow's harmless teardown message (see the module).
BEAM_WORKER_PLUGIN = "pipeline.beam_worker"
# The schema ImportSchemaGen imports by default: the ExampleGen's own, shipped beside it.
BUILT_IN_SCHEMA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "components",
    "tfds_example_gen",
    "schema.pbtxt",
)


def _tfds_split(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+(\[[^\]]*\])?(\+[A-Za-z0-9_]+(\[[^\]]*\])?)*", value):
        raise ValueError("must be a TFDS split expression such as 'train', 'test' or 'train[:90%]'")
    return value


def _split_ranges(expression: str) -> List[Tuple[str, float, float, str]]:
    """Each '+' part of a TFDS split as (split, start, stop, unit); unit is '%' or 'n'.

    A bare name is the whole split, [0%, 100%). A negative bound counts from the end, which only
    a percentage can place without knowing the split's size, so such absolute bounds give none.
    """
    ranges = []
    for part in expression.split("+"):
        match = re.fullmatch(r"(\w+)(?:\[(-?\d*)(%?):(-?\d*)(%?)\])?", part)
        if not match:
            continue
        name, start, start_pct, stop, stop_pct = match.groups()
        if start is None:
            ranges.append((name, 0.0, 100.0, "%"))
            continue
        unit = "%" if (start_pct or stop_pct) else "n"
        if unit == "%" and (start and not start_pct or stop and not stop_pct):
            continue  # a mixed slice: TFDS refuses it at read time
        low = float(start) if start else 0.0
        high = float(stop) if stop else (100.0 if unit == "%" else float("inf"))
        if unit == "%":
            low, high = (low + 100 if low < 0 else low), (high + 100 if high < 0 else high)
        elif low < 0 or high < 0:
            continue
        ranges.append((name, low, high, unit))
    return ranges


def splits_overlap(first: str, second: str) -> bool:
    """Whether two TFDS split expressions are known to share examples."""
    return any(
        a_name == b_name and a_unit == b_unit and max(a_low, b_low) < min(a_high, b_high)
        for a_name, a_low, a_high, a_unit in _split_ranges(first)
        for b_name, b_low, b_high, b_unit in _split_ranges(second)
    ) or (first == second)


NAME_PATTERN = r"[a-z][a-z0-9-]{0,62}"
NAME_RULE = "must be lowercase letters, digits and '-', starting with a letter (Vertex's rule)"


class DatasetSettings(Section):
    """Where the images come from and how TFDS splits map onto the pipeline's splits."""

    name: str = Field(
        "oxford_iiit_pet",
        description="TFDS builder name.",
        json_schema_extra=flag("--dataset", "|".join(sorted(DATASETS))),
    )
    version: str = Field(
        "4.*.*",
        min_length=1,
        description="TFDS version spec of the builder, e.g. 4.*.* or 4.0.0.",
        json_schema_extra=flag("--dataset-version", "SPEC"),
    )
    data_dir: str = Field(
        "",
        description="Directory (local or gs://) of the dataset's raw files in its own "
        "layout (may hold {SPAN} and {VERSION}); empty = let TFDS download them.",
        json_schema_extra=flag("--data-dir", "DIR", "download with TFDS"),
    )
    tfds_dir: str = Field(
        "",
        description="Where TFDS keeps its prepared copy; empty = OUTPUT/tfds.",
        json_schema_extra=flag("--tfds-dir", "DIR", "OUTPUT/tfds"),
    )
    train_split: str = Field(
        "train[:90%]",
        description="TFDS split (or sub-split) that becomes the pipeline's train split.",
        json_schema_extra=flag("--train-split", "SPLIT"),
    )
    validation_split: str = Field(
        "train[90%:]",
        description="TFDS split (or sub-split) that becomes the pipeline's validation split: the "
        "Trainer picks its epoch on it; it must not overlap the eval split.",
        json_schema_extra=flag("--validation-split", "SPLIT"),
    )
    eval_split: str = Field(
        "test",
        description="TFDS split (or sub-split) that becomes the pipeline's eval split.",
        json_schema_extra=flag("--eval-split", "SPLIT"),
    )
    max_bad_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Fail the run when more than this share of examples is bad.",
        json_schema_extra=flag("--max-bad-fraction", "SHARE"),
    )

    _splits = field_validator("train_split", "validation_split", "eval_split")(_tfds_split)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(f"must be one of {', '.join(sorted(DATASETS))} (contract/datasets.py)")
        return value

    @field_validator("data_dir")
    @classmethod
    def _existing(cls, value: str) -> str:
        if not value or value.startswith("gs://"):
            return value  # a GCS location is checked where it is read, by the ExampleGen's driver
        if "{SPAN}" in value:
            prefix = value.split("{SPAN}")[0]
            parent = (prefix if prefix.endswith("/") else os.path.dirname(prefix)) or "."
            if not os.path.isdir(parent):
                raise ValueError(f"the folder of its spans, {parent}, does not exist")
        elif not os.path.isdir(value):
            raise ValueError("must be an existing directory")
        return value


class TuningSettings(SearchSettings):
    """Hyperparameter search: TFX's Tuner (KerasTuner) before the Trainer, with --tune yes.

    The search's own settings (which hyperparameters, trials, epochs, algorithm) are the
    Trainer's (trainer/settings.py SearchSettings); whether a Tuner or a Resolver runs is the
    pipeline's.
    """

    enabled: bool = Field(
        False,
        description="Search hyperparameters with TFX's Tuner before training; the Trainer trains "
        "with the best trial's values (by validation mean IoU), which replace the config's.",
        json_schema_extra=flag("--tune", "yes|no"),
    )
    reuse: bool = Field(
        False,
        description="Without --tune: train with the latest search's best values in this "
        "pipeline's metadata store (a Resolver); the config's values when there is none yet.",
        json_schema_extra=flag("--reuse-tuning", "yes|no"),
    )


class EvaluationSettings(Section):
    """When a model is good enough to ship."""

    min_mean_iou: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Floor on eval mean IoU for a model to be blessed.",
        json_schema_extra=flag("--min-mean-iou", "IOU"),
    )
    min_improvement: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Mean-IoU gain over the last blessed model needed to bless (0: any gain).",
        json_schema_extra=flag("--min-improvement", "IOU"),
    )


class PushSettings(Section):
    """Where blessed models go for TF Serving."""

    serving_root: str = Field(
        "",
        description="TF Serving model base; empty = OUTPUT/serving.",
        json_schema_extra=flag("--serving-root", "DIR", "OUTPUT/serving"),
    )
    model_name: str = Field(
        "segmenter",
        description="Model name under the serving root.",
        json_schema_extra=flag("--model-name", "NAME"),
    )
    keep_versions: int = Field(
        5,
        ge=1,
        le=1000,
        description="Versions kept under the serving root.",
        json_schema_extra=flag("--keep-versions", "N"),
    )

    @field_validator("model_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(NAME_RULE)
        return value


class TfliteSettings(Section):
    """The phone model: TFLite float16 and int8, scored and gated, pushed beside the SavedModel."""

    enabled: bool = Field(
        True,
        description="Convert the trained model to TFLite (float16 and int8), score both on the eval "
        "split and push the one the gate picks to SERVING_ROOT/<model>-tflite/<version>.",
        json_schema_extra=flag("--tflite", "yes|no"),
    )
    max_drop: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="int8 ships only if its eval mean IoU is at most this much below float16's; "
        "float16 ships otherwise.",
        json_schema_extra=flag("--tflite-max-drop", "IOU"),
    )


class BeamSettings(Section):
    """How the Beam components run (DirectRunner locally, Dataflow with extra args)."""

    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = Field(
        "multi_processing", description="DirectRunner mode.", json_schema_extra=flag("--beam-mode")
    )
    direct_num_workers: int = Field(
        0,
        ge=0,
        le=1024,
        description="DirectRunner workers; 0 = one per CPU core.",
        json_schema_extra=flag("--beam-workers", "N", "0 (every core)"),
    )
    extra_args: List[str] = Field(
        default_factory=list,
        description="Extra Beam pipeline argument (repeatable), e.g. --runner=DataflowRunner.",
        json_schema_extra=flag("--beam-arg", "ARG"),
    )


class SchemaSettings(Section):
    """The data schema: the checked-in one (fixed types) or inferred by SchemaGen."""

    mode: Literal["import", "infer"] = Field(
        "import",
        description="import the checked-in schema, or infer one.",
        json_schema_extra=flag("--schema"),
    )
    schema_file: str = Field(
        "",
        description="Schema to import (schema.pbtxt); empty = the "
        "ExampleGen's own, components/tfds_example_gen/schema.pbtxt.",
        json_schema_extra=flag("--schema-file", "FILE", "the ExampleGen's schema"),
    )


class OutputSettings(Section):
    """Where everything the pipeline writes lives."""

    output_dir: str = Field(
        "out", description="Output directory of the pipeline.", json_schema_extra=flag("--output", "DIR")
    )
    pipeline_name: str = Field(
        "segpipe", description="TFX pipeline name.", json_schema_extra=flag("--pipeline-name", "NAME")
    )

    @field_validator("output_dir")
    @classmethod
    def _directory(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if os.path.exists(value) and not os.path.isdir(value):
            raise ValueError("must be a directory, but a file is there")
        return value

    @field_validator("pipeline_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(NAME_RULE)
        return value


class PipelineConfig(BaseModel):
    """All settings of one pipeline, by section, and the paths derived from them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    tuning: TuningSettings = Field(default_factory=TuningSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    tflite: TfliteSettings = Field(default_factory=TfliteSettings)
    beam: BeamSettings = Field(default_factory=BeamSettings)
    # "schema" in files and flags; BaseModel already has a `schema` attribute.
    data_schema: SchemaSettings = Field(default_factory=SchemaSettings, alias="schema")
    output: OutputSettings = Field(default_factory=OutputSettings)
    vertex: VertexSettings = Field(default_factory=VertexSettings)

    # Paths derived from the output directory, so there is one setting to move a whole run.
    @property
    def output_dir(self) -> str:
        return os.path.abspath(self.output.output_dir)

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.output_dir, "logs")

    @property
    def data_quality_dir(self) -> str:
        """Where the data-quality report of a failed gate is kept (TFX removes the artifact)."""
        return os.path.join(self.output_dir, "data_quality")

    @property
    def tfds_dir(self) -> str:
        return os.path.abspath(self.dataset.tfds_dir or os.path.join(self.output_dir, "tfds"))

    @property
    def serving_root(self) -> str:
        return os.path.abspath(self.push.serving_root or os.path.join(self.output_dir, "serving"))

    @property
    def schema_file(self) -> str:
        return self.data_schema.schema_file or BUILT_IN_SCHEMA

    def beam_pipeline_args(self) -> List[str]:
        """The DirectRunner on every core of the machine (0 workers means so) unless the user
        says otherwise; every worker imports pipeline/beam_worker.py; then --beam-arg."""
        return [
            f"--direct_running_mode={self.beam.direct_running_mode}",
            f"--direct_num_workers={self.beam.direct_num_workers}",
            f"--beam_plugin={BEAM_WORKER_PLUGIN}",
            *self.beam.extra_args,
        ]

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        """Every setting by section, in the config file's format."""
        return self.model_dump(by_alias=True)


def sections() -> List[Tuple[str, Type[Section]]]:
    """The config's sections as (name, settings class) pairs, in declaration order."""
    return [
        (field.alias or name, cast(Type[Section], field.annotation))
        for name, field in PipelineConfig.model_fields.items()
    ]


def settings(section_names: Optional[List[str]] = None) -> List[Tuple[str, str, FieldInfo]]:
    """Every setting as (section name, key, pydantic field), optionally of some sections only."""
    return [
        (section, key, field)
        for section, cls in sections()
        if section_names is None or section in section_names
        for key, field in cls.model_fields.items()
    ]


def field_of(section: str, key: str) -> FieldInfo:
    return dict(sections())[section].model_fields[key]


def where(section: str, key: str) -> str:
    """'--image-size (config key model.image_size)': how an error names a setting."""
    return f"{flag_of(field_of(section, key))['flag']} (config key {section}.{key})"


_TYPE_WORDS: Dict[Any, str] = {
    int: "an integer",
    float: "a number",
    bool: "yes or no",
    str: "text",
    List[float]: "a list of numbers",
    List[str]: "a list of texts",
}


def _range_words(field: FieldInfo) -> str:
    """'must be >= 1 and <= 10000' from the field's bounds."""
    bounds = []
    for constraint in field.metadata:
        for attribute, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(constraint, attribute, None) is not None:
                bounds.append(f"{symbol} {getattr(constraint, attribute)}")
    return "must be " + " and ".join(bounds)


def _problem(error: Any, field: FieldInfo) -> str:
    """What an error means for a person, in the words of the flag's help."""
    kind = error["type"]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return "must be one of " + error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _range_words(field)
    if kind in ("string_too_short",):
        return "must not be empty"
    annotation = field.annotation
    expected = _TYPE_WORDS.get(annotation) or _TYPE_WORDS.get(
        next((a for a in getattr(annotation, "__args__", ()) if a in _TYPE_WORDS), None), "another value"
    )
    return f"expected {expected}"


def describe(error: ValidationError, values: Dict[str, Dict[str, Any]]) -> str:
    """The first problem of a validation error as 'FLAG (config key S.K): PROBLEM; got VALUE',
    VALUE being the whole setting as given (not the one list item that failed)."""
    first = error.errors()[0]
    section, key = (str(part) for part in (list(first["loc"]) + ["", ""])[:2])
    if key not in dict(sections()).get(section, Section).model_fields:
        return f"--config: section {section!r} has an unknown key {key!r}"
    given = values.get(section, {}).get(key, first["input"])
    return f"{where(section, key)}: {_problem(first, field_of(section, key))}; got {given!r}"


def validate(config: PipelineConfig) -> PipelineConfig:
    """The rules that tie sections together; raises ConfigError naming the flag."""
    class_names = DATASETS[config.dataset.name].class_names
    weights = config.training.class_weights
    if weights and len(weights) != len(class_names):
        raise ConfigError(
            f"--class-weights: must be empty or {len(class_names)} positive numbers, "
            f"one per class in the order {','.join(class_names)}; got {weights}"
        )
    # Balancing is on by default, so only an explicit --balance-classes yes conflicts with
    # explicit weights; given weights alone replace the default balancing (class_weights_for).
    if weights and config.training.balance_classes and "balance_classes" in config.training.model_fields_set:
        raise ConfigError(
            "--balance-classes: computes the class weights itself; drop --class-weights or set it to no"
        )
    splits = {
        "--train-split": config.dataset.train_split,
        "--validation-split": config.dataset.validation_split,
        "--eval-split": config.dataset.eval_split,
    }
    eval_split = config.dataset.eval_split
    if any(
        splits_overlap(eval_split, other)
        for other in (config.dataset.train_split, config.dataset.validation_split)
    ):
        raise ConfigError(
            f"--eval-split: must not share examples with the train or validation split (only the "
            f"Evaluator may see it); got {splits}"
        )
    if (
        config.training.fine_tune_epochs
        and config.model.encoder_weights == "none"
        and config.model.freeze_encoder is not True
    ):
        raise ConfigError(
            "--fine-tune-epochs: fine-tuning unfreezes a frozen pretrained encoder, "
            "but with --encoder-weights none the encoder already trains; "
            "set --fine-tune-epochs 0 or --freeze-encoder yes"
        )
    tuning = config.tuning
    if tuning.enabled and tuning.reuse:
        raise ConfigError(
            "--reuse-tuning: a run with --tune yes trains with its own search's result; "
            "set --tune no to reuse the latest one, or --reuse-tuning no"
        )
    problem = search_problem(tuning, config.model, config.training)
    if problem and tuning.enabled:
        raise ConfigError(f"{where('tuning', 'hyperparameters')}: {problem}; got {tuning.hyperparameters}")
    return config


def build_config(
    file_values: Optional[Dict[str, Dict[str, Any]]] = None,
    overrides: Optional[Dict[Tuple[str, str], Any]] = None,
) -> PipelineConfig:
    """Defaults, then the config file's values, then flag overrides; typed and validated."""
    values: Dict[str, Dict[str, Any]] = {section: dict(keys) for section, keys in (file_values or {}).items()}
    for (section, key), value in (overrides or {}).items():
        values.setdefault(section, {})[key] = value
    try:
        return validate(PipelineConfig.model_validate(values))
    except ValidationError as error:
        raise ConfigError(describe(error, values)) from None


def load_file(path: str) -> Dict[str, Dict[str, Any]]:
    """A settings file's values by section (pipeline/config_files.py), names checked."""
    return config_files.load_file(path, dict(sections()))
