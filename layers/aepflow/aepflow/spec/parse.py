"""A raw document made a spec, or the list of every problem by field path: the model's own checks, the
connector catalog's rules, the credentials boundary and a field mapped twice; and what the catalog adds
to a spec's source (resolve_source)."""

import re
from typing import Any

from pydantic import ValidationError

from aepflow.core.errors import SpecInvalid
from aepflow.spec import suggest, unknown
from aepflow.spec.connectors import (
    CRM_FLOW_SPEC,
    FLOW_SPEC_IDS,
    REST_FLOW_SPEC,
    Connector,
    connector_for_spec_id,
    connector_named,
    retired_spec_id,
    unknown_connector,
)
from aepflow.spec.fields import PATTERN_MESSAGES
from aepflow.spec.files import IAM_ROLE_AUTH, file_format
from aepflow.spec.filters import connector_problems
from aepflow.spec.model import DataflowSpec, ResolvedSource
from aepflow.spec.secret_names import boundary_problem


def _loc(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif unknown.is_tag(item):
            continue
        else:
            parts.append(("." if parts else "") + ("schema" if item == "schema_" else "class" if item == "class_"
                                                   else str(item)))
    return "".join(parts) or "(spec)"


def _catalog_problems(raw: dict[str, Any]) -> list[dict[str, str]]:
    """Checks that need the connector catalog, run on the raw document so they are
    reported together with the model's own problems."""
    problems: list[dict[str, str]] = []
    raw_source = raw.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    name = source.get("connector")
    connector: Connector | None = None
    if isinstance(name, str) and name:
        connector = connector_named(name)
        if connector is None:
            problems.append({"path": "source.connector", "message": unknown_connector(name)})
    elif isinstance(source.get("connectionSpecId"), str):
        retired = retired_spec_id(source["connectionSpecId"])
        if retired:
            why, current = retired
            return problems + [{"path": "source.connectionSpecId", "message": (
                f"{source['connectionSpecId']} is {why['why']}: use connectionSpecId {current.connection_spec_id} "
                f"(or connector: {current.name}), as {current.documented_in[0]} documents")}]
        connector = connector_for_spec_id(source["connectionSpecId"])
        if connector is None and not source.get("format"):
            problems.append({"path": "source.format",
                             "message": "required when connectionSpecId is not a catalog connector"})
    problems.extend(_file_problems(connector, source, raw))
    if isinstance(source.get("filter"), str):  # spec/filters.py: the connector's filterAtSource
        problems.extend(connector_problems(connector, source["filter"],
                                           label=f"connection spec {source.get('connectionSpecId')}"))
    if connector is None:
        return problems
    auth_name = source.get("authSpecName")
    if isinstance(auth_name, str) and auth_name and connector.auth_spec(auth_name) is None:
        problems.append({"path": "source.authSpecName", "message": connector.unknown_auth_spec(auth_name)})
    fmt = source.get("format")
    if fmt and connector.family != "file" and fmt != connector.data_format:
        problems.append({"path": "source.format",
                         "message": f"{connector.label} data is {connector.data_format}, not {fmt}"})
    if connector.family in ("crm", "database") and not source.get("table"):
        what = "params.tableName" if connector.family == "crm" else "params.path"
        problems.append({"path": "source.table", "message": f"{connector.label} needs a table ({what})"})
    raw_params = source.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    for key in connector.source_params:
        if not params.get(key):
            problems.append({"path": f"source.params.{key}", "message": f"{connector.label} needs {key}"})
    if connector.needs_delta_column and not raw.get("deltaColumn"):
        problems.append({"path": "deltaColumn",
                         "message": f"{connector.label} flows ({connector.flow_spec_name}) need a Copy deltaColumn"})
    return problems


FILE_FIELDS = ("bucket", "path", "recursive", "access")


def _file_problems(connector: Connector | None, source: dict[str, Any], raw: dict[str, Any]) -> list[dict[str, str]]:
    """A file source (Amazon S3) names its bucket, path and format and no table; its flow spec,
    CloudStorageToAEP, has no Copy transformation and so no deltaColumn; access: iam-role is its "IAMRole
    Based" auth. What only a file source takes is refused elsewhere."""
    if connector is None or connector.family != "file":
        label = connector.label if connector else "this source"
        out = [{"path": f"source.{key}", "message": f"only a file source (connector: s3) takes {key}; {label} does not"}
               for key in FILE_FIELDS if source.get(key) is not None]
        if isinstance(source.get("format"), dict):
            out.append({"path": "source.format", "message": f"format options are a file source's; {label} data is "
                                                            f"{connector.data_format if connector else 'one word'}"})
        return out
    label = connector.label
    out = [{"path": f"source.{key}", "message": f"{label} needs {key}: {why}"}
           for key, why in (("bucket", "the bucket the files are in"),
                            ("path", "the file, folder (ending with /) or wildcard (orders/*.csv) inside the bucket"),
                            ("format", "{type: delimited|json|parquet}, with delimiter, compression or encoding"))
           if source.get(key) is None]
    if source.get("format") == "tabular":
        out.append({"path": "source.format", "message": f"{label} reads files: delimited, json or parquet"})
    for key, why in (("table", "a file source reads `path` in `bucket`"),
                     ("params", "a file source's params are its bucket, path and recursive")):
        if source.get(key):
            out.append({"path": f"source.{key}", "message": f"{label} takes no {key}: {why}"})
    if raw.get("deltaColumn") is not None:
        out.append({"path": "deltaColumn", "message": (
            f"{label} flows ({connector.flow_spec_name}) take no deltaColumn: the flow spec has no Copy "
            "transformation (flowspec-CloudStorageToAEP.json); each run reads the files that are new since the last")})
    auth_name = source.get("authSpecName")
    if source.get("access") == "iam-role" and auth_name not in (None, "IAMRole Based"):
        out.append({"path": "source.authSpecName", "message": "access: iam-role is the 'IAMRole Based' auth spec"})
    elif source.get("access") is None and auth_name == "IAMRole Based":
        out.append({"path": "source.authSpecName",
                    "message": "'IAMRole Based' takes no secret: say access: iam-role instead of credentialsSecret"})
    return out


def _duplicate_destinations(raw: dict[str, Any]) -> list[dict[str, str]]:
    """A field is mapped once: Data Prep asks to "fix any duplicated mapping fields"
    (help/data-prep/ui/mapping.md), and refuses a mapping set that maps one destination twice."""
    raw_rules = raw.get("mapping")
    rules: list[Any] = raw_rules if isinstance(raw_rules, list) else []
    first: dict[str, int] = {}
    problems: list[dict[str, str]] = []
    for index, rule in enumerate(rules):
        destination = rule.get("destination") if isinstance(rule, dict) else None
        if not isinstance(destination, str):
            continue
        if destination in first:
            problems.append({"path": f"mapping[{index}].destination", "message": (
                f"{destination!r} is mapped already by mapping[{first[destination]}]: a field is mapped once")})
        else:
            first[destination] = index
    return problems


def _boundary_problems(raw: dict[str, Any]) -> list[dict[str, str]]:
    """The credentials boundary (secret_names): a spec names only source secrets."""
    raw_source = raw.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    secret = source.get("credentialsSecret")
    problem = boundary_problem(secret) if isinstance(secret, str) and secret else None
    return [{"path": "source.credentialsSecret", "message": f"secret {secret!r} {problem}"}] if problem else []


def resolve_source(spec: DataflowSpec) -> ResolvedSource:
    """What the catalog says about the spec's source. The auth spec is chosen later, from the
    credentials secret (provisioning.validate_spec)."""
    connector = spec.connector
    if connector is not None and connector.family == "file":
        return _resolve_file_source(spec, connector)
    if connector is not None:
        flow_spec = spec.source.flowSpec or connector.flow_spec_name
        warnings = [{"path": "source.connector", "message": f"{connector.label}: {connector.deprecated}"}] \
            if connector.deprecated else []
        return ResolvedSource(
            connector=connector.name, label=connector.label, connectionSpecId=connector.connection_spec_id,
            authSpecName=spec.source.authSpecName, authParams=[],
            family=connector.family, format=connector.data_format,
            flowSpecName=flow_spec, flowSpecId=FLOW_SPEC_IDS.get(flow_spec),
            needsDeltaColumn=connector.needs_delta_column, mappingDialect=connector.mapping_dialect,
            exploresColumns=True, tabular=connector.tabular, warnings=warnings)
    fmt = spec.source.format or "tabular"
    family = "crm" if fmt == "tabular" else "rest"
    flow_spec = spec.source.flowSpec or (CRM_FLOW_SPEC if fmt == "tabular" else REST_FLOW_SPEC)
    return ResolvedSource(
        connector="custom", label=f"connection spec {spec.source.connectionSpecId}",
        connectionSpecId=spec.source.connectionSpecId or "", authSpecName=spec.source.authSpecName, authParams=[],
        family=family, format=fmt, flowSpecName=flow_spec, flowSpecId=FLOW_SPEC_IDS.get(flow_spec),
        needsDeltaColumn=spec.deltaColumn is not None, mappingDialect="attribute" if fmt == "tabular" else "source",
        exploresColumns=True, tabular=fmt == "tabular", inCatalog=False)


def _resolve_file_source(spec: DataflowSpec, connector: Connector) -> ResolvedSource:
    """A file source: its data.format is the spec's; a delimited or parquet file's header lists every
    column (checked as a table's), a JSON file's preview is a sample of records (as a REST preview).
    access: iam-role is the "IAMRole Based" auth spec, whose one param is the bucket."""
    fmt, _ = file_format(spec.source.format)
    flow_spec = spec.source.flowSpec or connector.flow_spec_name
    iam_role = spec.source.access == "iam-role"
    return ResolvedSource(
        connector=connector.name, label=connector.label, connectionSpecId=connector.connection_spec_id,
        authSpecName=IAM_ROLE_AUTH if iam_role else spec.source.authSpecName,
        authParams=["bucketName"] if iam_role else [], family=connector.family, format=fmt,
        flowSpecName=flow_spec, flowSpecId=FLOW_SPEC_IDS.get(flow_spec), needsDeltaColumn=False,
        mappingDialect=connector.mapping_dialect, exploresColumns=True, tabular=fmt != "json")


def build_models() -> None:
    """Build the validators and serializers of parse_spec's models now. A module that parses specs
    calls it at import, so that a cold start builds them during Lambda's init, before its first event."""
    DataflowSpec.model_rebuild()
    ResolvedSource.model_rebuild()


def _message(err: Any) -> str:
    """A pydantic error said in the spec's words: a pattern by what it means, a value outside a
    literal's choices with the closest choice."""
    message = re.sub(r"^Value error, ", "", err["msg"])
    if err["type"] == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern")
        return PATTERN_MESSAGES.get(pattern, "is not in the expected form") if isinstance(pattern, str) \
            else "is not in the expected form"
    if err["type"] == "literal_error" and isinstance(err.get("input"), str):
        choices = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected") or ""))
        return message + suggest.did_you_mean(err["input"], choices)
    return message


def _other_branch(err: Any) -> bool:
    """An error of the union branch the value was not meant for: a source's `format` is a word or, for a
    file source, an object; an object is not told it should have been a word, nor a word an object."""
    loc = tuple(err["loc"])
    if loc[:2] != ("source", "format"):
        return False
    return (len(loc) == 3 and loc[2] == "literal['tabular','json','delimited','parquet']"
            and isinstance(err.get("input"), dict)) or (loc[2:] == ("FileFormat",) and err["type"] == "model_type")


def _folded(problems: list[dict[str, str]], folds: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """The problems, each about an absent field that an unknown field's problem names as its closest
    taken in by that problem (`deltaColum: unknown field; did you mean 'deltaColumn'? (deltaColumn: ...)`)."""
    out: list[dict[str, str]] = []
    for problem in problems:
        into = folds.get(problem["path"])
        if into is not None and problem is not into and problem["message"] not in into["message"]:
            into["message"] += f" ({problem['path'].rsplit('.', 1)[-1]}: {problem['message']})"
        elif into is None:
            out.append(problem)
    return out


def parse_spec(raw: Any) -> DataflowSpec:
    """Return the spec, or raise SpecInvalid listing every problem by field path."""
    if not isinstance(raw, dict):
        raise SpecInvalid("the dataflow spec must be an object", problems=[
            {"path": "(spec)", "message": "expected a YAML or JSON object"}])
    problems: list[dict[str, str]] = []
    # An unknown field whose closest name is a field the document lacks takes in the problem about
    # that absence (`deltaColum` and "need a deltaColumn" are one mistake): the absent field's path ->
    # the unknown field's problem.
    folds: dict[str, dict[str, str]] = {}
    spec: DataflowSpec | None = None
    try:
        spec = DataflowSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if _other_branch(err):
                continue
            problem = {"path": _loc(err["loc"]), "message": _message(err)}
            if err["type"] == "extra_forbidden":
                loc = tuple(err["loc"])
                problem["message"], near = unknown.message(loc, _loc(loc[:-1]))
                if near and not unknown.present(raw, (*loc[:-1], near)):
                    folds.setdefault(_loc((*loc[:-1], near)), problem)
            problems.append(problem)
    problems.extend(_catalog_problems(raw))
    problems.extend(_duplicate_destinations(raw))
    problems.extend(_boundary_problems(raw))
    problems = _folded(problems, folds)
    if problems or spec is None:
        seen: set[tuple[str, str]] = set()
        unique: list[dict[str, str]] = []
        for p in problems:
            if (p["path"], p["message"]) not in seen:
                seen.add((p["path"], p["message"]))
                unique.append(p)
        raise SpecInvalid(f"the dataflow spec has {len(unique)} problem(s)", problems=unique)
    return spec
