"""Shared test setup: the repo and the layer on sys.path, and no network but loopback."""

import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (str(ROOT), str(ROOT / "layers" / "aepflow")):
    if path not in sys.path:
        sys.path.insert(0, path)

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in _LOOPBACK:
            raise ConnectionRefusedError(f"tests may only reach 127.0.0.1, not {host}")


def _guarded_connect(self, address):
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


# --- the local stack ------------------------------------------------------------------------------
# One LocalStack per test module, reset before each test that asks for `stack`: a reset is a
# fresh stack (new emulator, every moto backend emptied, template.yaml's resources made
# again) for a tenth of what building one costs. Arguments of LocalStack(...) go in a marker:
#
#     @pytest.mark.stack(fault_rate=0.2, seed=7)
#     def test_with_faults(stack): ...
#
# Nothing a test starts may outlive it: after the test, the stack waits (bounded) for its
# executions, interpreter threads and Lambda invocations, and fails the test if any is left.
import pytest  # noqa: E402


@pytest.fixture(scope="module")
def module_stack():
    from local.stack import LocalStack

    with LocalStack() as shared:
        shared.handed_out = False
        yield shared


@pytest.fixture
def stack(request, module_stack):
    marker = request.node.get_closest_marker("stack")
    kwargs = dict(marker.kwargs) if marker else {}
    if module_stack.handed_out or kwargs:
        module_stack.reset(**kwargs)
    module_stack.handed_out = True
    yield module_stack
    module_stack.settle()


def pytest_collection_modifyitems(items):
    """Each test carries the marker of its folder: -m unit, -m local, -m integration."""
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in ("unit", "local", "integration"):
            item.add_marker(folder)
