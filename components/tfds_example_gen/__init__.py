"""TfdsExampleGen: an ExampleGen that reads any registered TFDS builder, with spans and a
bad-data gate. Its helpers live beside it: the TFDS source, the raw-file and per-record
checks, the data-quality report, spans, the record format and the schema of its output."""

from components.tfds_example_gen.component import TfdsExampleGen

__all__ = ["TfdsExampleGen"]
