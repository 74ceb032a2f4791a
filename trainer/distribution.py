"""How the Trainer spreads over devices: one CPU, the GPUs of one machine, or several workers.

The choice follows what the machine and the launcher say, in this order:

1. TF_CONFIG naming more than one worker (`cluster.chief` plus `cluster.worker`) means a
   multi-worker job, as Vertex AI sets up for a training job with several replicas:
   `tf.distribute.MultiWorkerMirroredStrategy`. Vertex names the first worker pool "chief" and
   the others "worker"; plain TensorFlow clusters often have only "worker" tasks, whose index 0
   is the chief. Both are handled.
2. Otherwise one or more visible GPUs: `tf.distribute.MirroredStrategy` over all of them.
3. Otherwise TensorFlow's default strategy (one replica, on the CPU).

The choice itself (`plan_for`) is a pure function of the parsed TF_CONFIG and the GPU count, so
it can be tested on any machine; `choose_strategy` adds the side effect of building the strategy.

Call `choose_strategy` at the very start of the trainer, before any other TensorFlow op:
MultiWorkerMirroredStrategy starts a gRPC server and configures the eager context, which
TensorFlow refuses once the context is initialised.
"""

import json
import logging
import os
import tempfile
from dataclasses import dataclass, replace

import tensorflow as tf
import tf_keras as keras

__all__ = [
    "DEFAULT",
    "MIRRORED",
    "MULTI_WORKER_MIRRORED",
    "DistributionPlan",
    "choose_strategy",
    "configure_mixed_precision",
    "describe",
    "global_batch_size",
    "log_plan",
    "parse_tf_config",
    "plan_for",
    "should_write_outputs",
    "worker_output_dir",
]

DEFAULT = "default"
MIRRORED = "mirrored"
MULTI_WORKER_MIRRORED = "multi_worker_mirrored"
_STRATEGY_LABELS = {
    DEFAULT: "default strategy",
    MIRRORED: "MirroredStrategy",
    MULTI_WORKER_MIRRORED: "MultiWorkerMirroredStrategy",
}
# The task types that train under MultiWorkerMirroredStrategy (the chief is also a worker).
_TRAINING_TASK_TYPES = ("chief", "worker")
_MIXED_PRECISION_POLICY = "mixed_float16"
_FULL_PRECISION_POLICY = "float32"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributionPlan:
    """What the trainer will run on, decided before any strategy exists.

    num_replicas_in_sync counts replicas over the whole cluster (workers x devices per worker):
    it is what the per-replica batch size is multiplied by. gpus counts the GPUs of this worker.
    task_type and task_index name this process in a multi-worker cluster (None elsewhere); the
    output of a non-chief worker is kept apart by them (see `worker_output_dir`).
    """

    strategy_name: str
    num_replicas_in_sync: int
    num_workers: int
    is_chief: bool
    mixed_precision: bool
    gpus: int
    task_type: str | None = None
    task_index: int | None = None

    @property
    def replicas_per_worker(self) -> int:
        """Devices each worker trains on (every worker has the same count under MWMS)."""
        return self.num_replicas_in_sync // self.num_workers


def parse_tf_config(raw: str | None) -> dict | None:
    """Parse TF_CONFIG's text; None when it is unset or blank (no cluster: a single machine).

    Raises ValueError naming TF_CONFIG when the text is not a JSON object with a `cluster`
    mapping: a launcher that sets TF_CONFIG means a cluster, and silently training alone on
    each machine would waste the job and write clashing outputs.
    """
    if raw is None or not raw.strip():
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {raw!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, got {type(config).__name__}: {raw!r}")
    cluster = config.get("cluster")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"TF_CONFIG has no 'cluster' mapping of task types to addresses: {raw!r}")
    for task_type, addresses in cluster.items():
        if not isinstance(addresses, list):
            raise ValueError(
                f"TF_CONFIG cluster.{task_type} must be a list of host:port addresses, got {addresses!r}"
            )
    return config


def _count_workers(cluster: dict) -> int:
    return sum(len(cluster.get(task_type, [])) for task_type in _TRAINING_TASK_TYPES)


def _task_of(config: dict) -> tuple[str, int]:
    """This process's (type, index) in a multi-worker TF_CONFIG, checked against the cluster."""
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(
            "TF_CONFIG names several workers but no task {'type': ..., 'index': ...} "
            f"saying which one this process is: {config!r}"
        )
    task_type, task_index = task["type"], task["index"]
    if task_type not in _TRAINING_TASK_TYPES:
        raise ValueError(
            f"TF_CONFIG task type {task_type!r} cannot train here: MultiWorkerMirroredStrategy "
            f"runs only {' and '.join(_TRAINING_TASK_TYPES)} tasks"
        )
    addresses = config["cluster"].get(task_type, [])
    if not isinstance(task_index, int) or not 0 <= task_index < len(addresses):
        raise ValueError(
            f"TF_CONFIG task index {task_index!r} is out of range for cluster.{task_type} "
            f"({len(addresses)} addresses)"
        )
    return task_type, task_index


def plan_for(tf_config: dict | None, num_gpus: int) -> DistributionPlan:
    """Decide the strategy from a parsed TF_CONFIG (None: no cluster) and this worker's GPUs.

    Mixed precision goes with GPUs: float16 compute is what their tensor cores speed up, while
    on CPU it is slower than float32.
    """
    use_gpus = num_gpus > 0
    num_workers = _count_workers(tf_config["cluster"]) if tf_config else 1
    if tf_config and num_workers > 1:
        task_type, task_index = _task_of(tf_config)
        # Vertex AI has a chief entry; a plain TensorFlow cluster makes worker 0 the chief.
        chief_type = "chief" if tf_config["cluster"].get("chief") else "worker"
        return DistributionPlan(
            strategy_name=MULTI_WORKER_MIRRORED,
            num_replicas_in_sync=num_workers * max(num_gpus, 1),
            num_workers=num_workers,
            is_chief=task_type == chief_type and task_index == 0,
            mixed_precision=use_gpus,
            gpus=num_gpus,
            task_type=task_type,
            task_index=task_index,
        )
    return DistributionPlan(
        strategy_name=MIRRORED if use_gpus else DEFAULT,
        num_replicas_in_sync=max(num_gpus, 1),
        num_workers=1,
        is_chief=True,
        mixed_precision=use_gpus,
        gpus=num_gpus,
    )


def _build_strategy(plan: DistributionPlan, tf_config: dict | None) -> tf.distribute.Strategy:
    if plan.strategy_name == MULTI_WORKER_MIRRORED and tf_config:
        # The cluster comes from the TF_CONFIG that was parsed (not TensorFlow's own re-read of
        # the environment), so the plan and the strategy cannot disagree. A resolver other than
        # TFConfigClusterResolver must state the local GPUs, or the strategy would use none.
        cluster = tf_config["cluster"]
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec({t: cluster[t] for t in _TRAINING_TASK_TYPES if t in cluster}),
            task_type=plan.task_type,
            task_id=plan.task_index,
            num_accelerators={"GPU": plan.gpus},
            rpc_layer=tf_config.get("rpc_layer") or "grpc",
        )
        # AUTO: NCCL all-reduce between GPUs, ring all-reduce over gRPC between CPUs.
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=resolver,
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
            ),
        )
    if plan.strategy_name == MIRRORED:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def choose_strategy(
    tf_config: str | None = None, gpus: list | None = None
) -> tuple[tf.distribute.Strategy, DistributionPlan]:
    """Build the strategy for this process and return it with its plan.

    tf_config: TF_CONFIG's text; None reads the TF_CONFIG environment variable.
    gpus: the visible GPUs; None lists them with `tf.config.list_physical_devices("GPU")`.
    Raises ValueError when TF_CONFIG is malformed. The returned plan's replica count is the
    strategy's own, which is what the global batch size must be computed from.
    """
    config = parse_tf_config(os.environ.get("TF_CONFIG") if tf_config is None else tf_config)
    if gpus is None:
        gpus = tf.config.list_physical_devices("GPU")
    plan = plan_for(config, len(gpus))
    strategy = _build_strategy(plan, config)
    return strategy, replace(plan, num_replicas_in_sync=strategy.num_replicas_in_sync)


def global_batch_size(per_replica: int, plan: DistributionPlan) -> int:
    """The batch size to give tf.data: the config's --batch-size is per replica, and a
    distribution strategy splits each global batch across all replicas in sync."""
    if per_replica < 1:
        raise ValueError(f"per-replica batch size must be at least 1, got {per_replica}")
    return per_replica * plan.num_replicas_in_sync


def configure_mixed_precision(plan: DistributionPlan) -> None:
    """Set the process-wide Keras dtype policy for the plan: mixed_float16 on GPUs, float32 else.

    This is global state: it applies to every Keras layer created afterwards in this process, so
    call it before building the model (under the strategy's scope). It always sets the policy,
    whatever it was, so calling it again with the same plan changes nothing, and a float32 plan
    undoes an earlier mixed one. The models keep float32 logits through their last layer's dtype,
    and Keras' compile wraps the optimizer in a LossScaleOptimizer under mixed_float16.
    """
    keras.mixed_precision.set_global_policy(
        _MIXED_PRECISION_POLICY if plan.mixed_precision else _FULL_PRECISION_POLICY
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def describe(plan: DistributionPlan) -> str:
    """One line for logs, e.g.
    "MultiWorkerMirroredStrategy: 2 workers x 1 replica on CPU, chief, mixed precision off"."""
    device = "GPU" if plan.gpus else "CPU"
    role = "chief" if plan.is_chief else f"non-chief ({plan.task_type} {plan.task_index})"
    return (
        f"{_STRATEGY_LABELS[plan.strategy_name]}: {_plural(plan.num_workers, 'worker')} x "
        f"{_plural(plan.replicas_per_worker, 'replica')} on {device}, {role}, "
        f"mixed precision {'on' if plan.mixed_precision else 'off'}"
    )


def log_plan(plan: DistributionPlan) -> None:
    """Log `describe(plan)` at INFO, so every worker's log says how it trains."""
    _log.info("distribution: %s", describe(plan))


def should_write_outputs(plan: DistributionPlan) -> bool:
    """Whether this process's outputs are the real ones: only the chief's (every process is the
    chief outside multi-worker training)."""
    return plan.is_chief


def worker_output_dir(output_dir: str, plan: DistributionPlan) -> str:
    """Where this process should save a model that belongs in output_dir.

    Under MultiWorkerMirroredStrategy every worker must call the save: saving runs collective
    all-reduces across the workers (measured here: when the non-chief skipped
    `tf.saved_model.save`, the chief's save failed in CollectiveReduceV2 once the peer was gone,
    and it waits for a peer that is still alive), but only the chief's copy may land in
    output_dir: the others would clobber it. This is the
    Keras multi-worker pattern (`write_filepath`): the chief gets output_dir itself; a non-chief
    gets a directory of its own, which it should delete (`tf.io.gfile.rmtree`) after saving.

    Unlike the Keras tutorial, which puts the non-chief copies next to output_dir, they go to
    this machine's temporary directory: in TFX output_dir lies inside the Model artifact that
    Evaluator and Pusher read, and a copy that is thrown away need not cross the network to GCS.
    The name carries task type, index and process id, so workers sharing a machine (and
    concurrent runs) never share it, and the same process always gets the same path.
    """
    if should_write_outputs(plan):
        return output_dir
    base = os.path.basename(os.path.normpath(output_dir)) or "output"
    worker = f"segpipe-{plan.task_type}-{plan.task_index}-{os.getpid()}"
    return os.path.join(tempfile.gettempdir(), worker, base)
