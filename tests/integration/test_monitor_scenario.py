"""The run monitor end to end on the local stack: many managed flows, runs of every outcome,
polls that overlap, AEP faults; every expected problem alerted exactly once."""

from pathlib import Path

from local.monitor_scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]


# What may fail a poll when AEP keeps answering 429/5xx past the client's retries; nothing else may.
AEP_FAILURES = ("monitor poll failed: AepServerError:", "monitor poll failed: AepThrottled:",
                "monitor poll failed: AepTimeout:")


def _check(summary: dict) -> None:
    assert summary["duplicates"] == 0 and summary["missed"] == 0 and summary["unexpected"] == 0, summary
    assert summary["alertsSent"] == summary["problemsExpected"]
    for kind in ("failed", "partial", "stuck"):
        assert summary["problemsExpected"].get(kind, 0) > 0, kind


def test_every_problem_is_alerted_exactly_once_across_overlapping_polls(stack):
    # One seed here; test_local_commands runs the scenario with another (4), and the faults test a third.
    with Scenario(flows=60, runs_per_flow=2, seed=1, stack=stack, shards=8) as scenario:
        summary = scenario.run()
        runs_in_emulator = len(scenario.stack.emulator.dump_state()["runs"])
    _check(summary)
    assert summary["pollsFailed"] == 0, summary["pollFailures"]  # no fault injected: every poll succeeds
    assert summary["runs"] == runs_in_emulator
    # Calls grow with the pages of new runs and the in-progress re-checks, not with the flows.
    for calls, pages, chunks in zip(summary["aepCallsPerPoll"], summary["pagesPerPoll"],
                                    summary["recheckChunksPerPoll"], strict=True):
        assert calls <= pages + chunks + 1
        assert calls < summary["flows"] / 10


def test_faults_do_not_cause_duplicates_or_misses(stack):
    with Scenario(flows=40, runs_per_flow=2, seed=5, faults=0.2, stack=stack, shards=8) as scenario:
        summary = scenario.run()
        statuses = [r["status"] for r in scenario.stack.emulator.records]
    assert any(s in (429, 500, 503, 504) for s in statuses)
    _check(summary)
    assert all(f.startswith(AEP_FAILURES) for f in summary["pollFailures"]), summary["pollFailures"]
