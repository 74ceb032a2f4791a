"""Reading a settings file (`--config`, $SEGPIPE_CONFIG): YAML, or JSON when it ends in .json.

A file that cannot be read gets one line that says why and where: the encoding it is really in
(UTF-16 from a Windows editor, Latin-1), the line and column of a syntax error (a `.json` file is
parsed as strict JSON, so a trailing comma is an error, not YAML's lenience), or the section
and keys it does not know.
"""

import codecs
import json
from typing import Any, Dict, Mapping

import yaml

from pipeline.errors import ConfigError

_UTF16_OR_32_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def _text(path: str) -> str:
    """The file as UTF-8 text (a UTF-8 BOM is fine), or ConfigError naming its real encoding."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ConfigError(f"--config: cannot read {path}: {error.strerror}") from None
    for bom, encoding in _UTF16_OR_32_BOMS.items():  # UTF-32 LE starts with UTF-16 LE's BOM: check it first
        if data.startswith(bom):
            raise ConfigError(f"--config: {path} is encoded in {encoding}; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        byte = data[error.start]
        raise ConfigError(
            f"--config: {path} is not UTF-8 (byte 0x{byte:02x} at offset {error.start}, "
            f"e.g. Latin-1 or Windows-1252); save it as UTF-8"
        ) from None


def _parse(path: str, text: str) -> Any:
    if path.lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"--config: {path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"--config: {path}{place}: not valid YAML: {problem}") from None


def load_file(path: str, sections: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Reads a settings file into {section: {key: value}}, checking the names against
    `sections` ({section name: settings class with model_fields})."""
    raw = _parse(path, _text(path)) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"--config: {path} must hold a mapping of sections {sorted(sections)}")
    for section_name, values in raw.items():
        if section_name not in sections:
            raise ConfigError(
                f"--config: {path} has an unknown section {section_name!r}; accepted: {', '.join(sections)}"
            )
        fields = set(sections[section_name].model_fields)
        if not isinstance(values, dict) or set(values) - fields:
            unknown = sorted(set(values) - fields) if isinstance(values, dict) else values
            raise ConfigError(
                f"--config: {path} section {section_name!r} has unknown keys "
                f"{unknown}; accepted: {', '.join(sorted(fields))}"
            )
    return raw
