"""The unit tests run as inside one of the stack's functions (tests/function_env.py)."""

import os

from tests.function_env import FUNCTION_ENVIRONMENT

for _name, _value in FUNCTION_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
