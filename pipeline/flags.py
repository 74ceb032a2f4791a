"""Command-line flags made from the settings' declarations, and back into settings.

Each setting's pydantic field names its flag, placeholder and help (trainer/settings.py
`flag`), so a subcommand asks for the sections it uses and gets exactly their flags, grouped
by section, with defaults written as a user would type them. Values stay strings here: pydantic
types and checks them in pipeline/config.py, so a flag and a config file fail alike.
"""

import argparse
import typing
from typing import Any, Dict, List, Sequence, Tuple

from pydantic.fields import FieldInfo

from pipeline import config as config_lib
from trainer.settings import flag_of

# The sections each kind of command reads.
PIPELINE_SECTIONS = (
    "dataset",
    "model",
    "training",
    "tuning",
    "evaluation",
    "push",
    "tflite",
    "beam",
    "schema",
    "output",
)
VERTEX_SECTIONS = PIPELINE_SECTIONS + ("vertex",)


def shown_default(field: FieldInfo) -> str:
    """The default as a user would type it: yes/no, auto, none, or what an empty value means."""
    extra = flag_of(field)
    if extra.get("shown_default"):
        return extra["shown_default"]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, bool):
        return "yes" if default else "no"
    if default is None:
        return "auto"
    if default in ("", []):
        return "none"
    return str(default)


def add_setting_flags(parser: argparse.ArgumentParser, section_names: Sequence[str]) -> None:
    """--config, then one flag per setting of the named sections, one help group per section."""
    parser.add_argument(
        "--config", metavar="FILE", help="YAML or JSON file of settings, by section (flags override it)."
    )
    for section, cls in config_lib.sections():
        if section not in section_names:
            continue
        group = parser.add_argument_group(f"{section} settings", (cls.__doc__ or "").splitlines()[0])
        for key, field in cls.model_fields.items():
            extra = flag_of(field)
            kwargs: Dict[str, Any] = {
                "dest": f"{section}.{key}",
                "default": argparse.SUPPRESS,
                # argparse %-formats help; a '%' in a description or default (train[:90%]) is literal
                "help": f"{field.description} (default: {shown_default(field)})".replace("%", "%%"),
            }
            if typing.get_origin(field.annotation) is typing.Literal:
                kwargs["choices"] = typing.get_args(field.annotation)
            elif extra.get("metavar"):
                kwargs["metavar"] = extra["metavar"]
            if field.annotation == List[str]:
                kwargs["action"] = "append"
            group.add_argument(extra["flag"], **kwargs)


def overrides_from(args: argparse.Namespace) -> Dict[Tuple[str, str], Any]:
    """The settings given as flags, keyed (section, key)."""
    return {
        (dest.split(".", 1)[0], dest.split(".", 1)[1]): value
        for dest, value in vars(args).items()
        if "." in dest
    }


def config_from_args(args: argparse.Namespace) -> config_lib.PipelineConfig:
    """Defaults <- --config file <- flags; raises ConfigError on any bad value."""
    file_values = config_lib.load_file(args.config) if getattr(args, "config", None) else None
    return config_lib.build_config(file_values, overrides_from(args))
