"""The confinement of the candidate process (:mod:`properties.sandbox.confine`) and what the checking side does with it
(:mod:`properties.harness.isolation`, :mod:`properties.runner.isolation`): each attack is shown to work from an
unconfined child first, then to fail from a confined one; the degraded path says what is missing and
``--require-isolation`` turns it into exit status 6.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from properties.harness import isolation, processes
from properties.harness.proxy import IsolationMissing, ProcessCandidate
from properties.runner.exitcodes import Exit
from properties.sandbox import confine

ROOT = Path(__file__).resolve().parent.parent
SUITE_FILE = ROOT / "properties" / "sandbox" / "__init__.py"
ABI = confine.landlock_abi()[0]
needs = pytest.mark.skipif(ABI < 6, reason=f"needs Landlock ABI 6 here: {confine.landlock_abi()[1]}")

#: Run in a child: optionally confine, then try each attack; print {attack: "ok" | errno name}.
CHILD = textwrap.dedent("""
    import errno, json, os, socket, sys
    tmp, cache, port, confined, jax_too = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1"
    from properties.sandbox import confine
    rec = confine.confine(tmp, [cache]) if confined else None
    if confined:
        confine.private_tmpdir(tmp)
    out = {"record": rec}
    def attempt(name, f):
        try:
            f()
            out[name] = "ok"
        except OSError as exc:
            out[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    attempt("write_suite", lambda: open(sys.argv[6], "ab").close())
    attempt("write_real_suite", lambda: open(sys.argv[8], "ab").close())
    attempt("proc_mem", lambda: open(f"/proc/{os.getppid()}/mem", "r+b").close())
    attempt("kill_parent", lambda: os.kill(os.getppid(), 0))
    attempt("tcp_connect", lambda: socket.create_connection(("127.0.0.1", port), timeout=5).close())
    attempt("write_cache_sibling", lambda: open(os.path.join(os.path.dirname(cache), "checker-entry"), "wb").close())
    attempt("ftruncate_inherited", lambda: os.ftruncate(int(sys.argv[7]), 0))
    import tempfile
    def tmp_write():
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"x")
        assert os.path.dirname(f.name) == tmp, f.name
        with open(os.path.join(cache, "entry"), "wb") as g:
            g.write(b"x")
        with open(os.devnull, "w") as n:
            n.write("x")
    attempt("write_own_places", tmp_write)
    if jax_too:
        import jax, jax.numpy as jnp
        out["jit"] = float(jax.jit(lambda x: (x @ x).sum())(jnp.ones((3, 3))))
    print("@@" + json.dumps(out))
""")


def _child(tmp_path, *, confined: bool, jax_too: bool = False) -> dict:
    """Run :data:`CHILD` against a listening TCP port and an inherited file descriptor of this test."""
    tmp, cache = tmp_path / "tmp", tmp_path / "jax" / "candidates" / "key"
    tmp.mkdir(exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    with socket.socket() as server, open(tmp_path / "log", "wb") as log:
        server.bind(("127.0.0.1", 0))
        server.listen()
        log.write(b"some output")
        log.flush()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp), str(cache), str(server.getsockname()[1]), "1" if confined else "0",
             "1" if jax_too else "0", str(tmp_path / "suite_file.py"), str(log.fileno()), str(SUITE_FILE)],
            capture_output=True, text=True, timeout=300, pass_fds=(log.fileno(),),
            env=dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", TMPDIR=str(tmp)))
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    assert line is not None, proc.stdout + proc.stderr
    return json.loads(line[2:])


@pytest.fixture
def suite_file(tmp_path):
    """A stand-in for a file of the installed suite (writable by this user, outside the candidate's places)."""
    path = tmp_path / "suite_file.py"
    path.write_text("X = 1\n")
    return path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_every_attack_works_from_an_unconfined_child(tmp_path, suite_file):
    """The control: without confinement each attack below succeeds here (so the confined test is not vacuous).
    Opening this process's memory needs it dumpable or the child privileged: this machine runs as root."""
    got = _child(tmp_path, confined=False)
    for attack in ("write_suite", "write_real_suite", "kill_parent", "tcp_connect", "write_cache_sibling", "write_own_places"):
        assert got[attack] == "ok", (attack, got)
    if os.geteuid() == 0:
        assert got["proc_mem"] == "ok", got


@needs
def test_a_confined_child_cannot_reach_the_suite_the_checker_or_the_network(tmp_path, suite_file):
    got = _child(tmp_path, confined=True, jax_too=True)
    assert got["write_suite"] == got["write_real_suite"] == "EACCES", got
    assert got["proc_mem"] == "EACCES", got
    assert got["kill_parent"] == "EPERM", got
    assert got["tcp_connect"] in ("EACCES", "EPERM"), got
    assert got["write_cache_sibling"] == "EACCES", got  # the checking side's cache, beside a candidate's own
    assert got["write_own_places"] == "ok", got  # TMPDIR (tempfile), its JAX cache, /dev/null
    assert got["ftruncate_inherited"] == "ok", got  # the log it inherited (the server empties it when it grows)
    assert got["jit"] == 27.0, got
    assert not confine.missing(got["record"]), got["record"]
    assert suite_file.read_text() == "X = 1\n"


@needs
def test_the_candidate_process_is_confined_and_says_so(tmp_path):
    """Through the real path: the candidate process reports every protection in force, writes only its run's temporary
    directory (removed at close), and uses a JAX cache of its own."""
    spec = tmp_path / "impl.py"
    spec.write_text(textwrap.dedent("""
        import os, tempfile
        def composed_transforms(seed, x_batch, num_layers, features):
            import numpy as np
            try:
                open(os.environ["PROBE_TARGET"], "a").close()
                wrote = 1.0
            except PermissionError:
                wrote = 0.0
            with tempfile.TemporaryFile() as f:
                f.write(b"ok")
            return np.full((1, 1), wrote, np.float32)
    """))
    target = tmp_path / "target.txt"
    target.write_text("")
    env = dict(os.environ, PROBE_TARGET=str(target), COMPOSED_JAX_CACHE=str(tmp_path / "cache"))
    env.pop(processes.ENV_RUN, None)
    from properties.harness.proxy import candidate_environment

    handle = ProcessCandidate(str(spec), env=candidate_environment(env, cache_dir=str(tmp_path / "cache")), timeout=60)
    try:
        handle.wait_loaded()
        assert not confine.missing(handle.isolation), handle.isolation
        out = handle(0, [[0.0]], 1, 1)
        assert out.array.tolist() == [[0.0]]  # the write was refused
        tmpdir = handle.env["TMPDIR"]
        assert os.path.isdir(tmpdir) and handle.env["JAX_COMPILATION_CACHE_DIR"].startswith(
            str(tmp_path / "cache" / "candidates"))
    finally:
        handle.close()
    assert not os.path.exists(tmpdir)


def test_degraded_landlock_is_reported_and_required_isolation_refuses_to_load(tmp_path):
    """With Landlock unavailable (simulated: the ABI capped at 0) the candidate still runs and says what is not in
    force; with require_isolation it does not even load the implementation."""
    spec = tmp_path / "impl.py"
    marker = tmp_path / "loaded"
    spec.write_text(f"open({str(marker)!r}, 'w').close()\ndef composed_transforms(*a):\n    return 0\n")
    env = dict(os.environ, **{confine.ENV_MAX_ABI: "0"})
    from properties.harness.proxy import candidate_environment

    handle = ProcessCandidate(str(spec), env=candidate_environment(env, cache_dir=None), timeout=60)
    try:
        handle.wait_loaded()
        lacking = confine.missing(handle.isolation)
        assert {"fs_write", "ptrace", "tcp", "signal"} <= set(lacking), lacking
        assert all(confine.ENV_MAX_ABI in why for name, why in lacking.items() if name != "capabilities"), lacking
    finally:
        handle.close()
    marker.unlink()
    strict = ProcessCandidate(str(spec), env=candidate_environment(env, cache_dir=None), timeout=60,
                              require_isolation=True)
    try:
        with pytest.raises(IsolationMissing, match="fs_write"):
            strict.wait_loaded()
    finally:
        strict.close()
    assert not marker.exists(), "the implementation was loaded although isolation was required and missing"


def test_a_failing_landlock_syscall_degrades_instead_of_crashing():
    """ENOSYS from landlock_create_ruleset (an old kernel, a seccomp filter): a record that says why, no exception."""
    code = textwrap.dedent("""
        import ctypes, errno, json
        from properties.sandbox import confine
        class Fake:
            def __init__(self, real):
                self.real = real
            def __getattr__(self, name):
                return getattr(self.real, name)
            def syscall(self, *args):
                ctypes.set_errno(errno.ENOSYS)
                return -1
        confine._libc = Fake(confine._lib())
        print(json.dumps(confine.confine("/tmp")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    lacking = confine.missing(rec)
    assert "fs_write" in lacking and "ENOSYS" in lacking["fs_write"], rec
    assert rec["landlock_abi"] == 0


@pytest.mark.parametrize("runner", ["cli", "pytest"])
def test_require_isolation_exits_6_end_to_end(runner):
    """A missing protection and --require-isolation: exit status 6 and a message naming it, before any candidate."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), CI="true", **{confine.ENV_MAX_ABI: "3"})
    env.pop(processes.ENV_RUN, None)
    if runner == "cli":
        cmd = [sys.executable, "-m", "properties", "fast", "--require-isolation", "--", "-k", "matches_oracle"]
    else:
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "properties", "-p", "no:cacheprovider", "-n", "0",
               "--impl", "fast", "--require-isolation", "-k", "matches_oracle", "-q"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=str(ROOT))
    assert proc.returncode == int(Exit.ISOLATION_MISSING), proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    assert "tcp" in text and "signal" in text and confine.ENV_MAX_ABI in text, text
    assert time.monotonic() - start < 60


def test_this_checking_process_is_non_dumpable_and_that_keeps_its_memory_from_other_processes():
    """The plugin made this pytest process non-dumpable at configuration. What that buys, with everything else equal
    (both sides without capabilities, as for any non-root user): a process can open the memory of a dumpable target,
    not of a non-dumpable one."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    assert confine._prctl(confine.PR_GET_DUMPABLE) == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    target = ("import sys, time; from properties.sandbox import confine; confine._drop_capabilities()\n"
              "if sys.argv[1] == '1':\n    confine.non_dumpable()\n"
              "print('ready', flush=True); time.sleep(60)")
    opener = ("import errno, sys; from properties.sandbox import confine; confine._drop_capabilities()\n"
              "try:\n    open(f'/proc/{sys.argv[1]}/mem', 'r+b').close(); print('ok')\n"
              "except OSError as e:\n    print(errno.errorcode[e.errno])")
    got = {}
    for protected in ("0", "1"):
        proc = subprocess.Popen([sys.executable, "-c", target, protected], stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout.readline().strip() == "ready"
            out = subprocess.run([sys.executable, "-c", opener, str(proc.pid)], capture_output=True, text=True,
                                 env=env, timeout=60)
            got[protected] = out.stdout.strip() or out.stderr
        finally:
            proc.kill()
            proc.wait()
    assert got["0"] == "ok" and got["1"] in ("EACCES", "EPERM"), got


@needs
def test_kill_tree_still_ends_a_confined_candidate_and_its_children_from_a_non_dumpable_process():
    assert confine._prctl(confine.PR_GET_DUMPABLE) == 0
    marker = ("TEST_CONFINE_MARK", os.urandom(6).hex())
    code = ("import os, time, tempfile; from properties.sandbox import confine; "
            "confine.confine(tempfile.gettempdir())\n"
            "if os.fork() == 0:\n    os.setsid(); time.sleep(300)\n"
            "time.sleep(300)")
    popen = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT), **{marker[0]: marker[1]}))
    deadline = time.monotonic() + 30
    while len(processes.members(popen.pid, marker=marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    found = processes.members(popen.pid, marker=marker)
    assert len(found) == 2, found
    assert processes.kill_tree(popen.pid, marker=marker, popen=popen) == 2
    assert popen.returncode == -signal.SIGKILL
    assert not processes.members(popen.pid, marker=marker)


def test_records_merge_to_the_weakest_and_the_cache_key_follows_the_code(tmp_path):
    full = isolation.with_checker(confine.record(7, default=(True, "yes")), (True, "yes"))
    weak = isolation.with_checker(confine.record(3, default=(True, "yes"), tcp=(False, "ABI 3")), (True, "yes"))
    merged = isolation.merge([full, weak])
    assert isolation.missing(merged) == {"tcp": "ABI 3"} and merged["landlock_abi"] == 3
    assert "tcp" in isolation.require_message(merged) and isolation.require_message(full) is None
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "impl.py").write_text("def composed_transforms(*a): ...\n")
        (d / "helper.py").write_text("K = 1\n")
    assert isolation.implementation_key(str(a / "impl.py")) == isolation.implementation_key(str(b / "impl.py"))
    (b / "helper.py").write_text("K = 2\n")  # a sibling it may import changed: another cache
    assert isolation.implementation_key(str(a / "impl.py")) != isolation.implementation_key(str(b / "impl.py"))
    assert isolation.implementation_key("fast") != isolation.implementation_key("reference")
    base = str(tmp_path / "cache")
    own = isolation.candidate_cache_dir(base, isolation.implementation_key("fast"))
    assert not os.path.commonpath([own, isolation.checker_cache_dir(base)]).endswith("checker")
    assert os.path.isdir(own) and own.startswith(os.path.join(base, "candidates"))


def test_a_new_implementations_cache_starts_as_a_copy_of_the_defaults(tmp_path):
    """An implementation the suite has not seen gets the bundled default's cache entries as copies (the suite's and
    JAX's small programs are warm), and writing its own copy leaves the default's entries as they were."""
    from properties.harness import isolation
    from properties.sandbox.loader import DEFAULT_SPEC

    default = tmp_path / "candidates" / isolation.implementation_key(DEFAULT_SPEC)
    default.mkdir(parents=True)
    (default / "entry-a").write_bytes(b"program a")
    new = isolation.candidate_cache_dir(str(tmp_path), "0123456789abcdef01234567")
    copied = os.path.join(new, "entry-a")
    assert open(copied, "rb").read() == b"program a"
    assert os.stat(copied).st_ino != os.stat(default / "entry-a").st_ino  # a copy, not a link
    with open(copied, "wb") as f:
        f.write(b"poisoned")
    assert (default / "entry-a").read_bytes() == b"program a"
    assert not [p for p in os.listdir(tmp_path / "candidates") if ".seed-" in p]  # no temporary directory left
