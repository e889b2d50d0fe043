"""Hostile: really allocates and touches memory, 256 MiB at a time, until allocation fails.

The suite's per-process memory limit (``--impl-max-memory``, RLIMIT_DATA) makes that happen early, as a MemoryError.
As a safety net, should the limit be missing, it stops by itself at 30% of the memory available when the call began (so
two workers at once stay below the total) and raises RuntimeError saying so: a test can tell that the limit, not the
net, stopped it.
"""

import numpy as np

CHUNK = 256 << 20


def _available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def composed_transforms(seed, x_batch, num_layers, features):
    cap = int(_available() * 0.3)
    hoard = []
    while len(hoard) * CHUNK < cap:
        hoard.append(np.ones(CHUNK // 8))  # np.ones writes every page
    raise RuntimeError(f"memory_hog: took {len(hoard) * CHUNK >> 20} MiB and nothing stopped it")
