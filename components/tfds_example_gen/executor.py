"""TfdsExampleGen's executor: prepare the TFDS copy, read it with Beam, gate bad records.

1. The TFDS builder prepares its copy (download, or the local raw files; tfds_source.py).
2. For each split, Beam reads the copy with `tfds.beam.ReadFromTFDS` (so it scales out on
   Dataflow), keeping image and mask encoded, checks every record with the decoders Transform
   will use (record_checks.py), and writes good records as gzipped tf.Examples through
   TFX's own ExampleGen writer.
3. The bad records of every split (and the raw entries the builder never saw) are gathered into
   `data_quality_report.json` inside the Examples artifact; the execution fails with a clear
   message only when their share is above `max_bad_fraction`, so nothing is published then.
"""

import dataclasses
import json
import logging
import os
from typing import Any, Dict, List

import apache_beam as beam
import tensorflow as tf
import tensorflow_datasets as tfds
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.tfds_example_gen import spans
from components.tfds_example_gen.data_quality import (
    BadRecord,
    DataQualityError,
    QualityReport,
    records_from_dicts,
)
from components.tfds_example_gen.examples import make_example
from components.tfds_example_gen.record_checks import check_record
from components.tfds_example_gen.tfds_source import prepare
from contract.datasets import DatasetFacts, dataset_facts
from contract.names import (
    DATA_QUALITY_REPORT,
    FILE_NAME_KEY,
    HEIGHT_KEY,
    IMAGE_KEY,
    LABEL_KEY,
    MASK_KEY,
    SPECIES_KEY,
    WIDTH_KEY,
)

DATASET_NAME_KEY = "dataset_name"
DATASET_VERSION_KEY = "dataset_version"
TFDS_DIR_KEY = "tfds_dir"
MAX_BAD_FRACTION_KEY = "max_bad_fraction"
# Handed from Do() to the Beam transform through exec_properties.
_BUILDER_DIR = "_tfds_builder_dir"
_QUALITY_PARTS_DIR = "_quality_parts_dir"
_BAD = "bad"


class _CheckAndConvert(beam.DoFn):
    """Checks one TFDS record; emits a serialized tf.Example, or a BadRecord on the 'bad' tag."""

    def __init__(self, spec: DatasetFacts, split: str):
        super().__init__()
        self._spec = spec
        self._split = split

    def process(self, record: Dict[str, Any]):
        spec = self._spec
        file_name = record[spec.file_name_feature].decode("utf-8")
        problem, height, width = check_record(
            file_name, record[spec.image_feature], record[spec.mask_feature], spec.mask_values
        )
        if problem:
            beam.metrics.Metrics.counter("data_quality", problem.reason).inc()
            yield beam.pvalue.TaggedOutput(_BAD, dataclasses.replace(problem, split=self._split))
            return
        yield make_example(
            {
                IMAGE_KEY: record[spec.image_feature],
                MASK_KEY: record[spec.mask_feature],
                LABEL_KEY: record[spec.label_feature],
                SPECIES_KEY: record[spec.species_feature],
                FILE_NAME_KEY: file_name,
                HEIGHT_KEY: height,
                WIDTH_KEY: width,
            }
        ).SerializeToString(deterministic=True)


def _plain_values(record: Dict[str, tf.Tensor], spec: DatasetFacts) -> Dict[str, Any]:
    """Only the features the pipeline keeps, as Python bytes and ints (picklable, small)."""
    keys = (
        spec.image_feature,
        spec.mask_feature,
        spec.label_feature,
        spec.species_feature,
        spec.file_name_feature,
    )
    values = {key: record[key].numpy() for key in keys}
    return {key: value if isinstance(value, bytes) else value.item() for key, value in values.items()}


def _write_split_part(bad: List[BadRecord], good: int, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps({"good": good, "bad": [dataclasses.asdict(r) for r in bad]}))


def _split_name(exec_properties: Dict[str, Any], pattern: str) -> str:
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    return next(split.name for split in input_config.splits if split.pattern == pattern)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _TfdsToExample(
    pipeline: beam.Pipeline,
    exec_properties: Dict[str, Any],
    split_pattern: str,
) -> beam.pvalue.PCollection:
    """Reads one TFDS split expression and returns its good records as serialized Examples."""
    spec = dataset_facts(exec_properties[DATASET_NAME_KEY])
    split = _split_name(exec_properties, split_pattern)
    builder = tfds.builder_from_directory(exec_properties[_BUILDER_DIR])
    skip = tfds.decode.SkipDecoding()
    checked = (
        pipeline
        | "ReadFromTFDS"
        >> tfds.beam.ReadFromTFDS(
            builder, split=split_pattern, decoders={spec.image_feature: skip, spec.mask_feature: skip}
        )
        | "KeepFeatures" >> beam.Map(_plain_values, spec)
        # One TFDS shard holds a whole small split: spread the decoding over the workers.
        | "Spread" >> beam.Reshuffle()
        | "CheckAndConvert" >> beam.ParDo(_CheckAndConvert(spec, split)).with_outputs(_BAD, main="good")
    )
    good_count = checked.good | "CountGood" >> beam.combiners.Count.Globally()
    _ = (
        checked[_BAD]
        | "CollectBad" >> beam.combiners.ToList()
        | "WriteQualityPart"
        >> beam.Map(
            _write_split_part,
            good=beam.pvalue.AsSingleton(good_count),
            path=os.path.join(exec_properties[_QUALITY_PARTS_DIR], f"{split}.json"),
        )
    )
    return checked.good


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """ExampleGen executor over a prepared TFDS copy, with the bad-data gate."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _TfdsToExample

    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        exec_properties = dict(exec_properties)
        name = exec_properties[DATASET_NAME_KEY]
        input_base = exec_properties.get(standard_component_specs.INPUT_BASE_KEY) or ""
        if spans.has_span(input_base):  # no driver ran (e.g. Vertex): resolve the span here
            input_base = spans.span_location(input_base, spans.latest_span(input_base))
        fingerprint = exec_properties.get("input_fingerprint") or (
            spans.fingerprint_directory(input_base) if input_base else None
        )
        prepared = prepare(
            name,
            exec_properties[DATASET_VERSION_KEY],
            exec_properties[TFDS_DIR_KEY],
            input_base or None,
            fingerprint,
        )

        examples_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.EXAMPLES_KEY])
        parts_dir = os.path.join(examples_uri, ".quality_parts")
        tf.io.gfile.makedirs(parts_dir)
        exec_properties[_BUILDER_DIR] = prepared.builder_dir
        exec_properties[_QUALITY_PARTS_DIR] = parts_dir
        super().Do(input_dict, output_dict, exec_properties)

        good: Dict[str, int] = {}
        bad = list(prepared.bad_records)
        for path in sorted(tf.io.gfile.glob(os.path.join(parts_dir, "*.json"))):
            part = json.loads(tf.io.gfile.GFile(path).read())
            good[os.path.basename(path)[: -len(".json")]] = part["good"]
            bad.extend(records_from_dicts(part["bad"]))
        tf.io.gfile.rmtree(parts_dir)
        report = QualityReport(
            good=good, bad=bad, max_bad_fraction=float(exec_properties[MAX_BAD_FRACTION_KEY])
        )
        report_path = os.path.join(examples_uri, DATA_QUALITY_REPORT)
        with tf.io.gfile.GFile(report_path, "w") as handle:
            handle.write(json.dumps(report.to_dict(), indent=2))
        logging.info("%s\nreport: %s", report.summary(), report_path)
        if not report.passed:
            raise DataQualityError(report.failure_message(report_path))
