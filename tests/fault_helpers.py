"""Helpers for the fault tests: `segpipe run` as a killable process group, and the checks of what
a run leaves behind (serving root, run summary, metadata store).

A run is started in its own session (`start_new_session=True`), so its process group holds the
CLI and anything it spawns; `kill_group` SIGKILLs all of it. Output goes to files, never to pipes
nobody reads, so a chatty run can never block on a full pipe.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from components.shared.atomic import DELETING_PREFIX, STAGING_PREFIX
from tests.helpers import REPO_ROOT, SMALL_FLAGS

PIPELINE_NAME = "segpipe"
MODEL_NAME = "segmenter"
# Hidden leftovers of an interrupted publish or prune: never integer-named, swept by the next one.
HIDDEN_PREFIXES = (STAGING_PREFIX, DELETING_PREFIX)
# Where each component's executor writes first: TFX's launcher creates these output directories
# (pipeline_root/<node>/<output key>/<execution id>) just before it calls the executor's Do.
FIRST_OUTPUT = {
    "TfdsExampleGen": "examples",
    "StatisticsGen": "statistics",
    "Transform": "transform_graph",
    "Trainer": "model",
    "Evaluator": "evaluation",
    "Pusher": "pushed_model",
    "RunReport": "report",
}
# ml_metadata's Execution.State values, by name (metadata_store_pb2.Execution.State).
STATE_NAMES = {0: "UNKNOWN", 1: "NEW", 2: "RUNNING", 3: "COMPLETE", 4: "FAILED", 5: "CACHED", 6: "CANCELED"}


def segpipe_argv(command: str, data_dir: str, output: str, *extra: str) -> List[str]:
    return [
        sys.executable,
        "-m",
        "pipeline.cli",
        command,
        "--data-dir",
        data_dir,
        "--output",
        output,
        *SMALL_FLAGS,
        *extra,
    ]


@dataclass
class Run:
    """One `segpipe` process group with its stdout and stderr in files."""

    argv: Sequence[str]
    log_prefix: str
    proc: subprocess.Popen = None
    started: float = 0.0
    _stderr_handle: object = None
    _stderr_seen: str = ""

    def start(self) -> "Run":
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3")
        with open(self.log_prefix + ".out", "wb") as out, open(self.log_prefix + ".err", "wb") as err:
            self.proc = subprocess.Popen(
                list(self.argv),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.started = time.monotonic()
        # Kept open for the run's life and closed in close(): a context manager cannot span it.
        self._stderr_handle = open(self.log_prefix + ".err", encoding="utf-8", errors="replace")  # noqa: SIM115
        return self

    @property
    def pgid(self) -> int:
        return self.proc.pid  # start_new_session: the child leads its own group

    def new_stderr(self) -> str:
        """What the run has written to stderr since the last call (whole file in `stderr`)."""
        if self._stderr_handle is None:  # closed: everything was read on closing
            return ""
        chunk = self._stderr_handle.read()
        self._stderr_seen += chunk
        return chunk

    @property
    def stderr(self) -> str:
        self.new_stderr()
        return self._stderr_seen

    @property
    def stdout(self) -> str:
        with open(self.log_prefix + ".out", encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def kill_group(self) -> None:
        """SIGKILLs the whole process group (a no-op once it is gone) and reaps the leader."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
            self.proc.wait(timeout=60)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(
                f"{' '.join(self.argv)} did not finish in {timeout:.0f}s; killed it.\n"
                f"stderr tail:\n{self.stderr[-3000:]}"
            ) from None

    def close(self) -> None:
        self.kill_group()
        if self._stderr_handle:
            self.new_stderr()
            self._stderr_handle.close()
            self._stderr_handle = None

    def describe(self) -> str:
        return (
            f"{' '.join(self.argv)}\nexit {self.proc.returncode}\nstdout tail:\n{self.stdout[-2000:]}\n"
            f"stderr tail:\n{self.stderr[-4000:]}"
        )


def new_output_dirs(pipeline_root: str, component: str) -> set:
    """The execution directories of a component's first output that exist now."""
    parent = os.path.join(pipeline_root, component, FIRST_OUTPUT[component])
    return set(os.listdir(parent)) if os.path.isdir(parent) else set()


def component_started(run: Run, pipeline_root: str, component: str, before: set) -> bool:
    """TFX logged 'Component X is running.', or the launcher made X's output directory.

    Both signals are used: TFX logs through absl, and TensorFlow's SavedModel writer resets absl's
    verbosity to WARNING as a side effect, so after the first export of a run the 'is running'
    lines of later components may never be printed.
    """
    if re.search(rf"Component {re.escape(component)} is running\.", run.stderr):
        return True
    return bool(new_output_dirs(pipeline_root, component) - before)


def wait_until(
    predicate: Callable[[], bool], run: Run, timeout: float, what: str, poll: float = 0.005
) -> None:
    """Polls `predicate` until true; fails (killing the run) if the run ends or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if run.proc.poll() is not None:
            raise AssertionError(
                f"the run ended (exit {run.proc.returncode}) before {what}\n{run.describe()}"
            )
        if time.monotonic() > deadline:
            run.kill_group()
            raise AssertionError(f"no sign of {what} after {timeout:.0f}s; killed the run\n{run.describe()}")
        time.sleep(poll)


# ---------------------------------------------------------------------------------------------
# What a run leaves behind.


@dataclass
class ServingRootCheck:
    versions: List[int] = field(default_factory=list)
    complete: List[int] = field(default_factory=list)
    partial: Dict[str, str] = field(default_factory=dict)  # entry -> what is wrong with it
    staging: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)


def _version_problem(path: str, jpeg: bytes, jpeg_size: Sequence[int]) -> Optional[str]:
    """Why the version directory at `path` is not a whole, servable model (None when it is)."""
    import tensorflow as tf

    if not os.path.isdir(path):
        return "not a directory"
    pb = os.path.join(path, "saved_model.pb")
    if not os.path.isfile(pb) or os.path.getsize(pb) == 0:
        return "saved_model.pb missing or empty"
    variables = os.path.join(path, "variables")
    if not os.path.isdir(variables):
        return "variables/ missing"
    names = os.listdir(variables)
    if "variables.index" not in names or not any(n.startswith("variables.data-") for n in names):
        return f"variables/ incomplete: {sorted(names)}"
    try:
        loaded = tf.saved_model.load(path)
        predict = loaded.signatures["predict_images"]
        class_map = predict(images=tf.constant([jpeg]))["class_map"].numpy()
    except Exception as error:
        return f"does not load or predict: {type(error).__name__}: {str(error)[:300]}"
    width, height = jpeg_size
    if class_map.shape != (1, height, width) or class_map.min() < 0 or class_map.max() > 2:
        return (
            f"predict_images returned a class map of shape {class_map.shape} with values "
            f"{class_map.min()}..{class_map.max()}; expected (1, {height}, {width}) in 0..2"
        )
    if not os.path.isfile(os.path.join(path, "assets.extra", "tf_serving_warmup_requests")):
        return "no assets.extra/tf_serving_warmup_requests"
    return None


def check_serving_root(base: str, jpeg: bytes, jpeg_size: Sequence[int]) -> ServingRootCheck:
    """Looks into every entry of SERVING_ROOT/MODEL_NAME: integer versions must load and predict."""
    found = ServingRootCheck()
    if not os.path.isdir(base):
        return found
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        if name.startswith(HIDDEN_PREFIXES):
            found.staging.append(name)
        elif name.isdigit():
            found.versions.append(int(name))
            problem = _version_problem(path, jpeg, jpeg_size)
            if problem:
                found.partial[name] = problem
            else:
                found.complete.append(int(name))
        else:
            found.unexpected.append(name)
    found.versions.sort()
    found.complete.sort()
    return found


def load_summary(output: str) -> dict:
    with open(os.path.join(output, "run_summary.json"), encoding="utf-8") as handle:
        return json.load(handle)


def executions_by_node(metadata_path: str, pipeline_name: str = PIPELINE_NAME) -> Dict[str, List[tuple]]:
    """{node id: [(execution id, state name), ...] ascending}, read from the MLMD SQLite store."""
    from ml_metadata.metadata_store import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    found: Dict[str, List[tuple]] = {}
    prefix = pipeline_name + "."
    for context in store.get_contexts_by_type("node"):
        if context.name.startswith(prefix):
            executions = sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)
            found[context.name[len(prefix) :]] = [
                (e.id, STATE_NAMES.get(e.last_known_state, str(e.last_known_state))) for e in executions
            ]
    return found


def blessed_model_uris(metadata_path: str) -> Dict[str, int]:
    """{model URI: ModelBlessing id} for every LIVE blessing with blessed=1 in the MLMD store."""
    from ml_metadata.metadata_store import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    found: Dict[str, int] = {}
    for blessing in store.get_artifacts_by_type("ModelBlessing"):
        props = blessing.custom_properties
        if blessing.state == blessing.LIVE and "blessed" in props and props["blessed"].int_value == 1:
            found[props["current_model"].string_value] = blessing.id
    return found


def served_copy_of(model_uri: str, base: str) -> Optional[int]:
    """The serving version whose saved_model.pb is the Trainer model's own (None if none is)."""
    with open(os.path.join(model_uri, "Format-Serving", "saved_model.pb"), "rb") as handle:
        model_pb = handle.read()
    for name in sorted(os.listdir(base), reverse=True) if os.path.isdir(base) else []:
        path = os.path.join(base, name, "saved_model.pb")
        if name.isdigit() and os.path.isfile(path):
            with open(path, "rb") as handle:
                if handle.read() == model_pb:
                    return int(name)
    return None
