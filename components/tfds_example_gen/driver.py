"""Resolves the span of a local data location and fingerprints it, before the executor runs.

TFX's ExampleGen drivers record span, version and an input fingerprint on the Examples
artifact; the fingerprint is what lets the orchestrator's cache skip ExampleGen when the input
has not changed, and the span is what retraining reads. File-based ExampleGens glob split
patterns, but here the split "patterns" are TFDS split expressions, so this input processor
reads spans from the data directory itself (`--data-dir /data/pets/span-{SPAN}`).
"""

from typing import Any, Dict, Iterable, Optional, Tuple

from tfx.components.example_gen import driver, input_processor, utils
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_component_specs

from components.tfds_example_gen import spans


class TfdsInputProcessor(input_processor.InputProcessor):
    """Spans and fingerprints of a TFDS input: a local raw-file directory, or TFDS's download."""

    def __init__(
        self,
        input_base: str,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: Optional[range_config_pb2.RangeConfig] = None,
    ):
        super().__init__(splits, range_config)
        self._input_base = input_base

    def resolve_span_and_version(self) -> Tuple[int, Optional[int]]:
        if self._range_config:
            return super().resolve_span_and_version()
        return self.get_latest_span(), None

    def get_pattern_for_span_version(self, pattern: str, span: int, version: Optional[int]) -> str:
        return pattern  # a TFDS split expression, the same for every span

    def get_latest_span(self) -> int:
        return spans.latest_span(self._input_base) if spans.has_span(self._input_base) else 0

    def get_input_fingerprint(self, span: int, version: Optional[int]) -> Optional[str]:
        if not self._input_base:
            return None  # TFDS download: the dataset name and version are the identity
        return spans.fingerprint_directory(spans.span_location(self._input_base, span))


class TfdsDriver(driver.Driver):
    """ExampleGen driver that hands the executor the span's own data directory."""

    def get_input_processor(
        self,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: Optional[range_config_pb2.RangeConfig] = None,
        input_base_uri: Optional[str] = None,
    ) -> input_processor.InputProcessor:
        return TfdsInputProcessor(input_base_uri or "", splits, range_config)

    def resolve_exec_properties(
        self,
        exec_properties: Dict[str, Any],
        pipeline_info: data_types.PipelineInfo,
        component_info: data_types.ComponentInfo,
    ) -> Dict[str, Any]:
        exec_properties = super().resolve_exec_properties(exec_properties, pipeline_info, component_info)
        key = standard_component_specs.INPUT_BASE_KEY
        exec_properties[key] = spans.span_location(
            exec_properties.get(key) or "", exec_properties[utils.SPAN_PROPERTY_NAME]
        )
        return exec_properties
