"""Hostile: correct values, but one of its calls (once per run) starts a background thread that ends the process
(``os._exit(3)``) half a second later, while the next call runs. The property then running fails; the message must
say the process exited and that the implementation had left a thread running; the others keep their verdicts."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _once import first_time  # noqa: E402

import composed  # noqa: E402

_armed = False


def _bomb():
    time.sleep(0.5)
    os._exit(3)


def composed_transforms(seed, x_batch, num_layers, features):
    global _armed
    if _armed:
        time.sleep(1.0)  # the thread fires while this call is running
    elif first_time("thread"):
        _armed = True
        threading.Thread(target=_bomb, name="bomb", daemon=True).start()
    return composed.composed_transforms(seed, x_batch, num_layers, features)
