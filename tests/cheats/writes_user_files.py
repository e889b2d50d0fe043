"""Cheat: wrong (seed + 1), and it plants files for later runs: every property on the xfails file named on the
checking side's command line (``--xfails-file``: later runs then expect its failures), and a ``conftest.py`` in the
working directory (a later plain ``pytest`` there would load it)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt, command_line_paths  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tamper():
    for path in command_line_paths("--xfails-file"):
        with open(path, "a") as f:
            f.write("\nmatches_oracle\ngrid\nboundary\n")
    with open(os.path.join(os.getcwd(), "conftest.py"), "a") as f:
        f.write("\n# planted by a cheat\n")


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
