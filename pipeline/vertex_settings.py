"""The Vertex AI section of the settings, and the rules a Vertex run must satisfy.

Only `segpipe vertex ...` shows these flags and checks these rules (`validate_vertex`), so a
local run needs none of them; a config file shared by both may hold the section anyway.
"""

import os
import re
from typing import Any, List, Optional, Tuple

from pydantic import Field

from pipeline.errors import ConfigError
from trainer.settings import Section, flag, flag_of

# Accelerators Vertex AI custom training offers (NONE: CPU-only workers).
ACCELERATOR_TYPES = (
    "NONE",
    "NVIDIA_TESLA_T4",
    "NVIDIA_L4",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_H100_80GB",
)
REPOSITORY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class VertexSettings(Section):
    """Where and how `segpipe vertex ...` runs the pipeline on Vertex AI Pipelines."""

    project: str = Field(
        "",
        description="Google Cloud project that runs the pipeline.",
        json_schema_extra=flag("--vertex-project", "PROJECT"),
    )
    region: str = Field(
        "us-central1",
        description="Region of the pipeline, the training job, Dataflow and the endpoint.",
        json_schema_extra=flag("--vertex-region", "REGION"),
    )
    gcs_root: str = Field(
        "",
        description="gs://BUCKET/PATH under which the pipeline root, Beam "
        "temp and staging files, the TFDS copy, the serving root and the run "
        "exports live.",
        json_schema_extra=flag("--gcs-root", "gs://BUCKET/PATH"),
    )
    image_uri: str = Field(
        "",
        description="Pipeline image built from the Dockerfile, e.g. "
        "us-central1-docker.pkg.dev/PROJECT/REPO/segpipe:TAG.",
        json_schema_extra=flag("--image-uri", "IMAGE"),
    )
    machine_type: str = Field(
        "n1-standard-8",
        description="Machine type of each training worker.",
        json_schema_extra=flag("--trainer-machine-type", "TYPE"),
    )
    accelerator_type: str = Field(
        "NVIDIA_TESLA_T4",
        description=f"GPU of each training worker: {', '.join(ACCELERATOR_TYPES)}.",
        json_schema_extra=flag("--accelerator-type", "TYPE"),
    )
    accelerator_count: int = Field(
        1, description="GPUs per training worker.", json_schema_extra=flag("--accelerator-count", "N")
    )
    replica_count: int = Field(
        1,
        description="Training workers; more than 1 trains with MultiWorkerMirroredStrategy.",
        json_schema_extra=flag("--replica-count", "N"),
    )
    tune_parallel_trials: int = Field(
        1,
        ge=1,
        le=100,
        description="With --tune yes: trials run at once, each on its own tuning worker (a machine "
        "like a training worker: --trainer-machine-type with the same GPUs).",
        json_schema_extra=flag("--tune-parallel-trials", "N"),
    )
    use_dataflow: bool = Field(
        False,
        description="Run ExampleGen, StatisticsGen, Transform and Evaluator on Dataflow.",
        json_schema_extra=flag("--use-dataflow", "yes|no"),
    )
    dataflow_machine_type: str = Field(
        "n1-standard-4",
        description="Machine type of the Dataflow workers.",
        json_schema_extra=flag("--dataflow-machine-type", "TYPE"),
    )
    dataflow_max_workers: int = Field(
        10,
        description="Most Dataflow workers per Beam job.",
        json_schema_extra=flag("--dataflow-max-workers", "N"),
    )
    endpoint_name: str = Field(
        "",
        description="Vertex AI endpoint that blessed models are "
        "deployed to; empty = push them to the serving root on GCS instead.",
        json_schema_extra=flag("--endpoint-name", "NAME"),
    )
    serving_machine_type: str = Field(
        "n1-standard-4",
        description="Machine type of the endpoint's replicas.",
        json_schema_extra=flag("--serving-machine-type", "TYPE"),
    )
    serving_image: str = Field(
        "",
        description="Prediction container of the endpoint's model; empty = Vertex AI's prebuilt "
        "TensorFlow container for the TensorFlow version that exports the model.",
        json_schema_extra=flag("--serving-image", "IMAGE"),
    )
    service_account: str = Field(
        "",
        description="Service account of the pipeline run (and its "
        "training job and Dataflow workers); empty = the project's default.",
        json_schema_extra=flag("--service-account", "EMAIL"),
    )
    schedule_cron: str = Field(
        "",
        description="Cron schedule of `segpipe vertex schedule`, e.g. "
        "'0 3 * * *' (may start with TZ=Area/City).",
        json_schema_extra=flag("--cron", "CRON"),
    )


# What validate_vertex accepts. Project IDs may carry a domain ("example.com:my-project").
_PROJECT_RE = r"([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]"
_REGION_RE = r"[a-z]+-[a-z]+[0-9]+"
GCS_RE = r"gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^\s]*)?"
_IMAGE_RE = r"[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})?"
_MACHINE_RE = r"[a-z][a-z0-9]*(-[a-z0-9]+)+"
_ENDPOINT_RE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
_SERVICE_ACCOUNT_RE = r"[^@\s]+@[^@\s]+\.gserviceaccount\.com"
_CRON_FIELD_RE = r"[0-9A-Za-z*?/,-]+"


def _where(name: str) -> str:
    return f"{flag_of(VertexSettings.model_fields[name])['flag']} (config key vertex.{name})"


def _cron_problem(cron: str) -> Optional[str]:
    fields = cron.split()
    if fields and re.fullmatch(r"(CRON_)?TZ=[A-Za-z0-9_+/-]+", fields[0]):
        fields = fields[1:]
    if len(fields) != 5 or not all(re.fullmatch(_CRON_FIELD_RE, f) for f in fields):
        return (
            "must be a cron schedule of 5 fields (minute hour day-of-month month day-of-week), "
            "optionally after TZ=Area/City, e.g. '0 3 * * *'"
        )
    return None


def in_repository(path: str) -> bool:
    """Whether a local file lies inside this repository (so the pipeline image holds it too)."""
    return os.path.isfile(path) and os.path.commonpath(
        [os.path.realpath(path), os.path.realpath(REPOSITORY_DIR)]
    ) == os.path.realpath(REPOSITORY_DIR)


def validate_vertex(config: Any, *, need_cron: bool = False) -> Any:
    """Checks the settings a Vertex AI run needs; raises ConfigError naming the first bad flag.

    `config` is a pipeline.config.PipelineConfig (already valid for a local run): the vertex
    section must be complete and well-formed, and every location the components read or write
    must be reachable from Google Cloud (gs://, or a file inside this repository, which the
    pipeline image holds). need_cron: `segpipe vertex schedule` also needs --cron.
    """
    vertex = config.vertex
    problems: List[Tuple[str, Optional[str]]] = [
        (
            "project",
            None
            if re.fullmatch(_PROJECT_RE, vertex.project)
            else "must be a Google Cloud project ID (6-30 lowercase letters, digits and '-')",
        ),
        (
            "region",
            None
            if re.fullmatch(_REGION_RE, vertex.region)
            else "must be a Google Cloud region such as us-central1 or europe-west4",
        ),
        (
            "gcs_root",
            None
            if re.fullmatch(GCS_RE, vertex.gcs_root)
            else "must be a Cloud Storage location gs://BUCKET[/PATH], the bucket named by 3-63 "
            "lowercase letters, digits, '-', '_' and '.'",
        ),
        (
            "image_uri",
            None
            if re.fullmatch(_IMAGE_RE, vertex.image_uri)
            else "must be the pipeline image's URI, REGISTRY/PATH[:TAG|@sha256:DIGEST], "
            "e.g. us-central1-docker.pkg.dev/PROJECT/REPO/segpipe:1",
        ),
        (
            "machine_type",
            None
            if re.fullmatch(_MACHINE_RE, vertex.machine_type)
            else "must be a Compute Engine machine type such as n1-standard-8",
        ),
        (
            "accelerator_type",
            None
            if vertex.accelerator_type in ACCELERATOR_TYPES
            else f"must be one of {', '.join(ACCELERATOR_TYPES)}",
        ),
        ("accelerator_count", None if vertex.accelerator_count >= 1 else "must be >= 1"),
        ("replica_count", None if vertex.replica_count >= 1 else "must be >= 1"),
        (
            "dataflow_machine_type",
            None
            if re.fullmatch(_MACHINE_RE, vertex.dataflow_machine_type)
            else "must be a Compute Engine machine type such as n1-standard-4",
        ),
        ("dataflow_max_workers", None if vertex.dataflow_max_workers >= 1 else "must be >= 1"),
        (
            "endpoint_name",
            None
            if not vertex.endpoint_name or re.fullmatch(_ENDPOINT_RE, vertex.endpoint_name)
            else "must be empty or letters, digits, '_' and '-' (at most 128)",
        ),
        (
            "serving_machine_type",
            None
            if not vertex.endpoint_name or re.fullmatch(_MACHINE_RE, vertex.serving_machine_type)
            else "must be a Compute Engine machine type such as n1-standard-4",
        ),
        (
            "serving_image",
            None
            if not vertex.endpoint_name
            or not vertex.serving_image
            or re.fullmatch(_IMAGE_RE, vertex.serving_image)
            else "must be empty or a prediction container image URI",
        ),
        (
            "service_account",
            None
            if not vertex.service_account or re.fullmatch(_SERVICE_ACCOUNT_RE, vertex.service_account)
            else "must be empty or a service account e-mail, NAME@PROJECT.iam.gserviceaccount.com",
        ),
        (
            "schedule_cron",
            (
                "is required by `segpipe vertex schedule`, e.g. --cron '0 3 * * *'"
                if need_cron and not vertex.schedule_cron.strip()
                else _cron_problem(vertex.schedule_cron)
                if vertex.schedule_cron.strip()
                else None
            ),
        ),
    ]
    for name, problem in problems:
        if problem:
            value = getattr(vertex, name)
            required = "is required and " if value == "" and name != "schedule_cron" else ""
            raise ConfigError(f"{_where(name)}: {required}{problem}; got {value!r}")

    tuning = getattr(config, "tuning", None)
    if tuning is not None and tuning.enabled and vertex.tune_parallel_trials > tuning.trials:
        raise ConfigError(
            f"{_where('tune_parallel_trials')}: at most --tune-trials ({tuning.trials}) trials can "
            f"run at once; more workers would only wait; got {vertex.tune_parallel_trials}"
        )

    # Settings of the other sections that name places Vertex's machines cannot see.
    def bad(flag_name: str, problem: str, value: Any) -> ConfigError:
        return ConfigError(f"{flag_name}: on Vertex AI, {problem}; got {value!r}")

    if config.dataset.data_dir and not re.fullmatch(GCS_RE, config.dataset.data_dir):
        raise bad(
            "--data-dir",
            "this machine's directories are out of reach: give the raw files' gs:// location "
            "(e.g. gs://BUCKET/pets/span-{SPAN}), or leave it empty so that TFDS downloads the "
            "dataset into --gcs-root",
            config.dataset.data_dir,
        )
    for flag_name, value in (
        ("--tfds-dir", config.dataset.tfds_dir),
        ("--serving-root", config.push.serving_root),
        ("--warm-start", config.training.warm_start),
    ):
        if value and not re.fullmatch(GCS_RE, value):
            raise bad(flag_name, "it must be empty or a gs:// location", value)
    if vertex.endpoint_name and config.push.serving_root:
        raise bad(
            "--serving-root",
            f"models go to the endpoint {vertex.endpoint_name!r} "
            f"(--endpoint-name), not to a serving root: set only one",
            config.push.serving_root,
        )
    weights = config.model.encoder_weights
    if weights not in ("imagenet", "none") and not in_repository(weights):
        raise bad(
            "--encoder-weights",
            "it must be imagenet, none or a file inside this "
            "repository (the pipeline image holds the repository)",
            weights,
        )
    if config.data_schema.mode == "import" and not in_repository(config.schema_file):
        raise bad(
            "--schema-file",
            "it must be a file inside this repository (the pipeline image holds the repository)",
            config.schema_file,
        )
    return config
