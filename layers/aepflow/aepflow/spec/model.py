"""The dataflow spec v1 (DESIGN.md): pydantic models, a spec is made of (its
fields' bounds are fields.py's; parse.py turns a raw document into one, or into every problem by
field path)."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from aepflow.spec import sandboxes
from aepflow.spec.connectors import Connector, connector_of_source
from aepflow.spec.fields import (
    _ISO_DATE,
    DATASET_ID_PATTERN,
    LONG,
    MAX_INTERVAL,
    MAX_START_TIME,
    MIN_INTERVAL,
    NAME_PATTERN,
    NAMESPACE_PATTERN,
    SANDBOX_PATTERN,
    SCHEMA_ID_PATTERN,
    UUID_PATTERN,
    XDM_REF_PATTERN,
    LongText,
    ShortText,
    SpecModel,
    _printable,
)
from aepflow.spec.on_failure import OnFailure, streaming
from aepflow.spec.sandboxes import MAX_SANDBOXES, PromotedFrom
from aepflow.spec.source import Source
from aepflow.spec.thresholds import Alerts

_Model = SpecModel  # strict, closed, built when first needed (fields.SpecModel)


class SchemaCreate(_Model):
    """A target XDM schema aepflow creates (POST /tenant/schemas)."""

    title: ShortText = Field(description="The schema's title", examples=["ACME Oracle employees"])
    class_: str = Field(alias="class", pattern=XDM_REF_PATTERN, description="Its XDM class",
                        examples=["https://ns.adobe.com/xdm/context/profile"])
    fieldGroups: list[Annotated[str, StringConstraints(pattern=XDM_REF_PATTERN)]] = Field(
        default=[], max_length=100, description="Its field groups",
        examples=[["https://ns.adobe.com/xdm/context/profile-person-details"]])
    description: LongText | None = Field(default=None, description="Its description",
                                         examples=["Target schema of the ACME employees dataflow"])


class TargetSchema(_Model):
    """The target schema: an existing one by id, or one to create."""

    id: str | None = Field(default=None, pattern=SCHEMA_ID_PATTERN, description=(
        "An existing tenant schema: its $id or meta:altId"),
        examples=["https://ns.adobe.com/acme/schemas/719c4e19184402c27595e65b931a142b"])
    create: SchemaCreate | None = Field(default=None, description="A schema for aepflow to create")

    @model_validator(mode="after")
    def _one(self) -> "TargetSchema":
        if (self.id is None) == (self.create is None):
            raise ValueError("give exactly one of id or create")
        return self


class DatasetCreate(_Model):
    """A target dataset aepflow creates (Catalog POST /dataSets)."""

    name: ShortText | None = Field(default=None, description="Its name; by default derived from the dataflow's",
                                   examples=["ACME Target Dataset"])
    description: LongText | None = Field(default=None, description="Its description",
                                         examples=["Contacts from Salesforce"])
    profileEnabled: bool = Field(default=False, description=(
        "Enable it for Real-Time Customer Profile (the schema must be too, with a primary identity)"),
        examples=[True])


class TargetDataset(_Model):
    """The target dataset: an existing one by id, or one to create."""

    id: str | None = Field(default=None, pattern=DATASET_ID_PATTERN, description="An existing dataset's id",
                           examples=["5c8c3c555033b814b69f947f"])
    create: DatasetCreate | None = Field(default=None, description="A dataset for aepflow to create")

    @model_validator(mode="after")
    def _one(self) -> "TargetDataset":
        if (self.id is None) == (self.create is None):
            raise ValueError("give exactly one of id or create")
        return self


class Target(_Model):
    """Where the data goes: an XDM schema and a dataset of the Data Lake."""

    schema_: TargetSchema = Field(alias="schema", description="The target XDM schema")
    dataset: TargetDataset = Field(description="The target dataset")


class MappingRule(_Model):
    """One mapping from a source attribute (or expression) to a target XDM path (Data Prep)."""

    source: Annotated[str, StringConstraints(min_length=1, max_length=LONG), AfterValidator(_printable)] = Field(
        description="The source attribute, expression or static value", examples=["Name"])
    destination: ShortText = Field(description="The XDM path in the target schema",
                                   examples=["person.name.fullName"])
    sourceType: Literal["ATTRIBUTE", "EXPRESSION", "STATIC"] = Field(default="ATTRIBUTE", description=(
        "What `source` is"), examples=["ATTRIBUTE"])
    # An identity field of the target schema (seed 000's mapping entries carry identity and
    # namespaceCode); aepflow gives a schema it creates an identity descriptor for it.
    identity: bool = Field(default=False, description="The destination is an identity field", examples=[True])
    namespaceCode: str | None = Field(default=None, pattern=NAMESPACE_PATTERN, description=(
        "The identity's namespace code"), examples=["Email"])
    primary: bool = Field(default=False, description="The schema's primary identity (at most one)",
                          examples=[True])
    name: ShortText | None = Field(default=None, description="A name for the rule", examples=["full name"])
    description: LongText | None = Field(default=None, description="What the rule is for",
                                         examples=["The contact's full name"])

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

    errorDiagnosticsEnabled: bool | None = Field(default=None, description=(
        "Keep error diagnostics of failed records"), examples=[True])
    # optionSpec: exclusiveMinimum 0; a percentage above 100 would never fail a run (our bound).
    partialIngestionPercent: float | None = Field(default=None, gt=0, le=100, description=(
        "Partial ingestion: the percentage of failed records above which a run fails"), examples=[5])


class DeltaColumn(_Model):
    """The column whose value marks new or changed rows (the flow's Copy transformation)."""

    name: ShortText = Field(description="The column", examples=["Datefield"])
    dateFormat: ShortText | None = Field(default=None, description="Its date format", examples=["YYYY-MM-DD"])
    timezone: ShortText | None = Field(default=None, description="Its time zone", examples=["UTC"])


class Schedule(_Model):
    """When the flow runs (its scheduleParams, checked against the flow spec's scheduleSpec)."""

    frequency: Literal["once", "minute", "hour", "day", "week"] = Field(description="How often",
                                                                        examples=["minute"])
    # validate_default: the frequency rules apply to a missing interval/backfill too.
    interval: int | None = Field(default=None, validate_default=True, le=MAX_INTERVAL, description=(
        "Every how many frequency units (minute: 15 or more); not with once"), examples=[15])
    startTime: int = Field(ge=0, le=MAX_START_TIME, description="When the first run starts, in epoch seconds",
                           examples=[1612310466])
    backfill: bool | None = Field(default=None, validate_default=True, description=(
        "Ingest what the source held before startTime; not with once"), examples=[True])

    @field_validator("startTime", mode="before")
    @classmethod
    def _epoch_seconds(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if _ISO_DATE.match(text):
                when = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                raise ValueError(f"startTime is a date ({text}); give epoch seconds, e.g. {int(when.timestamp())}")
            raise ValueError("startTime is epoch seconds, a number, not text")
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_START_TIME:
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


class OnDelete(_Model):
    """What deleting the dataflow does to what it ingested into."""

    dataset: Literal["keep", "delete"] = Field(default="keep", description=(
        "keep: the dataset and the schema aepflow created outlive the dataflow, with everything ingested into "
        "them; delete: they are deleted with it (as DELETE ?deleteData=true does)"), examples=["keep"])


class AepResource(_Model):
    """The name and description an AEP resource has. aepflow names what it creates
    `aepflow:<name>:<kind>`; a spec written by adopt keeps the names the flow already had."""

    name: ShortText | None = Field(default=None, description="Its name in AEP", examples=["Salesforce contacts"])
    description: LongText | None = Field(default=None, description="Its description in AEP",
                                         examples=["Contacts from Salesforce, made in the UI"])


class AepResources(_Model):
    flow: AepResource | None = Field(default=None, description="The flow")
    baseConnection: AepResource | None = Field(default=None, description="The base connection aepflow creates")
    sourceConnection: AepResource | None = Field(default=None, description="The source connection")
    targetConnection: AepResource | None = Field(default=None, description="The target connection")


class SandboxOverride(_Model):
    """What differs in one sandbox (spec/sandboxes.py): each key optional, bounded as the spec's own."""

    credentialsSecret: ShortText | None = Field(default=None, description=(
        "The source secret in this sandbox (in place of the spec's credentials or base connection)"),
        examples=["aep/sources/acme-s3-prod"])
    baseConnectionId: str | None = Field(default=None, pattern=UUID_PATTERN, description=(
        "An existing base connection in this sandbox"), examples=["6990abad-977d-41b9-a85d-17ea8cf1c0e4"])
    target: Target | None = Field(default=None, description="The schema and dataset in this sandbox")
    schedule: Schedule | None = Field(default=None, description="The schedule in this sandbox")
    enabled: bool | None = Field(default=None, description="Whether the flow runs in this sandbox", examples=[False])
    alerts: Alerts | None = Field(default=None, description="What the monitor alerts on in this sandbox")

    @model_validator(mode="after")
    def _one_account(self) -> "SandboxOverride":
        if self.credentialsSecret and self.baseConnectionId:
            raise ValueError("give credentialsSecret or baseConnectionId, not both")
        return self


SandboxName = Annotated[str, StringConstraints(pattern=SANDBOX_PATTERN)]


class DataflowSpec(_Model):
    """An aepflow dataflow spec, v1: one AEP source dataflow, from the source account to the dataset."""

    name: str = Field(pattern=NAME_PATTERN, description=(
        "The dataflow's unique key (lower-case letters, digits and -); AEP resource names derive from it"),
        examples=["acme-salesforce-contacts"])
    sandbox: str | None = Field(default=None, pattern=SANDBOX_PATTERN, description=(
        "The AEP sandbox; by default the AEP credentials secret's"), examples=["prod"])
    description: LongText | None = Field(default=None, description="What the dataflow is for",
                                         examples=["Contacts from Salesforce"])
    enabled: bool = Field(default=True, description="Whether the flow runs on its schedule", examples=[True])
    source: Source = Field(description="Where the data comes from")
    target: Target = Field(description="Where the data goes")
    mapping: list[MappingRule] = Field(min_length=1, max_length=1000, description="The mapping set's rules",
                                       examples=[[{"source": "Name", "destination": "person.name.fullName"}]])
    mappingVersion: int | None = Field(default=None, ge=0, le=2**31 - 1, description=(
        "Pins the flow to this version of its mapping set (a roll-back): the flow moves to it in place, no "
        "version is written while pinned, and rules in `mapping` that differ from that version's are a warning "
        "in the plan; a version the set does not have is refused. Without it the rules decide (new rules are a "
        "new version). A field beside `mapping`, not `mapping: {version: N}`, because `mapping` is the rules "
        "list that every check reads (the destinations, the identities, the explored columns)"),
        examples=[0])
    deltaColumn: DeltaColumn | None = Field(default=None, description=(
        "The column that marks new rows; CRMToAEP flows (CRMs and databases) need one"))
    schedule: Schedule = Field(description="When the flow runs")
    options: Options | None = Field(default=None, description="The flow's options (the flow spec's optionSpec)")
    alerts: Alerts = Field(default_factory=Alerts, description="What the run monitor alerts on")
    onDrift: Literal["alert", "revert"] = Field(default="alert", description=(
        "What the scheduled drift check does when AEP no longer matches the spec: alert (always), and with "
        "`revert` also apply the spec again"), examples=["alert"])
    onFailure: OnFailure | None = Field(default=None, description=(
        "What aepflow does when a run fails: re-trigger it after a delay when its error code can heal "
        "(batch sources only)"))
    onDelete: OnDelete = Field(default_factory=OnDelete, description=(
        "What deleting the dataflow does to the dataset (and schema) aepflow created: kept by default"))
    sandboxes: dict[SandboxName, SandboxOverride] | None = Field(default=None, max_length=MAX_SANDBOXES, description=(
        "What differs in each sandbox (credentialsSecret, baseConnectionId, target, schedule, enabled, alerts): the "
        "spec's `sandbox` takes its entry's values; `aepflow promote` takes the target sandbox's"),
        examples=[{"prod": {"credentialsSecret": "aep/sources/acme-s3-prod", "schedule": {
            "frequency": "hour", "interval": 1, "startTime": 1717200000}}}])
    promotedFrom: PromotedFrom | None = Field(default=None, description=(
        "Written by `aepflow promote`: the dataflow and sandbox this one was promoted from"))
    resources: AepResources | None = Field(default=None, description=(
        "The AEP names and descriptions of the flow and its connections; by default aepflow:<name>:<kind>. A spec "
        "written by adopt keeps the names the flow had"))

    @model_validator(mode="before")
    @classmethod
    def _in_its_sandbox(cls, raw: Any) -> Any:
        """The spec as its sandbox reads it: that sandbox's entry of `sandboxes` in place of its own values."""
        return sandboxes.effective(raw, SandboxOverride)

    @field_validator("onFailure")
    @classmethod
    def _batch_sources_only(cls, value: OnFailure | None, info: ValidationInfo) -> OnFailure | None:
        source = info.data.get("source")  # absent when the source itself was refused
        if value is None or value.retry is None or source is None:
            return value
        connector = connector_of_source(source)
        why = streaming(connector.family if connector else None, source.connectionSpecId)
        if why:  # said at onFailure.retry, where the fix is
            raise ValidationError.from_exception_data("OnFailure", [InitErrorDetails(
                type=PydanticCustomError("streaming_source", why), loc=("retry",), input=value.retry)])
        return value

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
        return connector_of_source(self.source)


class ResolvedSource(BaseModel):
    """What the catalog adds to a spec's source: the facts every step needs."""

    model_config = ConfigDict(defer_build=True)

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
    # The mapping's destinations are held against the target schema by "Check the mapping against the
    # target schema" (AEP knows the schema: the spec names it, or one of its field groups is a tenant's);
    # otherwise validation held them against XDM's published definitions (xdm.py).
    mappingCheckedInAep: bool = False
    warnings: list[dict[str, str]] = Field(default=[])
