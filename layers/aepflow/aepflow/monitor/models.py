"""What the monitor's steps pass each other through the "Poll the runs" state machine
(statemachine/monitor_poll.asl.json), each bounded and typed: the plan, a unit of work, a
registry segment, and the reports they return."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A sandbox name as the spec gives it (lower-case letters, digits, dashes), or the default one.
SANDBOX_KEY = r"^(\(default\)|[a-z0-9][a-z0-9-]{0,99})$"
MAX_UNITS = 4096
MAX_SEGMENTS = 64


class _Model(BaseModel):
    # defer_build: each monitor function builds the few of these models it uses, on its first event.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Unit(_Model):
    """A sandbox's shards first..last (inclusive): what one check invocation takes on."""
    sandbox: str = Field(pattern=SANDBOX_KEY)
    shards: int = Field(ge=1, le=1024)
    first: int = Field(ge=0, le=1023)
    last: int = Field(ge=0, le=1023)
    wm: int | None = Field(default=None, ge=0)  # the sandbox's watermark: its runs started at or before it were handled


class Segment(_Model):
    """One segment of a parallel Scan of the Dataflows index, for a registry sync."""
    segment: int = Field(ge=0, lt=MAX_SEGMENTS)
    segments: int = Field(ge=1, le=MAX_SEGMENTS)
    now: int = Field(ge=0)

    @model_validator(mode="after")
    def _segment_of_segments(self) -> "Segment":
        if self.segment >= self.segments:  # DynamoDB's parallel Scan numbers segments 0..segments-1
            raise ValueError(f"segment {self.segment} is not one of 0..{self.segments - 1}")
        return self


class SegmentReport(_Model):
    segment: int = 0
    records: int = 0                                                   # dataflow records read
    flows: dict[str, int] = Field(default={})               # ACTIVE flows per sandbox
    shards_written: int = 0
    duration_ms: float = 0.0


class PlanEvent(_Model):
    """The schedule's input ({"time": <aws.scheduler.scheduled-time>}); on the second pass of
    a poll that synced its registry, the first pass's plan (its `now`) and what every segment
    found."""
    time: datetime | None = None
    now: int | None = Field(default=None, ge=0)
    synced: list[SegmentReport] | None = Field(default=None, max_length=MAX_SEGMENTS)


class PlanResult(_Model):
    now: int
    startedAt: int                                                   # wall clock, epoch ms
    syncDue: bool = False                                             # sync the registry first
    sync: list[Segment] = Field(default=[], max_length=MAX_SEGMENTS)
    units: list[Unit] = Field(default=[], max_length=MAX_UNITS)
    synced: bool = False
    alerts_retried: int = 0
    publish_errors: int = 0
    alerts_sent: dict[str, int] = Field(default={})


class CheckEvent(_Model):
    unit: Unit
    now: int = Field(ge=0)


class Tally(_Model):
    """What a check did (a unit's report), or every check of a poll added up."""
    flows: int = 0
    flows_dropped: int = 0                                            # records gone, or no longer ACTIVE
    runs_seen: int = 0
    runs_by_status: dict[str, int] = Field(default={})
    problems: dict[str, int] = Field(default={})          # found (claimed or not)
    alerts_sent: dict[str, int] = Field(default={})       # published
    alerts_already_claimed: int = 0
    publish_errors: int = 0
    in_progress: int = 0
    pages: int = 0
    recheck_chunks: int = 0
    aep_calls: int = 0                                               # logical requests
    aep_attempts: int = 0                                            # including retries
    malformed_runs: int = 0
    records_read: int = 0                                            # dataflow records read
    records_ingested: int = 0
    records_failed: int = 0
    shards_written: int = 0
    watermark_before: int | None = None                              # the (oldest) sandbox watermark read
    watermark_after: int | None = None                               # the newest run start seen
    duration_ms: float = 0.0


class UnitReport(Tally):
    sandbox: str = ""
    first: int = 0
    last: int = 0
    failed: str | None = None                                        # the error, when the check failed


class FinishEvent(PlanResult):
    """The plan, with the report of every unit."""
    reports: list[UnitReport] = Field(default=[], max_length=MAX_UNITS)


class PollReport(Tally):
    now_ms: int
    sandboxes: list[str]
    units: int = 0
    units_failed: int = 0
    failures: dict[str, int] = Field(default={})           # error -> units
    error: str | None = None                                         # when units failed: the commonest error
    cause: str | None = None
    registry_synced: bool = False
    alerts_retried: int = 0                                          # pending alerts taken over by the sweep
    slowest_unit_ms: float = 0.0
