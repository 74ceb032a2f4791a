"""Benchmarks: segpipe side by side with the TensorFlow segmentation tutorial, and where the time goes.

`make bench` (or `python -m bench.run_all [--quick]`) runs every benchmark in its own process and
writes one JSON file per benchmark, `summary.json` and `README_table.md` under bench/results/.
Nothing here is a test: the numbers are measurements, reported with the machine they came from.
"""
import os

# Keras 2 (tf_keras) everywhere, as in the project: TFT and TFMA 1.16 need it (see STACK.md).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
