"""The credentials boundary: which secrets a spec may name."""

import pytest

from aepflow.core import aws
from aepflow.spec import secret_names


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    monkeypatch.setenv("SOURCE_SECRETS_PREFIX", "aep/sources/")
    monkeypatch.setenv("AEP_CREDENTIALS_SECRET", "aepflow/aep-credentials")
    monkeypatch.setenv("AEP_TOKEN_CACHE_SECRET",
                       "arn:aws:secretsmanager:us-east-1:123456789012:secret:aepflow-AepTokenCache-AbC123")
    aws.reset()
    yield
    aws.reset()


@pytest.mark.parametrize("reference", [
    "aep/sources/acme-salesforce",
    "aep/sources/team/acme_oracle.prod@eu",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:aep/sources/acme-salesforce-Xy12Zq",
])
def test_source_secrets_under_the_prefix_may_be_named(reference):
    assert secret_names.boundary_problem(reference) is None


@pytest.mark.parametrize("reference, says", [
    ("aepflow/aep-credentials", "own AEP credentials"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:aepflow/aep-credentials-Qw12Er", "own AEP credentials"),
    ("aepflow-AepTokenCache", "own AEP credentials"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:aepflow-AepTokenCache-AbC123", "own AEP credentials"),
    ("aep/sources/../../aepflow/aep-credentials", ".."),
    ("aep/sources/./x", ".."),
    ("aep/sources//x", "path segments"),
    ("aep/sources/", "path segments"),
    ("other/acme", "outside the source secrets prefix"),
    ("aep/sourcesX", "outside the source secrets prefix"),
    ("aep/sources/acme salesforce", "not a Secrets Manager secret name"),
    ("aep/sources/acme\u202esalesforce", "not a Secrets Manager secret name"),
    ("arn:aws:iam::123456789012:role/x", "not a Secrets Manager secret name"),
])
def test_anything_else_is_refused_with_the_reason(reference, says):
    assert says in (secret_names.boundary_problem(reference) or "")


def test_aepflows_own_credentials_are_refused_even_under_the_prefix(monkeypatch):
    monkeypatch.setenv("SOURCE_SECRETS_PREFIX", "aepflow/")
    aws.reset()
    assert "own AEP credentials" in secret_names.boundary_problem("aepflow/aep-credentials")
    assert secret_names.boundary_problem("aepflow/sources/x") is None


def test_secrets_are_read_on_the_process_session_cached_and_forgotten_like_a_new_container(monkeypatch):
    # Powertools' get_secret would make a boto3 session of its own (endpoints and Secrets Manager's
    # model loaded again in each container); aepflow reads through runtime's one session.
    import json

    import boto3
    from moto import mock_aws

    from aepflow.spec import source_secrets

    made = []
    real_init = boto3.session.Session.__init__

    def counting_init(session, *args, **kwargs):
        made.append(session)
        real_init(session, *args, **kwargs)

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="aep/sources/acme", SecretString=json.dumps({"token": "one"}))
        calls = []
        monkeypatch.setattr(boto3.session.Session, "__init__", counting_init)
        aws.reset()
        secrets = aws.aws_client("secretsmanager")
        monkeypatch.setattr(secrets, "get_secret_value",
                            lambda real=secrets.get_secret_value, **kw: calls.append(kw) or real(**kw))
        assert source_secrets.read("aep/sources/acme") == {"token": "one"}
        client.put_secret_value(SecretId="aep/sources/acme", SecretString=json.dumps({"token": "two"}))
        assert source_secrets.read("aep/sources/acme") == {"token": "one"}  # cached (max_age)
        aws.forget_secrets()
        assert source_secrets.read("aep/sources/acme") == {"token": "two"}  # a new container reads again
    assert len(made) == 1 and len(calls) == 2
