"""What the emulator never shows: credentials in its request records, its state dump and its
answers to GET /connections (auth params, and any key that names a secret)."""
from __future__ import annotations

import re

SECRET_KEY = re.compile(r"(password|secret|token|connectionstring|apikey|api-key|authorization|credential)", re.I)


def redact(obj, under_auth_params=False):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if under_auth_params or SECRET_KEY.search(str(k)):
                out[k] = "***" if not isinstance(v, (dict, list)) else redact(v, True)
            elif k == "auth" and isinstance(v, dict):
                out[k] = {ak: (redact(av, True) if ak == "params" else redact(av)) for ak, av in v.items()}
            else:
                out[k] = redact(v)
        return out
    if isinstance(obj, list):
        return [redact(x, under_auth_params) for x in obj]
    return "***" if under_auth_params else obj
