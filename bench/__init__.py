"""Benchmarks: segpipe side by side with the TensorFlow segmentation tutorial, and where the time goes.

`make bench` (or `python -m bench.run_all [--quick]`) runs every benchmark in its own process and
writes one JSON file per benchmark, `summary.json` and `README_table.md` under bench/results/.
Nothing here is a test: the numbers are measurements, reported with the machine they came from.
"""

import contract  # noqa: F401  (settles Keras 2 before any TensorFlow import: contract/__init__.py)
