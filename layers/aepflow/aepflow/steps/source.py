"""The source branch of the state machine: the base connection (the account, from the credentials
secret), the explore that holds the spec against the source, and the source connection."""

from __future__ import annotations

from typing import Any

from aepflow.aep import bodies, naming, resources
from aepflow.aep.mapping import flatten_properties
from aepflow.core.errors import AepError, AepNotFound, AepValidationError, SourceMismatch, SpecInvalid, step
from aepflow.spec import files, filters, source_secrets, suggest
from aepflow.spec.auth import choose_auth
from aepflow.spec.connectors import auth_specs_of
from aepflow.steps.context import Context
from aepflow.steps.files import explore_files


def _live_auth(ctx: Context, secret: dict[str, Any]) -> tuple[str, list[str]]:
    """(auth spec name, params to send) that the secret satisfies in the live connection spec
    (GET /connectionSpecs/{id}); SpecInvalid when it fits none."""
    spec, resolved = ctx.spec, ctx.resolved
    document = resources.get_connection_spec(ctx.client, resolved.connectionSpecId)
    if document is None:
        raise AepNotFound(f"connection spec {resolved.connectionSpecId} ({resolved.label}) not found", status=404)
    live = auth_specs_of(document)
    if not live:  # the document lists no auth specs: keep what validation chose
        return resolved.authSpecName or "", list(resolved.authParams)
    choice, problems, warnings = choose_auth(spec, live, resolved.label, secret)
    if problems or choice.spec is None:
        raise SpecInvalid(f"the credentials secret fits no auth spec of the live {resolved.label} connection spec",
                          problems=problems)
    if resolved.inCatalog and choice.spec.name != resolved.authSpecName:
        warnings.append({"path": "source.authSpecName", "message": (
            f"the live connection spec {resolved.connectionSpecId} differs from the catalog: using its auth spec "
            f"{choice.spec.name!r} (the catalog chose {resolved.authSpecName!r})")})
    if warnings:
        ctx.journal.warn("create-base-connection", warnings)
    return choice.spec.name, list(choice.params(secret))


@step("create-base-connection")
def create_base_connection(ctx: Context) -> dict[str, Any]:
    """The account, with the auth spec validation chose from the catalog. Only when AEP refuses it,
    or the connection spec is not in the catalog, is the live connection spec read: its choice wins."""
    if ctx.ids.get("baseConnectionId"):
        return ctx.ids
    spec, client, resolved = ctx.spec, ctx.client, ctx.resolved
    name = naming.base_connection(spec)
    if spec.source.access == "iam-role":
        # Amazon S3 without keys: Adobe's role, which "Let Adobe's role read the source's files" let into the
        # bucket's policy, reads the bucket the connection names (s3.json, "IAMRole Based").
        body = bodies.base_connection(spec, resolved, auth_spec_name=files.IAM_ROLE_AUTH,
                                      auth_params=bodies.iam_role_auth_params(spec))
        return {**ctx.ids, "baseConnectionId": ctx.ensure(
            "baseConnection", name, lambda: str(resources.create_base_connection(client, body)["id"]))}
    secret = source_secrets.read(spec.source.credentialsSecret or "")

    def post(auth_spec_name: str, names: list[str]) -> str:
        return resources.create_base_connection(client, bodies.base_connection(
            spec, resolved, auth_spec_name=auth_spec_name,
            auth_params={k: v for k, v in secret.items() if not names or k in names}))["id"]

    def create() -> str:
        if not resolved.inCatalog:
            return post(*_live_auth(ctx, secret))
        chosen = (resolved.authSpecName or "", list(resolved.authParams))
        try:
            return post(*chosen)
        except AepValidationError as refused:
            if refused.status != 400:
                raise
            live = _live_auth(ctx, secret)
            if live == chosen:  # the live connection spec agrees with the catalog: AEP's refusal stands
                raise
            return post(*live)

    return {**ctx.ids, "baseConnectionId": ctx.ensure("baseConnection", name, create)}


def _unknown_table(ctx: Context, connection_id: str, table: str, refused: AepError) -> SourceMismatch | None:
    """The refusal of a table explore does not find, listing the tables it sees (the closest first),
    or None when the root lists it (then the 404 was about something else, and stands).

    SourceMismatch, not SpecInvalid: a SpecInvalid ends the execution INVALID, which says nothing was
    written and skips the roll-back, while by this step this execution may have created the base
    connection, the schema and the dataset; a SourceMismatch ends it FAILED and rolls them back,
    with the problem at source.table all the same (as a column the table lacks), and AEP's code and
    request id of the refusal."""
    tables = resources.explore_root(ctx.client, connection_id)
    if table in tables:
        return None
    label = ctx.resolved.label
    seen = f"it has {suggest.ranked(table, tables)}" if tables else "explore lists no table"
    message = f"{label} has no table {table!r}{suggest.did_you_mean(table, tables)} ({seen})"
    return SourceMismatch(message, code=refused.code, request_id=refused.request_id, problems=[
        {"path": "source.table", "message": message}])


def _explore_rest(ctx: Context, connection_id: str) -> dict[str, Any]:
    """A REST source's preview, a sample of records (seeds 002, 003): an attribute it did not show is
    a warning, with the closest ones it showed."""
    spec, resolved = ctx.spec, ctx.resolved
    answer = resources.explore_rest(ctx.client, connection_id, spec.source.params)
    attributes = flatten_properties(answer.get("schema") or {})
    known = set(attributes)

    def absent(name: str) -> str:
        return (f"{name!r} is not in {resolved.label}'s preview{suggest.did_you_mean(name, attributes)} "
                f"(it shows {suggest.ranked(name, attributes, 12)})")

    warnings = [{"path": f"mapping[{i}].source",
                 "message": absent(rule.source) + "; the preview is a sample, so it is mapped anyway"}
                for i, rule in enumerate(spec.mapping)
                if rule.sourceType == "ATTRIBUTE" and rule.source not in known]
    warnings += [{"path": f"source.columns[{i}].name", "message": absent(column.name)}
                 for i, column in enumerate(spec.source.columns or []) if column.name not in known]
    if warnings:
        ctx.journal.warn("explore-source", warnings)
    return {"attributes": attributes}


def _held_to_columns(ctx: Context, what: str, short: str, names: list[str]) -> None:
    """SourceMismatch naming every mapped attribute, given column, delta column and filter column `names`
    lacks (at its field path, with the closest names), where explore lists every column (a table, a file's
    header)."""
    spec = ctx.spec
    wanted = [(f"mapping[{i}].source", rule.source) for i, rule in enumerate(spec.mapping)
              if rule.sourceType == "ATTRIBUTE"]
    wanted += [(f"source.columns[{i}].name", column.name) for i, column in enumerate(spec.source.columns or [])]
    if spec.deltaColumn:
        wanted.append(("deltaColumn.name", spec.deltaColumn.name))
    # A filter's columns in any case: the source's SQL reads them so (filter.md filters `city` on CITY).
    lowered = {n.lower() for n in names}
    absent = [(path, name) for path, name in wanted if name not in names]
    absent += [("source.filter", name) for name in (filters.fields(spec.source.filter) if spec.source.filter else [])
               if name.lower() not in lowered]
    problems = [{"path": path, "message": f"{name!r} is not a column of {short}{suggest.did_you_mean(name, names)}"}
                for path, name in absent]
    if problems:
        missing = ", ".join(dict.fromkeys(name for path, name in absent))
        raise SourceMismatch(f"{what} of {ctx.resolved.label} has no column {missing}; it has "
                             f"{suggest.listing(names, 40)}", problems=problems)


def explore_and_check(ctx: Context, connection_id: str) -> dict[str, Any]:
    """Explore the source and hold the spec against it. A table lists every column, so a mapped
    attribute, a given column, the delta column or a filter's column it lacks fails (SourceMismatch),
    naming the field and the closest columns; a table explore does not find fails listing the tables it has. A REST
    preview is a sample of records, so an attribute it did not show is a warning."""
    spec, client, resolved = ctx.spec, ctx.client, ctx.resolved
    if resolved.family == "file":
        return explore_files(ctx, connection_id, _held_to_columns)
    if not resolved.tabular:
        return _explore_rest(ctx, connection_id)
    table = spec.source.table or ""
    try:
        answer = resources.explore_table(client, connection_id, table)
    except AepNotFound as not_found:
        refusal = _unknown_table(ctx, connection_id, table, not_found)
        if refusal is None:
            raise
        raise refusal from None
    columns = (answer.get("schema") or {}).get("columns") or []
    if not columns:
        raise SourceMismatch(f"table {table!r} of {resolved.label} has no columns")
    _held_to_columns(ctx, f"table {table!r}", table, [str(c.get("name")) for c in columns])
    return {"columns": columns}


def explores_first(ctx: Context) -> bool:
    """Whether the source connection's body needs the explored columns: a table the spec gives no
    columns of. (The state machine's choice "Does the source connection need the explored columns?"
    says the same.)"""
    return ctx.resolved.family == "crm" and not ctx.spec.source.columns


@step("explore-source")
def explore_source(ctx: Context) -> dict[str, Any]:
    """Before the source connection when its body needs the explored columns (a table whose
    columns the spec does not give); otherwise alongside its creation, as a check."""
    return explore_and_check(ctx, ctx.ids["baseConnectionId"])


@step("create-source-connection")
def create_source_connection(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("sourceConnectionId"):
        return ctx.ids
    spec, client, resolved = ctx.spec, ctx.client, ctx.resolved
    name = naming.source_connection(spec)
    explored = (ctx.event.state.get("explored") or {}).get("columns")
    body = bodies.source_connection(spec, resolved, base_connection_id=ctx.ids["baseConnectionId"],
                                    explored=explored if isinstance(explored, list) else [])
    def create() -> str:
        try:
            return str(resources.create_source_connection(client, body)["id"])
        except AepValidationError as refused:
            # This step runs beside "Explore the source" when the spec gives the columns, and AEP
            # refuses a table it does not have here too ("Table Leads not found"), or a filter's column
            # the table lacks: whichever branch sees it first, the refusal lists the tables explore
            # sees, at source.table, or the columns, at source.filter.
            if refused.status != 400 or not resolved.tabular or not spec.source.table:
                raise
            try:
                unknown = _unknown_table(ctx, ctx.ids["baseConnectionId"], spec.source.table, refused)
                if unknown is None and spec.source.filter:
                    explore_and_check(ctx, ctx.ids["baseConnectionId"])  # SourceMismatch naming the column
            except AepError:
                raise refused from None  # AEP's own refusal stands when explore cannot list the tables
            if unknown is None:
                raise
            raise unknown from None

    return {**ctx.ids, "sourceConnectionId": ctx.ensure("sourceConnection", name, create)}
