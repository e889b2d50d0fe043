"""The pytest11 entry point ``properties.plugin`` (a public name: ``-p properties.plugin``, the root ``conftest.py``).

The plugin's hooks, fixtures and options live in :mod:`properties.runner.pytest_plugin`; this module re-exports them
so that the entry point's name stays the module's name (pytest then registers the plugin once, however it is named).
"""

from properties.runner.pytest_plugin import *  # noqa: F401,F403
from properties.runner.pytest_plugin import __all__  # noqa: F401
