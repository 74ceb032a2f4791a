"""An output directory written by the first release (before the layout changed) keeps working.

tests/data/old_output holds what that release left in OUTPUT/: its metadata store (a run whose
model was not blessed, so nothing in it points at files this test lacks) and its
run_summary.json. The RunReport artifact's MLMD type name is stable, so the new pipeline reuses
the stored type, and the old summary still reads.
"""

import gzip
import os
import shutil
import sqlite3

import pytest

from contract.names import RUN_REPORT_TYPE_NAME, RUN_SUMMARY
from pipeline import cli
from pipeline.config import build_config
from pipeline.run_outputs import latest_artifacts
from pipeline.run_summary import load_summary
from tests.helpers import SMALL_FLAGS

pytestmark = pytest.mark.e2e

OLD_OUTPUT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "old_output")


def _type_ids(metadata_path: str) -> dict:
    with sqlite3.connect(metadata_path) as connection:
        return dict(connection.execute("SELECT name, id FROM Type").fetchall())


@pytest.fixture
def old_output(tmp_path) -> str:
    out = tmp_path / "out"
    out.mkdir()
    with (
        gzip.open(os.path.join(OLD_OUTPUT, "metadata.sqlite.gz")) as packed,
        open(out / "metadata.sqlite", "wb") as db,
    ):
        shutil.copyfileobj(packed, db)
    shutil.copy(os.path.join(OLD_OUTPUT, RUN_SUMMARY), out / RUN_SUMMARY)
    return str(out)


def test_metrics_reads_the_old_summary(old_output, capsys):
    assert cli.main(["metrics", "--output", old_output]) == 0
    printed = capsys.readouterr().out
    assert "overall" in printed and "NOT blessed" in printed


def test_a_run_on_an_old_output_directory_reuses_its_store(old_output, pristine_dataset, capsys):
    old_types = _type_ids(os.path.join(old_output, "metadata.sqlite"))
    assert RUN_REPORT_TYPE_NAME in old_types
    argv = [
        "run",
        "--data-dir",
        pristine_dataset,
        "--output",
        old_output,
        *SMALL_FLAGS,
    ]
    assert cli.main(argv) == 0

    new_types = _type_ids(os.path.join(old_output, "metadata.sqlite"))
    assert new_types[RUN_REPORT_TYPE_NAME] == old_types[RUN_REPORT_TYPE_NAME]
    config = build_config(overrides={("output", "output_dir"): old_output})
    report = latest_artifacts(config)[f"RunReport.{RUN_REPORT_TYPE_NAME}"]
    summary = load_summary(old_output)
    assert summary["artifacts"]["report"] == report.uri  # OUTPUT/ now holds the new run's summary
    assert summary["blessing"]["blessed"] and summary["pushed_version"] == 1
    assert os.path.isfile(summary["report"]) and summary["report"].startswith(old_output)
