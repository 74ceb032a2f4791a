"""TfdsExampleGen's driver: TFX's file-based ExampleGen driver, the one that also runs on Vertex AI.

The driver resolves the span (and version) of --data-dir and fingerprints its files before the
executor runs; the fingerprint is what lets the cache skip the ExampleGen when nothing changed,
and the span is what retraining reads. Under LocalDagRunner TFX runs DRIVER_CLASS; under
KubeflowV2 it runs its own file-based driver as the step's pre-cache-check hook, and only for
FileBasedExampleGen subclasses (docs/stack.md, "ExampleGen"). So the driver here IS TFX's
FileBasedDriver, over the input_base and split patterns spans.py makes of --data-dir: the same
span is read and the same fingerprint recorded wherever the pipeline runs.

One case differs: without --data-dir, TFDS downloads the dataset and there is no file to
glob. TFX's local driver refuses an empty input_base, so this one records span 0 and no
fingerprint; KubeflowV2's driver globs the empty pattern and records the fingerprint of no
files, the same every run. Either way the dataset's name and version, execution properties,
are what the cache keys on.
"""

from typing import Iterable, List, Optional, Tuple

from tfx.components.example_gen import driver, input_processor
from tfx.proto import example_gen_pb2, range_config_pb2

from components.tfds_example_gen import spans


class _DownloadInputProcessor(input_processor.InputProcessor):
    """TFDS downloads the dataset: span 0, no version, no fingerprint."""

    def get_pattern_for_span_version(self, pattern: str, span: int, version: Optional[int]) -> str:
        return pattern

    def get_latest_span(self) -> int:
        return 0


def make_input_processor(
    input_base: str,
    splits: Iterable[example_gen_pb2.Input.Split],
    range_config: Optional[range_config_pb2.RangeConfig] = None,
) -> input_processor.InputProcessor:
    """TFX's FileBasedInputProcessor over input_base; without one, the download's processor."""
    if not input_base:
        return _DownloadInputProcessor(splits, range_config)
    return input_processor.FileBasedInputProcessor(input_base, splits, range_config)


class TfdsDriver(driver.FileBasedDriver):
    """TFX's FileBasedDriver, which also accepts no input_base (TFDS downloads the dataset)."""

    def get_input_processor(
        self,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: Optional[range_config_pb2.RangeConfig] = None,
        input_base_uri: Optional[str] = None,
    ) -> input_processor.InputProcessor:
        return make_input_processor(input_base_uri or "", splits, range_config)


def resolve_input(data_dir: str, split_names: List[str]) -> Tuple[int, Optional[int], Optional[str]]:
    """(span, version, fingerprint) that the driver would record now for this data dir and splits.

    The fingerprint holds one line per split, named, so the names must be the pipeline's.
    """
    input_base, pattern = spans.input_location(data_dir)
    splits = [example_gen_pb2.Input.Split(name=name, pattern=pattern) for name in split_names]
    processor = make_input_processor(input_base, splits)
    span, version = processor.resolve_span_and_version()
    return span, version, processor.get_input_fingerprint(span, version)
