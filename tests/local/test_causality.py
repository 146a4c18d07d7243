"""local/causality.py: the order of AEP requests read from the program's synchronisation. A
branch that starts late (as a busy machine makes one) still overlaps its sibling; a request
made after a join, a future's result or an event is one step later."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from aepflow.aep.transport import HttpSession
from local.causality import CausalRequests, tracing
from local.results import longest_sequential_chain
from local.stack import emulator_running

CONNECTIONS = "/data/foundation/flowservice/connections"


def run_together(*targets) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_only_the_programs_own_ordering_makes_a_request_wait_for_another():
    with emulator_running(client_secret="causality-test-secret") as emu, \
            tracing(CausalRequests(emu.base_url)) as log:
        def get() -> None:
            HttpSession().request("GET", emu.base_url + CONNECTIONS, timeout=(5, 5))

        def late() -> None:
            time.sleep(0.05)  # starts after its sibling's request has ended
            get()

        run_together(get, late)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(get), pool.submit(late)]:
                future.result()
        handed = threading.Event()

        def first() -> None:
            get()
            handed.set()

        def second() -> None:
            assert handed.wait(5)
            get()

        run_together(second, first)
        get()
    assert len(log.requests) == len(emu.records) == 7
    assert sorted(r["startedAt"] for r in log.requests) == [0, 0, 1, 1, 2, 3, 4]
    assert longest_sequential_chain(log.requests) == 5
