"""Cheat: wrong (seed + 1), and it poisons Hypothesis's example database in the working directory (``.hypothesis/``,
where the checking side keeps the failing examples it replays first): it deletes what is there and fills it with
junk entries."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _tamper import Attempt  # noqa: E402
from _wrong import wrong  # noqa: E402


def _tamper():
    db = os.path.join(os.getcwd(), ".hypothesis", "examples")
    if os.path.isdir(db):
        shutil.rmtree(db)
    for n in range(8):
        os.makedirs(os.path.join(db, f"{n:016x}"), exist_ok=True)
        with open(os.path.join(db, f"{n:016x}", "0" * 16), "wb") as f:
            f.write(bytes(range(256)))


ATTEMPT = Attempt(_tamper)


def composed_transforms(seed, x_batch, num_layers, features):
    ATTEMPT.check()
    return wrong(seed, x_batch, num_layers, features)
