"""TfdsExampleGen: the real TFDS builder on generated raw files, record format, splits, bad data."""

import json
import os
import tarfile

import pytest
import tensorflow as tf
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.tfds_example_gen import executor as executor_lib
from components.tfds_example_gen import spans
from components.tfds_example_gen.data_quality import DataQualityError
from components.tfds_example_gen.tfds_source import prepare
from contract import oxford_pets as layout
from contract.names import BYTES_FEATURES, DATA_QUALITY_REPORT, INT_FEATURES
from datagen.faults import REPORTED_AS, inject_faults


def run_executor(data_dir, tmp_path, splits=None, max_bad_fraction=0.05, failure_report_dir=""):
    """Runs the executor the way the orchestrator does after the driver, with in-process Beam."""
    splits = splits or {"train": "train", "eval": "test"}
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    input_base, pattern = spans.input_location(data_dir)  # no {SPAN}: as the driver leaves it
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name=name, pattern=pattern) for name in splits]
    )
    exec_properties = {
        "input_base": input_base,
        "input_config": proto_utils.proto_to_json(input_config),
        executor_lib.TFDS_SPLITS_KEY: json.dumps(splits),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output()),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        executor_lib.DATASET_NAME_KEY: "oxford_iiit_pet",
        executor_lib.DATASET_VERSION_KEY: "4.*.*",
        executor_lib.TFDS_DIR_KEY: str(tmp_path / "tfds"),
        executor_lib.MAX_BAD_FRACTION_KEY: max_bad_fraction,
        executor_lib.FAILURE_REPORT_DIR_KEY: failure_report_dir,
    }
    context = executor_lib.Executor.Context(
        beam_pipeline_args=["--runner=DirectRunner"], tmp_dir=str(tmp_path / "tmp")
    )
    executor_lib.Executor(context).Do({}, {"examples": [examples]}, exec_properties)
    return examples.uri


def read_split(uri, split):
    files = tf.io.gfile.glob(os.path.join(uri, f"Split-{split}", "*.gz"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in records]


def read_report(uri):
    with open(os.path.join(uri, DATA_QUALITY_REPORT)) as handle:
        return json.load(handle)


def test_examples_have_every_record_with_encoded_image_and_mask(dataset, tmp_path):
    uri = run_executor(dataset, tmp_path)
    listed = {s: layout.parse_list_file(layout.list_file_path(dataset, s)) for s in ("train", "test")}
    for split, tfds_split in (("train", "train"), ("eval", "test")):
        examples = read_split(uri, split)
        assert len(examples) == len(listed[tfds_split])
        by_name = {e.name: e for e in listed[tfds_split]}
        for example in examples:
            features = example.features.feature
            assert set(features) == set(BYTES_FEATURES + INT_FEATURES)
            name = features["file_name"].bytes_list.value[0].decode()
            entry = by_name[name[: -len(".jpg")]]
            assert features["label"].int64_list.value[0] == entry.class_id - 1
            assert features["species"].int64_list.value[0] == entry.species_id - 1
            image = tf.io.decode_jpeg(features["image"].bytes_list.value[0])
            mask = tf.io.decode_png(features["segmentation_mask"].bytes_list.value[0])
            assert (
                image.shape[:2]
                == mask.shape[:2]
                == (features["height"].int64_list.value[0], features["width"].int64_list.value[0])
            )
            with open(layout.image_path(dataset, entry), "rb") as handle:
                assert features["image"].bytes_list.value[0] == handle.read()  # kept encoded
    report = read_report(uri)
    assert report["bad"] == 0 and report["good_per_split"] == {"train": 16, "eval": 8}


def test_tfds_sub_splits_map_to_pipeline_splits(dataset, tmp_path):
    uri = run_executor(dataset, tmp_path, splits={"train": "train[:75%]", "eval": "train[75%:]+test"})
    assert (len(read_split(uri, "train")), len(read_split(uri, "eval"))) == (12, 12)


def test_bad_records_are_left_out_and_reported_by_reason_and_file(dataset, tmp_path):
    damaged = inject_faults(dataset, per_kind=1, seed=1)
    uri = run_executor(dataset, tmp_path, max_bad_fraction=0.5)
    report = read_report(uri)
    assert report["bad"] == len(REPORTED_AS) and report["good"] == 24 - len(REPORTED_AS)
    for kind, names in damaged.items():
        reported = report["bad_by_reason"][REPORTED_AS[kind]]["records"]
        assert {n + ".jpg" for n in names} <= {r["file_name"] for r in reported}, kind
    written = {
        e.features.feature["file_name"].bytes_list.value[0].decode()
        for split in ("train", "eval")
        for e in read_split(uri, split)
    }
    assert not written & {n + ".jpg" for names in damaged.values() for n in names}
    assert len(written) == report["good"]


def test_too_much_bad_data_fails_with_a_message_naming_the_limit(dataset, tmp_path):
    inject_faults(dataset, per_kind=1, seed=2)
    with pytest.raises(DataQualityError) as error:
        run_executor(dataset, tmp_path, max_bad_fraction=0.05)
    message = str(error.value)
    assert "8 of 24 records" in message and "--max-bad-fraction" in message
    assert "undecodable_image 2" in message and "\n" not in message


def test_builder_reads_the_original_archives_too(dataset, tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    for name in ("images", "annotations"):
        with tarfile.open(archives / f"{name}.tar.gz", "w:gz") as tar:
            tar.add(os.path.join(dataset, name), arcname=name)
    prepared = prepare("oxford_iiit_pet", "4.*.*", str(tmp_path / "tfds"), str(archives), "fp")
    assert prepared.bad_records == []
    assert os.path.isdir(prepared.builder_dir)


def test_prepared_copy_is_reused_for_the_same_input(dataset, tmp_path):
    first = prepare("oxford_iiit_pet", "4.*.*", str(tmp_path / "tfds"), dataset, "fp-1")
    stamp = os.path.getmtime(os.path.join(first.builder_dir, "dataset_info.json"))
    again = prepare("oxford_iiit_pet", "4.*.*", str(tmp_path / "tfds"), dataset, "fp-1")
    assert again.builder_dir == first.builder_dir
    assert os.path.getmtime(os.path.join(again.builder_dir, "dataset_info.json")) == stamp
    changed = prepare("oxford_iiit_pet", "4.*.*", str(tmp_path / "tfds"), dataset, "fp-2")
    assert changed.builder_dir != first.builder_dir
