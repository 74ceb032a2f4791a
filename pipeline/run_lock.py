"""One pipeline run at a time per output directory.

Two runs on the same output directory would share one SQLite metadata store and one serving
root: both could publish "the next version" and race on the store. A run therefore holds an
exclusive lock on OUTPUT/.segpipe.lock (flock: the kernel drops it when the process ends, even
by SIGKILL, so a killed run never leaves a stale lock). A second run refuses at once with a
message naming the lock and the holder's PID, or, with --wait, waits for its turn.
"""

import contextlib
import errno
import fcntl
import os
from typing import Iterator

LOCK_FILE = ".segpipe.lock"


class RunLockedError(RuntimeError):
    """Another run holds the output directory."""


def lock_path(output_dir: str) -> str:
    return os.path.join(output_dir, LOCK_FILE)


@contextlib.contextmanager
def run_lock(output_dir: str, wait: bool = False) -> Iterator[str]:
    """Holds the output directory's lock for the duration of the block; yields the lock path."""
    os.makedirs(output_dir, exist_ok=True)
    path = lock_path(output_dir)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"another segpipe run (pid {holder}) holds {path}; it uses the same output "
                f"directory. Wait for it to finish, or pass --wait to queue behind it"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(descriptor)  # closing releases the lock
