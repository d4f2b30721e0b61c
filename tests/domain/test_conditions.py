"""Matches over a step's JSON output: operators, dotted paths, JSON equality, parsing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.conditions import (
    MISSING,
    Clause,
    Match,
    MatchError,
    json_equal,
    parse_match,
    resolve,
)

OUTPUT = {
    "severity": "high",
    "score": 0.8,
    "count": 3,
    "flag": True,
    "none": None,
    "customer": {"tier": "gold", "tags": ["vip", "eu"]},
    "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 0}],
    "7": "seven",
}


def holds(spec: Any, output: Any = OUTPUT) -> bool:
    return parse_match(spec).holds(output)


# -- paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("severity", "high"),
        ("customer.tier", "gold"),
        ("customer.tags.1", "eu"),
        ("items.0.sku", "A1"),
        ("items.1.qty", 0),
        ("none", None),
        ("7", "seven"),  # a key of digits in a mapping is a key
        ("customer.tags.2", MISSING),  # past the end
        ("customer.tags.-1", MISSING),  # no negative indices
        ("customer.tags.x", MISSING),
        ("severity.length", MISSING),  # into text
        ("nowhere", MISSING),
        ("customer.tier.x", MISSING),
        ("items.٣", MISSING),  # only ASCII digits index
    ],
)
def test_dotted_paths(path: str, expected: Any) -> None:
    found = resolve(OUTPUT, path)
    assert (found is MISSING) if expected is MISSING else (found == expected)


def test_paths_into_a_top_level_list_and_into_no_json() -> None:
    assert resolve([{"a": 1}], "0.a") == 1
    assert resolve(None, "a") is MISSING
    assert resolve("text", "a") is MISSING


# -- operators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"severity": "high"}, True),
        ({"severity": {"equals": "high"}}, True),
        ({"severity": "low"}, False),
        ({"customer.tier": {"in": ["gold", "platinum"]}}, True),
        ({"customer.tier": {"in": ["silver"]}}, False),
        ({"score": {"gte": 0.8}}, True),
        ({"score": {"gt": 0.8}}, False),
        ({"count": {"lt": 4}}, True),
        ({"count": {"lte": 2}}, False),
        ({"count": {"gt": 2, "lt": 4}}, True),  # several operators on one path: AND
        ({"count": {"gt": 2, "lt": 3}}, False),
        ({"severity": "high", "count": {"gt": 5}}, False),  # several paths: AND
        ({"none": {"exists": True}}, True),  # null is a value
        ({"none": None}, True),
        ({"nowhere": {"exists": False}}, True),
        ({"nowhere": {"exists": True}}, False),
        ({"severity": {"exists": False}}, False),
        ({"nowhere": None}, False),  # a missing field does not equal null
        ({"nowhere": {"lt": 1}}, False),
        ({"severity": {"gt": 1}}, False),  # text is not a number
        ({"flag": {"gt": 0}}, False),  # nor is a boolean
        ({"flag": True}, True),
        ({"flag": 1}, False),  # JSON: true is not 1
        ({"count": True}, False),
        ({"count": 3.0}, True),  # 3 equals 3.0
        ({"count": "3"}, False),
        ({"items.0.sku": {"in": ["A1", "C3"]}}, True),
        ({"customer.tags.0": "vip"}, True),
    ],
)
def test_operators(spec: dict[str, Any], expected: bool) -> None:
    assert holds(spec) is expected


def test_a_match_over_output_that_is_not_json_only_holds_for_absence() -> None:
    assert not holds({"severity": "high"}, None)
    assert holds({"severity": {"exists": False}}, None)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)


@given(scalars, scalars)
def test_json_equality_never_confuses_booleans_and_numbers(a: Any, b: Any) -> None:
    if json_equal(a, b):
        assert type(a) is type(b) or (
            not isinstance(a, bool | str | None) and not isinstance(b, bool | str | None)
        )
        assert json_equal(b, a)


keys = st.text(alphabet="abc1", min_size=1, max_size=2)


@given(st.dictionaries(keys, scalars, max_size=4), keys, scalars)
def test_equals_holds_exactly_when_the_field_is_json_equal(
    output: dict[str, Any], key: str, value: Any
) -> None:
    expected = key in output and json_equal(output[key], value)
    assert Clause(key, "equals", value).holds(output) is expected
    assert Clause(key, "in", [value, "zzz"]).holds(output) is (
        expected or output.get(key) == "zzz"
    )
    assert Clause(key, "exists", True).holds(output) is (key in output)


# -- description and storage shape ------------------------------------------------------


def test_describe_and_frozen_lists() -> None:
    match = parse_match({"severity": "high", "tier": {"in": ["a", None]}, "x": {"exists": True}})
    assert match.describe() == "severity equals 'high' and tier in ['a', null] and x exists true"
    # The value read back from storage (a list) equals the one recorded (a tuple).
    assert Clause("tier", "in", ["a", None]) == Clause("tier", "in", ("a", None))
    assert match == Match(tuple(match.clauses))


# -- parsing errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "problems"),
    [
        ({}, [("", "must be a non-empty mapping of paths to conditions")]),
        ([1], [("", "must be a non-empty mapping of paths to conditions")]),
        (
            {"severity": {"equal": "high"}},
            [("severity.equal", "unknown operator 'equal' (known: equals, in, exists, gt, "
              "gte, lt, lte)")],
        ),
        ({"score": {"gt": "high"}}, [("score.gt", "'gt' needs a number")]),
        ({"score": {"lte": True}}, [("score.lte", "'lte' needs a number")]),
        ({"x": {"exists": "yes"}}, [("x.exists", "'exists' needs true or false")]),
        ({"x": {"in": []}}, [("x.in", "'in' needs a non-empty list of texts, numbers, "
                                       "true/false or null")]),
        ({"x": {"in": [[1]]}}, [("x.in", "'in' needs a non-empty list of texts, numbers, "
                                         "true/false or null")]),
        ({"x": ["a", "b"]}, [("x", "a list is not a value to equal: use {in: [...]}")]),
        ({"x": {"equals": {"a": 1}}}, [("x.equals", "'equals' needs text, a number, "
                                                    "true/false or null (use 'in' for a list)")]),
        ({"x": {}}, [("x", "needs at least one operator")]),
        ({"a..b": 1}, [("a..b", "path 'a..b' has an empty segment")]),
        ({1: "x"}, [("1", "a path must be non-empty text")]),
        (
            {"a": {"gt": "x"}, "b": {"nope": 1}},
            [("a.gt", "'gt' needs a number"),
             ("b.nope", "unknown operator 'nope' (known: equals, in, exists, gt, gte, lt, lte)")],
        ),
    ],
)
def test_parse_errors_name_their_place(spec: Any, problems: list[tuple[str, str]]) -> None:
    with pytest.raises(MatchError) as raised:
        parse_match(spec)
    assert raised.value.problems == problems


def test_clauses_and_matches_refuse_bad_values_when_built_directly() -> None:
    with pytest.raises(ValueError, match="needs a number"):
        Clause("x", "gt", float("nan"))
    with pytest.raises(ValueError, match="empty segment"):
        Clause("x.", "equals", 1)
    with pytest.raises(ValueError, match="at least one clause"):
        Match(())
