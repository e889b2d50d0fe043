"""Root conftest: load the suite's plugin for runs from a checkout (a no-op when the installed entry point has it),
and the ``slow`` marker of the self-tests: full calibration runs that the default ``pytest`` skips (it must stay under
4 minutes on 2 cores) and ``pytest --slow`` (or ``COMPOSED_SLOW=1``) runs."""

import os

import pytest

pytest_plugins = ["properties.plugin"]


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the self-tests marked slow (full calibration runs; $COMPOSED_SLOW=1 does the same)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a full calibration run, skipped unless --slow or $COMPOSED_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if config.getoption("slow") or os.environ.get("COMPOSED_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow calibration run: pytest --slow (or COMPOSED_SLOW=1) runs it")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
