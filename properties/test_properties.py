"""pytest integration: one test per registered property, named ``test_<property>``, marked with its tier.

The implementation under test comes from the plugin's ``candidate`` fixture (``--impl`` / ``COMPOSED_IMPL``).
"""

from properties.pytest_support import make_property_test
from properties.registry import load_all

for _prop in load_all().values():
    globals()[f"test_{_prop.name}"] = make_property_test(_prop)
del _prop
