"""The shared tokenizer and boolean skeleton (devstack.where_filter) under both languages: Xero's `where`
and OData's `$filter` keep their own grammar and wording; long OR chains stay fast (I2 backlog look-ups)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from devstack.dataverse.odata_filter import FilterSyntaxError, compile_filter
from devstack.where_filter import Lexer, Token
from devstack.xero.where import QueryParseError, compile_where

FIELDS = {"Url", "Status", "Total", "Contact", "Reference"}


def test_lexer_names_kinds_and_positions_and_reports_the_failing_offset() -> None:
    lexer = Lexer([("word", r"[a-z]+"), ("number", r"\d+"), ("punct", r"[()]")])
    assert lexer.tokens("  ab (12)  ", lambda p: ValueError(p)) == [
        Token("word", "ab", 2),
        Token("punct", "(", 5),
        Token("number", "12", 6),
        Token("punct", ")", 8),
    ]
    with pytest.raises(ValueError) as error:
        lexer.tokens("ab #", lambda p: ValueError(p))
    assert error.value.args == (2,)  # where the unreadable rest begins, white space included


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('Url == "a" #', "Syntax error at position 10 in 'Url == \"a\" #'"),
        ("Url ==", "Unexpected end of expression"),
        ('(Url == "a"', "Unexpected end of expression"),
        ('Url.Contains("a" x)', "')' expected, found 'x'"),
        ('Url == "a" "b"', "Syntax error near '\"b\"'"),
        ('Nope == "a"', "No property or field 'Nope' exists in type"),
    ],
)
def test_xero_where_keeps_its_wording(text: str, message: str) -> None:
    with pytest.raises(QueryParseError) as error:
        compile_where(text, FIELDS)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name eq 'a' #", "unexpected character at 11: ' #'"),
        ("name eq", "unexpected end of $filter"),
        ("contains(name, 'a' x", "expected ')', found 'x'"),
        ("name eq 'a' OR name eq 'b'", "unexpected 'OR'"),  # OData keywords are lower case only
        ("name is 'a'", "unknown operator 'is'"),
    ],
)
def test_odata_filter_keeps_its_wording(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as error:
        compile_filter(text)
    assert str(error.value) == message


def resolver(record: dict[str, Any]) -> Callable[[list[str]], Any]:
    """The OData side resolves a property path against a record."""
    return lambda path: record[path[0]]


def test_boolean_layers_bind_alike_in_both_languages() -> None:
    records = [{"a": a, "b": b, "c": c} for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    expected = [r for r in records if (r["a"] == 1 or (r["b"] == 1 and r["c"] != 1))]
    xero = compile_where("a == 1 or b == 1 AND NOT c == 1", {"a", "b", "c"})
    odata = compile_filter("a eq 1 or b eq 1 and not (c eq 1)")
    assert [r for r in records if xero(r)] == expected
    assert [r for r in records if odata(resolver(r))] == expected
    assert [r for r in records if compile_where("(a == 1 || b == 1) && !(c == 1)", {"a", "b", "c"})(r)] == [
        r for r in records if (r["a"] == 1 or r["b"] == 1) and r["c"] != 1
    ]


def sample_records() -> list[dict[str, Any]]:
    return [
        {
            "Url": "HTTPS://crm.example/inv/1",
            "Status": "DRAFT",
            "Total": Decimal("10.00"),
            "Contact": {"Name": "A"},
        },
        {
            "Url": "https://crm.example/inv/2",
            "Status": "PAID",
            "Total": Decimal("5"),
            "Contact": {"Name": "B"},
        },
        {"Url": None, "Status": "DRAFT", "Total": Decimal("7.5"), "Contact": None},
        {"Url": {"odd": "object"}, "Status": "VOIDED", "Total": 10, "Reference": ["a", "list"]},
        {"Url": "AAAAAAAA-0000-0000-0000-000000000001", "Status": True, "Total": Decimal("1")},
    ]


@pytest.mark.parametrize(
    "clauses",
    [
        ['Url=="https://crm.example/inv/1"', 'Url=="https://CRM.example/inv/2"', 'Url=="nope"'],
        ["Total==10", "Total==5", 'Status=="paid"'],
        ['Contact.Name=="a"', 'Contact.Name=="b"', "Url==null"],
        ['Url==Guid("aaaaaaaa-0000-0000-0000-000000000001")', 'Url=="x"', "Status==true"],
        ['"draft"==Status', 'Status=="VOIDED"', 'Reference.Contains("z")'],
    ],
)
def test_merged_or_chains_mean_what_the_terms_mean_one_by_one(clauses: list[str]) -> None:
    records = sample_records()
    merged = compile_where(" OR ".join(clauses), FIELDS)
    singles = [compile_where(c, FIELDS) for c in clauses]
    assert [merged(r) for r in records] == [any(p(r) for p in singles) for r in records]


def test_i2_fifty_or_terms_over_ten_thousand_records_stay_fast() -> None:
    records = [
        {"Url": f"https://org.crm.dynamics.com/main.aspx?id={i}", "Status": "DRAFT"} for i in range(10_000)
    ]
    wanted = {f"https://org.crm.dynamics.com/main.aspx?id={i * 199}" for i in range(50)}
    text = " OR ".join(f'Url=="{url}"' for url in sorted(wanted))
    started = time.perf_counter()
    predicate = compile_where(text, FIELDS)
    found = {r["Url"] for r in records if predicate(r)}
    elapsed = time.perf_counter() - started
    assert found == wanted
    assert elapsed < 0.5, f"50 ORs over 10,000 records took {elapsed:.3f}s"
    odata = compile_filter(" or ".join(f"Url eq '{url}'" for url in sorted(wanted)))
    assert {r["Url"] for r in records[:2000] if odata(resolver(r))} == {
        u for u in wanted if int(u.rsplit("=", 1)[1]) < 2000
    }
