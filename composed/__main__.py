"""``python -m composed [SPEC] [options]``: the conformance check, same as the ``composed-check`` command."""

from properties.runner.cli import main

raise SystemExit(main())
