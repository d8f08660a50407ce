"""A small OData v4 `$filter` parser and evaluator: the subset Dataverse clients use.

Grammar: or/and/not, parentheses, eq ne lt le gt ge, contains/startswith/endswith, literals
('string' with '' escaping, numbers, true/false/null, GUIDs, dates, date-times) and property paths
(`name`, `_customerid_value`, `sdkmessageid/name`). A filter compiles to a predicate over a resolver
that turns a path into a Python value. The tokenizer and the boolean layers are shared with Xero's
`where` parser (devstack.where_filter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from devstack.where_filter import BooleanParser, Lexer, Token

Resolver = Callable[[list[str]], Any]
Predicate = Callable[[Resolver], bool]


class FilterSyntaxError(ValueError):
    """The $filter text is not something this emulator understands."""


_LEXER = Lexer(
    [
        ("string", r"'(?:[^']|'')*'"),
        ("datetime", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?"),
        ("guid", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        ("date", r"\d{4}-\d{2}-\d{2}"),
        ("number", r"-?\d+(?:\.\d+)?"),
        ("punct", r"[(),]"),
        ("name", r"[A-Za-z_@][A-Za-z0-9_@./]*"),
    ]
)

COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}
FUNCTIONS = {"contains", "startswith", "endswith"}


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Path:
    parts: list[str]


Operand = Literal | Path


def tokenize(text: str) -> list[Token]:
    def fail(position: int) -> FilterSyntaxError:
        return FilterSyntaxError(f"unexpected character at {position}: {text[position : position + 20]!r}")

    return _LEXER.tokens(text, fail)


def _literal(token: Token) -> Literal | None:
    if token.kind == "string":
        return Literal(token.text[1:-1].replace("''", "'"))
    if token.kind == "number":
        return Literal(Decimal(token.text))
    if token.kind == "guid":
        return Literal(token.text.lower())
    if token.kind == "date":
        return Literal(date.fromisoformat(token.text))
    if token.kind == "datetime":
        return Literal(parse_datetime(token.text))
    if token.kind == "name" and token.text in {"true", "false"}:
        return Literal(token.text == "true")
    if token.kind == "name" and token.text == "null":
        return Literal(None)
    return None


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Parser(BooleanParser[Resolver]):
    OR = frozenset({"or"})
    AND = frozenset({"and"})
    NOT = frozenset({"not"})

    def end_error(self) -> Exception:
        return FilterSyntaxError("unexpected end of $filter")

    def expected_error(self, wanted: str, found: Token) -> Exception:
        return FilterSyntaxError(f"expected {wanted!r}, found {found.text!r}")

    def trailing_error(self, found: Token) -> Exception:
        return FilterSyntaxError(f"unexpected {found.text!r}")

    def atom(self) -> Predicate:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in FUNCTIONS:
            return self.function()
        return self.comparison()

    def function(self) -> Predicate:
        name = self.take().text
        self.expect("(")
        subject = self.operand()
        self.expect(",")
        needle = self.operand()
        self.expect(")")

        def check(resolver: Resolver) -> bool:
            haystack, part = value_of(subject, resolver), value_of(needle, resolver)
            if haystack is None or part is None:
                return False
            left, right = str(haystack).casefold(), str(part).casefold()
            if name == "contains":
                return right in left
            if name == "startswith":
                return left.startswith(right)
            return left.endswith(right)

        return check

    def operand(self) -> Operand:
        token = self.take()
        literal = _literal(token)
        if literal is not None:
            return literal
        if token.kind == "name":
            return Path(token.text.split("/"))
        raise FilterSyntaxError(f"expected a value or property, found {token.text!r}")

    def comparison(self) -> Predicate:
        left = self.operand()
        operator = self.take().text
        if operator not in COMPARISONS:
            raise FilterSyntaxError(f"unknown operator {operator!r}")
        right = self.operand()
        return lambda resolver: compare(value_of(left, resolver), operator, value_of(right, resolver))


def value_of(operand: Operand, resolver: Resolver) -> Any:
    return operand.value if isinstance(operand, Literal) else resolver(operand.parts)


def _normalise(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring two values to comparable types; strings compare case-insensitively like SQL collation."""
    if isinstance(left, datetime) and isinstance(right, date) and not isinstance(right, datetime):
        return left.date(), right
    if isinstance(right, datetime) and isinstance(left, date) and not isinstance(left, datetime):
        return left, right.date()
    if isinstance(left, date) and isinstance(right, str):
        right = _parse_temporal(right)
    if isinstance(right, date) and isinstance(left, str):
        left = _parse_temporal(left)
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, int | float | Decimal) and isinstance(right, int | float | Decimal):
        return Decimal(str(left)), Decimal(str(right))
    if isinstance(left, int | Decimal) and isinstance(right, str):
        right = _maybe_decimal(right)
    if isinstance(left, str) and isinstance(right, int | Decimal):
        left = _maybe_decimal(left)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return left, right


def _parse_temporal(text: str) -> Any:
    try:
        return parse_datetime(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        return text


def _maybe_decimal(text: str) -> Any:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def compare(left: Any, operator: str, right: Any) -> bool:
    if operator in {"eq", "ne"}:
        if left is None or right is None:
            same = left is None and right is None
        else:
            a, b = _normalise(left, right)
            same = a == b
        return same if operator == "eq" else not same
    if left is None or right is None:
        return False
    a, b = _normalise(left, right)
    try:
        if operator == "lt":
            return bool(a < b)
        if operator == "le":
            return bool(a <= b)
        if operator == "gt":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False


def compile_filter(text: str) -> Predicate:
    """Compile `$filter` text; raises FilterSyntaxError."""
    return _Parser(tokenize(text)).parse()


__all__ = [
    "FilterSyntaxError",
    "Predicate",
    "Resolver",
    "Token",
    "compile_filter",
    "parse_datetime",
    "tokenize",
]
