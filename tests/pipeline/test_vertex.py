"""Vertex AI: the compiled pipeline JSON, the jobs made from it, and the vertex settings' checks.

Offline: nothing here reaches Google Cloud. The pipeline is compiled with TFX's
KubeflowV2DagRunner and read back as JSON; `submit` and `schedule` get a fake aiplatform; the
Trainer's way from the pipeline step to run_fn is replayed with the real TFX executors, with
only the call that would start the Vertex AI job replaced.
"""

import importlib
import json
import os
from pathlib import Path

import pytest
import tensorflow as tf
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.io import fileio
from tfx.extensions.google_cloud_ai_platform import runner as aip_runner
from tfx.extensions.google_cloud_ai_platform import training_clients
from tfx.extensions.google_cloud_ai_platform.trainer import executor as aip_trainer_executor
from tfx.extensions.google_cloud_ai_platform.tuner import executor as aip_tuner_executor
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.scripts import run_executor
from tfx.types import artifact, channel, standard_artifacts

from components.run_report import component as run_report
from pipeline import cli, flags, vertex_jobs, vertex_runner
from pipeline.config import build_config
from pipeline.errors import ConfigError
from pipeline.pipeline import create_components
from pipeline.vertex_settings import validate_vertex
from trainer.settings import SearchSettings, TrainerSettings

PROJECT = "my-project"
REGION = "europe-west4"
GCS_ROOT = "gs://segpipe-bucket/runs"
IMAGE = "europe-west4-docker.pkg.dev/my-project/segpipe/segpipe:test"
SERVICE_ACCOUNT = "pipelines@my-project.iam.gserviceaccount.com"
BEAM_COMPONENTS = ("TfdsExampleGen", "StatisticsGen", "Transform", "Evaluator")
DAG = (
    "TfdsExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "Transform",
    "Trainer",
    "latest_blessed_model_resolver",
    "Evaluator",
    "Pusher",
    "TfliteExport",
    "RunReport",
)
VERTEX_FLAGS = [
    "--vertex-project",
    PROJECT,
    "--vertex-region",
    REGION,
    "--gcs-root",
    GCS_ROOT,
    "--image-uri",
    IMAGE,
]


def _config(output_dir, **vertex):
    overrides = {
        ("output", "output_dir"): str(output_dir),
        ("vertex", "project"): PROJECT,
        ("vertex", "region"): REGION,
        ("vertex", "gcs_root"): GCS_ROOT,
        ("vertex", "image_uri"): IMAGE,
    }
    overrides.update({("vertex", key): value for key, value in vertex.items()})
    return build_config(overrides=overrides)


class Compiled:
    """A compiled pipeline JSON and handy views of it."""

    def __init__(self, path):
        self.path = path
        self.text = Path(path).read_text(encoding="utf-8")
        self.job = json.loads(self.text)
        self.spec = self.job["pipelineSpec"]
        self.tasks = self.spec["root"]["dag"]["tasks"]
        self.executors = self.spec["deploymentSpec"]["executors"]

    def parameters(self, task):
        return self.tasks[task]["inputs"]["parameters"]

    def parameter(self, task, name):
        return self.parameters(task)[name]["runtimeValue"]["constantValue"]

    def custom_config(self, task):
        return json.loads(self.parameter(task, "custom_config")["stringValue"])

    def container(self, task):
        return self.executors[self.tasks[task]["componentRef"]["name"] + "_executor"]["container"]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """Compiled by `segpipe vertex compile` with only the required vertex flags."""
    out = tmp_path_factory.mktemp("vertex-default")
    path = str(out / "pipeline.json")
    assert cli.main(["vertex", "compile", "--output", str(out), "--output-json", path, *VERTEX_FLAGS]) == 0
    return Compiled(path), _config(out)


@pytest.fixture(scope="module")
def cloud_run(tmp_path_factory):
    """Three V100 x2 workers, Dataflow, a Vertex endpoint and a service account."""
    out = tmp_path_factory.mktemp("vertex-cloud")
    config = _config(
        out,
        replica_count=3,
        accelerator_type="NVIDIA_TESLA_V100",
        accelerator_count=2,
        use_dataflow=True,
        endpoint_name="pets-segmenter",
        service_account=SERVICE_ACCOUNT,
        dataflow_max_workers=25,
    )
    return Compiled(vertex_runner.compile_pipeline(config, str(out / "cloud.json"))), config


def test_compile_prints_the_json_path_and_keeps_every_component(default_run, capsys, tmp_path):
    compiled, _ = default_run
    for name in DAG:
        assert any(task == name or task.startswith(name + "-") for task in compiled.tasks), name
    assert {
        "latest_blessed_model_resolver-model-blessing-resolver",
        "latest_blessed_model_resolver-model-resolver",
    } <= set(compiled.tasks)
    assert compiled.spec["pipelineInfo"]["name"] == "segpipe"
    # The printed path is the file written.
    path = str(tmp_path / "again.json")
    assert (
        cli.main(["vertex", "compile", "--output", str(tmp_path), "--output-json", path, *VERTEX_FLAGS]) == 0
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == path and os.path.isfile(path)


def test_one_replica_trains_on_one_gpu_worker(default_run):
    compiled, _ = default_run
    custom_config = compiled.custom_config("Trainer")
    assert custom_config[vertex_runner.ENABLE_VERTEX_KEY] is True
    assert custom_config[vertex_runner.VERTEX_REGION_KEY] == REGION
    training_args = custom_config[vertex_runner.TRAINING_ARGS_KEY]
    assert training_args == {
        "project": PROJECT,
        "worker_pool_specs": [
            {
                "machine_spec": {
                    "machine_type": "n1-standard-8",
                    "accelerator_type": "NVIDIA_TESLA_T4",
                    "accelerator_count": 1,
                },
                "replica_count": 1,
                "container_spec": {"image_uri": IMAGE},
            }
        ],
    }
    assert compiled.container("Trainer")["args"][1] == (
        "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    )


def test_three_replicas_are_a_chief_and_a_pool_of_two_workers(cloud_run):
    compiled, _ = cloud_run
    training_args = compiled.custom_config("Trainer")[vertex_runner.TRAINING_ARGS_KEY]
    machine = {
        "machine_type": "n1-standard-8",
        "accelerator_type": "NVIDIA_TESLA_V100",
        "accelerator_count": 2,
    }
    assert training_args["worker_pool_specs"] == [
        {"machine_spec": machine, "replica_count": 1, "container_spec": {"image_uri": IMAGE}},
        {"machine_spec": machine, "replica_count": 2, "container_spec": {"image_uri": IMAGE}},
    ]
    assert training_args["service_account"] == SERVICE_ACCOUNT


def test_cpu_workers_have_no_accelerator(tmp_path):
    config = _config(tmp_path, accelerator_type="NONE", machine_type="n1-highmem-16")
    assert vertex_runner.worker_pool_specs(config) == [
        {
            "machine_spec": {"machine_type": "n1-highmem-16"},
            "replica_count": 1,
            "container_spec": {"image_uri": IMAGE},
        }
    ]


def test_only_the_evaluator_reads_the_eval_split(default_run):
    compiled, _ = default_run
    splits = json.loads(compiled.parameter("Transform", "splits_config")["stringValue"])
    assert splits == {"analyze": ["train"], "transform": ["train", "validation"]}
    assert json.loads(compiled.parameter("Trainer", "train_args")["stringValue"]) == {"splits": ["train"]}
    assert json.loads(compiled.parameter("Trainer", "eval_args")["stringValue"]) == {"splits": ["validation"]}
    assert json.loads(compiled.parameter("Evaluator", "example_splits")["stringValue"]) == ["eval"]


def test_the_trainer_settings_sit_beside_the_vertex_keys(default_run):
    compiled, config = default_run
    custom_config = compiled.custom_config("Trainer")
    assert TrainerSettings.from_custom_config(custom_config) == TrainerSettings(
        model=config.model, training=config.training, dataset=config.dataset.name
    )
    assert compiled.parameter("Trainer", "run_fn") == {"stringValue": "trainer.task.run_fn"}


captured_custom_configs = globals().get("captured_custom_configs", [])


def capture_run_fn(fn_args):
    """Stands in for trainer.task.run_fn at the end of the Vertex AI training job."""
    captured_custom_configs.append(fn_args.custom_config)
    fileio.makedirs(fn_args.serving_model_dir)


def _artifact(kind, uri, **properties):
    result = kind()
    result.uri = str(uri)
    for name, value in properties.items():
        setattr(result, name, value)
    return result


def _step_parameters(compiled, task):
    """A compiled step's exec properties, as its container receives them."""
    return {
        name: value["runtimeValue"]["constantValue"]["stringValue"]
        for name, value in compiled.tasks[task]["inputs"]["parameters"].items()
    }


def _launched_job(monkeypatch, tmp_path, executor, exec_properties, split_names, outputs):
    """Runs a Vertex step's executor on stand-in input artifacts with the job launch faked; checks
    the custom job (project, region, a chief and 2 workers on the pipeline image) and returns the
    command its machines run."""
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text("")
    inputs = {
        "examples": [_artifact(standard_artifacts.Examples, tmp_path / "examples", split_names=split_names)],
        "transform_graph": [_artifact(standard_artifacts.TransformGraph, tmp_path / "graph")],
        "schema": [_artifact(standard_artifacts.Schema, tmp_path / "schema")],
    }
    launched = []
    monkeypatch.setattr(training_clients.VertexJobClient, "create_client", lambda self: None)
    monkeypatch.setattr(aip_runner, "_launch_cloud_training", lambda **kwargs: launched.append(kwargs))

    executor.Do(inputs, outputs, exec_properties)

    (launch,) = launched
    assert (launch["project"], launch["enable_vertex"], launch["vertex_region"]) == (PROJECT, True, REGION)
    pools = launch["training_job"]["job_spec"]["worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 2]
    assert {pool["container_spec"]["image_uri"] for pool in pools} == {IMAGE}
    command = pools[0]["container_spec"]["command"]
    assert command[:3] == ["python", "-m", "tfx.scripts.run_executor"]
    assert all(pool["container_spec"]["command"] == command for pool in pools)
    return command


def test_run_fn_gets_the_custom_config_on_vertex(cloud_run, tmp_path, monkeypatch):
    """The pipeline step's executor → the custom job's command → the stock Trainer → run_fn."""
    compiled, config = cloud_run
    exec_properties = _step_parameters(compiled, "Trainer")
    # The Trainer fits on train and picks its epoch on validation; the eval split is the Evaluator's.
    assert json.loads(exec_properties["train_args"]) == {"splits": ["train"]}
    assert json.loads(exec_properties["eval_args"]) == {"splits": ["validation"]}
    exec_properties["run_fn"] = f"{__name__}.capture_run_fn"
    outputs = {
        "model": [_artifact(standard_artifacts.Model, tmp_path / "model")],
        "model_run": [_artifact(standard_artifacts.ModelRun, tmp_path / "model_run")],
    }
    command = _launched_job(
        monkeypatch,
        tmp_path,
        aip_trainer_executor.GenericExecutor(),
        exec_properties,
        '["train", "validation", "eval"]',
        outputs,
    )

    captured_custom_configs.clear()
    run_executor.main(run_executor.parse_flags(command[3:]))  # what every worker runs
    (custom_config,) = captured_custom_configs
    assert TrainerSettings.from_custom_config(custom_config) == TrainerSettings(
        model=config.model, training=config.training, dataset=config.dataset.name
    )


def test_the_image_runs_every_container(cloud_run):
    compiled, _ = cloud_run
    containers = [
        executor["container"] for executor in compiled.executors.values() if "container" in executor
    ]
    assert len(containers) == len(DAG) - 1  # the Resolver is two resolver specs, no container
    assert {container["image"] for container in containers} == {IMAGE}
    pools = compiled.custom_config("Trainer")[vertex_runner.TRAINING_ARGS_KEY]["worker_pool_specs"]
    assert {pool["container_spec"]["image_uri"] for pool in pools} == {IMAGE}
    for name in BEAM_COMPONENTS:
        assert f"--sdk_container_image={IMAGE}" in compiled.container(name)["args"]


def test_beam_components_run_on_dataflow_when_asked(cloud_run, default_run):
    compiled, _ = cloud_run
    expected = [
        "--runner=DataflowRunner",
        f"--project={PROJECT}",
        f"--region={REGION}",
        f"--temp_location={GCS_ROOT}/tmp",
        f"--staging_location={GCS_ROOT}/staging",
        f"--sdk_container_image={IMAGE}",
        "--machine_type=n1-standard-4",
        "--max_num_workers=25",
        "--beam_plugin=pipeline.beam_worker",
        f"--service_account_email={SERVICE_ACCOUNT}",
    ]
    for name in BEAM_COMPONENTS:
        args = compiled.container(name)["args"]
        assert args[args.index("{{$}}") + 1 :] == expected, name
    local, _ = default_run
    for name in BEAM_COMPONENTS:
        args = local.container(name)["args"]
        assert "--runner=DataflowRunner" not in args
        assert args[args.index("{{$}}") + 1 :] == [
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=0",
            "--beam_plugin=pipeline.beam_worker",
        ]


def test_example_gen_gets_tfx_file_based_driver_even_when_tfds_downloads(default_run):
    compiled, _ = default_run
    container = compiled.container("TfdsExampleGen")
    assert container["lifecycle"]["preCacheCheck"]["command"][-1] == (
        "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"
    )
    assert container["args"][:2] == ["--executor_class_path", "components.tfds_example_gen.executor.Executor"]
    assert compiled.parameter("TfdsExampleGen", "input_base") == {"stringValue": ""}
    input_config = json.loads(compiled.parameter("TfdsExampleGen", "input_config")["stringValue"])
    assert {split.get("pattern", "") for split in input_config["splits"]} == {""}  # no files to glob


def test_the_endpoint_pusher_deploys_to_vertex(cloud_run):
    compiled, _ = cloud_run
    assert compiled.container("Pusher")["args"][1] == (
        "tfx.extensions.google_cloud_ai_platform.pusher.executor.Executor"
    )
    assert compiled.custom_config("Pusher") == {
        "ai_platform_enable_vertex": True,
        "ai_platform_vertex_region": REGION,
        # TensorFlow 2.16 exports; Vertex's newest prebuilt TF container is 2.15, checked to serve them.
        "ai_platform_vertex_container_image_uri": (
            "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
        ),
        "ai_platform_serving_args": {
            "project_id": PROJECT,
            "endpoint_name": "pets-segmenter",
            "machine_type": "n1-standard-4",
        },
    }


def test_without_endpoint_tfx_pushes_to_the_gcs_serving_root(default_run):
    compiled, _ = default_run
    assert compiled.container("Pusher")["args"][1] == "tfx.components.pusher.executor.Executor"
    destination = json.loads(compiled.parameter("Pusher", "push_destination")["stringValue"])
    assert destination == {"filesystem": {"base_directory": f"{GCS_ROOT}/serving/segmenter"}}


def test_every_location_is_on_gcs_or_in_the_image(default_run):
    compiled, config = default_run
    assert compiled.job["runtimeConfig"]["gcsOutputDirectory"] == f"{GCS_ROOT}/pipeline_root"
    assert compiled.parameter("TfdsExampleGen", "tfds_dir") == {"stringValue": f"{GCS_ROOT}/tfds"}
    assert "output_dir" not in compiled.parameters("RunReport")  # it writes only its artifact
    assert compiled.parameter("ImportSchemaGen", "schema_file") == {
        "stringValue": "/pipeline/components/tfds_example_gen/schema.pbtxt"
    }
    # Nothing names this machine's files.
    assert config.output_dir not in compiled.text
    assert os.path.dirname(os.path.dirname(os.path.abspath(vertex_runner.__file__))) not in compiled.text


class FakeAiplatform:
    """Records what `segpipe vertex submit|schedule` asks of google.cloud.aiplatform."""

    def __init__(self):
        self.calls = []
        fake = self

        class PipelineJob:
            def __init__(self, **kwargs):
                fake.calls.append(("PipelineJob", kwargs))
                self.resource_name = "projects/1/locations/r/pipelineJobs/segpipe-1"

            def submit(self, **kwargs):
                fake.calls.append(("submit", kwargs))

            def create_schedule(self, **kwargs):
                fake.calls.append(("create_schedule", kwargs))
                return type("Schedule", (), {"resource_name": "projects/1/locations/r/schedules/7"})()

        self.PipelineJob = PipelineJob


def _expected_job(template_path, display_name="segpipe"):
    return (
        "PipelineJob",
        {
            "display_name": display_name,
            "template_path": template_path,
            "pipeline_root": f"{GCS_ROOT}/pipeline_root",
            "enable_caching": True,
            "project": PROJECT,
            "location": REGION,
        },
    )


def test_submit_and_schedule_call_aiplatform(tmp_path):
    config = _config(tmp_path, service_account=SERVICE_ACCOUNT, schedule_cron="0 3 * * *")
    client = FakeAiplatform()
    vertex_jobs.submit(config, "/t/p.json", aiplatform=client)
    assert client.calls == [_expected_job("/t/p.json"), ("submit", {"service_account": SERVICE_ACCOUNT})]
    client = FakeAiplatform()
    schedule = vertex_jobs.schedule(config, "/t/p.json", "nightly", aiplatform=client)
    assert client.calls == [
        _expected_job("/t/p.json", "nightly"),
        (
            "create_schedule",
            {"cron": "0 3 * * *", "display_name": "nightly", "service_account": SERVICE_ACCOUNT},
        ),
    ]
    assert schedule.resource_name.endswith("/schedules/7")


def test_cli_submit_and_schedule_compile_then_call_aiplatform(tmp_path, monkeypatch, capsys):
    client = FakeAiplatform()
    monkeypatch.setattr(vertex_jobs, "default_client", lambda: client)
    path = str(tmp_path / "p.json")
    assert (
        cli.main(["vertex", "submit", "--output", str(tmp_path), "--output-json", path, *VERTEX_FLAGS]) == 0
    )
    assert client.calls == [_expected_job(path), ("submit", {"service_account": None})]
    assert "pipelineJobs/segpipe-1" in capsys.readouterr().out
    client.calls.clear()
    assert (
        cli.main(
            [
                "vertex",
                "schedule",
                "--output",
                str(tmp_path),
                "--output-json",
                path,
                "--cron",
                "TZ=Europe/Amsterdam 30 2 * * 1-5",
                "--display-name",
                "weekdays",
                *VERTEX_FLAGS,
            ]
        )
        == 0
    )
    assert client.calls == [
        _expected_job(path, "weekdays"),
        (
            "create_schedule",
            {"cron": "TZ=Europe/Amsterdam 30 2 * * 1-5", "display_name": "weekdays", "service_account": None},
        ),
    ]
    assert json.loads(Path(path).read_text(encoding="utf-8"))["pipelineSpec"]


@pytest.mark.parametrize(
    "command,flags,named",
    [
        ("compile", ["--vertex-project", ""], "--vertex-project"),
        ("compile", ["--vertex-project", "My Project"], "--vertex-project"),
        ("compile", ["--vertex-region", "Europe West"], "--vertex-region"),
        ("compile", ["--gcs-root", "/local/dir"], "--gcs-root"),
        ("submit", ["--image-uri", ""], "--image-uri"),
        ("compile", ["--accelerator-type", "NVIDIA_GTX_1080"], "--accelerator-type"),
        ("compile", ["--accelerator-count", "0"], "--accelerator-count"),
        ("compile", ["--replica-count", "0"], "--replica-count"),
        ("compile", ["--use-dataflow", "maybe"], "--use-dataflow"),
        ("compile", ["--dataflow-max-workers", "0"], "--dataflow-max-workers"),
        ("compile", ["--service-account", "me"], "--service-account"),
        ("schedule", [], "--cron"),
        ("schedule", ["--cron", "every night"], "--cron"),
        ("compile", ["--serving-root", "/srv/models"], "--serving-root"),
        ("compile", ["--serving-root", "gs://b/m", "--endpoint-name", "e"], "--serving-root"),
        ("compile", ["--tfds-dir", "/tmp/tfds"], "--tfds-dir"),
        ("compile", ["--warm-start", "/models/1"], "--warm-start"),
    ],
)
def test_bad_vertex_settings_exit_2_naming_the_flag(command, flags, named, tmp_path, capsys, monkeypatch):
    client = FakeAiplatform()
    monkeypatch.setattr(vertex_jobs, "default_client", lambda: client)
    argv = ["vertex", command, "--output", str(tmp_path), *VERTEX_FLAGS, *flags]
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's own checks (choices) exit from parse_args
        code = exit_.code
    assert code == 2
    assert named in capsys.readouterr().err
    assert not client.calls and not os.path.exists(tmp_path / "vertex")


def test_a_local_data_dir_cannot_reach_vertex_but_gcs_can(tmp_path, capsys):
    assert (
        cli.main(["vertex", "compile", "--output", str(tmp_path), "--data-dir", str(tmp_path), *VERTEX_FLAGS])
        == 2
    )
    assert "--data-dir: on Vertex AI, this machine's directories are out of reach" in capsys.readouterr().err
    gcs = ["--data-dir", "gs://segpipe-bucket/pets/span-{SPAN}", "--output-json", str(tmp_path / "p.json")]
    assert cli.main(["vertex", "compile", "--output", str(tmp_path), *gcs, *VERTEX_FLAGS]) == 0


def test_the_serving_image_follows_the_tensorflow_that_exports_the_model():
    assert vertex_runner.exported_tf_version() == ".".join(tf.__version__.split(".")[:2])
    prebuilt = "{}-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.{}:latest"
    assert vertex_runner.serving_image("europe-west4", "2.15") == prebuilt.format("europe", "2-15")
    assert vertex_runner.serving_image("us-central1", "2.13") == prebuilt.format("us", "2-13")
    assert vertex_runner.serving_image("me-west1", "2.16") == prebuilt.format("us", "2-15")  # checked
    with pytest.raises(ConfigError, match=r"^--serving-image .*TensorFlow 2\.99"):
        vertex_runner.serving_image("us-central1", "2.99")


def test_a_serving_image_given_is_used_as_it_is(tmp_path):
    image = "europe-west4-docker.pkg.dev/my-project/serving/tf-serving:2.16"
    config = _config(tmp_path, endpoint_name="pets", serving_image=image)
    assert vertex_runner.serving_custom_config(config)[vertex_runner.SERVING_IMAGE_KEY] == image


def test_local_config_needs_no_vertex_settings(tmp_path):
    config = build_config(overrides={("output", "output_dir"): str(tmp_path)})
    assert config.vertex.project == "" and config.vertex.region == "us-central1"
    with pytest.raises(ConfigError, match="--vertex-project"):
        validate_vertex(config)
    args = cli.build_parser().parse_args(["run", "--output", str(tmp_path)])
    assert flags.config_from_args(args) == config


def test_the_local_pusher_refuses_a_gcs_serving_root(tmp_path):
    config = build_config(
        overrides={("output", "output_dir"): str(tmp_path), ("push", "serving_root"): "gs://bucket/serving"}
    )
    with pytest.raises(ConfigError, match="--serving-root.*segpipe vertex"):
        create_components(config)


def test_the_container_rebuilds_the_run_report_artifact_from_its_title(default_run):
    """What KubeflowV2's entrypoint does with RunReport's output before the executor runs."""
    compiled, _ = default_run
    component = compiled.spec["components"][compiled.tasks["RunReport"]["componentRef"]["name"]]
    artifact_type = component["outputDefinitions"]["artifacts"]["report"]["artifactType"]
    runtime = json_format.ParseDict(
        {"artifacts": [{"type": artifact_type, "uri": "gs://b/r/1"}]}, pipeline_spec_pb2.ArtifactList()
    )
    (report,) = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict({"report": runtime})["report"]
    assert isinstance(report, run_report.RunReportArtifact) and report.uri == "gs://b/r/1"


def test_custom_artifact_types_must_import_by_their_name():
    class Report(artifact.Artifact):
        TYPE_NAME = "SegmentationThing"

    class Node:
        id = "Thing"
        outputs = {"report": channel.Channel(type=Report)}

    with pytest.raises(vertex_runner.VertexCompileError, match="Thing.*'report'.*one dot"):
        vertex_runner.check_artifact_types([Node()])
    Report.TYPE_NAME = "components.NoSuchReport"
    with pytest.raises(vertex_runner.VertexCompileError, match="cannot import"):
        vertex_runner.check_artifact_types([Node()])


def test_the_run_report_artifact_type_is_importable_by_its_type_name():
    vertex_runner.check_artifact_types(
        [
            run_report.RunReport(
                examples=channel.Channel(type=standard_artifacts.Examples),
                model=channel.Channel(type=standard_artifacts.Model),
                evaluation=channel.Channel(type=standard_artifacts.ModelEvaluation),
                blessing=channel.Channel(type=standard_artifacts.ModelBlessing),
                pushed_model=channel.Channel(type=standard_artifacts.PushedModel),
                dataset="oxford_iiit_pet",
                pipeline_name="p",
                min_mean_iou=0.5,
                min_improvement=0.0,
            )
        ]
    )


def test_the_phone_model_stays_in_its_artifact_on_vertex(default_run):
    """Vertex's Pusher publishes to GCS or an endpoint; the phone model is converted, scored and
    gated there too, but not pushed to a local serving root."""
    compiled, _ = default_run
    assert compiled.parameter("TfliteExport", "serving_base") == {"stringValue": ""}
    assert compiled.parameter("TfliteExport", "max_drop") == {"doubleValue": 0.01}


# --- The hyperparameter search on Vertex AI: the Google Cloud Tuner extension ---------------------

TUNED_DAG = DAG[:5] + ("Tuner",) + DAG[5:]


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    """--tune yes: 6 trials, 3 at once on V100 x2 workers, with a service account."""
    out = tmp_path_factory.mktemp("vertex-tuned")
    config = build_config(
        overrides={
            ("output", "output_dir"): str(out),
            ("vertex", "project"): PROJECT,
            ("vertex", "region"): REGION,
            ("vertex", "gcs_root"): GCS_ROOT,
            ("vertex", "image_uri"): IMAGE,
            ("vertex", "accelerator_type"): "NVIDIA_TESLA_V100",
            ("vertex", "accelerator_count"): 2,
            ("vertex", "service_account"): SERVICE_ACCOUNT,
            ("vertex", "tune_parallel_trials"): 3,
            ("tuning", "enabled"): True,
            ("tuning", "trials"): 6,
            ("tuning", "epochs"): 2,
            ("tuning", "algorithm"): "bayesian",
        }
    )
    return Compiled(vertex_runner.compile_pipeline(config, str(out / "tuned.json"))), config


def test_the_tuner_runs_before_the_trainer_and_hands_it_the_best_values(tuned_run):
    compiled, _ = tuned_run
    for name in TUNED_DAG:
        assert any(task == name or task.startswith(name + "-") for task in compiled.tasks), name
    assert compiled.container("Tuner")["args"][1] == (
        "tfx.extensions.google_cloud_ai_platform.tuner.executor.Executor"
    )
    assert compiled.parameter("Tuner", "tuner_fn") == {"stringValue": "trainer.tuning.tuner_fn"}
    assert json.loads(compiled.parameter("Tuner", "tune_args")["stringValue"]) == {"num_parallel_trials": 3}
    # Fit on train, score trials on validation: the eval split stays the Evaluator's.
    assert json.loads(compiled.parameter("Tuner", "train_args")["stringValue"]) == {"splits": ["train"]}
    assert json.loads(compiled.parameter("Tuner", "eval_args")["stringValue"]) == {"splits": ["validation"]}
    tuner_inputs = compiled.tasks["Tuner"]["inputs"]["artifacts"]
    assert tuner_inputs["examples"]["taskOutputArtifact"] == {
        "outputArtifactKey": "transformed_examples",
        "producerTask": "Transform",
    }
    for consumer, key in (("Trainer", "hyperparameters"), ("RunReport", "hyperparameters")):
        assert compiled.tasks[consumer]["inputs"]["artifacts"][key]["taskOutputArtifact"] == {
            "outputArtifactKey": "best_hyperparameters",
            "producerTask": "Tuner",
        }
    assert compiled.tasks["RunReport"]["inputs"]["artifacts"]["tuner_results"]["taskOutputArtifact"] == {
        "outputArtifactKey": "tuner_results",
        "producerTask": "Tuner",
    }


def test_parallel_trials_run_on_a_chief_and_a_pool_of_gpu_workers(tuned_run):
    compiled, config = tuned_run
    custom_config = compiled.custom_config("Tuner")
    assert custom_config[vertex_runner.ENABLE_VERTEX_KEY] is True
    assert custom_config[vertex_runner.VERTEX_REGION_KEY] == REGION
    machine = {
        "machine_type": "n1-standard-8",
        "accelerator_type": "NVIDIA_TESLA_V100",
        "accelerator_count": 2,
    }
    assert custom_config[vertex_runner.TUNING_ARGS_KEY] == {
        "project": PROJECT,
        "job_spec": {
            "worker_pool_specs": [
                {"machine_spec": machine, "replica_count": 1, "container_spec": {"image_uri": IMAGE}},
                {"machine_spec": machine, "replica_count": 2, "container_spec": {"image_uri": IMAGE}},
            ],
            "service_account": SERVICE_ACCOUNT,
        },
    }
    assert TrainerSettings.from_custom_config(custom_config) == TrainerSettings.from_custom_config(
        compiled.custom_config("Trainer")
    )
    assert SearchSettings.model_validate(custom_config["tuning"]) == SearchSettings(
        trials=6, epochs=2, algorithm="bayesian"
    )
    assert json.loads(compiled.parameter("RunReport", "tuning")["stringValue"])["source"] == "search"


def test_one_parallel_trial_is_one_gpu_worker(tmp_path):
    config = _config(tmp_path)
    config.tuning.enabled = True
    (pool,) = vertex_runner.tuning_custom_config(config)[vertex_runner.TUNING_ARGS_KEY]["job_spec"][
        "worker_pool_specs"
    ]
    assert pool["replica_count"] == 1 and pool["machine_spec"]["accelerator_type"] == "NVIDIA_TESLA_T4"


def test_more_parallel_trials_than_trials_are_refused(tmp_path, capsys):
    argv = ["vertex", "compile", "--output", str(tmp_path), *VERTEX_FLAGS, "--tune", "yes"]
    assert cli.main([*argv, "--tune-trials", "2", "--tune-parallel-trials", "3"]) == 2
    assert "--tune-parallel-trials (config key vertex.tune_parallel_trials): at most --tune-trials (2)" in (
        capsys.readouterr().err
    )


def test_reuse_tuning_compiles_to_a_metadata_query_for_the_latest_search(tmp_path):
    path = str(tmp_path / "reuse.json")
    argv = ["vertex", "compile", "--output", str(tmp_path), "--output-json", path, *VERTEX_FLAGS]
    assert cli.main([*argv, "--reuse-tuning", "yes"]) == 0
    compiled = Compiled(path)
    assert "Tuner" not in compiled.tasks
    resolver = compiled.executors[
        compiled.tasks["latest_tuning_resolver"]["componentRef"]["name"] + "_executor"
    ]
    assert resolver["resolver"]["outputArtifactQueries"] == {
        "best_hyperparameters": {"filter": 'schema_title="tfx.HyperParameters" AND state=LIVE'},
        "tuner_results": {"filter": 'schema_title="tfx.TunerResults" AND state=LIVE'},
    }
    assert compiled.tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"] == {
        "outputArtifactKey": "best_hyperparameters",
        "producerTask": "latest_tuning_resolver",
    }


def test_the_tuning_job_runs_tuner_fn_on_the_validation_split_and_writes_the_best_values(
    tuned_run, tmp_path, monkeypatch
):
    """The pipeline step's executor → the custom job's command → TFX's tuning worker → tuner_fn →
    trials (training faked) → best_hyperparameters.txt and tuner_results.json in the artifacts."""
    from trainer import tuning

    compiled, _ = tuned_run
    outputs = {
        "best_hyperparameters": [_artifact(standard_artifacts.HyperParameters, tmp_path / "best")],
        "tuner_results": [_artifact(standard_artifacts.TunerResults, tmp_path / "results")],
    }
    command = _launched_job(
        monkeypatch,
        tmp_path,
        aip_tuner_executor.Executor(),
        _step_parameters(compiled, "Tuner"),
        '["train", "validation"]',
        outputs,
    )
    assert "tfx.extensions.google_cloud_ai_platform.tuner.executor._WorkerExecutor" in command

    # What a tuning worker runs (alone here: no CLUSTER_SPEC, so no chief oracle), with Vertex's
    # TF_CONFIG for a multi-machine job set: the trials must still train on this machine alone.
    # TFX reloads trainer.tuning before calling tuner_fn, so the fakes go where it imports from,
    # and the module is reloaded again afterwards to drop them.
    loaded, fits = [], []

    def fake_fit(settings, train, validation, num_classes, **kwargs):
        fits.append(settings)
        return None, {"metrics": {"val_mean_iou": [settings.training.learning_rate]}, "kept_epoch": 1}

    class FakeTransformOutput:
        def __init__(self, path):
            self.path = path

        def transformed_feature_spec(self):
            return {}

    cluster = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]}, "task": {"type": "chief", "index": 0}}
    with monkeypatch.context() as patch:
        patch.setattr("trainer.data.load_split", lambda files, spec: loaded.append(files) or files)
        patch.setattr("tensorflow_transform.TFTransformOutput", FakeTransformOutput)
        patch.setattr("trainer.task.fit_model", fake_fit)
        patch.setattr("trainer.task.make_reproducible", lambda training: None)
        patch.setattr(aip_tuner_executor, "_WORKING_DIRECTORY", str(tmp_path / "work"))
        patch.setenv("TF_CONFIG", json.dumps(cluster))
        patch.delenv("CLUSTER_SPEC", raising=False)
        run_executor.main(run_executor.parse_flags(command[3:]))
    importlib.reload(tuning)

    train_files, eval_files = loaded
    assert [os.path.basename(os.path.dirname(p)) for p in train_files] == ["Split-train"]
    assert [os.path.basename(os.path.dirname(p)) for p in eval_files] == ["Split-validation"]
    assert len(fits) == 6 and {settings.training.epochs for settings in fits} == {2}
    best = json.loads((tmp_path / "best" / "best_hyperparameters.txt").read_text())
    assert best["values"]["learning_rate"] == max(settings.training.learning_rate for settings in fits)
    results = json.loads((tmp_path / "results" / "tuner_results.json").read_text())
    assert len(results) == 6 and {row["score"] for row in results} == {s.training.learning_rate for s in fits}


# --- Scheduled retraining: the TrainingGate holds back the Trainer and what follows -----------

GATED = ("Trainer", "Evaluator", "Pusher", "TfliteExport", "RunReport")
GATE_OPEN = "(inputs.artifacts['_TrainingGate.decision'].artifacts[0].metadata['train'] == 1.0)"


@pytest.fixture(scope="module")
def retraining_run(tmp_path_factory):
    """What `segpipe vertex schedule --data-dir gs://.../span-{SPAN} --warm-start-from-blessed yes`
    compiles."""
    out = tmp_path_factory.mktemp("vertex-retraining")
    config = _config(out)
    config.dataset.data_dir = "gs://segpipe-bucket/pets/span-{SPAN}"
    config.training.warm_start_from_blessed = True
    return Compiled(vertex_runner.compile_pipeline(config, str(out / "retraining.json"))), config


def test_the_trainer_and_what_follows_run_only_when_the_gate_finds_something_new(retraining_run):
    compiled, _ = retraining_run
    gate = compiled.tasks["TrainingGate"]
    assert gate["inputs"]["artifacts"]["examples"]["taskOutputArtifact"] == {
        "outputArtifactKey": "transformed_examples",
        "producerTask": "Transform",
    }
    assert gate["inputs"]["artifacts"]["blessed_model"]["taskOutputArtifact"]["producerTask"] == (
        "latest_blessed_model_resolver-model-resolver"
    )
    # The gate compares the key the Trainer records with its own: the same digest.
    assert (
        compiled.parameter("TrainingGate", "training_key")["stringValue"]
        == (compiled.custom_config("Trainer")["training_key"])
    )
    for task, spec in compiled.tasks.items():
        if task in GATED:
            assert spec["triggerPolicy"]["condition"] == GATE_OPEN
            assert "TrainingGate" in spec["dependentTasks"]
        else:
            assert "triggerPolicy" not in spec, task


def test_the_condition_reads_the_metadata_the_gate_writes(retraining_run, tmp_path):
    """The container's entrypoint turns the gate's custom properties into the output metadata
    that the trigger condition reads: 'train' is a number, 0 when nothing is new."""
    compiled, _ = retraining_run
    component = compiled.spec["components"][compiled.tasks["TrainingGate"]["componentRef"]["name"]]
    artifact_type = component["outputDefinitions"]["artifacts"]["decision"]["artifactType"]
    runtime = json_format.ParseDict(
        {"artifacts": [{"type": artifact_type, "uri": str(tmp_path / "decision")}]},
        pipeline_spec_pb2.ArtifactList(),
    )
    (decision,) = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict({"decision": runtime})["decision"]
    decision.set_int_custom_property("train", 0)
    decision.set_string_custom_property("reason", "nothing new")
    written = kubeflow_v2_entrypoint_utils.to_runtime_artifact(decision, {})
    assert json_format.MessageToDict(written)["metadata"]["train"] == 0.0
    assert type(decision).__name__ == "TrainingDecisionArtifact"


def test_without_warm_start_there_is_no_gate(default_run):
    compiled, _ = default_run
    assert "TrainingGate" not in compiled.tasks
    assert all("triggerPolicy" not in spec for spec in compiled.tasks.values())
