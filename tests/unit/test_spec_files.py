"""A file source's spec (Amazon S3): what AEP and S3 would refuse is refused before any call, with the
field path; what provisioning sends is what collect/cloud-storage.md and the S3 page show."""

import pytest

from aepflow.aep import bodies
from aepflow.core.errors import SpecInvalid
from aepflow.spec import files
from aepflow.spec.parse import parse_spec, resolve_source
from local.examples import example


def _problems(**source) -> dict[str, str]:
    raw = example("005")
    raw["source"].update(source)
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(raw)
    return {p["path"]: p["message"] for p in caught.value.problems}


@pytest.mark.parametrize(("fmt", "path", "words"), [
    ({"type": "json", "delimiter": ";"}, "source.format.delimiter", "delimited files only"),
    ({"type": "json", "encoding": "UTF-8"}, "source.format.encoding", "delimited files only"),
    ({"type": "parquet", "compression": "gzip"}, "source.format.compression", "delimited or JSON"),
    ({"type": "delimited", "compression": "zip"}, "source.format.compression", "did you mean"),
    ({"type": "delimited", "delimiter": ";;"}, "source.format.delimiter", "at most 1 character"),
    ({"type": "delimited", "delimiter": "\n"}, "source.format.delimiter", "cannot separate"),
    ({"type": "csv"}, "source.format.type", "type delimited"),
    ({"type": "delimited", "sep": ","}, "source.format.sep", "unknown field"),
    ("tabular", "source.format", "delimited, json or parquet"),
])
def test_a_format_option_the_file_type_does_not_take_is_refused_at_its_field(fmt, path, words):
    problems = _problems(format=fmt)
    assert words in problems[path], problems
    assert not any(p.endswith("FileFormat") or "FileFormat" in p for p in problems), problems


@pytest.mark.parametrize(("source", "field", "words"), [
    ({"path": "/other-bucket/orders/"}, "source.path", "outside the bucket"),
    ({"path": "s3://other-bucket/orders/"}, "source.path", "outside the bucket"),
    ({"path": "orders/../../secrets/"}, "source.path", ".. segment"),
    ({"path": "orders//x.csv"}, "source.path", "empty segment"),
    ({"path": "*/x.csv"}, "source.path", "only the file name"),
    ({"bucket": "Acme_Orders"}, "source.bucket", "not an S3 bucket name"),
    ({"bucket": "192.168.1.1"}, "source.bucket", "IP address"),
    ({"bucket": "ab"}, "source.bucket", "3 to 63"),
    ({"path": "orders/2024-05.csv", "recursive": True}, "source.recursive", "is one file"),
    ({"credentialsSecret": "aep/sources/acme-s3"}, "source", "give no credentialsSecret"),
    ({"table": "orders"}, "source.table", "takes no table"),
    ({"bucket": None}, "source.bucket", "needs bucket"),
    ({"authSpecName": "Access Key"}, "source.authSpecName", "IAMRole Based"),
])
def test_what_s3_or_aep_would_refuse_is_refused_with_its_field(source, field, words):
    problems = _problems(**source)
    assert words in problems.get(field, ""), problems


def test_a_delta_column_is_refused_for_the_flow_spec_has_no_copy():
    raw = example("005")
    raw["deltaColumn"] = {"name": "ordered_at"}
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(raw)
    assert [p["path"] for p in caught.value.problems] == ["deltaColumn"]
    assert "no Copy" in caught.value.problems[0]["message"]


def test_only_a_file_source_takes_a_bucket_path_or_format_options():
    raw = example("004")
    raw["source"].update(bucket="acme-orders-exports", access="iam-role", format={"type": "delimited"})
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(raw)
    paths = {p["path"] for p in caught.value.problems}
    assert {"source.bucket", "source.access", "source.format"} <= paths


@pytest.mark.parametrize(("path", "recursive", "params"), [
    ("orders/", None, {"path": "/acme-orders-exports/orders/", "type": "folder"}),
    ("orders/*.csv", True, {"path": "/acme-orders-exports/orders/*.csv", "type": "folder", "recursive": True}),
    ("orders/2024-05.csv", None, {"path": "/acme-orders-exports/orders/2024-05.csv", "type": "file"}),
])
def test_the_source_connection_sends_the_path_the_format_and_its_properties(path, recursive, params):
    raw = example("005")
    raw["source"].update(path=path, recursive=recursive, format={"type": "delimited", "delimiter": ";",
                                                                 "compression": "gzip"})
    raw["source"] = {k: v for k, v in raw["source"].items() if v is not None}
    spec = parse_spec(raw)
    resolved = resolve_source(spec)
    body = bodies.source_connection(spec, resolved, base_connection_id="b")
    assert body["params"] == params
    assert body["data"] == {"format": "delimited", "properties": {"columnDelimiter": ";", "compressionType": "gzip"}}
    assert (resolved.flowSpecName, resolved.needsDeltaColumn, resolved.authSpecName) == (
        "CloudStorageToAEP", False, "IAMRole Based")
    base = bodies.base_connection(spec, resolved, auth_spec_name=resolved.authSpecName,
                                  auth_params=bodies.iam_role_auth_params(spec))
    assert base["auth"] == {"specName": "IAMRole Based", "params": {"bucketName": "acme-orders-exports"}}


def test_a_json_file_is_a_sample_and_the_folder_of_a_path_is_its_prefix():
    raw = example("005")
    raw["source"]["format"] = "json"
    assert resolve_source(parse_spec(raw)).tabular is False
    assert [files.folder_of(p) for p in ("orders/", "orders/*.csv", "a/b/x.csv", "x.csv", "*.csv")] == [
        "orders/", "orders/", "a/b/", "", ""]


def test_a_file_preview_is_read_in_each_shape_adobe_prints_and_bounded():
    from aepflow.steps.files import MAX_COLUMNS, preview_columns

    flat = {"format": "flat", "schema": {"columns": [{"name": "Id", "type": "string"}, {"type": "x"}, "junk"]}}
    bare = [{"name": "Id", "type": "String"}, {"name": 7}]
    nested = {"format": "hierarchical", "schema": {"type": "object", "properties": {
        "person": {"type": "object", "properties": {"email": {"type": "string"}}}}}}
    assert [preview_columns(a) for a in (flat, bare, nested, "text", None)] == [
        ["Id"], ["Id"], ["person.email"], [], []]
    huge = [{"name": f"c{i}"} for i in range(MAX_COLUMNS + 500)]
    assert len(preview_columns(huge)) == MAX_COLUMNS
