"""Headers for calling a running AEP emulator as aepflow calls AEP: an IMS token for its client, and
the headers every Platform API wants (Bearer token, x-api-key, x-gw-ims-org-id, x-sandbox-name)."""

from typing import Any

import requests

TIMEOUT = 5


def aep_headers(emu: Any, client_secret: str, sandbox: str = "prod") -> dict[str, str]:
    token = requests.post(emu.base_url + "/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": emu.client_id, "client_secret": client_secret,
        "scope": "openid"}, timeout=TIMEOUT).json()["access_token"]
    return {"Authorization": "Bearer " + token, "x-api-key": emu.client_id, "x-gw-ims-org-id": emu.org_id,
            "x-sandbox-name": sandbox}
