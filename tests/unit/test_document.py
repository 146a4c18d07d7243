"""The one way in for a spec document (aepflow.document.read): what it refuses, with which field
path, within a bounded time and memory; and, by property, that whatever it is given it either
returns a plain JSON tree or refuses with SpecInvalid, never anything else."""

import json
import time
import tracemalloc

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aepflow.core.errors import DocumentTooLarge, SpecInvalid
from aepflow.spec import document
from tests.hostile import DOCUMENTS


@pytest.mark.parametrize("case", DOCUMENTS, ids=[c.name for c in DOCUMENTS])
def test_a_hostile_document_is_refused_with_its_field_path_quickly_and_in_little_memory(case):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SpecInvalid) as refused:
            document.read(case.data)
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    [problem] = refused.value.problems
    assert problem["path"] == case.path, problem
    assert case.says in problem["message"], problem
    assert elapsed < 0.5 and peak < 8_000_000, (elapsed, peak)


def test_the_size_limit_is_its_own_error_so_the_api_can_answer_413():
    with pytest.raises(DocumentTooLarge):
        document.read(b"a: " + b"x" * document.MAX_DOCUMENT_BYTES)
    with pytest.raises(DocumentTooLarge):
        document.read({"a": "x" * document.MAX_DOCUMENT_BYTES})


def test_yaml_plain_scalars_follow_the_yaml_1_2_core_schema():
    tree = document.read(b"a: yes\nb: NO\nc: on\nd: true\ne: 1:20\nf: 0x1F\ng: 1.5\nh: ~\ni: 2021-02-03\nj: '15'\n")
    assert tree == {"a": "yes", "b": "NO", "c": "on", "d": True, "e": "1:20", "f": 31, "g": 1.5, "h": None,
                    "i": "2021-02-03", "j": "15"}


def test_json_and_yaml_and_parsed_trees_read_the_same():
    spec = {"name": "x", "schedule": {"interval": 15, "backfill": True}, "mapping": [{"source": "a"}]}
    assert document.read(json.dumps(spec).encode()) == spec
    assert document.read(yaml.safe_dump(spec)) == spec
    assert document.read(spec) == spec
    assert document.read(b"\xef\xbb\xbf" + json.dumps(spec).encode()) == spec  # a UTF-8 BOM is fine
    assert document.read(b"{name: x, mapping: [{source: a}]}") == {"name": "x", "mapping": [{"source": "a"}]}


def test_json_only_refuses_what_only_yaml_would_accept():
    assert document.read(b'{"name": "x",}') == {"name": "x"}  # a YAML flow mapping
    with pytest.raises(SpecInvalid) as refused:
        document.read(b'{"name": "x",}', json_only=True)
    assert "not JSON" in refused.value.problems[0]["message"]


_json_leaf = st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1) | \
    st.floats(allow_nan=False, allow_infinity=False) | \
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]))
_trees = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=8), inner, max_size=4),
                      max_leaves=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: "\ufdd0" not in k), _trees, max_size=5))
def test_any_json_object_within_the_limits_reads_back_as_itself(tree):
    text = json.dumps(tree)
    try:
        read = document.read(text.encode())
    except SpecInvalid as refused:  # only for what the limits name
        assert refused.problems and all(p["path"] for p in refused.problems)
        return
    assert read == json.loads(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_read_as_a_plain_object_or_are_refused_with_a_path(data):
    try:
        tree = document.read(data)
    except SpecInvalid as refused:
        assert refused.problems and all(isinstance(p["path"], str) and p["message"] for p in refused.problems)
        return
    assert isinstance(tree, dict)
    json.dumps(tree, allow_nan=False)  # a plain JSON tree: nothing a YAML tag could have made


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a: &x 1\n", "b: *x\n", "c: !!binary aGk=\n", "d: [\n", "e: {f: 1, f: 2}\n",
                                 "<<: {g: 1}\n", "h: 2021-01-01T00:00:00Z\n", "i: .nan\n", "\x1b", "? [j]\n: k\n",
                                 "---\n", "l:\n  - m\n", "n: 99999999999999999999999\n"]), max_size=8))
def test_yaml_made_of_hostile_pieces_never_escapes_as_another_error(pieces):
    try:
        tree = document.read("".join(pieces).encode())
    except SpecInvalid as refused:
        assert refused.problems[0]["path"]
        return
    json.dumps(tree, allow_nan=False)
