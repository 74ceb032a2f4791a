"""The whole pipeline's configuration, in one place.

Every setting is declared once, here, as a dataclass field that also names its command-line
flag, its help text and its check. `segpipe` builds its flags from these declarations, a config
file (YAML or JSON, sections named like the dataclasses' fields of `PipelineConfig`) overrides
the defaults, and flags override the file. `validate` runs before any work starts, so a bad
value fails in a second with a message that names the flag and the accepted values, instead of
an hour into a run.
"""
import dataclasses
import math
import os
import re
from typing import Any, Callable, Dict, List, Optional, Tuple, get_type_hints

import yaml

from components.dataset_specs import DATASETS

# A check returns None when the value is fine, else the problem in words ("must be ...").
Check = Callable[[Any], Optional[str]]

MODEL_NAMES = ("unet", "fcn8")
BEAM_MODES = ("in_memory", "multi_threading", "multi_processing")
SCHEMA_MODES = ("import", "infer")
FREEZE_CHOICES = ("auto", "yes", "no")
DEFAULT_SCHEMA_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "components", "schema", "schema.pbtxt"
)


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot run with; the message names the flag."""


def option(default: Any, flag: str, help: str, *, choices: Tuple[str, ...] = (),
           check: Optional[Check] = None, metavar: Optional[str] = None) -> Any:
    """Declares one setting: its default, its flag, its help and how it is checked."""
    metadata = {"flag": flag, "help": help, "choices": choices, "check": check, "metavar": metavar}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def in_range(low: float, high: float, *, low_open: bool = False) -> Check:
    """A check that a number lies in [low, high] (or (low, high] when low_open)."""
    def check(value: float) -> Optional[str]:
        too_low = value <= low if low_open else value < low
        if too_low or value > high or (isinstance(value, float) and math.isnan(value)):
            return f"must be {'>' if low_open else '>='} {low} and <= {high}"
        return None
    return check


def _image_size(value: int) -> Optional[str]:
    if value < 32 or value > 1024 or value % 32:
        return "must be a multiple of 32 between 32 and 1024 (the encoder downsamples 32x)"
    return None


def _encoder_weights(value: str) -> Optional[str]:
    if value in ("imagenet", "none") or os.path.isfile(value):
        return None
    return "must be 'imagenet', 'none' or the path of an existing weights file"


def _tfds_split(value: str) -> Optional[str]:
    if not re.fullmatch(r"[A-Za-z0-9_]+(\[[^\]]*\])?(\+[A-Za-z0-9_]+(\[[^\]]*\])?)*", value):
        return "must be a TFDS split expression such as 'train', 'test' or 'train[:90%]'"
    return None


def _pipeline_name(value: str) -> Optional[str]:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", value):
        return "must be lowercase letters, digits and '-', starting with a letter (Vertex's rule)"
    return None


def _data_dir(value: str) -> Optional[str]:
    if not value:
        return None
    if "{SPAN}" in value:
        prefix = value.split("{SPAN}")[0]
        parent = (prefix if prefix.endswith("/") else os.path.dirname(prefix)) or "."
        return None if os.path.isdir(parent) else f"the folder of its spans, {parent}, does not exist"
    return None if os.path.isdir(value) else "must be an existing directory"


def _output_dir(value: str) -> Optional[str]:
    if not value.strip():
        return "must not be empty"
    if os.path.exists(value) and not os.path.isdir(value):
        return "must be a directory, but a file is there"
    return None


def _non_empty(value: str) -> Optional[str]:
    return None if value.strip() else "must not be empty"


@dataclasses.dataclass
class DatasetConfig:
    """Where the images come from and how TFDS splits map onto the pipeline's splits."""
    name: str = option("oxford_iiit_pet", "--dataset", "TFDS builder name.",
                       choices=tuple(sorted(DATASETS)))
    version: str = option("4.*.*", "--dataset-version",
                          "TFDS version spec of the builder, e.g. 4.*.* or 4.0.0.", check=_non_empty)
    data_dir: str = option("", "--data-dir",
                           "Local directory of the dataset's raw files in its own layout (may hold "
                           "{SPAN}); empty = let TFDS download them.", check=_data_dir,
                           metavar="DIR")
    tfds_dir: str = option("", "--tfds-dir",
                           "Where TFDS keeps its prepared copy; empty = OUTPUT/tfds.", metavar="DIR")
    train_split: str = option("train", "--train-split",
                              "TFDS split (or sub-split) that becomes the pipeline's train split.",
                              check=_tfds_split)
    eval_split: str = option("test", "--eval-split",
                             "TFDS split (or sub-split) that becomes the pipeline's eval split.",
                             check=_tfds_split)
    max_bad_fraction: float = option(0.05, "--max-bad-fraction",
                                     "Fail the run when more than this share of examples is bad.",
                                     check=in_range(0.0, 1.0))


@dataclasses.dataclass
class ModelConfig:
    """Which network, at which resolution, with which encoder weights."""
    name: str = option("unet", "--model", "Segmentation network.", choices=MODEL_NAMES)
    image_size: int = option(128, "--image-size", "Side of the square model input, in pixels.",
                             check=_image_size)
    encoder_weights: str = option("imagenet", "--encoder-weights",
                                  "MobileNetV2 encoder weights: imagenet, none, or a weights file.",
                                  check=_encoder_weights)
    freeze_encoder: str = option("auto", "--freeze-encoder",
                                 "auto = frozen with pretrained weights, trained from scratch otherwise.",
                                 choices=FREEZE_CHOICES)
    bn_momentum: float = option(0.0, "--bn-momentum",
                                "BatchNorm momentum of the encoder; 0 = auto (0.9 when the encoder "
                                "trains from scratch, Keras' 0.999 otherwise).",
                                check=in_range(0.0, 1.0))


@dataclasses.dataclass
class TrainingConfig:
    """How the Trainer fits the model."""
    epochs: int = option(10, "--epochs", "Training epochs.", check=in_range(1, 10_000))
    batch_size: int = option(32, "--batch-size", "Batch size per replica (global = this x replicas).",
                             check=in_range(1, 4096))
    learning_rate: float = option(1e-3, "--learning-rate", "Adam learning rate.",
                                  check=in_range(0.0, 1.0, low_open=True))
    class_weights: List[float] = option([], "--class-weights",
                                        "Per-pixel loss weights for pet,background,border "
                                        "(comma-separated); empty = unweighted.",
                                        metavar="W,W,W")
    early_stopping_patience: int = option(3, "--early-stopping-patience",
                                          "Epochs without eval mean-IoU gain before stopping; 0 = off.",
                                          check=in_range(0, 10_000))
    fine_tune_epochs: int = option(0, "--fine-tune-epochs",
                                   "Extra epochs with the encoder unfrozen from --fine-tune-from.",
                                   check=in_range(0, 10_000))
    fine_tune_from: str = option("block_13_expand", "--fine-tune-from",
                                 "First encoder layer to unfreeze in the fine-tuning phase.",
                                 check=_non_empty)
    fine_tune_learning_rate: float = option(1e-4, "--fine-tune-learning-rate",
                                            "Learning rate of the fine-tuning phase.",
                                            check=in_range(0.0, 1.0, low_open=True))
    warm_start_from_blessed: str = option("no", "--warm-start-from-blessed",
                                          "yes = start from the latest blessed model's weights "
                                          "(what `segpipe retrain` does).", choices=("yes", "no"))
    warm_start: str = option("", "--warm-start",
                             "Start from this previous model's weights (a Trainer model directory).",
                             metavar="DIR")
    seed: int = option(42, "--seed", "Random seed of shuffling, flips and initialisation.",
                       check=in_range(0, 2**31 - 1))


@dataclasses.dataclass
class EvaluationConfig:
    """When a model is good enough to ship."""
    min_mean_iou: float = option(0.5, "--min-mean-iou",
                                 "Floor on eval mean IoU for a model to be blessed.",
                                 check=in_range(0.0, 1.0))
    min_improvement: float = option(0.0, "--min-improvement",
                                    "Mean-IoU gain over the last blessed model needed to bless.",
                                    check=in_range(0.0, 1.0))


@dataclasses.dataclass
class PushConfig:
    """Where blessed models go for TF Serving."""
    serving_root: str = option("", "--serving-root",
                               "TF Serving model base; empty = OUTPUT/serving.", metavar="DIR")
    model_name: str = option("segmenter", "--model-name", "Model name under the serving root.",
                             check=_pipeline_name)
    keep_versions: int = option(5, "--keep-versions", "Versions kept under the serving root.",
                                check=in_range(1, 1000))


@dataclasses.dataclass
class BeamConfig:
    """How the Beam components run (DirectRunner locally, Dataflow with extra args)."""
    direct_running_mode: str = option("multi_processing", "--beam-mode",
                                      "DirectRunner mode.", choices=BEAM_MODES)
    direct_num_workers: int = option(0, "--beam-workers",
                                     "DirectRunner workers; 0 = one per CPU core.",
                                     check=in_range(0, 1024))
    extra_args: List[str] = option([], "--beam-arg",
                                   "Extra Beam pipeline argument (repeatable), e.g. --runner=DataflowRunner.",
                                   metavar="ARG")


@dataclasses.dataclass
class SchemaConfig:
    """The data schema: the checked-in one (fixed types) or inferred by SchemaGen."""
    mode: str = option("import", "--schema", "import the checked-in schema, or infer one.",
                       choices=SCHEMA_MODES)
    schema_file: str = option(DEFAULT_SCHEMA_FILE, "--schema-file",
                              "Schema to import (schema.pbtxt).", metavar="FILE")


@dataclasses.dataclass
class OutputConfig:
    """Where everything the pipeline writes lives."""
    output_dir: str = option("out", "--output", "Output directory of the pipeline.",
                             check=_output_dir, metavar="DIR")
    pipeline_name: str = option("segpipe", "--pipeline-name", "TFX pipeline name.",
                                check=_pipeline_name)


# Accelerators Vertex AI custom training offers (NONE: CPU-only workers).
ACCELERATOR_TYPES = ("NONE", "NVIDIA_TESLA_T4", "NVIDIA_L4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100",
                     "NVIDIA_TESLA_P4", "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_H100_80GB")
YES_NO = ("yes", "no")


@dataclasses.dataclass
class VertexConfig:
    """Where and how `segpipe vertex ...` runs the pipeline on Vertex AI Pipelines.

    Only the vertex commands read these settings, and only they check them (`validate_vertex`),
    so `segpipe run` needs none of them.
    """
    project: str = option("", "--vertex-project", "Google Cloud project that runs the pipeline.",
                          metavar="PROJECT")
    region: str = option("us-central1", "--vertex-region",
                         "Region of the pipeline, the training job, Dataflow and the endpoint.",
                         metavar="REGION")
    gcs_root: str = option("", "--gcs-root",
                           "gs://BUCKET/PATH under which the pipeline root, Beam temp and staging "
                           "files, the TFDS copy, the serving root and the run exports live.",
                           metavar="gs://BUCKET/PATH")
    image_uri: str = option("", "--image-uri",
                            "Pipeline image built from the Dockerfile, e.g. "
                            "us-central1-docker.pkg.dev/PROJECT/REPO/segpipe:TAG.", metavar="IMAGE")
    machine_type: str = option("n1-standard-8", "--trainer-machine-type",
                               "Machine type of each training worker.", metavar="TYPE")
    accelerator_type: str = option("NVIDIA_TESLA_T4", "--accelerator-type",
                                   f"GPU of each training worker: {', '.join(ACCELERATOR_TYPES)}.",
                                   metavar="TYPE")
    accelerator_count: int = option(1, "--accelerator-count", "GPUs per training worker.",
                                    metavar="N")
    replica_count: int = option(1, "--replica-count",
                                "Training workers; more than 1 trains with MultiWorkerMirroredStrategy.",
                                metavar="N")
    use_dataflow: str = option("no", "--use-dataflow",
                               "Run ExampleGen, StatisticsGen, Transform and Evaluator on Dataflow "
                               "(quote it in YAML: 'yes').", choices=YES_NO)
    dataflow_machine_type: str = option("n1-standard-4", "--dataflow-machine-type",
                                        "Machine type of the Dataflow workers.", metavar="TYPE")
    dataflow_max_workers: int = option(10, "--dataflow-max-workers",
                                       "Most Dataflow workers per Beam job.", metavar="N")
    endpoint_name: str = option("", "--endpoint-name",
                                "Vertex AI endpoint that blessed models are deployed to; empty = "
                                "push them to the serving root on GCS instead.", metavar="NAME")
    serving_machine_type: str = option("n1-standard-4", "--serving-machine-type",
                                       "Machine type of the endpoint's replicas.", metavar="TYPE")
    serving_image: str = option("us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest",
                                "--serving-image", "Prediction container of the endpoint's model.",
                                metavar="IMAGE")
    service_account: str = option("", "--service-account",
                                  "Service account of the pipeline run (and its training job and "
                                  "Dataflow workers); empty = the project's default.", metavar="EMAIL")
    schedule_cron: str = option("", "--cron",
                                "Cron schedule of `segpipe vertex schedule`, e.g. '0 3 * * *' "
                                "(may start with TZ=Area/City).", metavar="CRON")


@dataclasses.dataclass
class PipelineConfig:
    """All settings of one pipeline."""
    dataset: DatasetConfig = dataclasses.field(default_factory=DatasetConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    push: PushConfig = dataclasses.field(default_factory=PushConfig)
    beam: BeamConfig = dataclasses.field(default_factory=BeamConfig)
    schema: SchemaConfig = dataclasses.field(default_factory=SchemaConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
    vertex: VertexConfig = dataclasses.field(default_factory=VertexConfig)

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
    def tfds_dir(self) -> str:
        return os.path.abspath(self.dataset.tfds_dir or os.path.join(self.output_dir, "tfds"))

    @property
    def serving_root(self) -> str:
        return os.path.abspath(self.push.serving_root or os.path.join(self.output_dir, "serving"))

    def beam_pipeline_args(self) -> List[str]:
        """Beam args: DirectRunner across the machine's cores unless the user says otherwise."""
        workers = self.beam.direct_num_workers or os.cpu_count() or 1
        return [f"--direct_running_mode={self.beam.direct_running_mode}",
                f"--direct_num_workers={workers}", *self.beam.extra_args]

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        return dataclasses.asdict(self)


def sections() -> List[Tuple[str, type]]:
    """The config's sections as (name, dataclass) pairs, in declaration order."""
    hints = get_type_hints(PipelineConfig)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(PipelineConfig)]


def settings() -> List[Tuple[str, dataclasses.Field, type]]:
    """Every setting as (section name, field, type)."""
    result = []
    for section_name, section_cls in sections():
        hints = get_type_hints(section_cls)
        result.extend((section_name, f, hints[f.name]) for f in dataclasses.fields(section_cls))
    return result


def _where(section: str, field: dataclasses.Field) -> str:
    return f"{field.metadata['flag']} (config key {section}.{field.name})"


def coerce(value: Any, kind: type, where: str) -> Any:
    """Converts a flag string or a config-file value to the setting's type, or says why not."""
    try:
        if kind is bool or isinstance(value, bool) and kind is not str:
            raise ValueError
        if kind in (int, float, str):
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if kind is str and not isinstance(value, (str, int, float)):
                raise ValueError
            return kind(value)
        if kind == List[float]:
            items = value.split(",") if isinstance(value, str) else list(value)
            return [float(item) for item in items if str(item).strip() != ""]
        if kind == List[str]:
            return [value] if isinstance(value, str) else [str(item) for item in value]
    except (TypeError, ValueError):
        pass
    name = {List[float]: "list of numbers", List[str]: "list of strings"}.get(kind, kind.__name__)
    raise ConfigError(f"{where}: expected {name}, got {value!r}")


def validate(config: PipelineConfig) -> PipelineConfig:
    """Checks every setting; raises ConfigError naming the first bad flag and what it accepts."""
    for section_name, field, _ in settings():
        value = getattr(getattr(config, section_name), field.name)
        choices = field.metadata["choices"]
        if choices and value not in choices:
            raise ConfigError(f"{_where(section_name, field)}: must be one of "
                              f"{', '.join(choices)}; got {value!r}")
        check = field.metadata["check"]
        problem = check(value) if check else None
        if problem:
            raise ConfigError(f"{_where(section_name, field)}: {problem}; got {value!r}")
    class_names = DATASETS[config.dataset.name].class_names
    weights = config.training.class_weights
    if weights and (len(weights) != len(class_names) or any(not w > 0 for w in weights)):
        raise ConfigError(f"--class-weights: must be empty or {len(class_names)} positive numbers, "
                          f"one per class in the order {','.join(class_names)}; got {weights}")
    if (config.training.fine_tune_epochs and config.model.encoder_weights == "none"
            and config.model.freeze_encoder != "yes"):
        raise ConfigError("--fine-tune-epochs: fine-tuning unfreezes a frozen pretrained encoder, "
                          "but with --encoder-weights none the encoder already trains; "
                          "set --fine-tune-epochs 0 or --freeze-encoder yes")
    return config


# What validate_vertex accepts. Project IDs may carry a domain ("example.com:my-project").
_PROJECT_RE = r"([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]"
_REGION_RE = r"[a-z]+-[a-z]+[0-9]+"
_GCS_RE = r"gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^\s]*)?"
_IMAGE_RE = r"[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})?"
_MACHINE_RE = r"[a-z][a-z0-9]*(-[a-z0-9]+)+"
_ENDPOINT_RE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
_SERVICE_ACCOUNT_RE = r"[^@\s]+@[^@\s]+\.gserviceaccount\.com"
_CRON_FIELD_RE = r"[0-9A-Za-z*?/,-]+"
REPOSITORY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _vertex_where(name: str) -> str:
    field = next(f for f in dataclasses.fields(VertexConfig) if f.name == name)
    return _where("vertex", field)


def _cron_problem(cron: str) -> Optional[str]:
    fields = cron.split()
    if fields and re.fullmatch(r"(CRON_)?TZ=[A-Za-z0-9_+/-]+", fields[0]):
        fields = fields[1:]
    if len(fields) != 5 or not all(re.fullmatch(_CRON_FIELD_RE, f) for f in fields):
        return ("must be a cron schedule of 5 fields (minute hour day-of-month month day-of-week), "
                "optionally after TZ=Area/City, e.g. '0 3 * * *'")
    return None


def in_repository(path: str) -> bool:
    """Whether a local file lies inside this repository (so the pipeline image holds it too)."""
    return os.path.isfile(path) and os.path.commonpath(
        [os.path.realpath(path), os.path.realpath(REPOSITORY_DIR)]) == os.path.realpath(REPOSITORY_DIR)


def validate_vertex(config: PipelineConfig, *, need_cron: bool = False) -> PipelineConfig:
    """Checks the settings a Vertex AI run needs; raises ConfigError naming the first bad flag.

    Runs only for `segpipe vertex ...` (after `validate`): the vertex section must be complete
    and well-formed, and every location the components read or write must be reachable from
    Google Cloud (gs://, or a file inside this repository, which the pipeline image holds).
    need_cron: `segpipe vertex schedule` also needs --cron.
    """
    vertex = config.vertex
    problems: List[Tuple[str, Optional[str]]] = [
        ("project", None if re.fullmatch(_PROJECT_RE, vertex.project) else
         "must be a Google Cloud project ID (6-30 lowercase letters, digits and '-')"),
        ("region", None if re.fullmatch(_REGION_RE, vertex.region) else
         "must be a Google Cloud region such as us-central1 or europe-west4"),
        ("gcs_root", None if re.fullmatch(_GCS_RE, vertex.gcs_root) else
         "must be a Cloud Storage location gs://BUCKET[/PATH], the bucket named by 3-63 "
         "lowercase letters, digits, '-', '_' and '.'"),
        ("image_uri", None if re.fullmatch(_IMAGE_RE, vertex.image_uri) else
         "must be the pipeline image's URI, REGISTRY/PATH[:TAG|@sha256:DIGEST], "
         "e.g. us-central1-docker.pkg.dev/PROJECT/REPO/segpipe:1"),
        ("machine_type", None if re.fullmatch(_MACHINE_RE, vertex.machine_type) else
         "must be a Compute Engine machine type such as n1-standard-8"),
        ("accelerator_type", None if vertex.accelerator_type in ACCELERATOR_TYPES else
         f"must be one of {', '.join(ACCELERATOR_TYPES)}"),
        ("accelerator_count", None if vertex.accelerator_count >= 1 else "must be >= 1"),
        ("replica_count", None if vertex.replica_count >= 1 else "must be >= 1"),
        ("dataflow_machine_type", None if re.fullmatch(_MACHINE_RE, vertex.dataflow_machine_type)
         else "must be a Compute Engine machine type such as n1-standard-4"),
        ("dataflow_max_workers", None if vertex.dataflow_max_workers >= 1 else "must be >= 1"),
        ("endpoint_name", None if not vertex.endpoint_name
         or re.fullmatch(_ENDPOINT_RE, vertex.endpoint_name) else
         "must be empty or letters, digits, '_' and '-' (at most 128)"),
        ("serving_machine_type", None if not vertex.endpoint_name
         or re.fullmatch(_MACHINE_RE, vertex.serving_machine_type) else
         "must be a Compute Engine machine type such as n1-standard-4"),
        ("serving_image", None if not vertex.endpoint_name
         or re.fullmatch(_IMAGE_RE, vertex.serving_image) else
         "must be a prediction container image URI"),
        ("service_account", None if not vertex.service_account
         or re.fullmatch(_SERVICE_ACCOUNT_RE, vertex.service_account) else
         "must be empty or a service account e-mail, NAME@PROJECT.iam.gserviceaccount.com"),
        ("schedule_cron", ("is required by `segpipe vertex schedule`, e.g. --cron '0 3 * * *'"
                           if need_cron and not vertex.schedule_cron.strip() else
                           _cron_problem(vertex.schedule_cron) if vertex.schedule_cron.strip()
                           else None)),
    ]
    for name, problem in problems:
        if problem:
            value = getattr(vertex, name)
            required = "is required and " if value == "" and name != "schedule_cron" else ""
            raise ConfigError(f"{_vertex_where(name)}: {required}{problem}; got {value!r}")

    # Settings of the other sections that name places Vertex's machines cannot see.
    def bad(flag: str, problem: str, value: Any) -> ConfigError:
        return ConfigError(f"{flag}: on Vertex AI, {problem}; got {value!r}")

    if config.dataset.data_dir:
        raise bad("--data-dir", "this machine's directories are out of reach: leave it empty so "
                  "that TFDS downloads the dataset into --gcs-root", config.dataset.data_dir)
    for flag, value in (("--tfds-dir", config.dataset.tfds_dir),
                        ("--serving-root", config.push.serving_root),
                        ("--warm-start", config.training.warm_start)):
        if value and not re.fullmatch(_GCS_RE, value):
            raise bad(flag, "it must be empty or a gs:// location", value)
    if vertex.endpoint_name and config.push.serving_root:
        raise bad("--serving-root", f"models go to the endpoint {vertex.endpoint_name!r} "
                  f"(--endpoint-name), not to a serving root: set only one", config.push.serving_root)
    weights = config.model.encoder_weights
    if weights not in ("imagenet", "none") and not in_repository(weights):
        raise bad("--encoder-weights", "it must be imagenet, none or a file inside this "
                  "repository (the pipeline image holds the repository)", weights)
    if config.schema.mode == "import" and not in_repository(config.schema.schema_file):
        raise bad("--schema-file", "it must be a file inside this repository (the pipeline image "
                  "holds the repository)", config.schema.schema_file)
    return config


def load_file(path: str) -> Dict[str, Dict[str, Any]]:
    """Reads a YAML or JSON config file into {section: {key: value}}, checking the names."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except OSError as error:
        raise ConfigError(f"--config: cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--config: {path} is not valid YAML/JSON: {error}") from None
    known = dict(sections())
    if not isinstance(raw, dict):
        raise ConfigError(f"--config: {path} must hold a mapping of sections {sorted(known)}")
    for section_name, values in raw.items():
        if section_name not in known:
            raise ConfigError(f"--config: {path} has an unknown section {section_name!r}; "
                              f"accepted: {', '.join(known)}")
        fields = {f.name for f in dataclasses.fields(known[section_name])}
        if not isinstance(values, dict) or set(values) - fields:
            unknown = sorted(set(values) - fields) if isinstance(values, dict) else values
            raise ConfigError(f"--config: {path} section {section_name!r} has unknown keys "
                              f"{unknown}; accepted: {', '.join(sorted(fields))}")
    return raw


def build_config(file_values: Optional[Dict[str, Dict[str, Any]]] = None,
                 overrides: Optional[Dict[Tuple[str, str], Any]] = None) -> PipelineConfig:
    """Defaults, then the config file's values, then flag overrides; validated."""
    config = PipelineConfig()
    layers = [((s, k), v) for s, values in (file_values or {}).items() for k, v in values.items()]
    layers += list((overrides or {}).items())
    kinds = {(s, f.name): (f, kind) for s, f, kind in settings()}
    for (section_name, key), value in layers:
        field, kind = kinds[(section_name, key)]
        setattr(getattr(config, section_name), key, coerce(value, kind, _where(section_name, field)))
    return validate(config)
