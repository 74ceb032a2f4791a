"""Every setting flag with a wrong type or an out-of-range value: exit 2, the flag named, no work."""

import typing
from typing import List

import pytest

import pipeline.dag_run as dag_run
from pipeline import cli, flags
from pipeline.config import settings

# Values no setting of that type accepts, and out-of-range numbers every bounded setting rejects.
WRONG_TYPE = {
    int: "twelve",
    float: "fast",
    bool: "maybe",
    List[float]: "one,two",
    typing.Optional[bool]: "perhaps",
    typing.Optional[float]: "much",
}
OUT_OF_RANGE = {int: "-5", float: "-0.5", typing.Optional[float]: "-0.5"}


def _bounded(field) -> bool:
    return any(hasattr(c, attr) for c in field.metadata for attr in ("ge", "gt", "le", "lt"))


def _cases():
    cases = []
    for _, _, field in settings(list(flags.PIPELINE_SECTIONS)):
        flag = field.json_schema_extra["flag"]
        if typing.get_origin(field.annotation) is typing.Literal:
            cases.append((flag, "not-a-choice"))
        if field.annotation in WRONG_TYPE:
            cases.append((flag, WRONG_TYPE[field.annotation]))
        if field.annotation in OUT_OF_RANGE and _bounded(field):
            cases.append((flag, OUT_OF_RANGE[field.annotation]))
    return cases


CASES = _cases()


def test_the_cases_cover_every_numeric_boolean_and_choice_flag():
    covered = {flag for flag, _ in CASES}
    typed = {
        f.json_schema_extra["flag"]
        for _, _, f in settings(list(flags.PIPELINE_SECTIONS))
        if f.annotation in (int, float, bool, typing.Optional[bool], typing.Optional[float])
    }
    assert typed <= covered and {"--model", "--beam-mode", "--warm-start-from-blessed"} <= covered


@pytest.mark.parametrize("flag,value", CASES)
@pytest.mark.parametrize("command", ["run", "retrain"])
def test_bad_flag_values_exit_2_naming_the_flag_before_any_work(command, flag, value, capsys, monkeypatch):
    def must_not_run(config):
        raise AssertionError("the pipeline started despite a bad flag")

    monkeypatch.setattr(dag_run, "run", must_not_run)
    with pytest.raises(SystemExit) as raised:
        raise SystemExit(cli.main([command, f"{flag}={value}"]))
    assert raised.value.code == 2
    assert flag in capsys.readouterr().err
