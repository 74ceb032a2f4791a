"""Every setting flag with a wrong type or an out-of-range value: exit 2, the flag named, no work."""
from typing import List

import pytest

import pipeline.local_runner as local_runner
from pipeline import cli
from pipeline.config import settings

# Values no setting of that type accepts, and out-of-range numbers every numeric check rejects.
WRONG_TYPE = {int: "twelve", float: "fast", List[float]: "one,two"}
OUT_OF_RANGE = {int: "-5", float: "-0.5"}


def _cases():
    cases = []
    for _, field, kind in settings():
        flag, meta = field.metadata["flag"], field.metadata
        if meta["choices"]:
            cases.append((flag, "not-a-choice"))
        if kind in WRONG_TYPE:
            cases.append((flag, WRONG_TYPE[kind]))
        if kind in OUT_OF_RANGE and meta["check"]:
            cases.append((flag, OUT_OF_RANGE[kind]))
    return cases


CASES = _cases()


def test_the_cases_cover_every_numeric_and_choice_flag():
    flags = {flag for flag, _ in CASES}
    numeric = {f.metadata["flag"] for _, f, kind in settings() if kind in (int, float)}
    assert numeric <= flags and "--model" in flags and "--beam-mode" in flags


@pytest.mark.parametrize("flag,value", CASES)
@pytest.mark.parametrize("command", ["run", "retrain"])
def test_bad_flag_values_exit_2_naming_the_flag_before_any_work(command, flag, value, capsys, monkeypatch):
    def must_not_run(config):
        raise AssertionError("the pipeline started despite a bad flag")
    monkeypatch.setattr(local_runner, "run", must_not_run)
    with pytest.raises(SystemExit) as raised:
        raise SystemExit(cli.main([command, f"{flag}={value}"]))
    assert raised.value.code == 2
    assert flag in capsys.readouterr().err
