"""`segpipe`: the command line of the segmentation pipeline.

    segpipe make-data DIR [--train N --test N --seed S]   synthetic Oxford-IIIT Pet files
    segpipe run [--config FILE] [--data-dir DIR] [--output OUT] [...]   run the pipeline
    segpipe retrain [same flags as run]   train again only when new data arrived (for cron)
    segpipe summary [--model unet|fcn8 --encoder-weights ...]   which layers train
    segpipe metrics [--output OUT] [--json]   the latest run's metrics per slice
    segpipe predict IMAGE... --server URL | --grpc HOST:PORT | --model-dir DIR | --tflite DIR_OR_FILE
                                            masks and overlays
    segpipe vertex compile|submit|schedule [--vertex-project P --gcs-root gs://B/P --image-uri I ...]
                                            the same pipeline on Vertex AI Pipelines

Every setting flag comes from the settings' own declarations (pipeline/flags.py), so flags,
config files and defaults cannot drift apart. A bad value ends the command before any work,
with exit code 2 and a message naming the flag and what it accepts.
"""

import argparse
import json
import logging
import os
import sys
import warnings
from typing import Callable, List, NoReturn, Optional

from pipeline import flags, run_summary
from pipeline.errors import ConfigError
from pipeline.run_lock import RunLockedError, run_lock
from pipeline.vertex_settings import validate_vertex

# Where the model's layers, shapes and skips are explained (printed by `segpipe summary`).
MODEL_DOCS = "docs/how-the-model-works.md"
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_BUSY = 3


class _Parser(argparse.ArgumentParser):
    """argparse, but errors read 'segpipe run: error: --flag: ...' and exit with code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message.replace('argument ', '')}\n")


def _positive_int(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
        return value

    parse.__name__ = flag
    return parse


def _make_data(args: argparse.Namespace) -> int:
    from datagen.faults import inject_faults
    from datagen.real_world import apply_real_world
    from datagen.synthetic_pets import write_dataset

    summary = write_dataset(args.dir, n_train=args.train, n_test=args.test, seed=args.seed, style=args.style)
    if args.faults:
        summary["faults"] = inject_faults(args.dir, args.faults, seed=args.seed)
    if args.real_world:
        summary["real_world"] = apply_real_world(args.dir, seed=args.seed)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _run(args: argparse.Namespace) -> int:
    config = flags.config_from_args(args)
    with run_lock(config.output_dir, wait=args.wait):
        from pipeline.run_session import run_and_report  # TensorFlow, TFX and Beam load here

        return run_and_report(config, "segpipe run", verbose=args.verbose)


def _retrain(args: argparse.Namespace) -> int:
    config = flags.config_from_args(args)
    config.training.warm_start_from_blessed = True
    with run_lock(config.output_dir, wait=args.wait):
        from pipeline.retrain import needs_training
        from pipeline.run_session import run_and_report

        needed, why = needs_training(config)
        print(f"segpipe retrain: {why}", flush=True)
        return run_and_report(config, "segpipe retrain", verbose=args.verbose) if needed else 0


def _summary(args: argparse.Namespace) -> int:
    config = flags.config_from_args(args)
    from contract.datasets import dataset_facts
    from trainer.models import format_trainable_summary, trainable_summary
    from trainer.settings import TrainerSettings
    from trainer.task import build_for

    settings = TrainerSettings(model=config.model, training=config.training, dataset=config.dataset.name)
    model = build_for(settings, dataset_facts(config.dataset.name).num_classes)
    print(
        f"{config.model.name} at {config.model.image_size}x{config.model.image_size}, "
        f"encoder weights {config.model.encoder_weights}, freeze encoder {config.model.freeze_encoder}"
    )
    print(format_trainable_summary(trainable_summary(model)))
    print(f"why these layers train: {MODEL_DOCS}#1-which-layers-train")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    config = flags.config_from_args(args)
    summary = run_summary.load_summary(config.output_dir)
    if summary is None:
        print(
            f"segpipe metrics: no run summary at {run_summary.summary_path(config.output_dir)}; "
            "run the pipeline first",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(json.dumps(summary, indent=2) if args.json else run_summary.format_metrics_table(summary))
    return 0


def _vertex(args: argparse.Namespace) -> int:
    config = flags.config_from_args(args)
    validate_vertex(config, need_cron=args.vertex_command == "schedule")
    from pipeline import vertex_jobs, vertex_runner

    try:
        path = vertex_runner.compile_pipeline(
            config, args.output_json or vertex_runner.default_output_json(config)
        )
    except vertex_runner.VertexCompileError as error:
        print(f"segpipe vertex {args.vertex_command}: failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.vertex_command == "compile":
        print(path)
    elif args.vertex_command == "submit":
        job = vertex_jobs.submit(config, path, args.display_name)
        print(f"submitted {path} to Vertex AI Pipelines: {getattr(job, 'resource_name', '')}")
    else:
        schedule = vertex_jobs.schedule(config, path, args.display_name)
        print(
            f"scheduled {path} on Vertex AI Pipelines at {config.vertex.schedule_cron!r}: "
            f"{getattr(schedule, 'resource_name', '')}"
        )
    return 0


def _add_vertex_commands(commands: argparse._SubParsersAction) -> None:
    vertex = commands.add_parser(
        "vertex", help="Compile the pipeline for Vertex AI Pipelines, run it there once, or on a schedule."
    )
    actions = vertex.add_subparsers(dest="vertex_command", required=True, parser_class=_Parser)
    for name, help_text in (
        ("compile", "Write the pipeline JSON (KubeflowV2) and print its path."),
        ("submit", "Compile, then start one run on Vertex AI Pipelines."),
        ("schedule", "Compile, then create a Vertex AI schedule that runs it on --cron."),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument(
            "--output-json",
            metavar="FILE",
            help="Where to write the pipeline JSON (default: OUTPUT/vertex/PIPELINE_NAME.json).",
        )
        if name != "compile":
            action.add_argument(
                "--display-name",
                metavar="NAME",
                help="Display name of the run or schedule (default: the pipeline name).",
            )
        flags.add_setting_flags(action, flags.VERTEX_SECTIONS)
        action.set_defaults(handler=_vertex)


def _add_pipeline_run_flags(command: argparse.ArgumentParser) -> None:
    """The flags of the commands that run the pipeline locally (`run`, `retrain`): every setting
    of the pipeline, how much of the libraries' log the console shows, and what to do when
    another run holds the output directory."""
    flags.add_setting_flags(command, flags.PIPELINE_SECTIONS)
    command.add_argument(
        "--verbose",
        action="store_true",
        help="Also show the libraries' log (TFX, Beam, TensorFlow) on the console; it always goes "
        "to OUTPUT/logs/<run id>.log.",
    )
    command.add_argument(
        "--wait",
        action="store_true",
        help="If another run holds the output directory, wait for it instead of refusing.",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="segpipe", description="TFX pipeline for U-Net image segmentation.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    make_data = commands.add_parser(
        "make-data", help="Write a synthetic dataset in the exact on-disk layout of Oxford-IIIT Pet."
    )
    make_data.add_argument("dir", help="Directory to write (images/, annotations/).")
    make_data.add_argument(
        "--train",
        type=_positive_int("--train"),
        default=1000,
        help="Images listed in annotations/trainval.txt (default 1000).",
    )
    make_data.add_argument(
        "--test",
        type=_positive_int("--test"),
        default=500,
        help="Images listed in annotations/test.txt (default 500).",
    )
    make_data.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
    make_data.add_argument(
        "--style",
        choices=("default", "alternate"),
        default="default",
        help="How the photos are drawn: the built-in set's way, or another (larger photos, other "
        "pet sizes, harsher JPEG, a wider border band), to check a model on data drawn differently.",
    )
    make_data.add_argument(
        "--faults",
        type=int,
        default=0,
        metavar="N",
        help="Damage N entries per kind of bad data (truncated or non-image "
        "JPEGs, truncated masks, masks of the wrong size or with unknown "
        "values, missing files, malformed list lines) to see the gate work.",
    )
    make_data.add_argument(
        "--real-world",
        action="store_true",
        help="Also shape the data like real downloads and users' folders: photos stored rotated "
        "with an EXIF orientation, palette and 16-bit trimaps, names with spaces and tabs, blank "
        "and '#' lines, a byte-order mark and CRLF in list files, another breed numbering, "
        "dangling symlinks (datagen/real_world.py).",
    )
    make_data.set_defaults(handler=_make_data)

    run = commands.add_parser("run", help="Run the pipeline on the local orchestrator.")
    _add_pipeline_run_flags(run)
    run.set_defaults(handler=_run)

    retrain = commands.add_parser(
        "retrain",
        help="Train again if a new span (or changed data) "
        "arrived: warm-start from the latest blessed model, evaluate "
        "against it, push only if better. Idempotent, for cron.",
    )
    _add_pipeline_run_flags(retrain)
    retrain.set_defaults(handler=_retrain)

    summary = commands.add_parser(
        "summary",
        help="Print which layers of the configured model train and which are frozen, with parameter counts.",
    )
    flags.add_setting_flags(summary, ("dataset", "model"))
    summary.set_defaults(handler=_summary)

    metrics = commands.add_parser(
        "metrics", help="Print the latest run's metrics per slice (from OUTPUT/run_summary.json)."
    )
    metrics.add_argument("--json", action="store_true", help="Print the whole run summary as JSON.")
    flags.add_setting_flags(metrics, ("output",))
    metrics.set_defaults(handler=_metrics)

    from serving import predict_cli

    predict = commands.add_parser(
        "predict",
        help="Segment images with TF Serving (REST or gRPC), the SavedModel "
        "in-process or the phone model (TFLite); writes masks and overlays.",
    )
    predict_cli.add_arguments(predict)
    predict.set_defaults(handler=predict_cli.run)

    _add_vertex_commands(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    runs = args.command in ("run", "retrain")
    # TensorFlow's C++ log lines (CUDA probing, decoder complaints about the very files the
    # data-quality report names): a run keeps its warnings in its log file; elsewhere they would
    # bury the output. Set before any command imports TensorFlow.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if runs else "3")
    # google-api-core warns on every import that Python 3.10 support is ending; TFX 1.16 needs 3.10.
    warnings.filterwarnings("ignore", category=FutureWarning)
    # A run sends the libraries' logs to its log file (pipeline/console.py); other commands
    # show only their warnings.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)  # per-bundle worker chatter
    from components.tfds_example_gen.data_quality import DataQualityError

    command = " ".join(filter(None, ["segpipe", args.command, getattr(args, "vertex_command", None)]))
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RunLockedError as error:
        print(f"{command}: busy: {error}", file=sys.stderr)
        return EXIT_BUSY
    except (DataQualityError, OSError) as error:  # missing files, unwritable output, full disk
        print(f"{command}: failed: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
