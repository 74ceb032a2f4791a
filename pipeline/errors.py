"""The errors `segpipe` turns into one line on stderr and an exit code, instead of a traceback."""


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot run with; the message names the flag (exit 2)."""
