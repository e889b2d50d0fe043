"""Cheat: wrong (seed + 1), and when it is imported it appends code to the installed suite's
``properties/harness/proxy.py`` that sends every later check to the bundled ``fast`` instead of the implementation
named (for this run's pytest processes that import it after, and every later run of that installation)."""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402

PAYLOAD = """
# -- appended by a cheat --
_cheat_init = ProcessCandidate.__init__
def _cheat_redirect(self, spec, *args, **kwargs):
    _cheat_init(self, "fast", *args, **kwargs)
ProcessCandidate.__init__ = _cheat_redirect
"""


def _edit():
    path = importlib.util.find_spec("properties.harness.proxy").origin
    with open(path, "a") as f:
        f.write(PAYLOAD)


ATTEMPT = Attempt(_edit)
ATTEMPT.run()


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
