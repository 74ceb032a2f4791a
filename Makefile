# make demo: the whole pipeline on a built-in synthetic dataset, offline.
# make test: the test suite (make test-fast: the inner loop, without the slow tests).
# make lint: ruff (lint and format), mypy and the import contracts, as CI runs them.
# Both create .venv with Python 3.10 when it is missing or stale and install with the pinned
# constraints; a second call skips the install.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed
PYTHON_FOR_VENV := $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
DEMO_DATA ?= demo_data
DEMO_OUT ?= demo_out
DEMO_FLAGS ?=
PYTEST_FLAGS ?= -n 2

.PHONY: demo test test-fast lint docs install clean

$(STAMP): setup.py constraints.txt
	@test -n "$(PYTHON_FOR_VENV)" || { echo "Python 3.10 not found (tried python3.10 and pyenv's versions/3.10.*)"; exit 1; }
	@if [ ! -x $(VENV)/bin/python ] || ! $(VENV)/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
		rm -rf $(VENV) && $(PYTHON_FOR_VENV) -m venv $(VENV); fi
	$(VENV)/bin/pip install --quiet "pip==26.3" "wheel==0.48.0" "setuptools==69.5.1"
	@# Three tries: a dropped connection on a large wheel (TensorFlow is 590 MB) fails one
	@# try even after pip's own resumes; a new try starts the download over.
	@for try in 1 2 3; do \
		$(VENV)/bin/pip install --quiet --resume-retries 10 -c constraints.txt -e ".[test,lint]" && break; \
		[ $$try = 3 ] && exit 1; echo "pip install failed (try $$try of 3); trying again in 30 s"; sleep 30; done
	@touch $(STAMP)

install: $(STAMP)

# Batch 8, not the Trainer's GPU-sized 32: on 2 CPU cores the Trainer takes about 8% longer than
# at 16 and scores higher (README "The training recipe", the demo-scale ablation's -b8 rows).
demo: $(STAMP)
	@test -f $(DEMO_DATA)/annotations/test.txt || $(VENV)/bin/segpipe make-data $(DEMO_DATA) --train 600 --test 200 --seed 0 --faults 1
	$(VENV)/bin/segpipe run --data-dir $(DEMO_DATA) --output $(DEMO_OUT) --encoder-weights none --epochs 10 --batch-size 8 --min-mean-iou 0.45 $(DEMO_FLAGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_FLAGS) tests

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_FLAGS) -m "not slow" tests

docs: $(STAMP)
	$(VENV)/bin/python -m docs.model_figures

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) $(DEMO_OUT) $(DEMO_DATA) bench/results/tmp

# make bench: benchmarks against the tutorial and where the time goes (bench/run_all.py);
# BENCH_FLAGS=--quick for a run of a few minutes.
BENCH_FLAGS ?=
.PHONY: bench
bench: $(STAMP)
	$(VENV)/bin/python -m bench.run_all $(BENCH_FLAGS)

# make bench-ablation: the training recipe's options one by one, over 3 seeds, against the
# tutorial's code and FCN-8s (bench/ablation.py; 60 to 95 minutes on 2 cores, rows already
# computed with the same code are read from a cache); BENCH_ABLATION_FLAGS=--demo-scale: the
# tutorial against the defaults (without and with the test-time flip, at batch 16, 8 and 4) at
# make demo's sizes (70 to 110 min).
.PHONY: bench-ablation
# TensorFlow's C++ notices and Google's FutureWarnings start at import, before the ablation
# sends the libraries' output to its log file, so they are turned off here for the whole run.
bench-ablation: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=$${TF_CPP_MIN_LOG_LEVEL:-3} PYTHONWARNINGS=ignore::FutureWarning \
		$(VENV)/bin/python -m bench.ablation $(BENCH_ABLATION_FLAGS)

# make bench-gpu: the Trainer's own input pipeline and model on a GPU, float32 and mixed
# precision, XLA off and on, batch sizes up to memory (bench/gpu/; on a CPU a tiny run).
BENCH_GPU_FLAGS ?=
.PHONY: bench-gpu
bench-gpu: $(STAMP)
	$(VENV)/bin/python -m bench.gpu $(BENCH_GPU_FLAGS)
