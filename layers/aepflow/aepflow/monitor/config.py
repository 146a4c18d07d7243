"""The run monitor's settings, read once from the environment and refused when wrong (a bad
integer fails the cold start instead of being silently replaced by a default)."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class MonitorConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(min_length=1, description="DATAFLOWS_TABLE")
    topic_arn: str | None = Field(default=None, description="ALERTS_TOPIC_ARN (needed to send alerts)")
    page_size: int = Field(default=200, ge=1, le=1000, description="MONITOR_PAGE_SIZE: runs per GET /runs page")
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60, description="MONITOR_OVERLAP_MINUTES: how far "
                                 "before a shard's watermark a poll looks again, for runs AEP lists late")
    initial_lookback_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60,
                                          description="MONITOR_INITIAL_LOOKBACK_MINUTES: the first look back")
    # 100 ids of 36 characters keep the request line under 4 KB, well inside common gateway limits.
    flows_per_query: int = Field(default=100, ge=1, le=150,
                                 description="MONITOR_FLOWS_PER_QUERY: flow ids in one flowId==a,b,... filter")
    recheck_chunk: int = Field(default=50, ge=1, le=150,
                               description="MONITOR_RECHECK_CHUNK: run ids in one id==a,b,... re-check")
    shards: int = Field(default=64, ge=1, le=1024, description="MONITOR_SHARDS: state items per sandbox "
                        "(changing it makes the next poll sync the registry into new, empty shards)")
    flows_per_unit: int = Field(default=1000, ge=1, description="MONITOR_FLOWS_PER_UNIT: flows one "
                                "check invocation takes on; a sandbox with more is split into more units")
    # 5,000: a segment of 25,000 records took 7-11 s to sync 10,000 flows on the local stack (one
    # segment; 1 MB Scan pages of records that carry their spec), where every function of a poll
    # is to stay under 10 s. 5,000 gives two segments of 5-7 s there, and for 100,000 flows 20
    # segments of 6-12 s each, run 16 at a time (it was 4 segments of 41-46 s).
    records_per_segment: int = Field(default=5_000, ge=1, description="MONITOR_RECORDS_PER_SEGMENT: "
                                     "dataflow records one registry-sync invocation reads")
    registry_sync_minutes: int = Field(default=60, ge=1, description="MONITOR_REGISTRY_SYNC_MINUTES: how "
                                       "often a poll re-reads every dataflow record to find flows it missed")
    lease_seconds: int = Field(default=900, ge=1, description="MONITOR_LEASE_SECONDS: how long a claimed "
                               "alert belongs to its invocation when the invocation cannot say")

    @classmethod
    def from_env(cls) -> "MonitorConfig":
        env = os.environ
        names = {"page_size": "MONITOR_PAGE_SIZE", "overlap_minutes": "MONITOR_OVERLAP_MINUTES",
                 "initial_lookback_minutes": "MONITOR_INITIAL_LOOKBACK_MINUTES",
                 "flows_per_query": "MONITOR_FLOWS_PER_QUERY", "recheck_chunk": "MONITOR_RECHECK_CHUNK",
                 "shards": "MONITOR_SHARDS", "flows_per_unit": "MONITOR_FLOWS_PER_UNIT",
                 "records_per_segment": "MONITOR_RECORDS_PER_SEGMENT",
                 "registry_sync_minutes": "MONITOR_REGISTRY_SYNC_MINUTES", "lease_seconds": "MONITOR_LEASE_SECONDS"}
        values: dict[str, object] = {k: env[v] for k, v in names.items() if env.get(v, "") != ""}
        values["table_name"] = env.get("DATAFLOWS_TABLE", "")
        values["topic_arn"] = env.get("ALERTS_TOPIC_ARN") or None
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            by_var = {**names, "table_name": "DATAFLOWS_TABLE", "topic_arn": "ALERTS_TOPIC_ARN"}
            problems = "; ".join(f"{by_var.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"monitor settings: {problems}") from None

    def require_topic(self) -> str:
        if not self.topic_arn:
            raise ValueError("monitor settings: ALERTS_TOPIC_ARN is not set")
        return self.topic_arn


# Margin past an invocation's own deadline before another invocation may re-publish an alert it
# claimed (see aepflow.alerts): a living invocation is never overtaken.
LEASE_MARGIN_SECONDS = 60


def lease_seconds(context) -> float:
    """How long the alerts this Lambda invocation claims stay its own."""
    return context.get_remaining_time_in_millis() / 1000 + LEASE_MARGIN_SECONDS
