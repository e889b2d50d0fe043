"""The plain-function API (a public module): run properties of the suite against an implementation, outside pytest.

It lives in :mod:`properties.runner.api`; see there.
"""

from properties.runner.api import *  # noqa: F401,F403
from properties.runner.api import __all__  # noqa: F401
