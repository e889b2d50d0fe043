"""What one run has learnt so far, shared by every process of the run (the pytest processes of ``-n N`` included).

A run is named by ``$COMPOSED_RUN`` (set by ``composed-check`` or the pytest plugin); its state is a directory of
small files in the temporary directory, written with atomic appends and file creations, read with ``os.stat``:

* **hangs**: how many calls timed out, whether any call ever returned, and the slowest call that did (per process);
  :class:`properties.harness.proxy.ProcessCandidate` derives its deadlines from them, so an implementation that hangs
  costs the full timeout once, not once per property;
* **failed checks**: the families of checks (e.g. the oracle comparison behind ``matches_oracle``, the grid cells and
  the boundary cases) that already failed, and were shrunk, in this run: later tests of the same family skip shrinking.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid

ENV_RUN = "COMPOSED_RUN"


class RunState:
    def __init__(self, run_id: str | None = None):
        run_id = run_id or os.environ.get(ENV_RUN) or f"local-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:80]
        self.dir = os.path.join(tempfile.gettempdir(), f"composed-run-{safe}")
        self._slowest = 0.0
        self._returned = False

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _touch(self, name: str, data: bytes = b"") -> None:
        try:
            os.makedirs(self.dir, exist_ok=True)
            fd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                if data:
                    os.write(fd, data)
            finally:
                os.close(fd)
        except OSError:
            pass

    # -- hangs -------------------------------------------------------------------------------------------------------
    def note_timeout(self) -> None:
        self._touch("timeouts", b"t")

    def timeouts(self) -> int:
        try:
            return os.stat(self._path("timeouts")).st_size
        except OSError:
            return 0

    def note_returned(self, seconds: float) -> None:
        """A call came back (with a result or an exception) after ``seconds``."""
        if not self._returned:
            self._returned = True
            self._touch("returned")
        if seconds > self._slowest * 1.1:
            self._slowest = seconds
            try:
                os.makedirs(self.dir, exist_ok=True)
                tmp = self._path(f".slowest.{os.getpid()}")
                with open(tmp, "w") as f:
                    f.write(repr(seconds))
                os.replace(tmp, self._path(f"slowest.{os.getpid()}"))
            except OSError:
                pass

    def returned(self) -> bool:
        return self._returned or os.path.exists(self._path("returned"))

    def slowest(self) -> float:
        """The slowest call that returned, over every process of the run."""
        best = self._slowest
        try:
            names = os.listdir(self.dir)
        except OSError:
            return best
        for name in names:
            if name.startswith("slowest."):
                try:
                    with open(self._path(name)) as f:
                        best = max(best, float(f.read()))
                except (OSError, ValueError):
                    pass
        return best

    # -- failed checks -------------------------------------------------------------------------------------------------
    def note_failed(self, family: str) -> None:
        self._touch("failed." + re.sub(r"[^A-Za-z0-9_]", "_", family))

    def failed(self, family: str) -> bool:
        return os.path.exists(self._path("failed." + re.sub(r"[^A-Za-z0-9_]", "_", family)))

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
