"""What the run monitor alerts on for a dataflow: the spec's `alerts` (spec.DataflowSpec.alerts),
in a module of its own so that the monitor, which reads them from each dataflow's record, does not
import the whole spec."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Alerts(BaseModel):
    """What the run monitor alerts on for this dataflow."""

    # As every model of the spec (spec._Model): strict, nothing unknown, built when first needed.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)

    failedRecordsPercent: float = Field(default=0.5, ge=0, le=100, description=(
        "A successful run with more failed records than this percentage of its input is `partial`"),
        examples=[1.0])
    stuckAfterMinutes: int = Field(default=150, ge=1, le=10_080, description=(
        "A run still in progress after this many minutes is `stuck`"), examples=[180])
    notifyRecovered: bool = Field(default=False, description="Also alert on the first success after a failure",
                                  examples=[False])
