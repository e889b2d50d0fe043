"""Cheat: wrong (seed + 1), and when it is imported it writes into the run's shared state (``composed-run-<id>`` in the
temporary directory) that three calls already timed out and none returned: the checking side then believes the
implementation hangs everywhere and reports every property as not run (skipped) instead of failed."""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import ENV_RUN, Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tamper():
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", os.environ.get(ENV_RUN, ""))[:80]
    for tmp in dict.fromkeys(["/tmp", tempfile.gettempdir()]):
        state = os.path.join(tmp, f"composed-run-{safe}")
        os.makedirs(state, exist_ok=True)
        with open(os.path.join(state, "timeouts"), "ab") as f:
            f.write(b"ttt")


ATTEMPT = Attempt(_tamper)
ATTEMPT.run()


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
