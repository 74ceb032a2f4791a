"""Spans on Vertex AI, offline: the compiled ExampleGen step, its driver and executor on "GCS".

The pipeline is compiled for Vertex with --data-dir gs://fake-bucket/pets/span-{SPAN}. The step's
driver is then run the way the compiled spec calls it (its module, its arguments, an
ExecutorInput where `{{$}}` stands), against a gs:// path that tests/fake_gcs.py serves from a
local folder: first with no delivery, then span 1, span 1 again, then span 2. Last, the executor
reads span 2 from that "bucket". Nothing here reaches Google Cloud.
"""

import importlib
import json
import os
import shutil

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.io import fileio
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.types import artifact, standard_artifacts
from tfx.utils import io_utils

from components.tfds_example_gen import executor as executor_lib
from components.tfds_example_gen.tfds_source import copy_key
from contract.names import DATA_QUALITY_REPORT
from datagen.synthetic_pets import write_dataset
from pipeline import cli
from tests import fake_gcs
from tests.pipeline.test_vertex import VERTEX_FLAGS, Compiled

DATA_DIR = "gs://fake-bucket/pets/span-{SPAN}"
RUN_ROOT = "gs://fake-bucket/runs/pipeline_root/segpipe-1/TfdsExampleGen"
DRIVER = ["python", "-m", "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("vertex-spans")
    path = str(out / "pipeline.json")
    argv = ["vertex", "compile", "--output", str(out), "--output-json", path, "--data-dir", DATA_DIR]
    assert cli.main([*argv, *VERTEX_FLAGS]) == 0
    return Compiled(path)


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    """gs://fake-bucket/... served from tmp_path/gcs/fake-bucket/...; returns tmp_path/gcs."""
    root = tmp_path / "gcs"
    fake_gcs.install(str(root), monkeypatch)
    return root


def test_the_example_gen_step_runs_tfx_file_based_driver_on_the_span_pattern(compiled):
    hook = compiled.container("TfdsExampleGen")["lifecycle"]["preCacheCheck"]
    assert hook["command"] == DRIVER
    assert hook["args"][:2] == ["--json_serialized_invocation_args", "{{$}}"]
    assert compiled.parameter("TfdsExampleGen", "input_base") == {"stringValue": "gs://fake-bucket/pets"}
    input_config = json.loads(compiled.parameter("TfdsExampleGen", "input_config")["stringValue"])
    assert {split["pattern"] for split in input_config["splits"]} == {"span-{SPAN}/annotations/*.txt"}
    tfds_splits = json.loads(compiled.parameter("TfdsExampleGen", "tfds_splits")["stringValue"])
    assert list(tfds_splits) == [split["name"] for split in input_config["splits"]]
    assert compiled.tasks["TfdsExampleGen"]["cachingOptions"] == {"enableCache": True}


def _executor_input(compiled, run):
    """What Vertex hands the step: its parameters, its output artifact and where to answer."""
    task = compiled.tasks["TfdsExampleGen"]
    component = compiled.spec["components"][task["componentRef"]["name"]]
    return {
        "inputs": {
            "parameters": {
                name: value["runtimeValue"]["constantValue"]
                for name, value in task["inputs"]["parameters"].items()
            }
        },
        "outputs": {
            "artifacts": {
                "examples": {
                    "artifacts": [
                        {
                            "name": f"examples-{run}",
                            "type": component["outputDefinitions"]["artifacts"]["examples"]["artifactType"],
                            "uri": f"{RUN_ROOT}/examples/{run}",
                        }
                    ]
                }
            },
            "outputFile": f"{RUN_ROOT}/executor_output_{run}.json",
        },
    }


def run_driver(compiled, run):
    """Runs the step's pre-cache-check hook as compiled; returns the ExecutorOutput it wrote."""
    hook = compiled.container("TfdsExampleGen")["lifecycle"]["preCacheCheck"]
    executor_input = _executor_input(compiled, run)
    args = [json.dumps(executor_input) if arg == "{{$}}" else arg for arg in hook["args"]]
    driver = importlib.import_module(hook["command"][2])  # python -m MODULE: its main, its flags
    driver.main(driver._parse_flags(args))
    with fileio.open(executor_input["outputs"]["outputFile"]) as handle:
        return json.loads(handle.read())


def _span_and_patterns(output):
    values = output["parameterValues"]
    patterns = {split["pattern"] for split in json.loads(values["input_config"])["splits"]}
    return int(values["span"]), patterns


def _deliver(root, span, pristine_dataset=None, **sizes):
    """A delivery in gs://fake-bucket/pets/span-N: a copy (times kept) or a new dataset."""
    folder = root / "fake-bucket" / "pets" / f"span-{span}"
    if pristine_dataset:
        shutil.copytree(pristine_dataset, folder, copy_function=shutil.copy2)
    else:
        write_dataset(str(folder), seed=span, **sizes)
    return folder


def test_the_compiled_driver_resolves_new_spans_on_gcs(compiled, bucket, pristine_dataset):
    with pytest.raises(ValueError, match="Cannot find matching for split"):
        run_driver(compiled, 0)  # a scheduled run before the first delivery fails, and says why

    _deliver(bucket, 1, pristine_dataset)
    first = run_driver(compiled, 1)
    assert _span_and_patterns(first) == (1, {"span-1/annotations/*.txt"})
    fingerprint = first["parameterValues"]["input_fingerprint"]
    assert fingerprint.split("\n") == [
        io_utils.generate_fingerprint(split, "gs://fake-bucket/pets/span-1/annotations/*.txt")
        for split in json.loads(compiled.parameter("TfdsExampleGen", "tfds_splits")["stringValue"])
    ]
    assert "num_files:0" not in fingerprint
    (examples,) = first["artifacts"]["examples"]["artifacts"]  # what MLMD will record for the run
    assert examples["metadata"][artifact.CUSTOM_PROPERTIES_PREFIX + "span"] == 1
    assert examples["metadata"]["input_fingerprint"] == fingerprint

    again = run_driver(compiled, 2)  # nothing new: the same parameters, so Vertex's cache answers
    assert again["parameterValues"] == first["parameterValues"]

    _deliver(bucket, 2, n_train=12, n_test=6)
    second = run_driver(compiled, 3)
    assert _span_and_patterns(second) == (2, {"span-2/annotations/*.txt"})
    assert second["parameterValues"]["input_fingerprint"] != fingerprint
    assert second["parameterValues"]["input_fingerprint"].split("\n")[0] == io_utils.generate_fingerprint(
        "train", "gs://fake-bucket/pets/span-2/annotations/*.txt"
    )


@pytest.mark.slow
def test_the_executor_reads_the_resolved_span_from_gcs(compiled, bucket, pristine_dataset, tmp_path):
    """After the driver, the executor copies span 2 out of the bucket and builds its examples."""
    _deliver(bucket, 1, pristine_dataset)
    _deliver(bucket, 2, n_train=12, n_test=6)
    output = run_driver(compiled, 1)
    executor_input = json_format.ParseDict(_executor_input(compiled, 1), pipeline_spec_pb2.ExecutorInput())
    exec_properties = kubeflow_v2_entrypoint_utils.parse_execution_properties(
        executor_input.inputs.parameter_values, executor_input.inputs.parameters
    )
    exec_properties.update(output["parameterValues"])  # what Vertex passes on from the driver
    # Outputs stay on this machine: TFDS and Beam write through their own filesystems.
    exec_properties[executor_lib.TFDS_DIR_KEY] = str(tmp_path / "tfds")
    exec_properties[executor_lib.FAILURE_REPORT_DIR_KEY] = str(tmp_path / "data_quality")
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    context = executor_lib.Executor.Context(
        beam_pipeline_args=["--runner=DirectRunner"], tmp_dir=str(tmp_path)
    )
    executor_lib.Executor(context).Do({}, {"examples": [examples]}, exec_properties)

    with open(os.path.join(examples.uri, DATA_QUALITY_REPORT)) as handle:
        report = json.load(handle)
    assert report["good"] == 18 and report["bad"] == 0  # span 2's 12 + 6, not span 1's 16 + 8
    key = copy_key(
        "oxford_iiit_pet",
        exec_properties[executor_lib.DATASET_VERSION_KEY],
        "gs://fake-bucket/pets/span-2",
        output["parameterValues"]["input_fingerprint"],
    )
    assert os.path.isdir(tmp_path / "tfds" / key)  # keyed by the GCS folder and the driver's fingerprint
