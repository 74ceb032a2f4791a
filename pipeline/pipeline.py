"""The segmentation pipeline's DAG, built from one PipelineConfig.

ExampleGen (TFDS, with the bad-data gate) → StatisticsGen → SchemaGen (checked-in schema
imported, or inferred) → ExampleValidator; Transform (decode, resize, normalise) →
[TrainingGate: with --warm-start-from-blessed, what follows runs only when there is something
new to train on] → [Tuner] → Trainer → Evaluator (against the latest blessed model, found by a
Resolver) → Pusher (blessed only) → TfliteExport (the phone model: converted, scored, gated,
pushed beside the SavedModel) → RunReport (the run summary and the report, in its artifact).
With --tune the Tuner searches hyperparameters on the same splits as the Trainer and hands it
the best values; with --reuse-tuning a Resolver hands it the latest search's instead.
The same function feeds the local runner and the Vertex AI compiler, so every orchestrator
runs the same DAG.
"""

import contextlib
import hashlib
import json
import os
from typing import Any, Callable, Dict, List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base.base_node import BaseNode

from components.evaluator.component import Evaluator
from components.evaluator.eval_config import build_eval_config
from components.pusher.component import Pusher
from components.run_report.component import RunReport
from components.tfds_example_gen.component import TfdsExampleGen
from components.tflite.component import TfliteExport
from components.training_gate.component import TrainingGate
from contract.datasets import dataset_facts
from contract.names import EVAL_SPLIT, TRAIN_PROPERTY, TRAIN_SPLIT, VALIDATION_SPLIT
from contract.trained_on import KEY as TRAINING_KEY
from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from trainer.fingerprint import source_fingerprint
from trainer.hyperparameters import searched
from trainer.settings import TUNING_KEY, SearchSettings, TrainerSettings

# The Tuner's outputs (and the reuse Resolver's, by the same keys), and the Resolver's node id.
HYPERPARAMETERS, TUNER_RESULTS = "best_hyperparameters", "tuner_results"
LATEST_TUNING_RESOLVER = "latest_tuning_resolver"
# The TrainingGate's output.
DECISION = "decision"

# How an orchestrator swaps in its own Trainer or Pusher (Vertex AI: pipeline/vertex_runner.py).
# A trainer factory takes tfx.components.Trainer's keyword arguments; a pusher factory takes the
# model and blessing channels. None keeps the local ones.
TrainerFactory = Callable[..., BaseNode]
# A tuner factory takes tfx.components.Tuner's keyword arguments (Vertex AI: the Google Cloud Tuner).
TunerFactory = Callable[..., BaseNode]
PusherFactory = Callable[[tfx.dsl.Channel, tfx.dsl.Channel], BaseNode]


def create_components(
    config: PipelineConfig,
    trainer_factory: Optional[TrainerFactory] = None,
    pusher_factory: Optional[PusherFactory] = None,
    tuner_factory: Optional[TunerFactory] = None,
) -> List[BaseNode]:
    """The pipeline's components, wired in order."""
    example_gen = TfdsExampleGen(
        dataset_name=config.dataset.name,
        dataset_version=config.dataset.version,
        splits={
            TRAIN_SPLIT: config.dataset.train_split,
            VALIDATION_SPLIT: config.dataset.validation_split,
            EVAL_SPLIT: config.dataset.eval_split,
        },
        data_dir=config.dataset.data_dir,
        tfds_dir=config.tfds_dir,
        max_bad_fraction=config.dataset.max_bad_fraction,
        failure_report_dir=config.data_quality_dir,
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    if config.data_schema.mode == "import":
        schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_file)
    else:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
        )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    code = source_fingerprint()  # changed user code runs again; TFX's cache would not see it
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="trainer.preprocessing.preprocessing_fn",
        custom_config={"image_size": config.model.image_size, "dataset": config.dataset.name, "code": code},
        # Analyze on train only; transform what the Trainer reads. The eval split stays raw: only
        # the Evaluator sees it, through the exported model's own Transform graph.
        splits_config=tfx.proto.SplitsConfig(
            analyze=[TRAIN_SPLIT], transform=[TRAIN_SPLIT, VALIDATION_SPLIT]
        ),
        disable_statistics=True,  # statistics of float pixel tensors say nothing StatisticsGen didn't
    )
    latest_blessed = latest_blessed_model_resolver()
    warm_start = config.training.warm_start_from_blessed
    settings = TrainerSettings(model=config.model, training=config.training, dataset=config.dataset.name)
    trainer_config = {**settings.to_custom_config(), "code": code}
    key = training_key(trainer_config)
    # Fit on train; pick the epoch (early stopping, schedules) and score trials on validation,
    # never on eval.
    splits = {
        "examples": transform.outputs["transformed_examples"],
        "transform_graph": transform.outputs["transform_graph"],
        "schema": schema_gen.outputs["schema"],
        "base_model": latest_blessed.outputs["model"] if warm_start else None,
        "train_args": tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
        "eval_args": tfx.proto.EvalArgs(splits=[VALIDATION_SPLIT]),
    }
    # Retraining warm-starts from the latest blessed model, which changes with every push: the
    # gate keeps the run after a push from training again on the same data (its module says how).
    gate = (
        TrainingGate(
            examples=transform.outputs["transformed_examples"],
            blessed_model=latest_blessed.outputs["model"],
            training_key=key,
        )
        if warm_start
        else None
    )
    # The reused search's Resolver is a lookup, not work: it stays outside the gate's condition
    # (--tune and --reuse-tuning exclude each other).
    tuning: List[BaseNode] = [latest_tuning_resolver()] if config.tuning.reuse else []
    with tfx.dsl.Cond(gate_open(gate)) if gate else contextlib.nullcontext():
        if config.tuning.enabled:
            tuning = [
                (tuner_factory or tfx.components.Tuner)(
                    tuner_fn="trainer.tuning.tuner_fn",
                    custom_config={
                        **settings.to_custom_config(),
                        **tuner_custom_config(config),
                        "code": code,
                    },
                    **splits,
                )
            ]
        trainer = (trainer_factory or tfx.components.Trainer)(
            run_fn="trainer.task.run_fn",
            hyperparameters=tuning[0].outputs[HYPERPARAMETERS] if tuning else None,
            custom_config={**trainer_config, TRAINING_KEY: key},
            **splits,
        )
        release = release_components(
            config,
            example_gen.outputs["examples"],
            trainer.outputs["model"],
            pusher_factory,
            latest_blessed,
            tuning=tuning[0] if tuning else None,
        )
    return [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        transform,
        *([gate] if gate else []),
        *tuning,
        trainer,
        *release,
    ]


def training_key(trainer_config: Dict[str, Any]) -> str:
    """A digest of the Trainer's settings and code: what the model records it was trained with,
    and what the TrainingGate compares (contract/trained_on.py)."""
    return hashlib.sha256(json.dumps(trainer_config, sort_keys=True).encode()).hexdigest()[:16]


def gate_open(gate: BaseNode) -> Any:
    """The Cond's predicate: the gate decided to train (compiled for Vertex to a trigger policy
    on the gate's output metadata)."""
    return gate.outputs[DECISION].future()[0].custom_property(TRAIN_PROPERTY) == 1


def tuner_custom_config(config: PipelineConfig) -> Dict[str, Any]:
    """The search's settings, beside the Trainer's in the Tuner's custom_config."""
    search = SearchSettings.model_validate(config.tuning.model_dump(include=set(SearchSettings.model_fields)))
    return {TUNING_KEY: search.model_dump()}


def latest_tuning_resolver() -> BaseNode:
    """The latest search's best hyperparameters and its trials in this pipeline's metadata store
    (each the newest artifact of its type; one Tuner run writes both), for --reuse-tuning."""
    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
        **{
            HYPERPARAMETERS: tfx.dsl.Channel(type=tfx.types.standard_artifacts.HyperParameters),
            TUNER_RESULTS: tfx.dsl.Channel(type=tfx.types.standard_artifacts.TunerResults),
        },
    ).with_id(LATEST_TUNING_RESOLVER)


def latest_blessed_model_resolver() -> BaseNode:
    """The newest blessed model: the Evaluator's baseline, and a retraining run's warm start."""
    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")


def release_components(
    config: PipelineConfig,
    examples: tfx.dsl.Channel,
    model: tfx.dsl.Channel,
    pusher_factory: Optional[PusherFactory] = None,
    latest_blessed: Optional[BaseNode] = None,
    tuning: Optional[BaseNode] = None,
) -> List[BaseNode]:
    """What decides and ships: Resolver → Evaluator → Pusher → TfliteExport (unless --tflite no)
    → RunReport, for any model channel."""
    latest_blessed = latest_blessed or latest_blessed_model_resolver()
    evaluator = Evaluator(
        examples=examples,
        model=model,
        baseline_model=latest_blessed.outputs["model"],
        example_splits=[EVAL_SPLIT],
        eval_config=build_eval_config(
            dataset_facts(config.dataset.name).num_classes,
            config.evaluation.min_mean_iou,
            config.evaluation.min_improvement,
        ),
    )
    if pusher_factory:
        pusher = pusher_factory(model, evaluator.outputs["blessing"])
    else:
        if config.push.serving_root.startswith("gs://"):
            raise ConfigError(
                f"--serving-root: the local versioned Pusher publishes to a local or "
                f"mounted directory; a gs:// serving root needs `segpipe vertex`; "
                f"got {config.push.serving_root!r}"
            )
        pusher = Pusher(
            model=model,
            model_blessing=evaluator.outputs["blessing"],
            base_directory=os.path.join(config.serving_root, config.push.model_name),
            model_name=config.push.model_name,
            keep_versions=config.push.keep_versions,
        )
    # Vertex's Pusher publishes elsewhere (GCS, an endpoint): there the phone model stays in its
    # artifact; locally it goes beside the SavedModel.
    serving_base = "" if pusher_factory else os.path.join(config.serving_root, config.push.model_name)
    phone = (
        [
            TfliteExport(
                examples=examples,
                model=model,
                evaluation=evaluator.outputs["evaluation"],
                pushed_model=pusher.outputs["pushed_model"],
                trainer_settings=trainer_settings(config).model_dump_json(),
                max_drop=config.tflite.max_drop,
                serving_base=serving_base,
            )
        ]
        if config.tflite.enabled
        else []
    )
    run_report = RunReport(
        examples=examples,
        model=model,
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
        tflite_model=phone[0].outputs["tflite_model"] if phone else None,
        hyperparameters=tuning.outputs[HYPERPARAMETERS] if tuning else None,
        tuner_results=tuning.outputs[TUNER_RESULTS] if tuning else None,
        tuning=tuning_description(config) if tuning else "",
        dataset=config.dataset.name,
        pipeline_name=config.output.pipeline_name,
        min_mean_iou=config.evaluation.min_mean_iou,
        min_improvement=config.evaluation.min_improvement,
    )
    return [latest_blessed, evaluator, pusher, *phone, run_report]


def tuning_description(config: PipelineConfig) -> str:
    """How this run got its hyperparameters, for the run summary (JSON): its own search, with
    its settings, or the latest one reused."""
    tuning = config.tuning
    if tuning.enabled:
        return json.dumps(
            {
                "source": "search",
                "algorithm": tuning.algorithm,
                "max_trials": tuning.trials,
                "epochs_per_trial": tuning.epochs,
                "searched": searched(tuning, config.model),
            }
        )
    return json.dumps({"source": "reused"})


def trainer_settings(config: PipelineConfig) -> TrainerSettings:
    """The Trainer's settings (model, training, dataset): what it builds, and what the TFLite
    component rebuilds to convert."""
    return TrainerSettings(model=config.model, training=config.training, dataset=config.dataset.name)


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config: Optional[object] = None,
    components: Optional[List[BaseNode]] = None,
) -> tfx.dsl.Pipeline:
    """The TFX pipeline for this config; SQLite metadata under the output directory by default."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.output.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=components or create_components(config),
        enable_cache=True,
        metadata_connection_config=metadata_connection_config
        or tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path),
        beam_pipeline_args=config.beam_pipeline_args(),
    )
