"""What aepflow does when a run of a dataflow fails: the re-trigger policy `onFailure.retry`, in a
module of its own so that the monitor, which reads it from each dataflow's record, does not import
the whole spec (as spec/thresholds.py's alerts).

A failed run whose error code is listed is re-triggered (Flow Service's
`POST /runs/{RUN_ID}/action?op=re-trigger`, help/sources/tutorials/api/retry-flows.md) after
`afterMinutes`, up to `attempts` times. Only codes that can heal may be listed: AEP's error codes end
in the HTTP status of their family (`CONNECTOR-1001-500`: the copy activity failed on the service
side; `INGEST-1212-400`, `MAPPER-3700-400`: the data did not fit the mapping or the schema;
`...-401`/`-403`: the source refused the credentials). A 5xx or a 429 says the service or the source
could not do it then, which a later run can; any other 4xx says the request, the credentials or the
data are wrong, and a re-run of the same run with the same connection and mapping fails the same way
(Adobe's retry-flows.md re-runs the run as it was: nothing in it changes), so such a code is refused,
saying why."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

CODE = re.compile(r"^[A-Z][A-Z0-9]{1,19}-[0-9]{4}-[0-9]{3}$")
MAX_CODES = 20

# "Support for retrying failed dataflow runs is available to batch sources" (retry-flows.md): a
# streaming source's runs cannot be re-triggered. AEP files streaming sources under the category
# `streaming` (flow-service.yaml, a connection spec's attributes.category). None of the catalog's
# connectors (spec/connectors.py) is streaming: their families are crm, database and rest, run by
# the batch flow specs CRMToAEP and RestStorageToAEP. A spec names a streaming source only by its
# connectionSpecId: Amazon Kinesis and Azure Event Hubs, as collect/cloud-storage.md's appendix lists
# them (../shared/reference/connection-specs/flowspec-CloudStorageToAEP.json's note).
STREAMING_FAMILIES = frozenset({"streaming"})
STREAMING_CONNECTION_SPECS = {"86043421-563b-46ec-8e6c-e23184711bf6": "Amazon Kinesis",
                              "bf9f5905-92b7-48bf-bf20-455bc6b60a4e": "Azure Event Hubs"}


def cannot_heal(code: str) -> str | None:
    """Why a re-run cannot clear `code` (an AEP error code), or None when it can."""
    status = int(code.rsplit("-", 1)[1])
    if status >= 500 or status == 429:
        return None
    family = code.split("-", 1)[0]
    if status in (401, 403):
        why = "the source refused the credentials"
    elif family in ("MAPPER", "INGEST"):
        why = "the records do not fit the mapping or the dataset's schema"
    else:
        why = "the request or the data are wrong"
    return (f"{code} cannot heal by re-running: a {status} says {why}, and a re-trigger re-runs the same run "
            "with the same connection and mapping; only 5xx and 429 codes (the service or the source could "
            "not do it then) may be retried")


def streaming(family: str | None, connection_spec_id: str | None) -> str | None:
    """Why a source of this family (the catalog's) or connection spec cannot be re-triggered, or None
    for a batch source."""
    label = STREAMING_CONNECTION_SPECS.get((connection_spec_id or "").strip().lower())
    if label is None and family not in STREAMING_FAMILIES:
        return None
    return (f"{label or 'this source'} is a streaming source: AEP re-triggers failed runs of batch sources only "
            "(retry-flows.md), so a streaming flow's failed run cannot be re-run; leave onFailure.retry out")


class Retry(BaseModel):
    """Re-trigger a failed run whose error code is listed, after a delay, up to a number of times."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)

    attempts: int = Field(ge=1, le=5, description="Re-runs of a failed run at most (1-5)", examples=[2])
    afterMinutes: int = Field(ge=5, le=1440, description="Minutes from a failure to its re-run (5-1440)",
                              examples=[15])
    codes: list[str] = Field(min_length=1, max_length=MAX_CODES, description=(
        "AEP error codes, as AEP writes them, whose failure is re-run (5xx and 429 only)"),
        examples=[["CONNECTOR-1001-500"]])

    @field_validator("codes")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not CODE.match(code):
                raise ValueError(f"{code[:40]!r} is not an AEP error code (as CONNECTOR-1001-500)")
            why = cannot_heal(code)
            if why:
                raise ValueError(why)
        return list(dict.fromkeys(codes))


class OnFailure(BaseModel):
    """What aepflow does when a run fails."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)

    retry: Retry | None = Field(default=None, description="Re-trigger a failed run whose error code is listed")
    notifyRecovered: bool = Field(default=False, description=(
        "Send a 'recovered' note when a re-triggered run succeeds (no failure alert is sent either way)"),
        examples=[False])
