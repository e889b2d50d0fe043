"""pytest integration: one test per property of the catalogue, named ``test_<property>``, marked with its tier.

The implementation under test comes from the plugin's ``candidate`` fixture (``--impl`` / ``COMPOSED_IMPL``).
"""

from properties.invariants import PROPERTIES
from properties.runner.pytest_items import make_property_test

for _prop in PROPERTIES.values():
    globals()[f"test_{_prop.name}"] = make_property_test(_prop)
del _prop
