"""How the end-to-end suite is switched on and off (docs/e2e.md).

- A test marked `e2e` needs a deployed stack, named by AEPFLOW_E2E_STACK (`make e2e STACK=name` sets
  it). Without it the test is skipped, with the reason, at collection, so none of its fixtures runs and
  nothing reaches the network: `make test` (CI has no network but 127.0.0.1) runs this folder's offline
  tests and skips the rest.
- With it, tests/conftest.py's guard (sockets to loopback only) is lifted for this folder's tests, and
  put back after them: the stack is on AWS, and AEP is behind it. The guard is the only thing of the
  shared setup that stands in the way. The local stack's moto mock and its environment (fake keys,
  us-east-1) are module-scoped there and restored when a module's tests end; this suite uses no
  `stack` fixture, so they are not active during its tests. pytest-timeout's per-test bound
  (pyproject.toml: 180 s) is raised by each e2e test's own `timeout` marker."""

from __future__ import annotations

import _socket
import os
import socket

import pytest

STACK_VARIABLE = "AEPFLOW_E2E_STACK"
HOW_TO_RUN = (f"no deployed stack named: set {STACK_VARIABLE}=<stack name>, or run `make e2e STACK=<stack name>` "
              "(docs/e2e.md)")


def stack_name() -> str:
    return os.environ.get(STACK_VARIABLE, "").strip()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"e2e: needs a deployed aepflow stack named by {STACK_VARIABLE} "
                                       "(tests/e2e, docs/e2e.md); skipped without it")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if stack_name():
        return
    skip = pytest.mark.skip(reason=HOW_TO_RUN)
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


@pytest.fixture(scope="package", autouse=True)
def _network_for_the_deployed_stack():
    """The real socket connect while this folder's tests run against a named stack; the guard again after."""
    if not stack_name():
        yield
        return
    saved = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect, socket.socket.connect_ex = _socket.socket.connect, _socket.socket.connect_ex
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = saved


@pytest.fixture(scope="session")
def e2e_stack() -> str:
    return stack_name()
