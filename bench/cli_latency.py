"""How long the commands that only read take: `segpipe --help`, `segpipe run --help` and
`segpipe metrics` on a finished run, each a fresh process, as a person types them.

They import no TensorFlow, TFX, Beam or metadata store (tests/pipeline/test_console.py checks
it), so they should answer in about a second even on this 2-core machine; this records the wall
time (median and worst of ROUNDS), and, for scale, the time `python -c "import tensorflow"`
takes, the import those commands avoid.
"""

import os
import statistics
import subprocess
import sys
import time
from typing import Dict, List

from bench.common import QUICK, REPO_ROOT, Recorder, parse_settings

ROUNDS = 5
# A finished run's OUTPUT/ to read: the summary the first release wrote (kept for the tests).
OUTPUT = os.path.join(REPO_ROOT, "tests", "data", "old_output")
COMMANDS = {
    "segpipe --help": ["--help"],
    "segpipe run --help": ["run", "--help"],
    "segpipe metrics": ["metrics", "--output", OUTPUT],
    "segpipe metrics --json": ["metrics", "--output", OUTPUT, "--json"],
}


def _wall_seconds(argv: List[str], rounds: int) -> List[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    settings = parse_settings(__doc__.splitlines()[0])
    rounds = 2 if settings.name == QUICK.name else ROUNDS
    recorder = Recorder("cli_latency", settings)
    commands: Dict[str, Dict[str, float]] = {}
    for name, argv in COMMANDS.items():
        times = _wall_seconds([sys.executable, "-m", "pipeline.cli", *argv], rounds)
        commands[name] = {
            "median_seconds": round(statistics.median(times), 2),
            "max_seconds": round(max(times), 2),
        }
    tensorflow = _wall_seconds([sys.executable, "-c", "import tensorflow"], rounds)
    recorder.write(
        {
            "rounds": rounds,
            "commands": commands,
            "import_tensorflow_median_seconds": round(statistics.median(tensorflow), 2),
        }
    )


if __name__ == "__main__":
    main()
