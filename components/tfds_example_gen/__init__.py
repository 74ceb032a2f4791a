"""TfdsExampleGen (component.py): an ExampleGen that reads any registered TFDS builder, with spans
and a bad-data gate. Its helpers live beside it: the TFDS source, the raw-file and per-record
checks, the data-quality report, spans, the record format and the schema of its output.

Nothing is imported here, so that the command line can read the data-quality report's types
without loading TFX."""
