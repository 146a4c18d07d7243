"""A corpus of hostile spec documents, each with the field path and the words its refusal must
carry. Every door (the CLI, the API, the bucket, custom events) is tried with all of them:
DOCUMENTS are refused by the document reader, SPECS (valid documents but for one field) by the
spec's own checks; ALL is both."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    path: str
    says: str


def _spec(extra: str = "") -> bytes:
    """A spec that would be valid, but for what `extra` adds at the end."""
    return (b"name: acme-hostile\nsource:\n  connector: oracle\n  credentialsSecret: aep/sources/acme-oracle\n"
            b"  table: HR.EMPLOYEES\ntarget:\n  schema: {id: 'https://ns.adobe.com/acme/schemas/x'}\n"
            b"  dataset: {id: 5c8c3c555033b814b69f947f}\nmapping:\n  - {source: ID, destination: _acme.id}\n"
            b"deltaColumn: {name: UPDATED}\nschedule: {frequency: hour, interval: 1, startTime: 1612310466}\n"
            + extra.encode())


_BILLION_LAUGHS = (b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
                   b"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                   b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                   b"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n")

DOCUMENTS: list[Hostile] = [
    Hostile("alias-bomb", _BILLION_LAUGHS, "a", "anchors"),
    Hostile("alias-without-anchor-use", _spec("description: *nothing\n"), "description", "aliases"),
    Hostile("merge-key", _spec("alerts:\n  <<: {stuckAfterMinutes: 1}\n"), "alerts", "merge keys"),
    Hostile("deep-json", b"[" * 100_000 + b"]" * 100_000, "(document)", "larger than"),
    Hostile("deep-json-small", b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "(document)", "nested deeper"),
    Hostile("deep-yaml-flow", b"name: " + b"[" * 10_000 + b"]" * 10_000, "name" + "[0]" * 19, "nested deeper"),
    Hostile("deep-yaml-block", b"".join(b"  " * i + b"k:\n" for i in range(40)), ".".join(["k"] * 20), "nested deeper"),
    Hostile("too-large", _spec("description: '" + "x" * 70_000 + "'\n"), "(document)", "larger than"),
    Hostile("empty", b"", "(document)", "empty"),
    Hostile("whitespace", b"  \n\t\n", "(document)", "empty"),
    Hostile("null-document", b"~\n", "(document)", "not null"),
    Hostile("json-array", b'[{"name": "acme-hostile"}]', "(document)", "not a list"),
    Hostile("scalar", b"just text", "(document)", "not a str"),
    Hostile("two-documents", _spec("---\nname: other\n"), "(document)", "more than one"),
    Hostile("malformed-yaml", b"name: [unclosed\nsource: {\n", "(document)", "not YAML or JSON"),
    Hostile("malformed-json", b'{"name": "acme-hostile", "source": {]}', "(document)", "not JSON"),
    Hostile("utf-16", _spec().decode().encode("utf-16"), "(document)", "UTF-16"),
    Hostile("utf-16-no-bom", _spec().decode().encode("utf-16-le"), "(document)", "UTF-16"),
    Hostile("latin-1", _spec("description: caf\xe9\n".encode().decode()).replace(b"\xc3\xa9", b"\xe9"),
            "(document)", "not UTF-8"),
    Hostile("binary-tag", _spec("description: !!binary aGVsbG8=\n"), "description", "tags"),
    Hostile("timestamp-tag", _spec("description: !!timestamp 2021-02-03\n"), "description", "tags"),
    Hostile("python-tag", b"name: !!python/object/apply:os.system ['id']\n", "name", "tags"),
    Hostile("local-tag", _spec("description: !shout hello\n"), "description", "tags"),
    Hostile("duplicate-key", _spec("schedule: {frequency: day, interval: 1, startTime: 1612310466}\n"), "schedule",
            "duplicate key"),
    Hostile("duplicate-nested-key", b"name: a\nsource:\n  table: X\n  table: Y\n", "source.table", "duplicate key"),
    Hostile("duplicate-json-key", b'{"name": "a", "target": {"dataset": {"id": "1", "id": "2"}}}', "target.dataset.id",
            "duplicate key"),
    Hostile("integer-key", _spec("1: one\n"), "(document)", "must be text"),
    Hostile("boolean-key", _spec("true: yes\n"), "(document)", "must be text"),
    Hostile("complex-key", _spec("? [a, b]\n: c\n"), "(document)", "must be text"),
    Hostile("nul-in-yaml", _spec("description: a\x00b\n"), "description", "control character"),
    Hostile("esc-in-yaml", _spec("description: \x1b[31mred\x1b[0m\n"), "description", "control character"),
    Hostile("nul-escape-in-json", b'{"name": "acme-hostile", "description": "a\\u0000b"}', "description",
            "control character"),
    Hostile("esc-escape-in-json", b'{"name": "a\\u001b[2J"}', "name", "control character"),
    Hostile("control-in-key", b'{"na\\u0007me": "x"}', "(document)", "control character"),
    Hostile("lone-surrogate", b'{"name": "\\ud800"}', "name", "surrogate"),
    Hostile("huge-integer-yaml", _spec("alerts: {stuckAfterMinutes: " + "9" * 5000 + "}\n"),
            "alerts.stuckAfterMinutes", "too large"),
    Hostile("huge-integer-json", b'{"schedule": {"interval": 1' + b"0" * 30 + b"}}", "schedule.interval", "too large"),
    Hostile("int64-overflow", b'{"schedule": {"interval": 9223372036854775808}}', "schedule.interval", "too large"),
    Hostile("nan-json", b'{"alerts": {"failedRecordsPercent": NaN}}', "alerts.failedRecordsPercent", "NaN"),
    Hostile("infinity-json", b'{"alerts": {"failedRecordsPercent": -Infinity}}', "alerts.failedRecordsPercent",
            "Infinity"),
    Hostile("float-overflow-json", b'{"alerts": {"failedRecordsPercent": 1e999}}', "alerts.failedRecordsPercent",
            "not finite"),
    Hostile("inf-yaml", _spec("alerts: {failedRecordsPercent: .inf}\n"), "alerts.failedRecordsPercent", "not finite"),
]


def _valid() -> dict:
    import yaml

    return yaml.safe_load(_spec())


def _with(path: str, value) -> bytes:
    """The valid spec with `value` at the dotted `path`, as JSON (so that every type survives)."""
    import json

    spec = _valid()
    cursor = spec
    keys = path.split(".")
    for key in keys[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[keys[-1]] = value
    return json.dumps(spec).encode()


# Traversal and injection in every id and name, and type confusion: each a valid spec but for one field.
SPECS: list[Hostile] = [
    Hostile("dataset-id-traversal", _with("target.dataset.id", "../../flowservice/flows"), "target.dataset.id",
            "24 hexadecimal"),
    Hostile("dataset-id-query", _with("target.dataset.id", "5c8c3c555033b814b69f947f?properties=x&limit=1"),
            "target.dataset.id", "24 hexadecimal"),
    Hostile("schema-id-traversal", _with("target.schema.id", "https://ns.adobe.com/acme/schemas/../../x"),
            "target.schema.id", "tenant schema"),
    Hostile("schema-id-elsewhere", _with("target.schema.id", "https://evil.example/acme/schemas/abc"),
            "target.schema.id", "tenant schema"),
    Hostile("base-connection-traversal", _with("source.baseConnectionId", "../connections"),
            "source.baseConnectionId", "UUID"),
    Hostile("base-connection-query", _with("source.baseConnectionId",
                                           "6990abad-977d-41b9-a85d-17ea8cf1c0e4?limit=1"), "source.baseConnectionId",
            "UUID"),
    Hostile("connection-spec-injection", _with("source.connectionSpecId", "x/../../flows"),
            "source.connectionSpecId", "UUID"),
    Hostile("class-traversal", _with("target.schema", {"create": {"title": "t", "class": "https://ns.adobe.com/../x"}}),
            "target.schema.create.class", "XDM class"),
    Hostile("field-group-elsewhere", _with("target.schema", {"create": {"title": "t", "class": (
        "https://ns.adobe.com/xdm/context/profile"), "fieldGroups": ["http://127.0.0.1/x"]}}),
            "target.schema.create.fieldGroups[0]", "XDM class"),
    Hostile("name-traversal", _with("name", "../acme"), "name", "lower-case"),
    Hostile("name-too-long", _with("name", "a" * 65), "name", "lower-case"),
    Hostile("sandbox-injection", _with("sandbox", "prod?x=1"), "sandbox", "sandbox name"),
    Hostile("flow-spec-injection", _with("source.flowSpec", "CRMToAEP&property=x"), "source.flowSpec",
            "flow spec name"),
    Hostile("secret-outside-prefix", _with("source.credentialsSecret", "aepflow/aep-credentials"),
            "source.credentialsSecret", "own AEP credentials"),
    Hostile("secret-traversal", _with("source.credentialsSecret", "aep/sources/../../aepflow/aep-credentials"),
            "source.credentialsSecret", ".."),
    Hostile("namespace-injection", _with("mapping", [{"source": "ID", "destination": "_acme.id", "identity": True,
                                                      "namespaceCode": "Email/../x"}]),
            "mapping[0].namespaceCode", "namespace code"),
    Hostile("interval-as-text", _with("schedule.interval", "15"), "schedule.interval", "valid integer"),
    Hostile("interval-as-boolean", _with("schedule.interval", True), "schedule.interval", "valid integer"),
    Hostile("interval-as-float", _with("schedule.interval", 15.5), "schedule.interval", "valid integer"),
    Hostile("interval-enormous", _with("schedule.interval", 10 ** 15), "schedule.interval", "less than or equal"),
    Hostile("start-time-as-date", _with("schedule.startTime", "2021-02-03T00:00:00Z"), "schedule.startTime",
            "give epoch seconds, e.g. 1612310400"),
    Hostile("start-time-in-ms", _with("schedule.startTime", 1612310466000), "schedule.startTime", "milliseconds"),
    Hostile("start-time-negative", _with("schedule.startTime", -1), "schedule.startTime", "greater than or equal"),
    Hostile("enabled-as-text", _with("enabled", "yes"), "enabled", "valid boolean"),
    Hostile("enabled-as-number", _with("enabled", 1), "enabled", "valid boolean"),
    Hostile("table-as-number", _with("source.table", 2024), "source.table", "valid string"),
    Hostile("mapping-not-a-list", _with("mapping", {"source": "ID"}), "mapping", "valid list"),
    Hostile("percent-as-text", _with("alerts.failedRecordsPercent", "1"), "alerts.failedRecordsPercent",
            "valid number"),
    Hostile("description-too-long", _with("description", "x" * 1001), "description", "at most 1000"),
    Hostile("unknown-field", _with("surprise", 1), "surprise", "unknown field 'surprise'"),
    # Text that reads one way and is another (bidirectional overrides, zero-width characters).
    Hostile("bidi-override-in-description", _with("description", "invoice \u202egnp.exe"), "description",
            "bidirectional control character U+202E"),
    Hostile("zero-width-in-resource-name", _with("resources", {"flow": {"name": "acme\u200bflow"}}),
            "resources.flow.name", "U+200B"),
    Hostile("bidi-isolate-in-title", _with("target.schema", {"create": {"title": "t\u2066x", "class": (
        "https://ns.adobe.com/xdm/context/profile")}}), "target.schema.create.title", "U+2066"),
    Hostile("bom-in-column", _with("source.columns", [{"name": "\ufeffID"}]), "source.columns[0].name", "U+FEFF"),
]

ALL: list[Hostile] = DOCUMENTS + SPECS


def refused(problems: list[dict], path: str, says: str) -> bool:
    """Whether a refusal's problems name `path` with a message that says `says`."""
    return any(p["path"] == path and says in p["message"] for p in problems)
