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

The models are frozen classes whose fields say their variable and bounds (var()), checked by the
few lines below rather than by pydantic: the provisioning steps after validation import no pydantic
at all (tests/unit/test_spec_view.py), and pydantic with one model would add 0.06-0.07 s to each of
their cold starts (measured: pydantic's import 0.043-0.048 s, its first model 0.02 s), all of
aepflow's budget over its floor. Nor are they dataclasses: making nine of them took 9 ms of every
handler's import (bench coldstart --against). The rules are the ones pydantic would apply: the value's
type, its bounds, a pattern; an empty variable is an unset one."""

from __future__ import annotations

import os
import re
import threading
from typing import Any, ClassVar, TypeVar

from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice


class SettingsError(ValueError):
    """A variable of the function's environment is missing or wrong (the message names it)."""


MISSING: Any = object()
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class _Var:
    """A setting: the variable it is read from, its default (MISSING: required) and its bounds; its
    type is its annotation's (str, int, float or bool, or None with one of them)."""

    __slots__ = ("env", "default", "ge", "gt", "le", "min_length", "max_length", "pattern", "doc", "name", "kind",
                 "optional")

    def __init__(self, env: str, default: Any, bounds: dict[str, Any]) -> None:
        self.env, self.default = env, default
        self.ge, self.gt, self.le = bounds["ge"], bounds["gt"], bounds["le"]
        self.min_length, self.max_length = bounds["min_length"], bounds["max_length"]
        self.pattern, self.doc = bounds["pattern"], bounds["doc"]
        self.name, self.kind, self.optional = "", "str", False

    def __set_name__(self, owner: type, name: str) -> None:
        annotation = str(owner.__dict__.get("__annotations__", {}).get(name, "str"))
        self.name, self.kind, self.optional = name, annotation.replace(" | None", ""), "None" in annotation
        if self.kind not in ("str", "int", "float", "bool"):
            raise TypeError(f"{owner.__name__}.{name}: settings hold str, int, float and bool, not {annotation}")

    def parse(self, raw: str) -> Any:
        """The variable's text as the setting's type (ValueError saying why not)."""
        if self.kind == "int":
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"is not an integer: {raw[:40]!r}") from None
        if self.kind == "float":
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"is not a number: {raw[:40]!r}") from None
        if self.kind == "bool":
            if raw.strip().lower() in _TRUE + _FALSE:
                return raw.strip().lower() in _TRUE
            raise ValueError(f"is not true or false: {raw[:40]!r}")
        return raw

    def problem(self, value: Any) -> str | None:
        """Why a value breaks the setting's type or bounds, or None."""
        if value is None:
            return None if self.optional else "is required"
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    self.kind == "int" and not isinstance(value, int)):
                return f"must be {'an integer' if self.kind == 'int' else 'a number'}"
            if self.ge is not None and value < self.ge:
                return f"must be at least {self.ge}"
            if self.gt is not None and value <= self.gt:
                return f"must be more than {self.gt}"
            if self.le is not None and value > self.le:
                return f"must be at most {self.le}"
            return None
        if not isinstance(value, str if self.kind == "str" else bool):
            return f"must be {'text' if self.kind == 'str' else 'true or false'}"
        if isinstance(value, str):
            if self.min_length is not None and len(value) < self.min_length:
                return f"must be at least {self.min_length} characters"
            if self.max_length is not None and len(value) > self.max_length:
                return f"must be at most {self.max_length} characters"
            if self.pattern is not None and not re.match(self.pattern, value):
                return f"must match {self.pattern}"
        return None


def var(env: str, default: Any = MISSING, *, ge: float | None = None, gt: float | None = None,
        le: float | None = None, min_length: int | None = None, max_length: int | None = None,
        pattern: str | None = None, doc: str = "") -> Any:
    """A setting read from the variable `env` (required unless it has a default), with its bounds."""
    return _Var(env, default, {"ge": ge, "gt": gt, "le": le, "min_length": min_length, "max_length": max_length,
                               "pattern": pattern, "doc": doc})


class _Model:
    """Settings made from keyword values (load() reads them from the environment): every value
    checked against its setting's type and bounds however it was made, and frozen after."""

    _vars: ClassVar[dict[str, _Var]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, _Var] = {}
        for klass in reversed(cls.__mro__):  # a subclass's setting of a name wins
            found.update((name, value) for name, value in vars(klass).items() if isinstance(value, _Var))
        cls._vars = found

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(self._vars))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        for name, setting in self._vars.items():
            object.__setattr__(self, name, values.get(name, None if setting.default is MISSING else setting.default))
        self.__post_init__()

    def __post_init__(self) -> None:
        problems = [f"{s.env}: {p}" for s in self._vars.values() if (p := s.problem(getattr(self, s.name)))]
        problems += self._rules()
        if problems:
            raise SettingsError(f"{type(self).__name__}: " + "; ".join(problems))

    def _rules(self) -> list[str]:
        """Rules across settings (a model's own)."""
        return []

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: {name} cannot change")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted((k, repr(v)) for k, v in vars(self).items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class SecretBoundary(_Model):
    """Which secrets a spec may name (spec/secret_names.py): those under the source secrets' prefix,
    never aepflow's own. The functions read all three (Settings); the command line, which validates
    specs offline, holds them to the template's defaults unless its environment says otherwise."""

    source_secrets_prefix: str = var("SOURCE_SECRETS_PREFIX", "aep/sources/", min_length=1, max_length=256)
    credentials_secret: str = var("AEP_CREDENTIALS_SECRET", "aepflow/aep-credentials", min_length=1,
                                  max_length=2048)
    token_cache_secret: str | None = var("AEP_TOKEN_CACHE_SECRET", None, min_length=1, max_length=2048)


_URL = r"^https?://[^\s/]+(:\d+)?/?$"


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
        for name in ("platform_url", "ims_url"):
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, getattr(self, name).rstrip("/"))
        super().__post_init__()


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


class AlertingSettings(Settings):
    """Functions that publish alerts (invalid specs, credentials not rotated, drift)."""

    alerts_topic_arn: str = var("ALERTS_TOPIC_ARN", pattern=r"^arn:[\w-]+:sns:")


class FailedRecordsSettings(Settings):
    """Where the failed records of runs are kept: the monitor's check writes them, the API reads a
    run's summary (GET /dataflows/{name}/runs/{runId}/errors)."""

    failed_records_bucket: str | None = var("FAILED_RECORDS_BUCKET", None, max_length=63,
                                            pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                                            doc="the bucket the failed records of diagnostics-enabled flows' failed "
                                                "or partial runs are copied to (none: not copied)")


_BUCKET_NAME = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


class SourceBucketSettings(Settings):
    """Whose bucket policies aepflow may change so that Adobe's IAM role reads an S3 source's files
    (source.access: iam-role; aepflow.s3): the buckets the stack's S3SourceBuckets parameter lists, in
    the stack's own account, whose id every S3 call sends as ExpectedBucketOwner. Read by the function
    that adds the statements and by those that remove them (the roll-back, a delete by the API or the
    intake)."""

    s3_source_buckets: str | None = var("S3_SOURCE_BUCKETS", None, max_length=8192,
                                        pattern=rf"^{_BUCKET_NAME}(,{_BUCKET_NAME})*$",
                                        doc="the buckets, comma-separated, whose policy aepflow may change (none: "
                                            "an iam-role source is refused, with the statements to add by hand)")
    account_id: str | None = var("AEPFLOW_ACCOUNT_ID", None, pattern=r"^\d{12}$",
                                 doc="the stack's AWS account: a source bucket must be its (ExpectedBucketOwner)")

    def source_buckets(self) -> tuple[str, ...]:
        return tuple(self.s3_source_buckets.split(",")) if self.s3_source_buckets else ()


class GrantBucketReadSettings(SourceBucketSettings):
    """functions/grant_bucket_read: it changes bucket policies, so the account is required."""

    account_id: str = var("AEPFLOW_ACCOUNT_ID", pattern=r"^\d{12}$")


class RollBackSettings(SourceBucketSettings):
    """functions/roll_back: it removes what a failed execution added to a bucket's policy."""


class ApiSettings(StarterSettings, FailedRecordsSettings, SourceBucketSettings):
    """functions/api."""


class IntakeSettings(StarterSettings, AlertingSettings, SourceBucketSettings):
    """functions/spec_intake (a deleted spec's teardown removes its bucket statements)."""

    teardown_on_spec_delete: bool = var("TEARDOWN_ON_SPEC_DELETE", False)


class DriftSettings(StarterSettings, AlertingSettings):
    """functions/drift."""


class RotationSettings(AlertingSettings):
    """functions/rotate_credentials."""


class MonitorSettings(FailedRecordsSettings):
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
    retry_state_machine_arn: str | None = var("RETRY_STATE_MACHINE_ARN", None, pattern=r"^arn:[\w-]+:states:",
                                              doc="the state machine that re-triggers a failed run after its "
                                                  "policy's delay (none: failed runs are alerted, never re-run)")

    def require_topic(self) -> str:
        if not self.topic_arn:
            raise SettingsError("monitor settings: ALERTS_TOPIC_ARN is not set")
        return self.topic_arn


class MonitorEventsSettings(MonitorSettings):
    """functions/monitor_events (AEP's flow-run events): it sends alerts, so the topic is required."""

    alerts_topic_arn: str = var("ALERTS_TOPIC_ARN", pattern=r"^arn:[\w-]+:sns:")


class WebhookSettings(MonitorEventsSettings):
    """functions/monitor_webhook (AEP's flow-run events delivered by Adobe I/O Events to a webhook):
    where the public keys of its digital signatures are served (developer.adobe.com/events/docs/
    guides/sdk/sdk-signature-verification: static.adobeioevents.com; the local stack serves its own)."""

    public_keys_url: str = var("AEP_EVENTS_PUBLIC_KEYS_URL", "https://static.adobeioevents.com", pattern=_URL)
    keys_read_timeout: float = var("AEP_EVENTS_KEYS_READ_TIMEOUT", 5.0, gt=0, le=20)

    def __post_init__(self) -> None:
        if isinstance(self.public_keys_url, str):
            object.__setattr__(self, "public_keys_url", self.public_keys_url.rstrip("/"))
        super().__post_init__()

    def _rules(self) -> list[str]:
        url = self.public_keys_url
        if url.startswith("https://") or re.fullmatch(r"http://127\.0\.0\.1(:\d{1,5})?", url):
            return [*super()._rules()]
        return [*super()._rules(), "AEP_EVENTS_PUBLIC_KEYS_URL: https only (http for 127.0.0.1, the local stack)"]


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
            for setting in model._vars.values():
                raw = os.environ.get(setting.env, "")
                if raw == "":
                    if setting.default is MISSING:
                        problems.append(f"{setting.env}: is required")
                    continue
                try:
                    values[setting.name] = setting.parse(raw)
                except ValueError as exc:
                    problems.append(f"{setting.env}: {exc}")
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
