"""TensorFlow's error messages, reduced to the one line a person can act on.

TensorFlow wraps what went wrong in 'Graph execution error:', 'Detected at node ...' and
tab-indented '[[{{node ...}}]]' lines that mean nothing to someone who sent a photo (or whose
dataset holds a damaged one). The serving clients and the ExampleGen's record check both print
such errors, so both read them here.
"""

_NOISE = ("Graph execution error", "Detected at node", "<stack traces unavailable>")


def one_line(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong."""
    lines = [
        line.strip()
        for line in message.splitlines()
        if line.strip() and not line.startswith(("\t", " ")) and not line.startswith(_NOISE)
    ]
    return lines[-1] if lines else message.strip()
