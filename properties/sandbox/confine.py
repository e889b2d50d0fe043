"""Confinement of the candidate process (Linux): what it may write, reach and signal once it has restricted itself.

:func:`confine` runs in the candidate process before anything else is imported (no other thread may be running:
Landlock restricts the calling thread and what it starts later) and before the implementation is loaded. It puts in
force, each where the kernel offers it:

* ``PR_SET_NO_NEW_PRIVS`` (no privilege gained through ``execve``, e.g. a setuid binary);
* a Landlock domain (kernels >= 5.13): every filesystem right of the kernel's ABI is handled; reading and executing
  stay allowed beneath ``/``; writing, creating, removing, renaming, linking and truncating only beneath the
  candidate's private temporary directory and the directories it is given (its JAX cache), plus ``/dev/null``
  (and the GPU device nodes present, which a GPU backend must open and drive with ``ioctl``); device nodes cannot be
  created anywhere. Landlock also refuses ``ptrace`` (so ``/proc/PID/mem``) of any process outside the domain;
  TCP ``bind``/``connect`` are denied (ABI >= 4); signals and abstract Unix sockets are scoped to the domain (ABI >= 6);
* no capabilities (a candidate started as root keeps its user id, loses ``CAP_SYS_MODULE``, ``CAP_DAC_OVERRIDE``
  and the rest).

It returns a record (JSON-able) naming each protection of :data:`PROTECTIONS`, in force or not, with the reason.
Nothing here raises because a protection is missing (macOS, an old kernel, a seccomp filter answering ENOSYS or
EPERM): the record says so, and the checking side decides (``--require-isolation``).

Why ctypes and not a package: Landlock is three system calls (444-446, the same numbers on every architecture but
alpha) and ``prctl``/``capset`` are in libc; the package lists offer ``landlock`` (1.0.0.dev5, a development
release) and a few young wrappers, none of which adds the ABI 4-7 features with a stable release. A dependency
would also have to be importable before confinement in every environment the suite runs in; ctypes always is.

``$COMPOSED_LANDLOCK_MAX_ABI`` caps the ABI used (0: as if the kernel had no Landlock): an honest way to see the
degraded path, reported as such. Nothing here imports the checking side of the suite.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

#: Cap on the Landlock ABI used (simulates an older kernel; 0 = no Landlock).
ENV_MAX_ABI = "COMPOSED_LANDLOCK_MAX_ABI"

#: The protections a record names, with what each guarantees when in force (one line each, for reports and docs).
PROTECTIONS = {
    "fs_write": "writes only beneath its own temporary directory, its JAX cache and /dev/null (Landlock ABI >= 1)",
    "fs_truncate": "no truncating of files outside those places (Landlock ABI >= 3)",
    "dev_ioctl": "no ioctl on device files other than GPU nodes (Landlock ABI >= 5)",
    "ptrace": "no ptrace or /proc/PID/mem of processes outside its domain (Landlock ABI >= 1)",
    "tcp": "no TCP bind or connect (Landlock ABI >= 4)",
    "signal": "no signals to processes outside its domain (Landlock ABI >= 6)",
    "abstract_unix": "no connecting to abstract Unix sockets outside its domain (Landlock ABI >= 6)",
    "no_new_privs": "no privileges gained through execve (prctl PR_SET_NO_NEW_PRIVS)",
    "capabilities": "no Linux capabilities, even when started as root (capset)",
}

# -- the kernel's interface -----------------------------------------------------------------------------------------------

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_DUMPABLE, PR_GET_DUMPABLE = 4, 3
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
CAP_VERSION_3 = 0x20080522

# Filesystem rights, with the ABI that introduced them.
FS = {
    "execute": (1 << 0, 1), "write_file": (1 << 1, 1), "read_file": (1 << 2, 1), "read_dir": (1 << 3, 1),
    "remove_dir": (1 << 4, 1), "remove_file": (1 << 5, 1), "make_char": (1 << 6, 1), "make_dir": (1 << 7, 1),
    "make_reg": (1 << 8, 1), "make_sock": (1 << 9, 1), "make_fifo": (1 << 10, 1), "make_block": (1 << 11, 1),
    "make_sym": (1 << 12, 1), "refer": (1 << 13, 2), "truncate": (1 << 14, 3), "ioctl_dev": (1 << 15, 5),
}
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

#: Rights that apply to a file (not only to a directory): a rule on a file may grant only these.
FILE_RIGHTS = ("execute", "write_file", "read_file", "truncate", "ioctl_dev")
READ = ("execute", "read_file", "read_dir")
#: Beneath the writable places: everything but creating device nodes and ioctl on devices.
WRITE = tuple(n for n in FS if n not in ("make_char", "make_block", "ioctl_dev"))
#: Device nodes GPU backends open read-write and drive with ioctl (only those present get a rule).
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset", "/dev/nvidia-caps",
               "/dev/dri", "/dev/kfd") + tuple(f"/dev/nvidia{i}" for i in range(16)) + tuple(
               f"/dev/accel{i}" for i in range(16))


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _Failed(Exception):
    """A system call failed: the message names it and its errno."""


_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise _Failed(f"{what} failed: {errno.errorcode.get(err, err)} ({os.strerror(err)})")
    return result


def _prctl(option: int, arg: int = 0) -> int:
    f = _lib().prctl
    return f(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


# -- the record -----------------------------------------------------------------------------------------------------------


def record(abi: int = 0, **states: tuple[bool, str]) -> dict:
    """A record: ``{"platform", "kernel", "landlock_abi", "protections": {name: {"in_force", "reason"}}}``; the
    protections not in ``states`` are not in force, for the reason ``states.get("default")`` gives."""
    default = states.pop("default", (False, "not attempted"))
    kernel = os.uname().release if hasattr(os, "uname") else "?"
    return {"platform": sys.platform, "kernel": kernel, "landlock_abi": abi,
            "protections": {name: _state(*states.get(name, default)) for name in PROTECTIONS}}


def _state(in_force: bool, reason: str) -> dict:
    return {"in_force": bool(in_force), "reason": reason}


def missing(rec: dict | None) -> dict[str, str]:
    """The protections of a record that are not in force: ``{name: reason}`` (all of them for no record)."""
    if not rec:
        return {name: "no isolation record" for name in PROTECTIONS}
    got = rec.get("protections") or {}
    return {name: (got.get(name) or {}).get("reason", "not reported") for name in PROTECTIONS
            if not (got.get(name) or {}).get("in_force")}


def none_in_force(reason: str) -> dict:
    """The record of a process that is not confined at all (``--in-process``, a platform without the features)."""
    return record(0, default=(False, reason))


# -- Landlock ------------------------------------------------------------------------------------------------------------


def landlock_abi() -> tuple[int, str]:
    """``(ABI version, why)``: 0 with the reason where Landlock cannot be used (capped by :data:`ENV_MAX_ABI`)."""
    if not sys.platform.startswith("linux"):
        return 0, f"Landlock is Linux only (this is {sys.platform})"
    try:
        abi = _check(_lib().syscall(ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                                    ctypes.c_uint32(CREATE_RULESET_VERSION)), "landlock_create_ruleset")
    except _Failed as exc:
        return 0, f"Landlock unavailable: {exc} (kernel older than 5.13, Landlock not enabled, or a seccomp filter)"
    except (OSError, AttributeError) as exc:
        return 0, f"Landlock unavailable: no syscall() in libc ({exc})"
    cap = os.environ.get(ENV_MAX_ABI, "").strip()
    if cap.isdigit() and int(cap) < abi:
        return int(cap), f"kernel ABI {abi} capped at {cap} by ${ENV_MAX_ABI}"
    return abi, f"Landlock ABI {abi}"


def _mask(names, abi: int) -> int:
    """The bits of the rights ``names`` that ABI ``abi`` knows (a set: a right named twice counts once)."""
    mask = 0
    for name in names:
        bit, since = FS[name]
        if since <= abi:
            mask |= bit
    return mask


def _add_path(ruleset: int, path: str, names, abi: int) -> str | None:
    """Allow ``names`` beneath ``path`` (only file rights for a file); the reason it could not, else None."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    try:
        if not os.path.isdir(path):
            names = [n for n in names if n in FILE_RIGHTS]
        attr = _PathBeneathAttr(_mask(names, abi), fd)
        _check(_lib().syscall(ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                              ctypes.byref(attr), ctypes.c_uint32(0)), f"landlock_add_rule({path})")
    except _Failed as exc:
        return str(exc)
    finally:
        os.close(fd)
    return None


def _restrict(abi: int, writable, devices) -> list[str]:
    """Build the ruleset and restrict this thread (and what it starts). Returns notes (rules that could not be
    added); raises :class:`_Failed` when the domain could not be put in force."""
    attr = _RulesetAttr(_mask(FS, abi), (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                        (SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # a kernel refuses a struct larger than its own with bytes set
    ruleset = _check(_lib().syscall(ctypes.c_long(SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
                                    ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        notes = []
        why = _add_path(ruleset, "/", READ, abi)
        if why:
            raise _Failed(f"read access beneath /: {why}")
        for path in writable:
            why = _add_path(ruleset, path, READ + WRITE, abi)
            if why:
                notes.append(why)
        for path in ("/dev/null", *devices):
            if os.path.exists(path):
                why = _add_path(ruleset, path, ("read_file", "write_file", "truncate", "ioctl_dev", "read_dir"), abi)
                if why:
                    notes.append(why)
        _check(_lib().syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return notes


def _landlock_states(abi: int, reason: str, writable, devices) -> dict:
    if abi < 1:
        return {n: (False, reason) for n in ("fs_write", "fs_truncate", "dev_ioctl", "ptrace", "tcp", "signal",
                                             "abstract_unix")}
    threads = _threads()
    if threads > 1:
        why = f"{threads} threads were running: Landlock would confine only one of them"
        return {n: (False, why) for n in ("fs_write", "fs_truncate", "dev_ioctl", "ptrace", "tcp", "signal",
                                          "abstract_unix")}
    try:
        notes = _restrict(abi, writable, devices)
    except _Failed as exc:
        why = f"{reason}, but {exc}"
        return {n: (False, why) for n in ("fs_write", "fs_truncate", "dev_ioctl", "ptrace", "tcp", "signal",
                                          "abstract_unix")}
    where = ", ".join(writable) or "nowhere"
    extra = f" (rules not added: {'; '.join(notes)})" if notes else ""
    lacking = f"{reason}: the kernel's Landlock has it from ABI %d"
    return {
        "fs_write": (True, f"{reason}: writes only beneath {where} and /dev/null{extra}"),
        "fs_truncate": (True, reason) if abi >= 3 else (False, lacking % 3),
        "dev_ioctl": (True, reason) if abi >= 5 else (False, lacking % 5),
        "ptrace": (True, reason),
        "tcp": (True, reason) if abi >= 4 else (False, lacking % 4),
        "signal": (True, reason) if abi >= 6 else (False, lacking % 6),
        "abstract_unix": (True, reason) if abi >= 6 else (False, lacking % 6),
    }


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


# -- the rest ------------------------------------------------------------------------------------------------------------


def _no_new_privs() -> tuple[bool, str]:
    try:
        _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "prctl(PR_SET_NO_NEW_PRIVS)")
    except _Failed as exc:
        return False, str(exc)
    except (OSError, AttributeError) as exc:
        return False, f"no prctl: {exc}"
    return True, "prctl(PR_SET_NO_NEW_PRIVS, 1)"


def _drop_capabilities() -> tuple[bool, str]:
    """Empty the effective, permitted and inheritable sets (and so the ambient set)."""
    try:
        libc = _lib()
        header = _CapHeader(CAP_VERSION_3, 0)
        data = (_CapData * 2)()
        _check(libc.capset(ctypes.byref(header), data), "capset")
        _check(libc.capget(ctypes.byref(header), data), "capget")
    except _Failed as exc:
        return False, str(exc)
    except (OSError, AttributeError) as exc:
        return False, f"no capset in libc: {exc}"
    if any(d.effective or d.permitted for d in data):
        return False, "capabilities still held after capset"
    return True, f"no capabilities (user id {os.getuid()})"


def confine(tmpdir: str, writable=(), *, devices=GPU_DEVICES) -> dict:
    """Restrict this process (see the module docstring): writes only beneath ``tmpdir`` and ``writable`` (existing
    directories; the others are skipped and named in the record). Returns the record; never raises."""
    if not sys.platform.startswith("linux"):
        return none_in_force(f"not Linux ({sys.platform}): no Landlock, prctl or capabilities")
    places = [p for p in dict.fromkeys([tmpdir, *writable]) if p]
    nnp = _no_new_privs()
    abi, reason = landlock_abi()
    states = _landlock_states(abi, reason, places, devices) if nnp[0] else {
        n: (False, f"Landlock needs no_new_privs: {nnp[1]}") for n in ("fs_write", "fs_truncate", "dev_ioctl",
                                                                      "ptrace", "tcp", "signal", "abstract_unix")}
    return record(abi, no_new_privs=nnp, capabilities=_drop_capabilities(), **states)


def private_tmpdir(path: str) -> None:
    """Point ``TMPDIR``/``TEMP``/``TMP`` at ``path`` (before anything imports :mod:`tempfile`)."""
    for key in ("TMPDIR", "TEMP", "TMP"):
        os.environ[key] = path
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # recomputed from the environment at the next call


# -- the checking side ---------------------------------------------------------------------------------------------------


def non_dumpable() -> tuple[bool, str]:
    """Make this (checking) process non-dumpable: no other process of the user may ptrace it or open its
    ``/proc/PID/mem``. Returns ``(in force, reason)``; never raises."""
    if not sys.platform.startswith("linux"):
        return False, f"not Linux ({sys.platform})"
    try:
        _check(_prctl(PR_SET_DUMPABLE, 0), "prctl(PR_SET_DUMPABLE, 0)")
        if _prctl(PR_GET_DUMPABLE) != 0:
            return False, "prctl(PR_GET_DUMPABLE) still says dumpable"
    except _Failed as exc:
        return False, str(exc)
    except (OSError, AttributeError) as exc:
        return False, f"no prctl: {exc}"
    return True, "prctl(PR_SET_DUMPABLE, 0)"


def probe(tmpdir: str | None = None) -> dict:
    """The record :func:`confine` gives on this machine, measured in a forked child that confines itself and exits
    (this process stays as it is). For the checking side, before any candidate process starts."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return none_in_force(f"not Linux ({sys.platform}): no Landlock, prctl or capabilities")
    import json
    import tempfile

    _lib()  # loaded here: the child of a threaded process should not take the loader's lock
    with tempfile.TemporaryDirectory(prefix="composed-probe-") as tmp:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.close(read)
                os.write(write, json.dumps(confine(tmpdir or tmp)).encode())
            finally:
                os._exit(0)
        os.close(write)
        chunks = []
        while True:
            chunk = os.read(read, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read)
        os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return none_in_force("the probe process gave no record")
