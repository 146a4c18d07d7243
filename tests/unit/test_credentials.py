"""The IMS token: asked for once, shared through its Secrets Manager cache, refreshed
before expiry, never printed."""

import json

import boto3
import pytest
from moto import mock_aws

from aepflow.aep.ims import REFRESH_MARGIN_SECONDS, AepCredentials, TokenProvider
from aepflow.core.errors import AepAuthError
from aepflow.core.settings import Settings


class FakeIms:
    def __init__(self, status=200, expires_in=86399):
        self.calls: list[dict] = []
        self.status, self.expires_in = status, expires_in

    def post(self, url, data, timeout):
        assert timeout, "every IMS request has a timeout"
        self.calls.append({"url": url, "data": data})

        class Response:
            status_code = self.status
            headers: dict = {}
            text = ""

            def json(inner):
                if self.status != 200:
                    return {"error": "invalid_client", "error_description": "bad client"}
                return {"access_token": f"token-{len(self.calls)}", "token_type": "bearer",
                        "expires_in": self.expires_in}
        return Response()


SETTINGS = Settings(platform_url="http://127.0.0.1:9", ims_url="http://127.0.0.1:9", credentials_secret="c",
                    token_cache_secret="aepflow/token-cache", table_name="t", connect_timeout=1, read_timeout=1,
                    max_attempts=2, backoff_base_seconds=0, backoff_cap_seconds=0)
CREDS = AepCredentials("cid", "very-secret-value", "ORG@AdobeOrg", "openid,AdobeID", "prod")


@pytest.fixture()
def secrets():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="aepflow/token-cache")
        yield client


def test_one_ims_request_serves_every_function_through_the_shared_cache(secrets):
    ims = FakeIms()
    first = TokenProvider(SETTINGS, CREDS, session=ims, secrets_client=secrets)
    second = TokenProvider(SETTINGS, CREDS, session=FakeIms(), secrets_client=secrets)  # another Lambda
    assert first.token() == "token-1" and first.token() == "token-1"
    assert second.token() == "token-1"
    assert len(ims.calls) == 1
    form = ims.calls[0]["data"]
    assert ims.calls[0]["url"].endswith("/ims/token/v3") and form["grant_type"] == "client_credentials"
    assert form["scope"] == "openid,AdobeID"


def test_expires_in_is_seconds_and_the_token_is_refreshed_before_expiry(secrets):
    now = [1_000_000.0]
    ims = FakeIms(expires_in=3600)
    provider = TokenProvider(SETTINGS, CREDS, session=ims, secrets_client=secrets, clock=lambda: now[0])
    provider.token()
    cached = json.loads(secrets.get_secret_value(SecretId="aepflow/token-cache")["SecretString"])
    assert cached["expiresAt"] == pytest.approx(now[0] + 3600)
    now[0] += 3600 - REFRESH_MARGIN_SECONDS - 1
    assert provider.token() == "token-1"
    now[0] += 2
    assert provider.token() == "token-2" and len(ims.calls) == 2


def test_a_refused_client_is_a_final_auth_error_without_the_secret(secrets):
    provider = TokenProvider(SETTINGS, CREDS, session=FakeIms(status=401), secrets_client=secrets)
    with pytest.raises(AepAuthError) as caught:
        provider.token()
    assert "very-secret-value" not in str(caught.value) and "very-secret-value" not in repr(CREDS)
