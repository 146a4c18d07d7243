"""aepflow.scrub: values remembered from secrets are replaced in any text or JSON-able value
(plain, JSON-escaped, as numbers); aepflow's errors are scrubbed when they are made; short
values are remembered only under secret-sounding keys."""

import json

import pytest

from aepflow.core import scrub
from aepflow.core.errors import AepValidationError, SpecInvalid


@pytest.fixture(autouse=True)
def _fresh():
    scrub.forget()
    yield
    scrub.forget()


def test_remembered_values_are_replaced_wherever_they_appear():
    scrub.remember({"username": "svc-user", "password": 'p"ss\\word', "port": 5432, "pin": 777000111222,
                    "nested": [{"token": "tok-abcdef"}], "apiKey": "k3y9", "tiny": "ab", "flag": True,
                    "database": "acme"})
    text = json.dumps({"password": 'p"ss\\word'})  # the JSON-escaped form
    assert scrub.scrub(text) == '{"password": "***"}'
    assert scrub.scrub("777000111222 is not of type 'string'") == "*** is not of type 'string'"
    assert scrub.scrub({"svc-user": ["tok-abcdef", 777000111222, "k3y9", True]}) == {"***": ["***", "***", "***", True]}
    # Short values under ordinary keys stay: they carry little secret, and would eat ordinary words.
    assert scrub.scrub("acme-salesforce-contacts on port 5432, ab") == "acme-salesforce-contacts on port 5432, ab"


def test_nothing_is_touched_before_anything_is_remembered():
    assert scrub.scrub("svc-user") == "svc-user"


def test_errors_are_scrubbed_when_they_are_made():
    scrub.remember("hunter2-secret")
    error = AepValidationError("auth.params: hunter2-secret is not valid", code="FLOW-1412-400", status=400)
    invalid = SpecInvalid("x", problems=[{"path": "source.credentialsSecret", "message": "saw hunter2-secret"}])
    assert "hunter2-secret" not in str(error) and "***" in error.message
    assert invalid.problems == [{"path": "source.credentialsSecret", "message": "saw ***"}]
