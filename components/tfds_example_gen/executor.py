"""TfdsExampleGen's executor: prepare the TFDS copy, read it with Beam, gate bad records.

0. The driver has chosen the delivery (span, version) and rewritten the split patterns to it;
   its folder is input_base plus that pattern less the list files (spans.py).
1. The TFDS builder prepares its copy (download, or the delivery's raw files, local or on GCS;
   tfds_source.py), once per folder and fingerprint of its list files.
2. For each split, Beam reads the copy with `tfds.beam.ReadFromTFDS` (so it scales out on
   Dataflow), keeping image and mask encoded, checks every record with the decoders Transform
   will use (record_checks.py), and writes good records as gzipped tf.Examples through
   TFX's own ExampleGen writer.
3. The bad records of every split (and the raw entries the builder never saw) are gathered into
   `data_quality_report.json` inside the Examples artifact, with the notes (what was unusual
   but kept). The execution fails with a one-line message only when their share is above
   `max_bad_fraction` or a split is left with no usable record; nothing is published then, and
   since TFX removes a failed execution's artifact, the report is also written to
   `failure_report_dir` (OUTPUT/data_quality/ locally), which the message names.
"""

import dataclasses
import json
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
import tensorflow_datasets as tfds
from tfx.components.example_gen import base_example_gen_executor, utils
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
from components.tfds_example_gen.raw_files import EmptySplitError, original_name
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
# JSON: output split name -> TFDS split expression (the split patterns are the driver's file globs).
TFDS_SPLITS_KEY = "tfds_splits"
TFDS_DIR_KEY = "tfds_dir"
MAX_BAD_FRACTION_KEY = "max_bad_fraction"
FAILURE_REPORT_DIR_KEY = "failure_report_dir"
# Handed from Do() to the Beam transform through exec_properties.
_BUILDER_DIR = "_tfds_builder_dir"
_QUALITY_PARTS_DIR = "_quality_parts_dir"
_STAGED_NAMES = "_staged_names"
_BAD = "bad"
_NOTE = "note"


class _CheckAndConvert(beam.DoFn):
    """Checks one TFDS record; emits a serialized tf.Example, or a BadRecord on the 'bad' tag,
    and the notes it earned on the 'note' tag."""

    def __init__(self, spec: DatasetFacts, split: str, staged_names: bool):
        super().__init__()
        self._spec = spec
        self._split = split
        self._staged_names = staged_names

    def process(self, record: Dict[str, Any]):
        spec = self._spec
        file_name = record[spec.file_name_feature].decode("utf-8")
        if self._staged_names:  # the raw-file check escaped it for the builder
            file_name = original_name(file_name)
        checked = check_record(
            file_name, record[spec.image_feature], record[spec.mask_feature], spec.mask_values
        )
        for note in checked.notes:
            yield beam.pvalue.TaggedOutput(_NOTE, note)
        if checked.problem:
            beam.metrics.Metrics.counter("data_quality", checked.problem.reason).inc()
            yield beam.pvalue.TaggedOutput(_BAD, dataclasses.replace(checked.problem, split=self._split))
            return
        height, width = checked.height, checked.width
        yield make_example(
            {
                IMAGE_KEY: record[spec.image_feature],
                MASK_KEY: checked.mask,
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


def _write_split_part(bad: List[BadRecord], good: int, notes: List[Tuple[str, int]], path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(
            json.dumps({"good": good, "bad": [dataclasses.asdict(r) for r in bad], "notes": dict(notes)})
        )


def _input_config(exec_properties: Dict[str, Any]) -> example_gen_pb2.Input:
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    return input_config


def _delivery(exec_properties: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """The folder of the delivery the driver chose (None: TFDS downloads) and its fingerprint.

    The fingerprint is taken again here, by TFX's own function over the resolved patterns, so
    that the prepared copy is keyed by the files this execution reads.
    """
    input_base = exec_properties.get(standard_component_specs.INPUT_BASE_KEY) or ""
    if not input_base:
        return None, None
    splits = _input_config(exec_properties).splits
    folder = spans.data_folder(input_base, splits[0].pattern)
    fingerprint, _, _ = utils.calculate_splits_fingerprint_span_and_version(input_base, splits)
    return folder, fingerprint


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _TfdsToExample(
    pipeline: beam.Pipeline,
    exec_properties: Dict[str, Any],
    split: str,
) -> beam.pvalue.PCollection:
    """Reads the TFDS split expression of one output split; returns its good records serialized."""
    spec = dataset_facts(exec_properties[DATASET_NAME_KEY])
    split_pattern = json.loads(exec_properties[TFDS_SPLITS_KEY])[split]
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
        | "CheckAndConvert"
        >> beam.ParDo(_CheckAndConvert(spec, split, exec_properties[_STAGED_NAMES])).with_outputs(
            _BAD, _NOTE, main="good"
        )
    )
    good_count = checked.good | "CountGood" >> beam.combiners.Count.Globally()
    note_counts = checked[_NOTE] | "CountNotes" >> beam.combiners.Count.PerElement()
    _ = (
        checked[_BAD]
        | "CollectBad" >> beam.combiners.ToList()
        | "WriteQualityPart"
        >> beam.Map(
            _write_split_part,
            good=beam.pvalue.AsSingleton(good_count),
            notes=beam.pvalue.AsList(note_counts),
            path=os.path.join(exec_properties[_QUALITY_PARTS_DIR], f"{split}.json"),
        )
    )
    return checked.good


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """ExampleGen executor over a prepared TFDS copy, with the bad-data gate."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """The PTransform of one output split; it takes the split's name, not its file pattern."""
        return _TfdsToExample

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
    ) -> Dict[str, beam.pvalue.PCollection]:
        """Each output split from its TFDS split expression: every split has the same file
        pattern (the driver's), so TFX's version, which hands the transform a pattern, cannot tell
        them apart."""
        to_examples = self.GetInputSourceToExamplePTransform()
        return {
            split.name: pipeline | f"InputToRecord[{split.name}]" >> to_examples(exec_properties, split.name)
            for split in _input_config(exec_properties).splits
        }

    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        exec_properties = dict(exec_properties)
        name = exec_properties[DATASET_NAME_KEY]
        folder, fingerprint = _delivery(exec_properties)
        max_bad_fraction = float(exec_properties[MAX_BAD_FRACTION_KEY])
        failure_dir = exec_properties.get(FAILURE_REPORT_DIR_KEY) or ""
        examples_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.EXAMPLES_KEY])
        try:
            prepared = prepare(
                name,
                exec_properties[DATASET_VERSION_KEY],
                exec_properties[TFDS_DIR_KEY],
                folder,
                fingerprint,
            )
        except EmptySplitError as error:
            staged = error.staged
            report = QualityReport(
                good={}, bad=staged.bad, max_bad_fraction=max_bad_fraction, notes=staged.notes
            )
            path = _write_report(report, failure_dir or examples_uri)
            raise DataQualityError(f"{error}; report: {path}") from None

        parts_dir = os.path.join(examples_uri, ".quality_parts")
        tf.io.gfile.makedirs(parts_dir)
        exec_properties[_BUILDER_DIR] = prepared.builder_dir
        exec_properties[_QUALITY_PARTS_DIR] = parts_dir
        exec_properties[_STAGED_NAMES] = prepared.staged
        super().Do(input_dict, output_dict, exec_properties)

        good: Dict[str, int] = {}
        bad = list(prepared.bad_records)
        notes = dict(prepared.notes)
        for path in sorted(tf.io.gfile.glob(os.path.join(parts_dir, "*.json"))):
            part = json.loads(tf.io.gfile.GFile(path).read())
            good[os.path.basename(path)[: -len(".json")]] = part["good"]
            bad.extend(records_from_dicts(part["bad"]))
            for kind, count in part["notes"].items():
                notes[kind] = notes.get(kind, 0) + count
        tf.io.gfile.rmtree(parts_dir)
        report = QualityReport(good=good, bad=bad, max_bad_fraction=max_bad_fraction, notes=notes)
        report_path = _write_report(report, examples_uri)
        logging.info("%s\nreport: %s", report.summary(), report_path)
        if not report.passed:
            # TFX removes a failed execution's artifact: keep the report where the message says.
            kept = _write_report(report, failure_dir) if failure_dir else report_path
            raise DataQualityError(report.failure_message(kept))


def _write_report(report: QualityReport, directory: str) -> str:
    """Writes data_quality_report.json into directory (local or gs://); returns its path."""
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, DATA_QUALITY_REPORT)
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(report.to_dict(), indent=2))
    return path
