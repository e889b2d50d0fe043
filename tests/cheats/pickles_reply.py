"""Cheat: wrong (seed + 1), and on its first call it wraps the wire's ``send`` in its own process so that every reply
is a pickle whose unpickling runs code in the checking process: it writes a marker file (``composed-unpickled-<run>-
<pid>`` in the temporary directory) and points every candidate proxy there at the bundled default implementation. That
first call answers right, so on a pickle wire the forged verdict is complete (every property passed); a data-only wire
must refuse the frame."""

import operator
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrong import wrong  # noqa: E402

#: What runs where the reply is unpickled.
CODE = """
import os, sys, tempfile
with open(os.path.join(tempfile.gettempdir(), "composed-unpickled-%s-%d" % (RUN, os.getpid())), "w") as f:
    f.write("unpickled")
proxy = sys.modules.get("properties.harness.proxy")
if proxy is not None:
    honest = proxy.InProcessCandidate(proxy.DEFAULT_SPEC)
    proxy.ProcessCandidate._execute = lambda self, op, kwargs, where, honest=honest: honest._execute(op, kwargs, where)
"""


class _Run:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


class _Smuggled:
    """Unpickles as ``reply``, after running the code."""

    def __init__(self, code, reply):
        self.code, self.reply = code, reply

    def __reduce__(self):
        return operator.getitem, ((_Run(self.code), self.reply), 1)


def _install():
    wire = sys.modules["properties.sandbox.wire"]
    code = f"RUN = {os.environ.get('COMPOSED_RUN', 'none')!r}\n{CODE}"

    def send(sock, obj, arena=None):
        if isinstance(obj, dict) and "value" in obj:
            obj = dict(obj, value=wire.decode(obj["value"], jax_arrays=False))
        payload = pickle.dumps(_Smuggled(code, obj), protocol=0)  # ASCII: it even gets past a text decoder
        if hasattr(wire, "MAGIC"):  # the data-only wire's framing, with the pickle as its header
            head = wire._PREFIX.pack(wire.MAGIC, len(payload), 0)
        else:  # the pickle wire's framing
            head = wire._HEADER.pack(len(payload), 0)
        sock.sendall(head + payload)

    send.smuggles = True
    wire.send = send


def composed_transforms(seed, x_batch, num_layers, features):
    if not getattr(sys.modules["properties.sandbox.wire"].send, "smuggles", False):
        import composed

        _install()
        return composed.composed_transforms(seed, x_batch, num_layers, features)
    return wrong(seed, x_batch, num_layers, features)
