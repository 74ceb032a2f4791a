"""The segmentation pipeline's DAG, built from one PipelineConfig.

ExampleGen (TFDS, with the bad-data gate) → StatisticsGen → SchemaGen (checked-in schema
imported, or inferred) → ExampleValidator; Transform (decode, resize, normalise) → Trainer →
Evaluator (against the latest blessed model, found by a Resolver) → Pusher (blessed only) →
TfliteExport (the phone model: converted, scored, gated, pushed beside the SavedModel) →
RunReport (the run summary and the report, in its artifact).
The same function feeds the local runner and the Vertex AI compiler, so every orchestrator
runs the same DAG.
"""

import os
from typing import Callable, List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base.base_node import BaseNode

from components.evaluator.component import Evaluator
from components.evaluator.eval_config import build_eval_config
from components.pusher.component import Pusher
from components.run_report.component import RunReport
from components.tfds_example_gen.component import TfdsExampleGen
from components.tflite.component import TfliteExport
from contract.datasets import dataset_facts
from contract.names import EVAL_SPLIT, TRAIN_SPLIT, VALIDATION_SPLIT
from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from trainer.fingerprint import source_fingerprint
from trainer.settings import TrainerSettings

# How an orchestrator swaps in its own Trainer or Pusher (Vertex AI: pipeline/vertex_runner.py).
# A trainer factory takes tfx.components.Trainer's keyword arguments; a pusher factory takes the
# model and blessing channels. None keeps the local ones.
TrainerFactory = Callable[..., BaseNode]
PusherFactory = Callable[[tfx.dsl.Channel, tfx.dsl.Channel], BaseNode]


def create_components(
    config: PipelineConfig,
    trainer_factory: Optional[TrainerFactory] = None,
    pusher_factory: Optional[PusherFactory] = None,
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
    trainer = (trainer_factory or tfx.components.Trainer)(
        run_fn="trainer.task.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=latest_blessed.outputs["model"] if warm_start else None,
        # Fit on train; pick the epoch (early stopping, schedules) on validation, never on eval.
        train_args=tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[VALIDATION_SPLIT]),
        custom_config={
            **TrainerSettings(
                model=config.model, training=config.training, dataset=config.dataset.name
            ).to_custom_config(),
            "code": code,
        },
    )
    return [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        transform,
        trainer,
        *release_components(
            config, example_gen.outputs["examples"], trainer.outputs["model"], pusher_factory, latest_blessed
        ),
    ]


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
        dataset=config.dataset.name,
        pipeline_name=config.output.pipeline_name,
        min_mean_iou=config.evaluation.min_mean_iou,
        min_improvement=config.evaluation.min_improvement,
    )
    return [latest_blessed, evaluator, pusher, *phone, run_report]


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
