"""An ExampleGen that reads any registered TFDS builder, with spans and a bad-data gate."""
from components.tfds_example_gen.component import TfdsExampleGen

__all__ = ["TfdsExampleGen"]
