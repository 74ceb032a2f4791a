"""Vertex AI Pipelines jobs: submit a compiled pipeline once, or on a cron schedule.

Everything that talks to Google Cloud goes through one `aiplatform` client: the
`google.cloud.aiplatform` module by default (imported only when a job is made, so nothing else
needs it installed), or any object with the same `PipelineJob` — tests pass a fake and never
reach the network. The GCS layout under --gcs-root is defined here too, as plain strings, so the
compiler (pipeline/vertex_runner.py) and the jobs agree on where the pipeline root is.
"""

import contextlib
import importlib
from typing import Any, Iterator, Optional

from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError

# Under --gcs-root: what Vertex writes per run, Beam's scratch space, the TFDS copy, the
# serving root (when no endpoint is set) and the report of a failed data-quality gate.
PIPELINE_ROOT_DIR = "pipeline_root"
TEMP_DIR = "tmp"
STAGING_DIR = "staging"
TFDS_DIR = "tfds"
SERVING_DIR = "serving"
DATA_QUALITY_DIR = "data_quality"


def gcs_location(config: PipelineConfig, *parts: str) -> str:
    """A location under --gcs-root, e.g. gs://bucket/segpipe/pipeline_root."""
    return "/".join([config.vertex.gcs_root.rstrip("/"), *parts])


def pipeline_root(config: PipelineConfig) -> str:
    """Where Vertex AI keeps every run's artifacts (the pipeline JSON's gcsOutputDirectory)."""
    return gcs_location(config, PIPELINE_ROOT_DIR)


def default_client() -> Any:
    """The real client: google.cloud.aiplatform (the `vertex` extra of setup.py)."""
    return importlib.import_module("google.cloud.aiplatform")


def pipeline_job(
    config: PipelineConfig, template_path: str, display_name: Optional[str] = None, aiplatform: Any = None
) -> Any:
    """An aiplatform.PipelineJob of the compiled template, cached steps reused, not yet started."""
    client = aiplatform if aiplatform is not None else default_client()
    return client.PipelineJob(
        display_name=display_name or config.output.pipeline_name,
        template_path=template_path,
        pipeline_root=pipeline_root(config),
        enable_caching=True,
        project=config.vertex.project,
        location=config.vertex.region,
    )


# What a person without Google Cloud credentials on this machine should run.
LOGIN_HINT = (
    "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account key file), then try again"
)


@contextlib.contextmanager
def google_credentials() -> Iterator[None]:
    """Turns google-auth's "no credentials" error into a ConfigError saying how to log in."""
    from google.auth import exceptions

    try:
        yield
    except exceptions.DefaultCredentialsError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "none found"
        raise ConfigError(
            f"no Google Cloud credentials on this machine ({first.rstrip('.')}): {LOGIN_HINT}"
        ) from None


def submit(
    config: PipelineConfig, template_path: str, display_name: Optional[str] = None, aiplatform: Any = None
) -> Any:
    """Starts one run of the compiled pipeline and returns its PipelineJob (without waiting)."""
    with google_credentials():
        job = pipeline_job(config, template_path, display_name, aiplatform)
        job.submit(service_account=config.vertex.service_account or None)
    return job


def schedule(
    config: PipelineConfig, template_path: str, display_name: Optional[str] = None, aiplatform: Any = None
) -> Any:
    """Creates a Vertex AI schedule that runs the compiled pipeline on --cron; returns it."""
    with google_credentials():
        job = pipeline_job(config, template_path, display_name, aiplatform)
        return job.create_schedule(
            cron=config.vertex.schedule_cron,
            display_name=display_name or config.output.pipeline_name,
            service_account=config.vertex.service_account or None,
        )
