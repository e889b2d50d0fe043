"""The candidate side: code that runs in the candidate process, next to the implementation under test.

Nothing here imports the checking side of the suite (``properties.harness``, ``properties.invariants``,
``properties.runner``); the checking side imports :mod:`properties.sandbox.wire` (the encoding both sides share) and
starts :mod:`properties.sandbox.server` as a separate process.

* :mod:`~properties.sandbox.loader`: SPEC -> the callable;
* :mod:`~properties.sandbox.guard`: one call or operation, with everything it does to its process observed and undone;
* :mod:`~properties.sandbox.ops`: the operations a property may ask for besides a plain call (trace, shard, transform);
* :mod:`~properties.sandbox.server`: the request loop of the candidate process;
* :mod:`~properties.sandbox.wire`: framing and faithful encoding of arguments and results.
"""
