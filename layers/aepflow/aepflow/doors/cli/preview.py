"""aepflow plan --preview: for each planned spec with a source.filter, the rows the filter keeps, as
explore previews them through the dataflow's base connection (POST /explore {dataflow, table, filter,
rows}: filter.md's "Preview your data"). A dataflow not provisioned yet has no base connection to
preview through: the command says so, and the plan stands."""

from __future__ import annotations

import json
from typing import Any

from aepflow.doors.cli import render
from aepflow.doors.cli.exits import FAILED, OK
from aepflow.doors.cli.remote import Api

ROWS = 5
# The API's answers for a dataflow it has no base connection of: no record yet, or one still provisioning.
NOT_PROVISIONED = ("DataflowNotFound", "ProvisioningInProgress")


def _source(data: bytes, path: str) -> dict[str, Any]:
    """The spec's source as the document says it (the plan has read it already; a problem here is none of
    the preview's)."""
    from aepflow.core.errors import SpecInvalid
    from aepflow.spec.document import read

    try:
        raw = read(data, json_only=path.lower().endswith(".json"))
    except SpecInvalid:
        return {}
    source = raw.get("source")
    return source if isinstance(source, dict) else {}


def preview(api: Api, out, path: str, data: bytes, plan: dict[str, Any], as_json: bool) -> int:
    """The preview of one planned spec (nothing when it has no filter); the command's exit code for it."""
    source = _source(data, path)
    text, table, name = source.get("filter"), source.get("table"), plan.get("name")
    if not isinstance(text, str) or not isinstance(table, str) or not isinstance(name, str):
        return OK
    body = {"dataflow": name, "table": table, "filter": text, "rows": ROWS}
    answer = api.call("POST", "/explore", body=json.dumps(body).encode())
    code = answer.body.get("code") if isinstance(answer.body, dict) else None
    if answer.status in (404, 409) and code in NOT_PROVISIONED:
        message = (f"the preview of {name}'s filter needs its base connection, which AEP does not have yet: apply "
                   "it, then plan --preview shows the rows the filter keeps")
        if as_json:
            render.json_line(out, {"file": path, "preview": {"dataflow": name, "filter": text, "rows": None,
                                                             "message": message}})
        else:
            out.write(f"  preview: {message}\n")
        return OK
    if answer.status != 200 or not isinstance(answer.body, dict):
        render.error(out, f"{path} (preview)", answer, as_json)
        return FAILED
    rows = [row for row in answer.body.get("rows") or [] if isinstance(row, dict)]
    if as_json:
        render.json_line(out, {"file": path, "preview": {"dataflow": name, "table": table, "filter": text,
                                                         "rows": rows}})
        return OK
    names = [str(c.get("name")) for c in answer.body.get("columns") or [] if isinstance(c, dict)]
    out.write(f"  preview of {table} where {text}: {len(rows)} row(s)"
              + (f" (the first {ROWS})" if len(rows) == ROWS else "") + "\n")
    if rows:
        render.preview_rows(out, rows, names)
    return OK
