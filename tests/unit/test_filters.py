"""source.filter (spec/filters.py): the readable filter compiled to filter.md's PQL JSON (every operator,
precedence, parentheses, quoting), refused with the character and what was expected there, bounded; and the
catalog's filterAtSource check a spec is held to before any AEP call."""

import pytest

from aepflow.core.errors import SpecInvalid
from aepflow.spec import filters
from aepflow.spec.connectors import CONNECTORS
from aepflow.spec.filters import FilterError, compile_filter, compile_value
from aepflow.spec.parse import parse_spec


def field(name):
    return {"nodeType": "fieldLookup", "fieldName": name}


def cmp(op, name, value):
    return {"nodeType": "fnApply", "fnName": op, "params": [field(name), {"nodeType": "literal", "value": value}]}


def fn(op, *params):
    return {"nodeType": "fnApply", "fnName": op, "params": list(params)}


def test_the_pages_first_example_compiles_to_the_document_it_prints():
    assert compile_filter('city = "DDN"') == {"type": "PQL", "format": "pql/json", "value": cmp("=", "city", "DDN")}


@pytest.mark.parametrize(("text", "value"), [
    ("age == 20", cmp("=", "age", 20)),
    ("age != 20", cmp("!=", "age", 20)),
    ("age <> 20", cmp("!=", "age", 20)),
    ("age < 20.5", cmp("<", "age", 20.5)),
    ("age <= -3", cmp("<=", "age", -3)),
    ("age > 1e3", cmp(">", "age", 1000.0)),
    ("age >= 0", cmp(">=", "age", 0)),
    ('firstname LIKE "%s"', cmp("like", "firstname", "%s")),
    ("firstname in ('Ramen', \"John\")", cmp("in", "firstname", ["Ramen", "John"])),
    ("complaint_type is null", fn("isNull", field("complaint_type"))),
    ("complaint_type IS NOT NULL", fn("NOT", fn("isNull", field("complaint_type")))),
    ('city not like "M%"', fn("NOT", cmp("like", "city", "M%"))),
    ("city not in (1, 2)", fn("NOT", cmp("in", "city", [1, 2]))),
    ("active = true and deleted = FALSE", fn("and", cmp("=", "active", True), cmp("=", "deleted", False))),
    ("`first name` = 'O\\'Brien'", cmp("=", "first name", "O'Brien")),
    ('`a``b` = "say \\"hi\\""', cmp("=", "a`b", 'say "hi"')),
    ("Account.Name = 'x'", cmp("=", "Account.Name", "x")),
    ("`in` = 1", cmp("=", "in", 1)),
])
def test_every_operator_and_quoting(text, value):
    assert compile_value(text) == value


def test_not_binds_tighter_than_and_than_or_and_parentheses_group():
    a, b, c = cmp("=", "a", 1), cmp("=", "b", 2), cmp("=", "c", 3)
    assert compile_value("a = 1 or b = 2 and not c = 3") == fn("or", a, fn("and", b, fn("NOT", c)))
    assert compile_value("(a = 1 or b = 2) and c = 3") == fn("and", fn("or", a, b), c)
    assert compile_value("not (a = 1 or b = 2)") == fn("NOT", fn("or", a, b))
    assert compile_value("a = 1 and b = 2 and c = 3") == fn("and", a, b, c)  # one fnApply, as the page nests `and`
    assert compile_value("((a = 1))") == a
    assert filters.fields("a = 1 or (b = 2 and a > 0)") == ["a", "b"]
    assert filters.operators("a = 1 or not b like 'x' and c is null") == (["=", "like", "isNull"], ["or", "and", "not"])


@pytest.mark.parametrize(("text", "position", "said"), [
    ("", 1, "expected a condition"),
    ("city =", 7, 'expected a value ("text", a number, true or false), found the end of the filter'),
    ("city = DDN", 8, "expected a value"),
    ('city = "DDN', 8, 'the text opened here has no closing "'),
    ("`city = 1", 1, "the column name opened here has no closing `"),
    ("(a = 1", 7, "expected ) to close the ( at character 1"),
    ("a = 1)", 6, "found ')' (it closes no parenthesis)"),
    ("a = 1 b = 2", 7, "expected and, or, or the end of the filter, found 'b'"),
    ("and = 1", 1, "a column named so is written in backticks"),
    ("a = null", 5, "write `column is null`"),
    ("a is 1", 6, "expected null"),
    ("a like 5", 8, "like takes a \"pattern\" in quotes"),
    ("a in 1", 6, "expected ( and a list of values"),
    ("a in (1 2)", 9, "expected , or ) in the list of values"),
    ("a not = 1", 7, "expected like or in after not"),
    ("a ~ 1", 3, "unexpected '~'"),
    ("a", 2, "expected an operator"),
])
def test_a_filter_that_does_not_compile_names_the_character_and_what_was_expected(text, position, said):
    with pytest.raises(FilterError) as refused:
        compile_value(text)
    assert refused.value.position == position and said in str(refused.value)
    assert str(refused.value).startswith(f"at character {position}: ")


def test_bounds_text_conditions_and_nesting():
    with pytest.raises(FilterError, match="at most 2000 characters"):
        compile_value("a = 1 or " * 222 + "a = 1")
    compile_value(" or ".join(["a = 1"] * 100))
    with pytest.raises(FilterError, match="more than 100 conditions") as refused:
        compile_value(" or ".join(["a = 1"] * 101))
    assert refused.value.position == 100 * len("a = 1 or ") + 1
    compile_value("(" * 20 + "a = 1" + ")" * 20)
    compile_value("not " * 20 + "a = 1")
    with pytest.raises(FilterError, match="nested deeper than 20 levels"):
        compile_value("(" * 21 + "a = 1" + ")" * 21)
    with pytest.raises(FilterError, match="nested deeper than 20 levels"):
        compile_value("not " * 10 + "(" * 11 + "a = 1" + ")" * 11)


SPEC = {"name": "acme-bigquery-e2e",
        "source": {"connector": "bigquery", "credentialsSecret": "aep/sources/acme-bigquery", "table": "ADMIN.E2E"},
        "target": {"schema": {"id": "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a6"},
                   "dataset": {"create": {"name": "BigQuery"}}},
        "mapping": [{"source": "ID", "destination": "_id"}],
        "deltaColumn": {"name": "updatedAt", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"},
        "schedule": {"frequency": "hour", "interval": 1, "startTime": 1590523836}}


def problems(source: dict) -> list[dict]:
    with pytest.raises(SpecInvalid) as refused:
        parse_spec({**SPEC, "source": {**SPEC["source"], **source}})
    return refused.value.problems


def test_a_spec_takes_a_filter_its_connector_allows():
    spec = parse_spec({**SPEC, "source": {**SPEC["source"], "filter": 'NAME like "K%" and not ID in (1, 2)'}})
    assert spec.source.filter == 'NAME like "K%" and not ID in (1, 2)'
    salesforce = {"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce", "table": "Contact",
                  "filter": "Email is not null"}  # Salesforce's filterAtSource prints no operators: the page's table
    assert parse_spec({**SPEC, "source": salesforce}).source.filter == "Email is not null"


def test_the_catalog_says_which_connectors_take_filters_and_which_operators():
    assert sorted(n for n, c in CONNECTORS.items() if c.takes_filters) == ["bigquery", "dynamics", "salesforce"]
    assert CONNECTORS["bigquery"].filter_at_source["comparisonOperators"] == ["=", "!=", "<", "<=", ">", ">=", "like",
                                                                              "in"]
    assert CONNECTORS["salesforce"].filter_at_source == {"enabled": True}
    assert filters.allowed(CONNECTORS["dynamics"]) == (list(filters.PAGE_COMPARISONS), ["and", "or", "not"])


def test_a_filter_on_mixpanel_or_postgresql_is_invalid_naming_the_sources_that_take_one():
    mixpanel = {"connector": "mixpanel", "credentialsSecret": "aep/sources/acme-mixpanel", "table": None,
                "params": {"projectId": "1", "timezone": "UTC"}, "filter": 'event = "signup"'}
    [problem] = [p for p in problems(mixpanel) if p["path"] == "source.filter"]
    assert problem["message"].startswith("Mixpanel does not filter rows at the source")
    assert problem["message"].endswith("the sources that take a filter are Google BigQuery, Microsoft Dynamics, "
                                       "Salesforce")
    postgres = {"connector": "postgresql", "credentialsSecret": "aep/sources/acme-postgresql", "filter": "ID = 1"}
    assert [p["path"] for p in problems(postgres)] == ["source.filter"]


def test_an_operator_bigquery_does_not_list_is_invalid_naming_those_it_allows():
    [problem] = problems({"filter": "NAME = 'x' or DOB is null"})
    assert problem == {"path": "source.filter", "message": (
        "Google BigQuery does not take is null in a filter; its connection spec's filterAtSource allows the "
        "comparisons = != < <= > >= like in and the logical operators and or not")}


def test_a_filter_that_does_not_compile_is_invalid_at_source_filter():
    [problem] = problems({"filter": "NAME = "})
    assert problem["path"] == "source.filter" and problem["message"].startswith("at character 8: expected a value")
    [problem] = problems({"filter": "x" * 2001})
    assert problem["path"] == "source.filter" and "at most 2000 characters" in problem["message"]


def test_the_apis_patch_takes_a_filter_as_a_change_in_place():
    from aepflow.ops.apply.patch import refused_fields

    assert refused_fields({"source": {"filter": 'NAME like "K%"'}}) == []
    assert refused_fields({"source": {"filter": None}}) == []  # a JSON Merge Patch's null: no filter any more
    assert [p["path"] for p in refused_fields({"source": {"filter": 5}})] == ["source"]
    [problem] = refused_fields({"source": {"table": "OTHER"}})
    assert "source.filter (params.filters) change in place" in problem["message"]


def test_aepflow_explore_refuses_a_filter_that_does_not_compile_before_any_request(capsys):
    import io

    from aepflow.doors.cli import main

    args = main.parser().parse_args(["explore", "bigquery", "t", "--secret", "aep/sources/x", "--filter", "a ="])
    assert args.run(args, io.StringIO()) == 2
    assert "--filter 'a =': at character 4: expected a value" in capsys.readouterr().err
