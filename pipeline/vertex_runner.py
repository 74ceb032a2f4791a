"""Compiles the pipeline for Vertex AI Pipelines: the same DAG, as a pipeline JSON file.

`segpipe vertex compile|submit|schedule` call `compile_pipeline(config, path)`, which builds the
DAG with pipeline/pipeline.py's `create_components` and writes it with TFX's
KubeflowV2DagRunner. Every container runs the pipeline image (--image-uri, built from the
Dockerfile), and these parts differ from the local run:

- Locations: the pipeline root (where RunReport's summary and report live, in its artifact),
  the TFDS copy and the serving root live under --gcs-root (`VertexPipelineConfig`); files of
  this repository that a component reads (the imported schema, an encoder weights file) are
  named by their path in the image.
- Trainer: `tfx.extensions.google_cloud_ai_platform.Trainer`, which starts a Vertex AI custom
  training job on --replica-count workers of --trainer-machine-type with --accelerator-count
  --accelerator-type GPUs, all running the pipeline image. Its custom_config is the local
  Trainer's (model, training, dataset) plus the ai_platform_* keys: the executor serialises all
  of it, unchanged, into the job's `run_executor` command, and the stock GenericExecutor in the
  job hands it to `trainer.task.run_fn` as `fn_args.custom_config`. With several workers
  Vertex sets TF_CONFIG (pool 0 = "chief", pool 1 = "worker") and trainer/distribution.py
  picks MultiWorkerMirroredStrategy.
- Tuner (with --tune yes): `tfx.extensions.google_cloud_ai_platform.Tuner`, which starts one
  Vertex AI custom job of --tune-parallel-trials machines, each a training worker's
  (--trainer-machine-type, --accelerator-count --accelerator-type GPUs, the pipeline image). The
  first also runs KerasTuner's chief oracle; every machine asks it for trials and runs them
  one at a time (trainer/tuning.py, on its own GPUs: TF_CONFIG is ignored there). The custom
  config is the local Tuner's plus the ai_platform_* keys, its tune_args carry
  num_parallel_trials. With --reuse-tuning, the Resolver (LatestArtifactStrategy, which
  KubeflowV2 compiles) finds the latest search in Vertex's metadata store.
- Beam components (ExampleGen, StatisticsGen, Transform, Evaluator): with --use-dataflow yes
  they run on Dataflow with the pipeline image as the workers' SDK container
  (--sdk_container_image), so the workers have this package and its pinned dependencies
  without staging a setup.py; otherwise the DirectRunner in the component's container.
- Pusher: with --endpoint-name, `tfx.extensions.google_cloud_ai_platform.Pusher` uploads the
  blessed model and deploys it to that Vertex AI endpoint, served by --serving-image or else
  by Vertex AI's prebuilt TensorFlow container for the TensorFlow version that exported the
  model (`serving_image`); without, TFX's stock Pusher copies
  it to SERVING_ROOT/MODEL_NAME/<unix time> on GCS through tf.io.gfile. The local versioned
  Pusher (atomic renames, --keep-versions, warmup requests) needs a POSIX filesystem, so
  Vertex runs never use it.

- ExampleGen: TfdsExampleGen is a FileBasedExampleGen, so KubeflowV2's compiler gives its step
  TFX's file-based driver as the lifecycle pre-cache-check hook (it does so for no other kind of
  component). With --data-dir gs://BUCKET/pets/span-{SPAN} that driver globs the spans' list
  files on GCS before the cache is checked, and records the latest span and its fingerprint:
  a scheduled run whose span is unchanged is served from the cache, a new span runs
  (components/tfds_example_gen/spans.py). Without --data-dir, TFDS downloads into --gcs-root
  and the dataset's name and version are the cache key.
"""

import importlib.metadata
import os
import posixpath
from typing import Any, Dict, List, Tuple

from tfx import v1 as tfx
from tfx.dsl.components.base.base_node import BaseNode
from tfx.extensions.google_cloud_ai_platform import constants as aip_constants
from tfx.extensions.google_cloud_ai_platform.trainer import executor as aip_trainer_executor
from tfx.extensions.google_cloud_ai_platform.tuner import executor as aip_tuner_executor
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.utils import import_utils

from pipeline import vertex_jobs
from pipeline.config import BEAM_WORKER_PLUGIN, PipelineConfig
from pipeline.errors import ConfigError
from pipeline.pipeline import PusherFactory, TrainerFactory, TunerFactory, create_components
from pipeline.vertex_settings import REPOSITORY_DIR, validate_vertex
from trainer.settings import ENCODER_WEIGHTS

# Where the Dockerfile copies this repository (its WORKDIR).
IMAGE_REPOSITORY_DIR = "/pipeline"

ENABLE_VERTEX_KEY = aip_constants.ENABLE_VERTEX_KEY  # ai_platform_enable_vertex
VERTEX_REGION_KEY = aip_constants.VERTEX_REGION_KEY  # ai_platform_vertex_region
TRAINING_ARGS_KEY = aip_trainer_executor.TRAINING_ARGS_KEY  # ai_platform_training_args
TUNING_ARGS_KEY = aip_tuner_executor.TUNING_ARGS_KEY  # ai_platform_tuning_args
SERVING_ARGS_KEY = aip_constants.SERVING_ARGS_KEY  # ai_platform_serving_args
SERVING_IMAGE_KEY = aip_constants.VERTEX_CONTAINER_IMAGE_URI_KEY  # ai_platform_vertex_container_image_uri


class VertexCompileError(RuntimeError):
    """The DAG cannot be compiled into a pipeline that would run on Vertex AI."""


class VertexPipelineConfig(PipelineConfig):
    """The same settings, with every location a component reads or writes reachable on Vertex.

    The derived paths of PipelineConfig are local (made absolute on this machine); here they are
    under --gcs-root. `beam_pipeline_args` are Dataflow's or the DirectRunner's.
    """

    @classmethod
    def of(cls, config: PipelineConfig) -> "VertexPipelineConfig":
        """A copy of config for Vertex; repository files are renamed to their path in the image."""
        result = cls.model_validate(config.to_dict())
        if result.data_schema.mode == "import":
            result.data_schema.schema_file = image_path(config.schema_file)
        if result.model.encoder_weights not in ENCODER_WEIGHTS:
            # The image's path does not exist on this machine: copy without re-checking it.
            result.model = result.model.model_copy(
                update={"encoder_weights": image_path(result.model.encoder_weights)}
            )
        return result

    @property
    def pipeline_root(self) -> str:
        return vertex_jobs.pipeline_root(self)

    @property
    def data_quality_dir(self) -> str:
        return vertex_jobs.gcs_location(self, vertex_jobs.DATA_QUALITY_DIR)

    @property
    def tfds_dir(self) -> str:
        return self.dataset.tfds_dir or vertex_jobs.gcs_location(self, vertex_jobs.TFDS_DIR)

    @property
    def serving_root(self) -> str:
        return self.push.serving_root or vertex_jobs.gcs_location(self, vertex_jobs.SERVING_DIR)

    @property
    def temp_location(self) -> str:
        return vertex_jobs.gcs_location(self, vertex_jobs.TEMP_DIR)

    @property
    def staging_location(self) -> str:
        return vertex_jobs.gcs_location(self, vertex_jobs.STAGING_DIR)

    def beam_pipeline_args(self) -> List[str]:
        """Dataflow with the pipeline image on the workers, or the local DirectRunner's; then --beam-arg."""
        vertex = self.vertex
        if not vertex.use_dataflow:
            return super().beam_pipeline_args()
        args = [
            "--runner=DataflowRunner",
            f"--project={vertex.project}",
            f"--region={vertex.region}",
            f"--temp_location={self.temp_location}",
            f"--staging_location={self.staging_location}",
            f"--sdk_container_image={vertex.image_uri}",
            f"--machine_type={vertex.dataflow_machine_type}",
            f"--max_num_workers={vertex.dataflow_max_workers}",
            f"--beam_plugin={BEAM_WORKER_PLUGIN}",
        ]
        if vertex.service_account:
            args.append(f"--service_account_email={vertex.service_account}")
        return [*args, *self.beam.extra_args]


def image_path(local_path: str) -> str:
    """A file of this repository as the pipeline image names it (IMAGE_REPOSITORY_DIR/...)."""
    relative = os.path.relpath(os.path.realpath(local_path), os.path.realpath(REPOSITORY_DIR))
    return posixpath.join(IMAGE_REPOSITORY_DIR, *relative.split(os.sep))


def worker_pool_specs(config: PipelineConfig) -> List[Dict[str, Any]]:
    """Vertex AI custom-job worker pools: the chief, then (with replicas > 1) the other workers."""
    vertex = config.vertex
    machine_spec: Dict[str, Any] = {"machine_type": vertex.machine_type}
    if vertex.accelerator_type != "NONE":
        machine_spec.update(
            accelerator_type=vertex.accelerator_type, accelerator_count=vertex.accelerator_count
        )
    pools = [
        {"machine_spec": machine_spec, "replica_count": 1, "container_spec": {"image_uri": vertex.image_uri}}
    ]
    if vertex.replica_count > 1:
        pools.append(
            {
                "machine_spec": dict(machine_spec),
                "replica_count": vertex.replica_count - 1,
                "container_spec": {"image_uri": vertex.image_uri},
            }
        )
    return pools


def training_custom_config(config: PipelineConfig) -> Dict[str, Any]:
    """The ai_platform_* keys of the Vertex Trainer's custom_config."""
    training_args: Dict[str, Any] = {
        "project": config.vertex.project,
        "worker_pool_specs": worker_pool_specs(config),
    }
    if config.vertex.service_account:
        training_args["service_account"] = config.vertex.service_account
    return {
        ENABLE_VERTEX_KEY: True,
        VERTEX_REGION_KEY: config.vertex.region,
        TRAINING_ARGS_KEY: training_args,
    }


def tuning_custom_config(config: PipelineConfig) -> Dict[str, Any]:
    """The ai_platform_* keys of the Vertex Tuner's custom_config: one Vertex AI custom job whose
    --tune-parallel-trials machines (pool 0 the chief, pool 1 the rest) each run trials; every
    machine is a training worker's (type and GPUs), running the pipeline image."""
    chief, *_ = worker_pool_specs(config)
    pools = [chief]
    if config.vertex.tune_parallel_trials > 1:
        pools.append({**chief, "replica_count": config.vertex.tune_parallel_trials - 1})
    job_spec: Dict[str, Any] = {"worker_pool_specs": pools}
    if config.vertex.service_account:
        job_spec["service_account"] = config.vertex.service_account
    return {
        ENABLE_VERTEX_KEY: True,
        VERTEX_REGION_KEY: config.vertex.region,
        # A CustomJob ({"job_spec": ...}): the extension sizes pool 1 from num_parallel_trials there.
        TUNING_ARGS_KEY: {"project": config.vertex.project, "job_spec": job_spec},
    }


def vertex_tuner(config: PipelineConfig) -> TunerFactory:
    """Makes the Tuner a Vertex AI job of parallel tuning workers (KerasTuner's chief oracle on
    the first); the search's settings stay in custom_config."""
    vertex_keys = tuning_custom_config(config)

    def make(*, custom_config: Dict[str, Any], **kwargs: Any) -> BaseNode:
        clash = sorted(set(custom_config) & set(vertex_keys))
        if clash:
            raise VertexCompileError(f"Tuner custom_config keys {clash} clash with Vertex AI's")
        return tfx.extensions.google_cloud_ai_platform.Tuner(
            custom_config={**custom_config, **vertex_keys},
            tune_args=tfx.proto.TuneArgs(num_parallel_trials=config.vertex.tune_parallel_trials),
            **kwargs,
        )

    return make


def vertex_trainer(config: PipelineConfig) -> TrainerFactory:
    """Makes the Trainer a Vertex AI training job; the run_fn settings stay in custom_config."""
    vertex_keys = training_custom_config(config)

    def make(*, custom_config: Dict[str, Any], **kwargs: Any) -> BaseNode:
        clash = sorted(set(custom_config) & set(vertex_keys))
        if clash:
            raise VertexCompileError(f"Trainer custom_config keys {clash} clash with Vertex AI's")
        return tfx.extensions.google_cloud_ai_platform.Trainer(
            custom_config={**custom_config, **vertex_keys}, **kwargs
        )

    return make


# Vertex AI's prebuilt prediction containers (TF Serving) stop at TensorFlow 2.15 (its list, and
# aiplatform's, which serving_image reads). A SavedModel loads in an older TensorFlow only if it
# uses no op or attribute that version lacks, so an older container stands in only where that
# was checked, by hand (the suite has one TensorFlow): the Trainer's U-Net export with all three
# signatures (tests/helpers.export_test_model), written by TensorFlow 2.16.2, loads and answers
# identically in TensorFlow 2.15.1, through tf.saved_model.load and through TF1's session
# loader, which checks every node against the op registry as TF Serving's loader does.
SERVES_OLDER_EXPORTS = {"2.16": "2.15"}


def exported_tf_version() -> str:
    """MAJOR.MINOR of the TensorFlow that exports the models: this machine's, as the pipeline
    image installs the same constraints.txt."""
    return ".".join(importlib.metadata.version("tensorflow").split(".")[:2])


def serving_image(region: str, tf_version: str) -> str:
    """Vertex AI's prebuilt CPU prediction container for models exported by tf_version, in the
    Artifact Registry multi-region nearest to region (each holds every image; us by default).

    ConfigError, naming --serving-image, when there is none for that version nor a checked
    older one.
    """
    from google.cloud.aiplatform import helpers  # a TFX dependency; loads in seconds, so only here

    multi_region = region if region.startswith(("us", "europe", "asia")) else "us"
    for version in filter(None, (tf_version, SERVES_OLDER_EXPORTS.get(tf_version))):
        try:
            return helpers.get_prebuilt_prediction_container_uri("tensorflow", version, multi_region, "cpu")
        except ValueError:
            continue
    raise ConfigError(
        f"--serving-image (config key vertex.serving_image): Vertex AI has no prebuilt prediction "
        f"container known to serve models exported by TensorFlow {tf_version}; give a container "
        f"that serves TensorFlow {tf_version} SavedModels"
    )


def serving_custom_config(config: PipelineConfig) -> Dict[str, Any]:
    """The Vertex endpoint Pusher's custom_config (the region is ai_platform_vertex_region:
    TFX deprecates `regions` in the serving args for Vertex)."""
    vertex = config.vertex
    return {
        ENABLE_VERTEX_KEY: True,
        VERTEX_REGION_KEY: vertex.region,
        SERVING_IMAGE_KEY: vertex.serving_image or serving_image(vertex.region, exported_tf_version()),
        SERVING_ARGS_KEY: {
            "project_id": vertex.project,
            "endpoint_name": vertex.endpoint_name,
            "machine_type": vertex.serving_machine_type,
        },
    }


def vertex_pusher(config: PipelineConfig) -> PusherFactory:
    """The endpoint Pusher with --endpoint-name, else TFX's Pusher to the GCS serving root."""

    def make(model: tfx.dsl.Channel, blessing: tfx.dsl.Channel) -> BaseNode:
        if config.vertex.endpoint_name:
            return tfx.extensions.google_cloud_ai_platform.Pusher(
                model=model, model_blessing=blessing, custom_config=serving_custom_config(config)
            )
        return tfx.components.Pusher(
            model=model,
            model_blessing=blessing,
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(
                    base_directory=posixpath.join(config.serving_root, config.push.model_name)
                )
            ),
        )

    return make


def check_artifact_types(components: List[BaseNode]) -> None:
    """Raises VertexCompileError unless every custom output artifact type can run on Vertex.

    KubeflowV2 writes a custom type's TYPE_NAME as its schema title, which must read
    'module.ClassName' (one dot), and the container imports the class by that title
    (tensorflow/tfx#6102): a name that compiles but does not import fails the step at run time.
    """
    for node in components:
        for key, channel in node.outputs.items():
            artifact_type = channel.type
            if compiler_utils.get_artifact_title(artifact_type) != "tfx.Artifact":
                continue  # a first-party TFX type, known to the container by its own title
            name = artifact_type.TYPE_NAME
            problem = None
            try:
                compiler_utils.get_artifact_schema(artifact_type)
                if import_utils.import_class_by_path(name) is not artifact_type:
                    problem = f"{name} imports another class"
            except ValueError:
                problem = "KubeflowV2 needs a schema title 'module.ClassName' (one dot)"
            except ImportError:
                problem = f"the container cannot import it by that name ({name})"
            if problem:
                raise VertexCompileError(
                    f"{node.id}.outputs[{key!r}]: artifact type {name!r} cannot run on Vertex AI: "
                    f"{problem}. Its TYPE_NAME must be an import path 'package.ClassName' whose "
                    f"package exports the class, e.g. 'components.{artifact_type.__name__}'."
                )


def create_vertex_pipeline(config: PipelineConfig) -> Tuple[tfx.dsl.Pipeline, VertexPipelineConfig]:
    """The pipeline's DAG with the Vertex Trainer, Pusher, locations and Beam arguments."""
    vertex_config = VertexPipelineConfig.of(config)
    components = create_components(
        vertex_config,
        trainer_factory=vertex_trainer(vertex_config),
        pusher_factory=vertex_pusher(vertex_config),
        tuner_factory=vertex_tuner(vertex_config),
    )
    check_artifact_types(components)
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=vertex_config.output.pipeline_name,
        pipeline_root=vertex_config.pipeline_root,
        components=components,
        enable_cache=True,
        beam_pipeline_args=vertex_config.beam_pipeline_args(),
    )
    return pipeline, vertex_config


def default_output_json(config: PipelineConfig) -> str:
    """OUTPUT/vertex/PIPELINE_NAME.json on this machine."""
    return os.path.join(config.output_dir, "vertex", f"{config.output.pipeline_name}.json")


def compile_pipeline(config: PipelineConfig, output_json: str) -> str:
    """Checks the Vertex settings, writes the pipeline JSON to output_json, returns its path.

    Raises ConfigError (naming the flag) for bad or missing Vertex settings, VertexCompileError
    for a DAG that would not run there.
    """
    validate_vertex(config)
    pipeline, _ = create_vertex_pipeline(config)
    output_json = os.path.abspath(output_json)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=config.vertex.image_uri
        ),
        output_dir=os.path.dirname(output_json),
        output_filename=os.path.basename(output_json),
    )
    runner.run(pipeline, write_out=True)
    return output_json
