"""Calling a running AEP emulator as aepflow calls AEP: an IMS token for its client, the headers every
Platform API wants (Bearer token, x-api-key, x-gw-ims-org-id, x-sandbox-name), a Flow Service caller and
a caller of any of its paths (Flow Service's, for one), and a base connection made through it."""

from typing import Any

import requests

TIMEOUT = 5


def aep_headers(emu: Any, client_secret: str, sandbox: str = "prod") -> dict[str, str]:
    token = requests.post(emu.base_url + "/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": emu.client_id, "client_secret": client_secret,
        "scope": "openid"}, timeout=TIMEOUT).json()["access_token"]
    return {"Authorization": "Bearer " + token, "x-api-key": emu.client_id, "x-gw-ims-org-id": emu.org_id,
            "x-sandbox-name": sandbox}


def caller(emu: Any, client_secret: str, prefix: str = "", sandbox: str = "prod",
           headers: dict[str, str] | None = None):
    """call(method, path, params=None, **requests' keywords) on the emulator at base_url + prefix + path, with
    aep_headers, `headers`, and any headers= given to the call."""
    sent = {**aep_headers(emu, client_secret, sandbox), **(headers or {})}

    def call(method: str, path: str, params: Any = None, **kw: Any) -> requests.Response:
        return requests.request(method, emu.base_url + prefix + path, params=params,
                                headers={**sent, **(kw.pop("headers", None) or {})}, timeout=TIMEOUT, **kw)

    return call


def flow_service(emu: Any, client_secret: str, sandbox: str = "prod"):
    """caller() on the emulator's Flow Service."""
    return caller(emu, client_secret, "/data/foundation/flowservice", sandbox)


def connection(fs, spec_id: str, auth_name: str, params: dict[str, Any]) -> str:
    """A base connection of `spec_id` made through `fs` (flow_service's caller): its id."""
    r = fs("POST", "/connections", json={"name": "mine", "connectionSpec": {"id": spec_id, "version": "1.0"},
                                         "auth": {"specName": auth_name, "params": params}})
    assert r.status_code == 201, r.text
    return r.json()["id"]
