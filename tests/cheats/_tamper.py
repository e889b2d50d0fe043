"""What the tampering cheats share: the processes of the checking side, and an attempt made once whose failure every
later call raises again (so each property fails naming what the cheat tried, and what stopped it)."""

from __future__ import annotations

import os

ENV_RUN = "COMPOSED_RUN"


def _environ(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().split(b"\0")


def parent_chain(limit: int = 6) -> list[int]:
    """The parent, its parent, ... (not init)."""
    chain, pid = [], os.getppid()
    while pid > 1 and len(chain) < limit:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def run_processes() -> list[int]:
    """Other processes carrying this run's id (the CLI, pytest, its workers, the other candidate processes), as far as
    /proc lets this process see them; the parent first."""
    needle = f"{ENV_RUN}={os.environ.get(ENV_RUN, '')}".encode()
    mine = {os.getpid()}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in mine:
            continue
        try:
            if needle in _environ(int(name)):
                found.append(int(name))
        except OSError:
            continue
    ppid = os.getppid()
    return sorted(found, key=lambda pid: pid != ppid)


def command_line_paths(*flags: str) -> list[str]:
    """The values of ``flags`` on the command lines of the parent chain and the run's processes."""
    paths = []
    for pid in dict.fromkeys(parent_chain() + run_processes()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(argv[:-1]):
            if arg in flags:
                paths.append(argv[i + 1])
    return list(dict.fromkeys(paths))


class Attempt:
    """Runs ``tamper`` once (at import or on the first call); ``check()`` raises what stopped it on every call."""

    def __init__(self, tamper):
        self.tamper = tamper
        self.done = False
        self.error: BaseException | None = None

    def run(self) -> None:
        if not self.done:
            self.done = True
            try:
                self.tamper()
            except OSError as exc:
                self.error = exc

    def check(self) -> None:
        self.run()
        if self.error is not None:
            raise self.error.with_traceback(None)  # the same error, naming the path (OSError.filename) it was refused
