"""TfdsExampleGen: TFX's file-based ExampleGen machinery (Beam, spans, caching) over a TFDS builder."""

import json
from typing import Dict, Optional

from tfx import types
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.tfds_example_gen import driver, executor, spans
from components.tfds_example_gen.executor import (
    DATASET_NAME_KEY,
    DATASET_VERSION_KEY,
    FAILURE_REPORT_DIR_KEY,
    MAX_BAD_FRACTION_KEY,
    TFDS_DIR_KEY,
    TFDS_SPLITS_KEY,
)


class TfdsExampleGenSpec(ComponentSpec):
    """FileBasedExampleGen's parameters plus the TFDS builder, its splits and the bad-data limit."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        DATASET_NAME_KEY: ExecutionParameter(type=str),
        DATASET_VERSION_KEY: ExecutionParameter(type=str),
        TFDS_SPLITS_KEY: ExecutionParameter(type=str),
        TFDS_DIR_KEY: ExecutionParameter(type=str),
        MAX_BAD_FRACTION_KEY: ExecutionParameter(type=float),
        FAILURE_REPORT_DIR_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS: Dict[str, ChannelParameter] = {}
    OUTPUTS = {standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class TfdsExampleGen(FileBasedExampleGen):
    """Reads a TFDS builder's splits into tf.Examples with encoded image and mask.

    `splits` maps each output split to a TFDS split expression, e.g.
    {"train": "train", "eval": "test"} or {"train": "train[:90%]", "eval": "train[90%:]"}.
    `data_dir` (optional; local or gs://, may hold {SPAN} and {VERSION}) points the builder's
    download step at raw files in the dataset's layout; empty means TFDS downloads them as
    usual. `failure_report_dir` keeps the data-quality report of a failed gate, which TFX would
    delete with the failed artifact.

    It is a FileBasedExampleGen so that KubeflowV2 compiles it with TFX's file-based driver,
    which resolves spans on Vertex AI too (driver.py). The split patterns that driver globs are
    the data dir's list files (spans.py); the TFDS split expressions travel beside them, in
    `tfds_splits`.
    """

    SPEC_CLASS = TfdsExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.TfdsDriver

    def __init__(
        self,
        *,
        dataset_name: str,
        dataset_version: str,
        splits: Dict[str, str],
        tfds_dir: str,
        data_dir: str = "",
        max_bad_fraction: float = 0.05,
        failure_report_dir: str = "",
        range_config: Optional[range_config_pb2.RangeConfig] = None,
    ):
        input_base, pattern = spans.input_location(data_dir)
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=name, pattern=pattern) for name in splits]
        )
        spec = TfdsExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=example_gen_pb2.Output(),
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            range_config=range_config,
            dataset_name=dataset_name,
            dataset_version=dataset_version,
            tfds_splits=json.dumps(splits),
            tfds_dir=tfds_dir,
            max_bad_fraction=max_bad_fraction,
            failure_report_dir=failure_report_dir,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        # FileBasedExampleGen's own __init__ builds TFX's spec, without the TFDS parameters.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
