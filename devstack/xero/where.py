"""A parser/evaluator for Xero's `where` filter language (a subset of .NET Dynamic LINQ).

Supported: `==`, `!=`, `<`, `<=`, `>`, `>=`, `AND`/`&&`, `OR`/`||`, `NOT`/`!`, parentheses, dotted fields
(`Contact.ContactID`), string/number/boolean/null literals, `Guid("…")`, `DateTime(y,m,d)`, and the string
methods `.Contains("x")`, `.StartsWith("x")`, `.EndsWith("x")`.
String comparison is case-insensitive, as in Xero.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class QueryParseError(ValueError):
    """Raised for filters Xero would reject (ErrorNumber 16, QueryParseException)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|<=|>=|&&|\|\||<|>|!|=)
      | (?P<punct>[().,])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)

Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryParseError(f"Syntax error at position {pos} in '{text}'")
        kind = match.lastgroup or ""
        tokens.append(_Tok(kind, match.group(kind)))
        pos = match.end()
    return tokens


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, datetime):
        return value.date() if value.tzinfo is None else value
    if isinstance(value, float | int) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


class _Parser:
    def __init__(self, text: str, fields: set[str]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = fields

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise QueryParseError("Unexpected end of expression")
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise QueryParseError(f"'{text}' expected, found '{tok.text}'")

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise QueryParseError(f"Syntax error near '{self.peek().text}'")  # type: ignore[union-attr]
        return pred

    def _is(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and (tok.text in words or tok.text.upper() in words)

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while self._is("OR", "||"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self._is("AND", "&&"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self._is("NOT", "!"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self._is("("):
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        getter = self.operand()
        tok = self.peek()
        if tok is None or tok.kind != "op" or tok.text == "!":
            return lambda r: bool(getter(r))
        op = self.take().text
        right = self.operand()
        compare = _COMPARATORS["==" if op == "=" else op]

        def predicate(record: dict[str, Any]) -> bool:
            a, b = _norm(getter(record)), _norm(right(record))
            if isinstance(a, date) and isinstance(b, date) and type(a) is not type(b):
                a = a.date() if isinstance(a, datetime) else a
                b = b.date() if isinstance(b, datetime) else b
            try:
                return bool(compare(a, b))
            except TypeError:
                return False

        return predicate

    def operand(self) -> Callable[[dict[str, Any]], Any]:
        tok = self.take()
        if tok.kind == "string":
            value = bytes(tok.text[1:-1], "utf-8").decode("unicode_escape")
            return lambda r: value
        if tok.kind == "number":
            number = Decimal(tok.text)
            return lambda r: number
        if tok.kind != "name":
            raise QueryParseError(f"Unexpected '{tok.text}'")
        word = tok.text
        if word.lower() in ("true", "false"):
            flag = word.lower() == "true"
            return lambda r: flag
        if word.lower() == "null":
            return lambda r: None
        if word in ("Guid", "DateTime") and self._is("("):
            return self.constructor(word)
        path = [word]
        while self._is("."):
            self.take()
            part = self.take().text
            if part in ("Contains", "StartsWith", "EndsWith", "ToUpper", "ToLower") and self._is("("):
                return self.method(path, part)
            path.append(part)
        if path[0] not in self.fields:
            raise QueryParseError(f"No property or field '{path[0]}' exists in type")
        return lambda r: _lookup(r, path)

    def constructor(self, word: str) -> Callable[[dict[str, Any]], Any]:
        self.expect("(")
        args: list[str] = []
        while not self._is(")"):
            tok = self.take()
            if tok.text != ",":
                args.append(tok.text.strip('"'))
        self.expect(")")
        if word == "Guid":
            guid = args[0].lower() if args else ""
            return lambda r: guid
        try:
            value = date(*(int(a) for a in args[:3]))
        except (TypeError, ValueError) as exc:
            raise QueryParseError(f"Invalid DateTime({', '.join(args)})") from exc
        return lambda r: value

    def method(self, path: list[str], name: str) -> Callable[[dict[str, Any]], Any]:
        if path[0] not in self.fields:
            raise QueryParseError(f"No property or field '{path[0]}' exists in type")
        self.expect("(")
        arg = "" if self._is(")") else self.take().text.strip('"').casefold()
        self.expect(")")

        def call(record: dict[str, Any]) -> Any:
            value = _lookup(record, path)
            if name in ("ToUpper", "ToLower"):
                return value
            if not isinstance(value, str):
                return False
            text = value.casefold()
            return {
                "Contains": arg in text,
                "StartsWith": text.startswith(arg),
                "EndsWith": text.endswith(arg),
            }[name]

        return call


def _lookup(record: dict[str, Any], path: list[str]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        return value.lower()
    return value


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def compile_where(text: str, fields: set[str]) -> Predicate:
    """Compile a filter over records whose top-level keys are `fields`; raise QueryParseError if invalid."""
    return _Parser(text, fields).parse()
