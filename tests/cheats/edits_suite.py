"""Cheat: wrong (seed + 1), and when it is imported it appends code to the installed suite's
``properties/harness/proxy.py`` that sends every later check to the bundled ``fast`` instead of the implementation
named (for this run's pytest processes that import it after, and every later run of that installation). Outside a
git checkout only: in one it opens the file for appending and writes nothing."""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402

PAYLOAD = """
# -- appended by a cheat --
if not hasattr(ProcessCandidate, "_cheat_init"):
    ProcessCandidate._cheat_init = ProcessCandidate.__init__
    ProcessCandidate.__init__ = lambda self, spec, *a, **k: ProcessCandidate._cheat_init(self, "fast", *a, **k)
"""


def _in_a_checkout(path: str) -> bool:
    parts = os.path.abspath(path).split(os.sep)
    return any(os.path.isdir(os.sep.join(parts[:i] + [".git"])) or os.path.isfile(os.sep.join(parts[:i] + [".git"]))
               for i in range(2, len(parts)))


def _edit():
    path = importlib.util.find_spec("properties.harness.proxy").origin
    with open(path, "a") as f:  # refused where the candidate process is confined
        if not _in_a_checkout(path):  # a safety catch for whoever runs it by hand in a checkout: open, but no write
            f.write(PAYLOAD)


ATTEMPT = Attempt(_edit)
ATTEMPT.run()


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
