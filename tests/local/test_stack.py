"""The local stack's own guarantees: nothing a test started reaches the next test's stack,
work that does not finish fails loudly, and waits for time to pass are emulated."""

import threading
import time

import pytest

from aepflow.aep.client import aep_client
from aepflow.core.errors import AepError
from local.examples import example
from local.stack import LeakedWork


def test_an_execution_left_running_ends_against_its_own_emulator_not_the_next_one(stack):
    stack.start_provisioning(example("004"))  # not waited for, as test_concurrent_claims once did
    first = stack.emulator
    stack.reset()
    assert stack.busy() == []
    # Everything the execution sent went to the emulator of its own stack, up to its last step.
    assert [r["path"] for r in first.records if r["method"] == "POST"][-1].endswith("/flows")
    assert stack.emulator is not first and stack.emulator.records == []


def test_work_still_running_past_the_bound_is_stopped_and_fails_loudly(stack, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    invoke = stack._invoke_now

    def stuck(function_name, body, headers):
        entered.set()
        assert release.wait(60)
        return invoke(function_name, body, headers)

    monkeypatch.setattr(stack, "_invoke_now", stuck)
    arn = stack.start_provisioning(example("004"))
    assert entered.wait(60)  # the execution is inside its first step, however busy the machine is
    with pytest.raises(LeakedWork) as leaked:
        stack.settle(timeout=0.2)
    assert arn in str(leaked.value)
    release.set()
    stack.settle()
    assert stack.wait(arn)["status"] == "ABORTED"


@pytest.mark.stack(seed=4)  # this seed's faults answer 429 three times out of five
def test_a_retry_waits_on_the_emulated_clock_as_long_as_retry_after_asks(stack, monkeypatch):
    client = aep_client()
    client.tokens.token()  # before the faults: IMS answers
    stack.emulator.set_faults(fault_rate=1.0)
    real_sleeps: list[float] = []
    sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: (real_sleeps.append(seconds), sleep(seconds)))
    with pytest.raises(AepError):
        client.get("flowservice", "/connectionSpecs")
    statuses = [r["status"] for r in stack.emulator.records][-5:]
    assert statuses.count(429) == 3, statuses
    assert len(stack.clock.sleeps) == 5  # a backoff after each failed attempt
    for status, waited in zip(statuses, stack.clock.sleeps, strict=True):  # each attempt, then its backoff
        if status == 429:
            assert waited >= 1.0  # the emulator's Retry-After: 1
    assert [s for s in real_sleeps if s > 0] == []
