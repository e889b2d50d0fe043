"""Root conftest: load the suite's plugin for runs from a checkout (a no-op when the installed entry point has it)."""

pytest_plugins = ["properties.plugin"]
