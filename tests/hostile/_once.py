"""Helper of the selective hostile implementations: true exactly once per run (``$COMPOSED_RUN``), whichever candidate
process of the run gets there first (a marker file in the temporary directory)."""

import os
import tempfile


def first_time(what: str) -> bool:
    run = os.environ.get("COMPOSED_RUN", "no-run")
    path = os.path.join(tempfile.gettempdir(), f"composed-hostile-{what}-{run}")
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True
