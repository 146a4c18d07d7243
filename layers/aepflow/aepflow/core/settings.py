"""Runtime settings, read once from the environment the SAM template sets."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    platform_url: str
    ims_url: str
    credentials_secret: str
    token_cache_secret: str
    table_name: str
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    backoff_base_seconds: float
    backoff_cap_seconds: float
    source_secrets_prefix: str = "aep/sources/"

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            platform_url=env.get("AEP_PLATFORM_URL", "https://platform.adobe.io").rstrip("/"),
            ims_url=env.get("AEP_IMS_URL", "https://ims-na1.adobelogin.com").rstrip("/"),
            credentials_secret=env.get("AEP_CREDENTIALS_SECRET", "aepflow/aep-credentials"),
            token_cache_secret=env.get("AEP_TOKEN_CACHE_SECRET", "aepflow/aep-token-cache"),
            source_secrets_prefix=env.get("SOURCE_SECRETS_PREFIX", "aep/sources/"),
            table_name=env.get("DATAFLOWS_TABLE", "aepflow-dataflows"),
            connect_timeout=float(env.get("AEP_CONNECT_TIMEOUT", "3.05")),
            read_timeout=float(env.get("AEP_READ_TIMEOUT", "30")),
            max_attempts=int(env.get("AEP_MAX_ATTEMPTS", "5")),
            backoff_base_seconds=float(env.get("AEP_BACKOFF_BASE_SECONDS", "0.2")),
            backoff_cap_seconds=float(env.get("AEP_BACKOFF_CAP_SECONDS", "5")),
        )
