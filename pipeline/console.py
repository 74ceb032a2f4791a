"""The console is for people; everything the libraries print goes to OUTPUT/logs/<run id>.log.

A pipeline run makes TFX log whole protos, Beam's workers warn, TensorFlow's C++ code writes
start-up notices, Google's clients raise FutureWarnings: about 6,000 lines for the demo. They are
needed when something goes wrong, and in the way otherwise. So for the length of a run:

- file descriptors 1 and 2 point at the log file, which catches TensorFlow's C++ logging and
  the Beam worker processes (they inherit the descriptors) as well as Python's own output;
- Python's logging (TFX's absl included) writes there too, and warnings become log records;
- the run view writes to the terminal it was given (a duplicate of the real stdout), so only
  what it prints reaches the console.

`--verbose` keeps everything on the console as well (the log file still gets Python's logs).
"""

import contextlib
import io
import logging
import os
import sys
import time
from typing import Iterator, Optional, TextIO

from absl import logging as absl_logging

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def new_run_id() -> str:
    """A run's id: its start time, which sorts the log files in the order the runs happened."""
    return time.strftime("%Y%m%d-%H%M%S")


def _real_stdout_fd() -> Optional[int]:
    """fd 1 if sys.stdout writes to it (not a test's capture or another replacement)."""
    try:
        return sys.stdout.fileno() if sys.stdout.fileno() == 1 else None
    except (AttributeError, io.UnsupportedOperation, ValueError):
        return None


@contextlib.contextmanager
def captured_output(log_path: str, verbose: bool = False) -> Iterator[TextIO]:
    """Sends the libraries' output to log_path for the block; yields the stream for the console.

    Restores descriptors, logging and warnings on the way out, whatever happened in the block.
    """
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log_file = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115  (kept open for the block)
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    previous_level, previous_handlers = root.level, list(root.handlers)
    saved_fds: list = []
    console: TextIO = sys.stdout
    try:
        root.setLevel(logging.INFO)
        absl_logging.set_verbosity(absl_logging.INFO)  # TF's SavedModel export resets it to WARNING
        if verbose:
            root.addHandler(handler)
        else:
            stdout_fd = _real_stdout_fd()
            if stdout_fd is not None:
                console = open(os.dup(stdout_fd), "w", encoding="utf-8", buffering=1)  # noqa: SIM115
            sys.stdout.flush()
            sys.stderr.flush()
            saved_fds = [(fd, os.dup(fd)) for fd in (1, 2)]
            for fd, _ in saved_fds:
                os.dup2(log_file.fileno(), fd)
            root.handlers = [handler]  # the libraries' records go to the file, not the console
        logging.captureWarnings(True)
        yield console
    finally:
        logging.captureWarnings(False)
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, saved in saved_fds:
            os.dup2(saved, fd)
            os.close(saved)
        root.handlers = previous_handlers
        root.setLevel(previous_level)
        if console is not sys.stdout:
            console.close()
        log_file.close()
