"""GPU training benchmark (issue 17): the Trainer's own input pipeline and model, bounded in time.

    python -m bench.gpu [--quick] [--out bench/results/gpu.json] [--budget-seconds N] [--require-gpu]

What it measures, on data it generates on the machine (nothing is downloaded):
- for float32 and mixed_float16, with and without XLA (`jit_compile`), and for batch sizes up to
  what memory allows (growing stops at the first ResourceExhaustedError, which is recorded):
  training images/s, step time p50/p99, the GPU memory peak, and the TFLOP/s achieved against
  the device's dense peak. Each configuration is the Trainer's path: the model of its default
  settings with encoder weights none (`trainer.task.build_for`), compiled by
  `trainer.task.compile_model` under the strategy `trainer.distribution` picks, with the dtype
  policy set by `distribution.configure_mixed_precision`, fed by
  `trainer.data.make_dataset(load_split(...))` from gzipped TFRecords of transformed
  examples, as Transform writes them;
- whether the input pipeline is the bottleneck: the same compiled model is then fed cached,
  already transformed tensors from memory (`from_tensor_slices`), and the ratio is recorded;
- whether mixed precision costs accuracy: the float32 and mixed-precision models of the
  reference batch size without XLA start from the same seed and see the same batches; after their
  timed steps both train on for a few hundred more, and their eval mean IoU on held-out images
  must agree within 0.01;
- `predict_images` latency at batch 1 and 32 through a SavedModel exported by the Trainer's own
  `export_saved_model` (Transform graph written without data, as tests/helpers.py does);
- optionally, a profiler trace of a few steps of the fastest configuration, reduced to its top
  kernels by device time (the trace itself is not kept).

Achieved FLOP/s = images/s x 3 x forward FLOPs per image. The forward FLOPs are the ones
bench/ceiling.py measured at 128 px (bench/results/ceiling.json), scaled by the pixel count at
other sizes (every layer of this fully convolutional network scales with it). The 3 is the
usual training rule: the backward pass costs about twice the forward one (gradients with respect
to activations and to weights, each about one forward pass of multiply-adds). BatchNorm,
activations and the optimizer are not counted, so the figure slightly understates the work.

Images/s come from a window of steps that run as the Trainer's fit runs them (no device sync
between steps, so the host queues the next step while the device computes); p50/p99 come from a
second window whose every step waits for the device, so each time is one step's real latency.

Everything is bounded by --budget-seconds, counted from the start of `main` (after the imports,
which bench/__init__.py begins by settling Keras 2 through `contract`): the essential
measurements run first, and whatever would overrun is skipped with a note. The JSON and the
markdown table are rewritten after every phase, so a run killed from outside still leaves what
it measured. Without a GPU, or with --quick, it runs a tiny version
(32 px, batches of 2 to 8, a few steps, no XLA) so that tests keep this script working.

Modules: settings (sizes, options, budget, every constant), device (what the run is on and
its peaks), flops (FLOPs per image), data (the generated, transformed data), harness (the
Trainer's model and feeds, timed), checks (accuracy, predict latency, profile), profiling
(the profiler callback and its kernel summary), measure (the run's plan: the Bench), report
(the JSON and the table), cli (the command line; `__main__` runs it).
"""
