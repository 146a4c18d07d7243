import logging

import pytest


@pytest.fixture(autouse=True)
def _quiet_moto():
    # moto logs every Fail state at ERROR; the tests assert on results instead.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
