"""An aepflow API, as the command sees it: its base URL and how requests to it are signed.

- Local (the default): `python -m local serve`'s API, http://127.0.0.1:8080 or --api/AEPFLOW_API,
  signed with the local key (testing/testing) that the local server checks.
- Deployed (--stack NAME): the URL is the stack's ApiUrl output (CloudFormation DescribeStacks),
  and requests are signed with the caller's AWS credentials, found as the AWS CLI finds them
  (environment, profile, SSO, instance role), for service execute-api in the stack's region."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

LOCAL_API = "http://127.0.0.1:8080"
LOCAL_KEY = ("testing", "testing")
LOCAL_REGION = "us-east-1"
TIMEOUT = (3.05, 60)


class ApiUnreachable(Exception):
    """The API did not answer; the message says where it was looked for."""


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    def __init__(self, base_url: str, credentials: Any, region: str):
        self.base_url = base_url.rstrip("/")
        self.credentials, self.region = credentials, region
        self.session = requests.Session()

    @classmethod
    def local(cls, base_url: str | None = None) -> Api:
        from botocore.credentials import Credentials

        return cls(base_url or LOCAL_API, Credentials(*LOCAL_KEY), LOCAL_REGION)

    @classmethod
    def deployed(cls, stack: str, *, profile: str | None = None, region: str | None = None) -> Api:
        import boto3

        session = boto3.session.Session(profile_name=profile, region_name=region)
        outputs = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs") or []
        url = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl"), None)
        if not url:
            raise ApiUnreachable(f"stack {stack} has no ApiUrl output")
        credentials = session.get_credentials()
        if credentials is None:
            raise ApiUnreachable("no AWS credentials found (as the AWS CLI looks for them)")
        return cls(url, credentials.get_frozen_credentials(), session.region_name)

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: bytes | None = None,
             content_type: str = "application/json", headers: dict[str, str] | None = None) -> Answer:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = content_type
        request = AWSRequest(method=method, url=url, data=body or b"", headers=sent)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        try:
            response = self.session.request(method, url, data=body, headers=dict(request.headers.items()),
                                            timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ApiUnreachable(f"no answer from {self.base_url} ({type(exc).__name__}); is `python -m local "
                                 "serve --port 8080` running, or did you mean --stack NAME?") from None
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = {"code": f"HTTP{response.status_code}", "message": response.text[:500]}
        return Answer(response.status_code, parsed, dict(response.headers))

    def json_body(self, value: Any) -> bytes:
        return json.dumps(value).encode()


def api_of(args: Any) -> Api:
    """The API a command's options name: a deployed stack's (--stack, --profile, --region), else the
    local one (--api, AEPFLOW_API, or LOCAL_API)."""
    if args.stack:
        return Api.deployed(args.stack, profile=args.profile, region=args.region)
    return Api.local(args.api)
