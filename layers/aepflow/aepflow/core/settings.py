"""Every setting aepflow reads from its environment, in one place: the only module that reads
`os.environ`. The SAM template sets the variables (Globals: Environment); the local stack sets the
same ones.

One model per function, validated at its cold start: each handler module calls load() with its
function's model at import, so a required variable that is missing, a number that is not one or a
value out of its bounds fails the cold start with a message naming the variable (SettingsError), not
a request hours later. The models build on each other (Settings, what every function reads;
StarterSettings for the functions that start provisionings; AlertingSettings for those that publish
alerts; ...), and the layer's code asks for the part it needs with load(ThatModel): validated once
per process and model, kept until forget() (aws.reset(): a cold start in tests and on the local stack).

The models are frozen dataclasses whose fields say their variable and bounds (var()), checked by
the few lines below rather than by pydantic: the provisioning steps after validation import no
pydantic at all (tests/unit/test_spec_view.py), and pydantic with one model would add 0.06-0.07 s
to each of their cold starts (measured: pydantic's import 0.043-0.048 s, its first model 0.02 s),
all of aepflow's budget over its floor. The rules are the ones pydantic would apply: the value's
type, its bounds, a pattern; an empty variable is an unset one."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, TypeVar

from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice


class SettingsError(ValueError):
    """A variable of the function's environment is missing or wrong (the message names it)."""


def var(env: str, default: Any = MISSING, *, ge: float | None = None, gt: float | None = None,
        le: float | None = None, min_length: int | None = None, max_length: int | None = None,
        pattern: str | None = None, doc: str = "") -> Any:
    """A field read from the variable `env` (required unless it has a default), with its bounds."""
    metadata = {"env": env, "ge": ge, "gt": gt, "le": le, "min_length": min_length, "max_length": max_length,
                "pattern": re.compile(pattern) if pattern else None, "doc": doc}
    return field(metadata=metadata) if default is MISSING else field(default=default, metadata=metadata)


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _parse(f: Field, raw: str) -> Any:
    """The variable's text as the field's type (ValueError saying why not)."""
    kind = str(f.type).replace(" | None", "")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"is not an integer: {raw[:40]!r}") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"is not a number: {raw[:40]!r}") from None
    if kind == "bool":
        if raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"is not true or false: {raw[:40]!r}")
    if kind == "str":
        return raw
    raise TypeError(f"{f.name}: settings hold str, int, float and bool, not {f.type}")


def _problem(f: Field, value: Any) -> str | None:
    """Why a field's value breaks its bounds, or None."""
    m = f.metadata
    if value is None:
        return None if "None" in str(f.type) else "is required"
    if isinstance(value, str):
        if m.get("min_length") is not None and len(value) < m["min_length"]:
            return f"must be at least {m['min_length']} characters"
        if m.get("max_length") is not None and len(value) > m["max_length"]:
            return f"must be at most {m['max_length']} characters"
        if m.get("pattern") is not None and not m["pattern"].match(value):
            return f"must match {m['pattern'].pattern}"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if m.get("ge") is not None and value < m["ge"]:
            return f"must be at least {m['ge']}"
        if m.get("gt") is not None and value <= m["gt"]:
            return f"must be more than {m['gt']}"
        if m.get("le") is not None and value > m["le"]:
            return f"must be at most {m['le']}"
    return None


@dataclass(frozen=True, kw_only=True)
class _Model:
    """Checks every field against its bounds when made, however it was made."""

    def __post_init__(self) -> None:
        problems = [f"{f.metadata.get('env', f.name)}: {p}" for f in fields(self)
                    if (p := _problem(f, getattr(self, f.name)))]
        problems += self._rules()
        if problems:
            raise SettingsError(f"{type(self).__name__}: " + "; ".join(problems))

    def _rules(self) -> list[str]:
        """Rules across fields (a model's own)."""
        return []


@dataclass(frozen=True, kw_only=True)
class SecretBoundary(_Model):
    """Which secrets a spec may name (spec/secret_names.py): those under the source secrets' prefix,
    never aepflow's own. The functions read all three (Settings); the command line, which validates
    specs offline, holds them to the template's defaults unless its environment says otherwise."""

    source_secrets_prefix: str = var("SOURCE_SECRETS_PREFIX", "aep/sources/", min_length=1, max_length=256)
    credentials_secret: str = var("AEP_CREDENTIALS_SECRET", "aepflow/aep-credentials", min_length=1,
                                  max_length=2048)
    token_cache_secret: str | None = var("AEP_TOKEN_CACHE_SECRET", None, min_length=1, max_length=2048)


_URL = r"^https?://[^\s/]+(:\d+)?/?$"


@dataclass(frozen=True, kw_only=True)
class Settings(SecretBoundary):
    """What every function reads: the dataflows table and how to reach AEP."""

    table_name: str = var("DATAFLOWS_TABLE", min_length=1, max_length=255)
    credentials_secret: str = var("AEP_CREDENTIALS_SECRET", min_length=1, max_length=2048)
    token_cache_secret: str = var("AEP_TOKEN_CACHE_SECRET", min_length=1, max_length=2048)
    platform_url: str = var("AEP_PLATFORM_URL", "https://platform.adobe.io", pattern=_URL)
    ims_url: str = var("AEP_IMS_URL", "https://ims-na1.adobelogin.com", pattern=_URL)
    connect_timeout: float = var("AEP_CONNECT_TIMEOUT", 3.05, gt=0, le=60)
    read_timeout: float = var("AEP_READ_TIMEOUT", 30.0, gt=0, le=900)
    max_attempts: int = var("AEP_MAX_ATTEMPTS", 5, ge=1, le=20)
    backoff_base_seconds: float = var("AEP_BACKOFF_BASE_SECONDS", 0.2, ge=0, le=60)
    backoff_cap_seconds: float = var("AEP_BACKOFF_CAP_SECONDS", 5.0, ge=0, le=300)

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform_url", self.platform_url.rstrip("/"))
        object.__setattr__(self, "ims_url", self.ims_url.rstrip("/"))
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class StarterSettings(Settings):
    """Functions that start provisionings (the API, the spec intake, the drift check's re-apply).
    The state machine's ARN cannot be a Globals variable (every step function would then depend on
    the state machine that depends on them): it is read from CloudFormation through the stack's
    name, unless PROVISION_STATE_MACHINE_ARN gives it (the local stack does)."""

    stack_name: str | None = var("AEPFLOW_STACK_NAME", None, min_length=1, max_length=128)
    provision_state_machine_arn: str | None = var("PROVISION_STATE_MACHINE_ARN", None,
                                                  pattern=r"^arn:[\w-]+:states:")

    def _rules(self) -> list[str]:
        if not (self.stack_name or self.provision_state_machine_arn):
            return ["AEPFLOW_STACK_NAME: is required (or PROVISION_STATE_MACHINE_ARN)"]
        return []


@dataclass(frozen=True, kw_only=True)
class AlertingSettings(Settings):
    """Functions that publish alerts (invalid specs, credentials not rotated, drift)."""

    alerts_topic_arn: str = var("ALERTS_TOPIC_ARN", pattern=r"^arn:[\w-]+:sns:")


@dataclass(frozen=True, kw_only=True)
class ApiSettings(StarterSettings):
    """functions/api."""


@dataclass(frozen=True, kw_only=True)
class IntakeSettings(StarterSettings, AlertingSettings):
    """functions/spec_intake."""

    teardown_on_spec_delete: bool = var("TEARDOWN_ON_SPEC_DELETE", False)


@dataclass(frozen=True, kw_only=True)
class DriftSettings(StarterSettings, AlertingSettings):
    """functions/drift."""


@dataclass(frozen=True, kw_only=True)
class RotationSettings(AlertingSettings):
    """functions/rotate_credentials."""


@dataclass(frozen=True, kw_only=True)
class MonitorSettings(Settings):
    """The run monitor's functions (monitor_plan, monitor_registry, monitor_check, monitor_finish)."""

    topic_arn: str | None = var("ALERTS_TOPIC_ARN", None, doc="needed by the functions that send alerts")
    page_size: int = var("MONITOR_PAGE_SIZE", 200, ge=1, le=1000, doc="runs per GET /runs page")
    overlap_minutes: int = var("MONITOR_OVERLAP_MINUTES", 10, ge=0, le=24 * 60,
                               doc="how far before a shard's watermark a poll looks again, for runs AEP lists late")
    initial_lookback_minutes: int = var("MONITOR_INITIAL_LOOKBACK_MINUTES", 120, ge=1, le=7 * 24 * 60,
                                        doc="the first look back")
    # 100 ids of 36 characters keep the request line under 4 KB, well inside common gateway limits.
    flows_per_query: int = var("MONITOR_FLOWS_PER_QUERY", 100, ge=1, le=150,
                               doc="flow ids in one flowId==a,b,... filter")
    recheck_chunk: int = var("MONITOR_RECHECK_CHUNK", 50, ge=1, le=150, doc="run ids in one id==a,b,... re-check")
    shards: int = var("MONITOR_SHARDS", 64, ge=1, le=1024,
                      doc="state items per sandbox (changing it makes the next poll sync the registry into new, "
                          "empty shards)")
    flows_per_unit: int = var("MONITOR_FLOWS_PER_UNIT", 1000, ge=1,
                              doc="flows one check invocation takes on; a sandbox with more is split into more units")
    # 5,000: a segment of 25,000 records took 7-11 s to sync 10,000 flows on the local stack (one
    # segment; 1 MB Scan pages of records that carry their spec), where every function of a poll
    # is to stay under 10 s. 5,000 gives two segments of 5-7 s there, and for 100,000 flows 20
    # segments of 6-12 s each, run 16 at a time (it was 4 segments of 41-46 s).
    records_per_segment: int = var("MONITOR_RECORDS_PER_SEGMENT", 5_000, ge=1,
                                   doc="dataflow records one registry-sync invocation reads")
    registry_sync_minutes: int = var("MONITOR_REGISTRY_SYNC_MINUTES", 60, ge=1,
                                     doc="how often a poll re-reads every dataflow record to find flows it missed")
    lease_seconds: int = var("MONITOR_LEASE_SECONDS", 900, ge=1,
                             doc="how long a claimed alert belongs to its invocation when the invocation cannot say")

    def require_topic(self) -> str:
        if not self.topic_arn:
            raise SettingsError("monitor settings: ALERTS_TOPIC_ARN is not set")
        return self.topic_arn


@dataclass(frozen=True, kw_only=True)
class CommandSettings(_Model):
    """The `aepflow` command's: the API it calls when --api is not given."""

    api: str | None = var("AEPFLOW_API", None, max_length=2048)


M = TypeVar("M", bound=_Model)
_lock = threading.Lock()
_loaded: dict[type, Any] = {}


def load(model: type[M]) -> M:
    """The function's settings of `model`, read from the environment and checked the first time
    (SettingsError naming each wrong variable), the same object after."""
    with _lock:
        if model not in _loaded:
            values: dict[str, Any] = {}
            problems: list[str] = []
            for f in fields(model):
                env = f.metadata["env"]
                raw = os.environ.get(env, "")
                if raw == "":
                    if f.default is MISSING:
                        problems.append(f"{env}: is required")
                    continue
                try:
                    values[f.name] = _parse(f, raw)
                except ValueError as exc:
                    problems.append(f"{env}: {exc}")
            if problems:
                raise SettingsError(f"{model.__name__}: " + "; ".join(problems))
            _loaded[model] = model(**values)
        return _loaded[model]


def forget() -> None:
    """Read the environment again on next use (a cold start: aws.reset())."""
    with _lock:
        _loaded.clear()


def running_in_lambda() -> bool:
    """Whether this process is a Lambda function's (the runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def tracing_enabled() -> bool:
    """Powertools' own rule for X-Ray: on in a Lambda function (not under SAM local or Chalice)
    unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    if resolve_truthy_env_var_choice(env=os.environ.get(constants.TRACER_DISABLED_ENV, "false")):
        return False
    return bool(os.environ.get(constants.LAMBDA_TASK_ROOT_ENV)) and not (
        os.environ.get(constants.SAM_LOCAL_ENV) or os.environ.get(constants.CHALICE_LOCAL_ENV))
