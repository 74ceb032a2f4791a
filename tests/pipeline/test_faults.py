"""Faults lose nothing: a run SIGKILLed in any component, an unwritable output directory, a full
disk while pushing, a kill while old versions are pruned, and two runs on one output directory.

The kill test drives real `segpipe run` processes on the 16/8 image dataset at 64x64 and kills
their whole process group while a chosen component is running. To stay within minutes on two
cores, the kills are chained in ONE output directory: each run is killed while the next
component of the DAG is executing for real (the previous run was killed before it completed, so
nothing downstream is cached yet), and the run after it has to recover from what the kill left.
After every kill the serving root is inspected (every integer version must load and predict),
MLMD must show the killed component's execution still RUNNING (the kill really landed inside
it), and at the end a last run must complete, every killed execution must have been redone to
COMPLETE, its outputs must be recorded in the metadata store, and the model the Evaluator blessed
must be what the serving root serves.

Set SEGPIPE_FAULT_SEED to replay the random kill delay of a failed run (it is printed).
"""

import errno
import os
import random
import re
import shutil
import signal
import sys
import time

import pytest

from components.shared.atomic import STAGING_PREFIX
from tests.fault_helpers import (
    MODEL_NAME,
    Run,
    blessed_model_uris,
    check_serving_root,
    component_started,
    executions_by_node,
    load_summary,
    new_output_dirs,
    segpipe_argv,
    served_copy_of,
    wait_until,
)
from tests.helpers import TRAINING_OUTPUTS, export_test_model, jpeg_bytes

pytestmark = pytest.mark.faults

JPEG_SIZE = (40, 30)  # width, height: not the model's size, so predict_images must resize back
START_TIMEOUT = 300  # generous: two cores, and other test runs may share them
RUN_TIMEOUT = 540

# (label, component to kill, trigger, seconds after the trigger; None = random in [0, 0.3))
# "start": TFX logs "Component X is running." or creates X's output directory (just before Do).
# "staging": a `.staging-*` directory appears in the serving root, i.e. a publish is under way.
KILL_CHAIN = (
    ("during TfdsExampleGen", "TfdsExampleGen", "start", 1.5),
    ("during Transform", "Transform", "start", 3.0),
    ("during Trainer", "Trainer", "start", 4.0),
    ("during Evaluator", "Evaluator", "start", 2.0),
    ("during Pusher, mid-publish", "Pusher", "staging", 0.0),
    ("during Pusher, random delay", "Pusher", "start", None),
)
EXPECTED_OUTPUTS = TRAINING_OUTPUTS | {
    "Evaluator.ModelEvaluation",
    "Evaluator.ModelBlessing",
    "Pusher.PushedModel",
    "RunReport.components.RunReportArtifact",
}


def _report(capsys, text: str) -> None:
    with capsys.disabled():
        sys.stdout.write(f"\n[faults] {text}\n")


def _staging_in(base: str) -> bool:
    return os.path.isdir(base) and any(n.startswith(STAGING_PREFIX) for n in os.listdir(base))


def _config(out: str):
    from pipeline.config import build_config

    return build_config(overrides={("output", "output_dir"): out})


def _assert_no_partial(check, when: str) -> None:
    assert not check.partial, f"{when}: partial version(s) in the serving root: {check.partial}"
    assert not check.unexpected, f"{when}: unexpected entries in the serving root: {check.unexpected}"


def test_sigkill_during_each_component_then_a_rerun_completes_and_loses_nothing(dataset, tmp_path, capsys):
    seed = int(os.environ.get("SEGPIPE_FAULT_SEED", time.time_ns() % 2**31))
    rng = random.Random(seed)
    out = str(tmp_path / "out")
    root, base = os.path.join(out, "pipeline_root"), os.path.join(out, "serving", MODEL_NAME)
    metadata_path = os.path.join(out, "metadata.sqlite")
    argv = segpipe_argv("run", dataset, out)
    jpeg = jpeg_bytes(*JPEG_SIZE, seed=1)
    killed = []  # (label, component, execution id, state at the kill, delay)
    partial_versions = 0
    stale_staging, known_versions = set(), set()  # what earlier runs left in the serving root

    def after_run(run: Run, when: str):
        nonlocal partial_versions, stale_staging, known_versions
        check = check_serving_root(base, jpeg, JPEG_SIZE)
        partial_versions += len(check.partial)
        _assert_no_partial(check, when)
        assert not [n for n in check.staging if n.isdigit()]
        if set(check.versions) - known_versions or re.search(
            r" published .* as version \d+ under ", run.stderr
        ):
            # a publish completed in this run: it swept what an interrupted one left behind
            assert not stale_staging & set(check.staging), (
                f"{when}: a publish completed but left {sorted(stale_staging & set(check.staging))}"
            )
        stale_staging, known_versions = set(check.staging), set(check.versions)
        return check

    for index, (label, component, trigger, delay) in enumerate(KILL_CHAIN):
        run = Run(argv, str(tmp_path / f"killed-{index}")).start()
        try:
            before = new_output_dirs(root, component)
            if trigger == "start":
                wait_until(
                    lambda run=run, component=component, before=before: component_started(
                        run, root, component, before
                    ),
                    run,
                    START_TIMEOUT,
                    f"{component} running (seed {seed})",
                    poll=0.01,
                )
            else:
                wait_until(
                    lambda: _staging_in(base),
                    run,
                    START_TIMEOUT,
                    f"a publish under way in {base} (seed {seed})",
                    poll=0.002,
                )
            delay = rng.uniform(0, 0.3) if delay is None else delay
            time.sleep(delay)
            run.kill_group()
        finally:
            run.close()
        assert run.proc.returncode == -signal.SIGKILL, (
            f"{label}: the run ended by itself before the kill (seed {seed})\n{run.describe()}"
        )

        executions = executions_by_node(metadata_path)  # the store still opens after a kill
        assert executions.get(component), f"{label}: no {component} execution recorded\n{run.describe()}"
        execution_id, state = executions[component][-1]
        if KILL_CHAIN[index][3] is None:
            # a random delay may outlast the push; the outcome is checked all the same
            assert state in ("RUNNING", "COMPLETE"), (
                f"{label}: {component} execution {execution_id} is {state}"
            )
        else:
            assert state == "RUNNING", (
                f"{label}: the kill did not land inside {component}: its last "
                f"execution {execution_id} is {state} (seed {seed})\n{run.describe()}"
            )
        killed.append((label, component, execution_id, state, round(delay, 3)))
        after_run(run, f"right after the kill {label}")

    final = Run(argv, str(tmp_path / "final")).start()
    try:
        code = final.wait(RUN_TIMEOUT)
    finally:
        final.close()
    assert code == 0, f"the run after {len(killed)} kills failed\n{final.describe()}"

    # (a) the serving root: whole versions only (and staging swept by any completed publish)
    check = after_run(final, "after the final run")
    assert check.complete == check.versions, check

    # (c) the metadata store opens; every killed execution was redone; the final run is recorded
    executions = executions_by_node(metadata_path)
    for label, component, execution_id, state, _ in killed:
        if state == "RUNNING":
            redone = [(i, s) for i, s in executions[component] if i > execution_id and s == "COMPLETE"]
            assert redone, (
                f"{component} killed {label} (execution {execution_id}) was never redone: "
                f"{executions[component]}"
            )
    for node, runs in executions.items():
        assert runs[-1][1] in ("COMPLETE", "CACHED"), f"{node}: last execution {runs[-1]} after the final run"
    from pipeline.run_outputs import latest_artifacts

    artifacts = latest_artifacts(_config(out))
    assert set(artifacts) >= EXPECTED_OUTPUTS, sorted(EXPECTED_OUTPUTS - set(artifacts))
    model_uri = artifacts["Trainer.Model"].uri

    # (b) the run summary exists, parses and describes the recorded model
    summary = load_summary(out)
    assert summary["artifacts"]["model"] == model_uri
    assert summary["artifacts"]["report"] == artifacts["RunReport.components.RunReportArtifact"].uri

    _report(
        capsys,
        f"kills survived: {len(killed)} (the rerun after them exited 0); partial versions "
        f"found: {partial_versions}; versions {check.versions}, staging {check.staging}; "
        f"seed {seed}; kills: "
        + "; ".join(
            f"{label} (+{delay}s) -> execution {eid} {state}" for label, _, eid, state, delay in killed
        ),
    )

    # nothing lost: a model the Evaluator blessed is served, and the summary says which version
    blessed = blessed_model_uris(metadata_path)
    assert model_uri in blessed, f"the trained model was never blessed (floor 0): {summary['blessing']}"
    served = served_copy_of(model_uri, base)
    assert served is not None, (
        f"the model {model_uri} was blessed (ModelBlessing {blessed[model_uri]}) but is in no version "
        f"under {base} ({check.versions}, staging {check.staging}) after the rerun, which said: "
        f"{summary['blessing']['reason']!r}, pushed_version {summary['pushed_version']}"
    )
    assert summary["pushed_version"] == served == max(check.versions), (
        summary["pushed_version"],
        served,
        check,
    )
    assert summary["blessing"]["blessed"] is True, summary["blessing"]
    pushed = artifacts["Pusher.PushedModel"]
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_version") == str(served)
    assert f"pushed: {os.path.join(base, str(served))}" in final.stdout


# ---------------------------------------------------------------------------------------------
# An output directory that cannot be written.


def test_an_unwritable_output_directory_fails_clearly_and_pushes_nothing(dataset, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"a regular file where the output directory should be\n")
    cases = {
        "under /proc (read-only)": "/proc/segpipe-fault-test-out",
        "a regular file": str(blocker),
        "below a regular file": str(blocker / "out"),
    }
    runs = {
        name: Run(segpipe_argv("run", dataset, path), str(tmp_path / f"unwritable-{i}")).start()
        for i, (name, path) in enumerate(cases.items())
    }
    failures = []
    try:
        for name, run in runs.items():
            path, code = cases[name], run.wait(START_TIMEOUT)
            stderr = run.stderr
            last_line = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            problems = []
            if code in (0, 3) or code < 0:
                problems.append(f"exit code {code}, expected a failure (1 or 2)")
            if "Traceback (most recent call last)" in stderr:
                problems.append("a Python traceback on stderr")
            if path not in last_line or not last_line.startswith("segpipe run: "):
                problems.append(f"the last stderr line does not name {path}: {last_line!r}")
            if problems:
                failures.append(
                    f"--output {path} ({name}): "
                    + "; ".join(problems)
                    + f"\n    stderr tail: {stderr[-600:]!r}"
                )
    finally:
        for run in runs.values():
            run.close()
    assert not os.path.exists(cases["under /proc (read-only)"])
    left = {n for n in os.listdir(tmp_path) if n != "raw" and not n.startswith("unwritable-")}
    assert left == {"not-a-directory"}, f"something was written next to the blocked output: {left}"
    assert blocker.read_bytes() == b"a regular file where the output directory should be\n"
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# A full disk while the Pusher publishes, through the Pusher's executor with a real model.


@pytest.fixture(scope="module")
def distinct_models(tmp_path_factory) -> list:
    """Three real exports with different random weights (publishing deduplicates equal ones)."""
    return [export_test_model(tmp_path_factory.mktemp(f"model-{i}")) for i in range(3)]


@pytest.fixture(scope="module")
def trainer_model_uris(distinct_models, tmp_path_factory) -> list:
    """Trainer Model artifact directories holding those exports as Format-Serving."""
    uris = []
    for index, model in enumerate(distinct_models[:2]):
        uri = tmp_path_factory.mktemp(f"trainer-model-{index}")
        shutil.copytree(model, uri / "Format-Serving")
        uris.append(str(uri))
    return uris


def _pushed_model(uri: str):
    from tfx.types import standard_artifacts

    pushed = standard_artifacts.PushedModel()
    pushed.uri = uri
    return pushed


def _push(model_uri: str, base: str, pushed):
    """Runs the versioned Pusher's executor on a blessed model; returns the PushedModel artifact."""

    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import json_utils, proto_utils

    from components.pusher.executor import KEEP_VERSIONS_KEY, MODEL_NAME_KEY, Executor

    model = standard_artifacts.Model()
    model.uri = model_uri
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = pushed.uri + "-blessing"
    blessing.set_int_custom_property("blessed", 1)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base)
    )
    Executor().Do(
        {"model": [model], "model_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {
            "push_destination": proto_utils.proto_to_json(destination),
            "custom_config": json_utils.dumps({KEEP_VERSIONS_KEY: 5, MODEL_NAME_KEY: MODEL_NAME}),
        },
    )
    return pushed


def _disk_full_copytree(real_copytree, files_before_full: int):
    """shutil.copytree on a disk that fills up after a few files: the copy stops half-way, and
    copytree reports it as real copytree does (shutil.Error listing 'No space left on device')."""

    def copytree(src, dst, *args, **kwargs):
        if args or "copy_function" in kwargs:  # shutil's own recursion into a subdirectory
            return real_copytree(src, dst, *args, **kwargs)
        copied = []

        def copy(source, target, *, follow_symlinks=True):
            if len(copied) >= files_before_full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)
            copied.append(target)
            return shutil.copy2(source, target, follow_symlinks=follow_symlinks)

        kwargs["copy_function"] = copy
        return real_copytree(src, dst, *args, **kwargs)

    return copytree


def _disk_full_warmup(staged_dir, images, model_name=MODEL_NAME):
    """The warmup file gets a few bytes, then the disk is full."""
    path = os.path.join(staged_dir, "assets.extra", "tf_serving_warmup_requests")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"\0" * 100)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


@pytest.mark.parametrize("where", ["copying the model", "writing the warmup requests"])
def test_a_full_disk_while_pushing_leaves_no_version_and_the_next_push_succeeds(
    where, trainer_model_uris, tmp_path, monkeypatch
):
    from components.pusher import executor as pusher_executor
    from components.shared import publish

    base = str(tmp_path / "serving" / MODEL_NAME)
    jpeg = jpeg_bytes(*JPEG_SIZE, seed=2)
    first = _push(trainer_model_uris[0], base, _pushed_model(str(tmp_path / "pushed" / "1")))
    assert (
        first.get_int_custom_property("pushed") == 1
        and first.get_string_custom_property("pushed_version") == "1"
    )

    failed_uri = str(tmp_path / "pushed" / "2")
    failed = _pushed_model(failed_uri)
    with monkeypatch.context() as patch:
        if where == "copying the model":
            patch.setattr(publish.shutil, "copytree", _disk_full_copytree(shutil.copytree, 2))
        else:
            patch.setattr(pusher_executor, "write_warmup_file", _disk_full_warmup)
        with pytest.raises(OSError) as raised:
            _push(trainer_model_uris[1], base, failed)
    assert "No space left on device" in str(raised.value), raised.value
    assert failed.get_int_custom_property("pushed") != 1, "a failed push is marked pushed"
    assert not failed.get_string_custom_property("pushed_version")
    assert not failed.get_string_custom_property("pushed_destination")
    assert not os.path.isdir(failed_uri) or not os.listdir(failed_uri), os.listdir(failed_uri)
    assert sorted(os.listdir(base)) == ["1"], f"after the failed push: {sorted(os.listdir(base))}"

    after = _push(trainer_model_uris[1], base, _pushed_model(str(tmp_path / "pushed" / "3")))
    assert after.get_string_custom_property("pushed_version") == "2"
    assert after.get_string_custom_property("pushed_destination") == os.path.join(base, "2")
    check = check_serving_root(base, jpeg, JPEG_SIZE)
    _assert_no_partial(check, f"after a full disk while {where}")
    assert check.versions == check.complete == [1, 2] and not check.staging, check


# ---------------------------------------------------------------------------------------------
# Two runs on one output directory at once.


def test_a_second_run_on_the_same_output_refuses_and_a_waiting_one_queues(dataset, tmp_path):
    out = str(tmp_path / "out")
    root, base = os.path.join(out, "pipeline_root"), os.path.join(out, "serving", MODEL_NAME)
    metadata_path = os.path.join(out, "metadata.sqlite")
    lock = os.path.join(out, ".segpipe.lock")
    argv = segpipe_argv("run", dataset, out)
    first = Run(argv, str(tmp_path / "first")).start()
    second = waiting = None
    try:
        wait_until(
            lambda: component_started(first, root, "TfdsExampleGen", set()),
            first,
            START_TIMEOUT,
            "the first run executing TfdsExampleGen",
            poll=0.05,
        )
        second = Run(argv, str(tmp_path / "second")).start()
        waiting = Run(argv + ["--wait"], str(tmp_path / "waiting")).start()
        second_code = second.wait(START_TIMEOUT)
        assert first.proc.poll() is None, (
            f"the first run ended before the second was refused; cannot tell\n{first.describe()}"
        )
        assert second_code == 3, f"a second run on a locked output: exit {second_code}\n{second.describe()}"
        refusal = second.stderr
        assert "Traceback" not in refusal, refusal[-3000:]
        assert lock in refusal and f"pid {first.proc.pid}" in refusal, refusal[-1000:]
        assert "Component " not in refusal, "the refused run started the pipeline"

        first_code = first.wait(RUN_TIMEOUT)
        assert first_code == 0, first.describe()
        waiting_code = waiting.wait(RUN_TIMEOUT)
        assert waiting_code == 0, waiting.describe()
    finally:
        for run in (first, second, waiting):
            if run is not None:
                run.close()
    assert f"pushed: {os.path.join(base, '1')}" in first.stdout, first.stdout[-2000:]

    check = check_serving_root(base, jpeg_bytes(*JPEG_SIZE, seed=3), JPEG_SIZE)
    _assert_no_partial(check, "after two runs at once")
    assert check.versions == check.complete == [1] and not check.staging, check

    # the metadata store: two pipeline runs (the first and the queued one), nothing from the
    # refused one; the queued one ran after the first, not beside it: it found every upstream
    # output in the cache (had it run alongside, it would have computed them itself)
    from ml_metadata.metadata_store import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    runs = [c.name for c in store.get_contexts_by_type("pipeline_run")]
    assert len(runs) == 2, runs
    executions = executions_by_node(metadata_path)
    for node in (
        "ImportSchemaGen",
        "TfdsExampleGen",
        "StatisticsGen",
        "ExampleValidator",
        "Transform",
        "Trainer",
    ):
        assert [state for _, state in executions[node]] == ["COMPLETE", "CACHED"], (
            f"{node}: {executions[node]}"
        )
    for node, node_runs in executions.items():
        assert all(state in ("COMPLETE", "CACHED") for _, state in node_runs), f"{node}: {node_runs}"
    from pipeline.run_outputs import latest_artifacts

    artifacts = latest_artifacts(_config(out))
    assert set(artifacts) >= EXPECTED_OUTPUTS, sorted(EXPECTED_OUTPUTS - set(artifacts))
    load_summary(out)  # parses


# ---------------------------------------------------------------------------------------------
# A kill while the Pusher prunes old versions.

PRUNE_AND_DIE = """
import os, signal, sys
from components.pusher import executor
from components.shared import publish
first, second, third, base = sys.argv[1:5]
images = executor.warmup_images()
prepare = lambda staged: executor.write_warmup_file(staged, images, "segmenter")
publish.publish(first, base, keep=2, prepare=prepare)
publish.publish(second, base, keep=2, prepare=prepare)
real_prune, real_unlink = publish.prune, os.unlink

def unlink_then_die(*args, **kwargs):
    real_unlink(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # SIGKILL right after the first file of the pruning

def dying_prune(base, keep):
    os.unlink = unlink_then_die
    return real_prune(base, keep)
publish.prune = dying_prune
publish.publish(third, base, keep=2, prepare=prepare)  # version 3; prunes version 1
"""


def test_a_kill_while_old_versions_are_pruned_leaves_no_partial_version(distinct_models, tmp_path):
    base = str(tmp_path / "serving" / MODEL_NAME)
    run = Run([sys.executable, "-c", PRUNE_AND_DIE, *distinct_models, base], str(tmp_path / "prune")).start()
    try:
        code = run.wait(START_TIMEOUT)
    finally:
        run.close()
    assert code == -signal.SIGKILL, f"the publisher was not killed while pruning\n{run.describe()}"
    check = check_serving_root(base, jpeg_bytes(*JPEG_SIZE, seed=4), JPEG_SIZE)
    _assert_no_partial(check, "after a kill while pruning version 1")
    assert check.versions[-2:] == [2, 3] and check.complete == check.versions, check
