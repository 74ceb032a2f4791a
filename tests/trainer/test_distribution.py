"""trainer.distribution: the strategy choice (pure, any machine) and a real 2-worker CPU run."""

import json
import math
import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import tf_keras as keras

from tests.helpers import REPO_ROOT
from trainer import distribution
from trainer.distribution import (
    DistributionPlan,
    choose_strategy,
    configure_mixed_precision,
    describe,
    global_batch_size,
    plan_for,
    should_write_outputs,
    worker_output_dir,
)

TWO_WORKERS = {"worker": ["host-a:2222", "host-b:2222"]}
VERTEX_CLUSTER = {"chief": ["host-a:2222"], "worker": ["host-b:2222"]}


def _config(cluster: dict, task_type: str, index: int) -> dict:
    return {"cluster": cluster, "task": {"type": task_type, "index": index}}


@pytest.fixture
def float32_policy_afterwards():
    """The dtype policy is process-wide: put it back so no later test builds float16 layers."""
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_no_tf_config_and_no_gpus_gives_the_default_cpu_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy, plan = choose_strategy(gpus=[])
    assert plan.strategy_name == "default"
    assert plan.num_replicas_in_sync == strategy.num_replicas_in_sync == 1
    assert (plan.num_workers, plan.gpus, plan.is_chief, plan.mixed_precision) == (1, 0, True, False)
    assert type(strategy).__name__ == "_DefaultDistributionStrategy"


def test_a_single_worker_tf_config_is_not_multi_worker():
    # Vertex sets TF_CONFIG even for a one-replica job: that is still a single machine.
    _, plan = choose_strategy(json.dumps(_config({"chief": ["host-a:2222"]}, "chief", 0)), gpus=[])
    assert plan.strategy_name == "default" and plan.is_chief


def test_gpus_choose_mirrored():
    plan = plan_for(None, num_gpus=2)
    assert plan == DistributionPlan(
        strategy_name="mirrored",
        num_replicas_in_sync=2,
        num_workers=1,
        is_chief=True,
        mixed_precision=True,
        gpus=2,
    )


def test_fake_gpu_list_is_counted(monkeypatch):
    # A MirroredStrategy cannot be built over fake GPUs: check the choice, not the strategy.
    def fake_build(plan, config):
        return SimpleNamespace(num_replicas_in_sync=plan.num_replicas_in_sync)

    monkeypatch.setattr(distribution, "_build_strategy", fake_build)
    _, plan = choose_strategy("", gpus=["fake"])
    assert (plan.strategy_name, plan.num_replicas_in_sync, plan.mixed_precision) == ("mirrored", 1, True)


def test_two_workers_choose_multi_worker_mirrored():
    plan = plan_for(_config(TWO_WORKERS, "worker", 1), num_gpus=0)
    assert plan.strategy_name == "multi_worker_mirrored"
    assert (plan.num_workers, plan.num_replicas_in_sync, plan.mixed_precision) == (2, 2, False)
    assert (plan.task_type, plan.task_index) == ("worker", 1)


def test_multi_worker_replicas_count_every_gpu_of_every_worker():
    plan = plan_for(_config(VERTEX_CLUSTER, "chief", 0), num_gpus=4)
    assert (plan.num_workers, plan.num_replicas_in_sync, plan.replicas_per_worker) == (2, 8, 4)
    assert plan.mixed_precision


@pytest.mark.parametrize(
    "cluster, task_type, index, is_chief",
    [
        (TWO_WORKERS, "worker", 0, True),  # TensorFlow convention: no chief entry, worker 0 leads
        (TWO_WORKERS, "worker", 1, False),
        (VERTEX_CLUSTER, "chief", 0, True),  # Vertex AI: worker pool 0 is "chief"
        (VERTEX_CLUSTER, "worker", 0, False),  # ... so worker 0 is not the chief there
        ({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "worker", 1, False),
    ],
)
def test_chief_detection(cluster, task_type, index, is_chief):
    plan = plan_for(_config(cluster, task_type, index), num_gpus=0)
    assert plan.is_chief is is_chief
    assert should_write_outputs(plan) is is_chief


@pytest.mark.parametrize(
    "raw, problem",
    [
        ("{not json", "not valid JSON"),
        ('["worker"]', "JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', "no 'cluster'"),
        ('{"cluster": {"worker": "a:1"}}', "list of host:port"),
        (json.dumps({"cluster": TWO_WORKERS}), "no task"),
        (json.dumps(_config({"worker": ["a:1", "b:1"], "ps": ["c:1"]}, "ps", 0)), "'ps'"),
        (json.dumps(_config(TWO_WORKERS, "worker", 2)), "out of range"),
    ],
)
def test_malformed_tf_config_raises_naming_tf_config(raw, problem):
    with pytest.raises(ValueError, match="TF_CONFIG") as err:
        choose_strategy(raw, gpus=[])
    assert problem in str(err.value)


def test_malformed_tf_config_in_the_environment_raises(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "cluster=worker")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        choose_strategy(gpus=[])


def test_global_batch_size_scales_with_replicas():
    assert global_batch_size(16, plan_for(None, 0)) == 16
    assert global_batch_size(16, plan_for(None, 2)) == 32
    assert global_batch_size(16, plan_for(_config(VERTEX_CLUSTER, "chief", 0), 4)) == 128
    with pytest.raises(ValueError):
        global_batch_size(0, plan_for(None, 0))


def test_mixed_precision_follows_the_plan_and_is_idempotent(float32_policy_afterwards):
    configure_mixed_precision(plan_for(None, 0))
    assert keras.mixed_precision.global_policy().name == "float32"
    for _ in range(2):
        configure_mixed_precision(plan_for(None, 2))
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    configure_mixed_precision(plan_for(None, 0))
    assert keras.mixed_precision.global_policy().name == "float32"


def test_describe_is_one_readable_line():
    assert describe(plan_for(_config(TWO_WORKERS, "worker", 0), 0)) == (
        "MultiWorkerMirroredStrategy: 2 workers x 1 replica on CPU, chief, mixed precision off"
    )
    assert describe(plan_for(_config(VERTEX_CLUSTER, "worker", 0), 2)) == (
        "MultiWorkerMirroredStrategy: 2 workers x 2 replicas on GPU, non-chief (worker 0), mixed precision on"
    )
    assert describe(plan_for(None, 0)) == (
        "default strategy: 1 worker x 1 replica on CPU, chief, mixed precision off"
    )


def test_worker_output_dir_keeps_non_chief_copies_out_of_the_real_dir(tmp_path):
    output_dir = str(tmp_path / "model" / "Format-Serving")

    def output_of(cluster, task_type, index):
        return worker_output_dir(output_dir, plan_for(_config(cluster, task_type, index), 0))

    assert worker_output_dir(output_dir, plan_for(None, 0)) == output_dir
    assert output_of(TWO_WORKERS, "worker", 0) == output_dir
    assert output_of(VERTEX_CLUSTER, "chief", 0) == output_dir
    worker_1 = output_of(TWO_WORKERS, "worker", 1)
    vertex_worker_0 = output_of(VERTEX_CLUSTER, "worker", 0)
    assert len({output_dir, worker_1, vertex_worker_0}) == 3
    assert not worker_1.startswith(str(tmp_path))  # nothing lands in or beside the real output
    assert os.path.basename(worker_1) == "Format-Serving"
    assert output_of(TWO_WORKERS, "worker", 1) == worker_1  # the same path on every call


# Run by each worker process of the real multi-worker test.
# argv: path of its JSON report, the output dir for the model.
WORKER_SCRIPT = """
import hashlib, json, os, sys

from trainer import distribution  # sets TF_USE_LEGACY_KERAS before TensorFlow is imported

strategy, plan = distribution.choose_strategy()  # from the TF_CONFIG environment variable

import numpy as np
import tensorflow as tf
import tf_keras as keras

distribution.configure_mixed_precision(plan)
# A different seed per worker: equal weights at the end can only come from the strategy
# (initial values broadcast from the chief, gradients all-reduced every step).
tf.random.set_seed(10 + plan.task_index)
rng = np.random.default_rng(0)  # the same data on both workers; the strategy shards it
images = rng.random((24, 16, 16, 3), dtype=np.float32)
masks = rng.integers(0, 3, (24, 16, 16)).astype(np.int32)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = (
    tf.data.Dataset.from_tensor_slices((images, masks))
    .repeat()
    .batch(distribution.global_batch_size(4, plan))
    .with_options(options)
)
with strategy.scope():
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(3, 1, dtype="float32"),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
history = model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
kernel = model.layers[0].kernel.numpy()
# The class offsets are fitted to logits every worker must see whole and alike (calibration.py).
from trainer.calibration import validation_logits
logits = validation_logits(model, images[:19])
# Every worker saves (the save has collectives), only the chief into the real output dir.
saved_to = distribution.worker_output_dir(sys.argv[2], plan)
tf.saved_model.save(model, saved_to)
if not distribution.should_write_outputs(plan):
    tf.io.gfile.rmtree(os.path.dirname(saved_to))
with open(sys.argv[1], "w") as report:
    json.dump({
        # The class behind the tf.distribute.MultiWorkerMirroredStrategy name is
        # CollectiveAllReduceStrategy.
        "multi_worker_mirrored": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
        "replicas": strategy.num_replicas_in_sync,
        "plan_replicas": plan.num_replicas_in_sync,
        "is_chief": plan.is_chief,
        "describe": distribution.describe(plan),
        "loss": history.history["loss"][-1],
        "kernel_sha256": hashlib.sha256(kernel.tobytes()).hexdigest(),
        "kernel_sum": float(kernel.sum()),
        "logits_shape": list(logits.shape),
        "logits_sha256": hashlib.sha256(logits.tobytes()).hexdigest(),
        "saved_to": saved_to,
    }, report)
"""
WORKER_TIMEOUT_S = 180  # about 40 s alone, 65 s beside another pytest-xdist worker


def _free_ports(count: int) -> list[int]:
    try:
        import portpicker
    except ImportError:
        portpicker = None
    if portpicker is not None:
        return [portpicker.pick_unused_port() for _ in range(count)]
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:  # all open at once, so the ports differ
            sock.bind(("localhost", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_two_cpu_workers_train_in_sync(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    output_dir = str(tmp_path / "model" / "Format-Serving")
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    processes, reports, logs = [], [], []
    try:
        for index in range(2):
            env = dict(
                os.environ,
                TF_CONFIG=json.dumps(_config(cluster, "worker", index)),
                TF_USE_LEGACY_KERAS="1",
                TF_CPP_MIN_LOG_LEVEL="2",
                CUDA_VISIBLE_DEVICES="-1",  # CPU workers, even on a machine with a GPU
                PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])),
            )
            reports.append(tmp_path / f"report-{index}.json")
            logs.append(tmp_path / f"worker-{index}.log")
            with open(logs[-1], "w") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, str(script), str(reports[-1]), output_dir],
                        env=env,
                        cwd=tmp_path,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        _wait_for_all_or_a_failure(processes, time.monotonic() + WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"workers still running after {WORKER_TIMEOUT_S}s:\n{_tails(logs)}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    codes = [process.returncode for process in processes]
    assert codes == [0, 0], f"exit codes {codes} (-9: killed after a peer failed):\n{_tails(logs)}"
    chief, other = (json.loads(report.read_text()) for report in reports)
    for report in (chief, other):
        assert report["multi_worker_mirrored"]
        assert report["replicas"] == report["plan_replicas"] == 2
        assert math.isfinite(report["loss"])
    assert (chief["is_chief"], other["is_chief"]) == (True, False)
    assert chief["describe"].startswith("MultiWorkerMirroredStrategy: 2 workers x 1 replica")
    assert chief["kernel_sha256"] == other["kernel_sha256"], (chief, other)
    assert chief["logits_shape"] == [19, 16, 16, 3] and chief["logits_sha256"] == other["logits_sha256"]
    assert chief["loss"] == pytest.approx(other["loss"])
    assert chief["saved_to"] == output_dir
    assert os.path.exists(os.path.join(output_dir, "saved_model.pb"))
    assert other["saved_to"] != output_dir and not os.path.exists(other["saved_to"])


def _wait_for_all_or_a_failure(processes: list, deadline: float) -> None:
    """Return when every process has exited or one has failed (its peers would then wait for
    it forever); raise TimeoutExpired at the deadline."""
    while True:
        codes = [process.poll() for process in processes]
        if None not in codes or any(code not in (None, 0) for code in codes):
            return
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired("multi-worker training", WORKER_TIMEOUT_S)
        time.sleep(0.5)


def _tails(logs: list) -> str:
    return "\n".join(
        f"--- {log.name}:\n{log.read_text()[-3000:] if log.exists() else '(no log)'}" for log in logs
    )
