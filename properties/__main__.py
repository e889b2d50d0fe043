"""``python -m properties [SPEC] [options]``: the conformance check, same as the ``composed-check`` command."""

from properties.cli import main

raise SystemExit(main())
