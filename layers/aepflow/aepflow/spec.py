"""The dataflow spec v1 (DESIGN.md): pydantic models, and the one function that turns
a raw document into a spec or into the list of every problem, by field path."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .connectors import (CRM_FLOW_SPEC, FLOW_SPEC_IDS, REST_FLOW_SPEC, Connector, connector_for_spec_id,
                         connector_named, retired_spec_id)
from .errors import SpecInvalid

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MIN_INTERVAL = {"minute": 15, "hour": 1, "day": 1, "week": 1}
# Identity namespace codes (Identity Service): standard ones such as Email, Phone, ECID, CRMID, or
# an org's own; xdm:namespace of an identity descriptor takes the code (xdm/api/descriptors.md).
NAMESPACE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Column(_Model):
    name: str = Field(min_length=1)
    type: str = "string"
    xdmType: str | None = None


class Source(_Model):
    connector: str | None = None
    connectionSpecId: str | None = Field(default=None, pattern=UUID_PATTERN)
    authSpecName: str | None = None
    flowSpec: str | None = None
    baseConnectionId: str | None = Field(default=None, pattern=UUID_PATTERN)
    credentialsSecret: str | None = Field(default=None, min_length=1)
    format: Literal["tabular", "json", "delimited", "parquet"] | None = None
    table: str | None = Field(default=None, min_length=1)
    columns: list[Column] | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_identity(self) -> "Source":
        if bool(self.connector) == bool(self.connectionSpecId):
            raise ValueError("give exactly one of connector or connectionSpecId")
        if not self.baseConnectionId and not self.credentialsSecret:
            raise ValueError("give baseConnectionId (an existing account) or credentialsSecret (to create one)")
        return self


class SchemaCreate(_Model):
    title: str = Field(min_length=1)
    class_: str = Field(alias="class", min_length=1)
    fieldGroups: list[str] = Field(default_factory=list)
    description: str | None = None


class TargetSchema(_Model):
    id: str | None = Field(default=None, min_length=1)
    create: SchemaCreate | None = None

    @model_validator(mode="after")
    def _one(self) -> "TargetSchema":
        if (self.id is None) == (self.create is None):
            raise ValueError("give exactly one of id or create")
        return self


class DatasetCreate(_Model):
    name: str | None = Field(default=None, min_length=1)
    description: str | None = None
    profileEnabled: bool = False


class TargetDataset(_Model):
    id: str | None = Field(default=None, min_length=1)
    create: DatasetCreate | None = None

    @model_validator(mode="after")
    def _one(self) -> "TargetDataset":
        if (self.id is None) == (self.create is None):
            raise ValueError("give exactly one of id or create")
        return self


class Target(_Model):
    schema_: TargetSchema = Field(alias="schema")
    dataset: TargetDataset


class MappingRule(_Model):
    source: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    sourceType: Literal["ATTRIBUTE", "EXPRESSION", "STATIC"] = "ATTRIBUTE"
    # An identity field of the target schema (seed 000's mapping entries carry identity and
    # namespaceCode); aepflow gives a schema it creates an identity descriptor for it.
    identity: bool = False
    namespaceCode: str | None = Field(default=None, pattern=NAMESPACE_PATTERN)
    primary: bool = False
    name: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _identity_parts(self) -> "MappingRule":
        if (self.namespaceCode or self.primary) and not self.identity:
            raise ValueError("namespaceCode and primary describe an identity: set identity: true")
        if self.primary and not self.namespaceCode:
            raise ValueError("a primary identity needs its namespaceCode (e.g. Email, CRMID)")
        return self


class Options(_Model):
    """The flow's `options`, as the flow specs' optionSpec defines them (seeds 000, 001, 004:
    errorDiagnosticsEnabled boolean, partialIngestionPercent number > 0). Checked again against
    the live flow spec's optionSpec before the flow is created."""

    errorDiagnosticsEnabled: bool | None = None
    # optionSpec: exclusiveMinimum 0; a percentage above 100 would never fail a run (our bound).
    partialIngestionPercent: float | None = Field(default=None, gt=0, le=100)


class DeltaColumn(_Model):
    name: str = Field(min_length=1)
    dateFormat: str | None = None
    timezone: str | None = None


class Schedule(_Model):
    frequency: Literal["once", "minute", "hour", "day", "week"]
    # validate_default: the frequency rules apply to a missing interval/backfill too.
    interval: int | None = Field(default=None, validate_default=True)
    startTime: int = Field(ge=0, description="epoch seconds")
    backfill: bool | None = Field(default=None, validate_default=True)

    @field_validator("startTime")
    @classmethod
    def _seconds(cls, value: int) -> int:
        if value > 10_000_000_000:
            raise ValueError("startTime is in epoch seconds, this looks like milliseconds")
        return value

    # The same rules as the flow specs' scheduleSpec (seed 000), checked before any AEP call.
    @field_validator("interval")
    @classmethod
    def _interval_fits_frequency(cls, value: int | None, info: ValidationInfo) -> int | None:
        frequency = info.data.get("frequency")
        if frequency is None:
            return value
        if frequency == "once":
            if value is not None:
                raise ValueError("interval is not allowed when frequency is once")
        elif value is None:
            raise ValueError(f"interval is required when frequency is {frequency}")
        elif value < MIN_INTERVAL[frequency]:
            raise ValueError(f"interval must be at least {MIN_INTERVAL[frequency]} when frequency is "
                             f"{frequency} (got {value})")
        return value

    @field_validator("backfill")
    @classmethod
    def _backfill_fits_frequency(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is not None and info.data.get("frequency") == "once":
            raise ValueError("backfill is not allowed when frequency is once")
        return value


class Alerts(_Model):
    failedRecordsPercent: float = Field(default=0.5, ge=0, le=100)
    stuckAfterMinutes: int = Field(default=150, ge=1)
    notifyRecovered: bool = False


class AepResource(_Model):
    """The name (and, for a connection, the description) an AEP resource has. aepflow names what it
    creates `aepflow:<name>:<kind>`; a spec written by adopt keeps the names the flow already had."""

    name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1000)


class AepResources(_Model):
    flow: AepResource | None = None
    baseConnection: AepResource | None = None
    sourceConnection: AepResource | None = None
    targetConnection: AepResource | None = None


class DataflowSpec(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    sandbox: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str | None = None
    enabled: bool = True
    source: Source
    target: Target
    mapping: list[MappingRule] = Field(min_length=1)
    deltaColumn: DeltaColumn | None = None
    schedule: Schedule
    options: Options | None = None
    alerts: Alerts = Field(default_factory=Alerts)
    # What the scheduled drift check does when AEP no longer matches the spec: alert (always), and
    # with `revert` also apply the spec again.
    onDrift: Literal["alert", "revert"] = "alert"
    resources: AepResources | None = None

    @model_validator(mode="after")
    def _identities(self) -> "DataflowSpec":
        primaries = [i for i, rule in enumerate(self.mapping) if rule.primary]
        if len(primaries) > 1:
            raise ValueError(f"mapping marks {len(primaries)} primary identities (mapping{primaries}); a schema "
                             "has at most one (xdm/api/descriptors.md, xdm:isPrimary)")
        dataset, schema = self.target.dataset.create, self.target.schema_.create
        if dataset and dataset.profileEnabled and schema:
            # AEP refuses the union tag on a schema without a primary identity (XDM-1528-400,
            # help/xdm/troubleshooting-guide.md) and a Profile dataset on a schema without the tag
            # (help/catalog/datasets/enable-for-profile.md), so say it before any call.
            if not primaries:
                raise ValueError("a Profile-enabled dataset on a schema aepflow creates needs a primary identity: "
                                 "mark one mapping identity: true, primary: true with its namespaceCode")
            unnamed = [i for i, rule in enumerate(self.mapping) if rule.identity and not rule.namespaceCode]
            if unnamed:
                raise ValueError(f"identity mappings {unnamed} need a namespaceCode for their identity descriptor")
        return self

    @property
    def connector(self) -> Connector | None:
        if self.source.connector:
            return connector_named(self.source.connector)
        return connector_for_spec_id(self.source.connectionSpecId or "")


class ResolvedSource(BaseModel):
    """What the catalog adds to a spec's source: the facts every step needs."""

    connector: str
    label: str
    connectionSpecId: str
    # Chosen by validation from the credentials secret (catalog connectors), else the spec's own;
    # the live connection spec read at provisioning time may choose again (it wins).
    authSpecName: str | None
    authParams: list[str]  # the secret's keys sent as auth.params (those the auth spec defines)
    family: str
    format: str
    flowSpecName: str
    flowSpecId: str | None = None  # read by id when the flow spec's id is fixed (RestStorageToAEP)
    needsDeltaColumn: bool
    mappingDialect: str
    exploresColumns: bool
    tabular: bool = True  # a table explore lists every column; a REST preview is a sample
    inCatalog: bool = True
    warnings: list[dict[str, str]] = Field(default_factory=list)


def _loc(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after", "function-before") or str(item).startswith(("function-", "literal[")):
            continue
        else:
            parts.append(("." if parts else "") + ("schema" if item == "schema_" else "class" if item == "class_"
                                                   else str(item)))
    return "".join(parts) or "(spec)"


def _catalog_problems(raw: dict[str, Any]) -> list[dict[str, str]]:
    """Checks that need the connector catalog, run on the raw document so they are
    reported together with the model's own problems."""
    problems: list[dict[str, str]] = []
    source = raw.get("source") if isinstance(raw.get("source"), dict) else {}
    name = source.get("connector")
    connector: Connector | None = None
    if isinstance(name, str) and name:
        connector = connector_named(name)
        if connector is None:
            problems.append({"path": "source.connector", "message": f"unknown connector {name!r}"})
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
    if connector is None:
        return problems
    auth_name = source.get("authSpecName")
    if isinstance(auth_name, str) and auth_name and connector.auth_spec(auth_name) is None:
        problems.append({"path": "source.authSpecName", "message": (
            f"{auth_name!r} is not an auth spec of {connector.label}; Adobe documents "
            + ", ".join(repr(a.name) for a in connector.auth_specs))})
    fmt = source.get("format")
    if fmt and fmt != connector.data_format:
        problems.append({"path": "source.format",
                         "message": f"{connector.label} data is {connector.data_format}, not {fmt}"})
    if connector.family in ("crm", "database") and not source.get("table"):
        what = "params.tableName" if connector.family == "crm" else "params.path"
        problems.append({"path": "source.table", "message": f"{connector.label} needs a table ({what})"})
    params = source.get("params") if isinstance(source.get("params"), dict) else {}
    for key in connector.source_params:
        if not params.get(key):
            problems.append({"path": f"source.params.{key}", "message": f"{connector.label} needs {key}"})
    if connector.needs_delta_column and not raw.get("deltaColumn"):
        problems.append({"path": "deltaColumn",
                         "message": f"{connector.label} flows ({connector.flow_spec_name}) need a Copy deltaColumn"})
    return problems


def resolve_source(spec: DataflowSpec) -> ResolvedSource:
    """What the catalog says about the spec's source. The auth spec is chosen later, from the
    credentials secret (provisioning.validate_spec)."""
    connector = spec.connector
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


def parse_spec(raw: Any) -> DataflowSpec:
    """Return the spec, or raise SpecInvalid listing every problem by field path."""
    if not isinstance(raw, dict):
        raise SpecInvalid("the dataflow spec must be an object", problems=[
            {"path": "(spec)", "message": "expected a YAML or JSON object"}])
    problems: list[dict[str, str]] = []
    spec: DataflowSpec | None = None
    try:
        spec = DataflowSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            message = re.sub(r"^Value error, ", "", err["msg"])
            problems.append({"path": _loc(err["loc"]), "message": message})
    problems.extend(_catalog_problems(raw))
    if problems or spec is None:
        seen: set[tuple[str, str]] = set()
        unique = [p for p in problems if (p["path"], p["message"]) not in seen and not seen.add((p["path"], p["message"]))]
        raise SpecInvalid(f"the dataflow spec has {len(unique)} problem(s)", problems=unique)
    return spec
