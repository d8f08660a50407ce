"""A parser/evaluator for Xero's `where` filter language (a subset of .NET Dynamic LINQ).

Supported: `==`, `!=`, `<`, `<=`, `>`, `>=`, `AND`/`&&`, `OR`/`||`, `NOT`/`!`, parentheses, dotted fields
(`Contact.ContactID`), string/number/boolean/null literals, `Guid("…")`, `DateTime(y,m,d)`, and the string
methods `.Contains("x")`, `.StartsWith("x")`, `.EndsWith("x")`.
String comparison is case-insensitive, as in Xero. The tokenizer and the boolean layers are shared with
the OData `$filter` parser (devstack.where_filter).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from devstack.where_filter import BooleanParser, Lexer, Token

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]


class QueryParseError(ValueError):
    """Raised for filters Xero would reject (ErrorNumber 16, QueryParseException)."""


_LEXER = Lexer(
    [
        ("string", r'"(?:[^"\\]|\\.)*"'),
        ("number", r"-?\d+(?:\.\d+)?"),
        ("op", r"==|!=|<=|>=|&&|\|\||<|>|!|="),
        ("punct", r"[().,]"),
        ("name", r"[A-Za-z_][A-Za-z0-9_]*"),
    ]
)
_METHODS = ("Contains", "StartsWith", "EndsWith", "ToUpper", "ToLower")


def _tokenize(text: str) -> list[Token]:
    text = text.rstrip()
    return _LEXER.tokens(text, lambda pos: QueryParseError(f"Syntax error at position {pos} in '{text}'"))


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, datetime):
        return value.date() if value.tzinfo is None else value
    if isinstance(value, float | int) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


class _Field:
    """A record field by dotted path."""

    __slots__ = ("path",)

    def __init__(self, path: list[str]) -> None:
        self.path = path

    def __call__(self, record: Record) -> Any:
        return _lookup(record, self.path)


class _Value:
    """A literal."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, record: Record) -> Any:
        return self.value


class _Comparison:
    __slots__ = ("_compare", "left", "op", "right")

    def __init__(self, left: Getter, op: str, right: Getter) -> None:
        self.left, self.op, self.right = left, op, right
        self._compare = _COMPARATORS[op]

    def __call__(self, record: Record) -> bool:
        a, b = _norm(self.left(record)), _norm(self.right(record))
        if isinstance(a, date) and isinstance(b, date) and type(a) is not type(b):
            a = a.date() if isinstance(a, datetime) else a
            b = b.date() if isinstance(b, datetime) else b
        try:
            return bool(self._compare(a, b))
        except TypeError:
            return False

    def field_equals(self) -> tuple[tuple[str, ...], Any] | None:
        """(path, normalised literal) when this is `Field == literal` (either way round) and a set can
        stand in for it; dates are left out, they compare across date and datetime."""
        if self.op != "==":
            return None
        field, value = (self.left, self.right) if isinstance(self.left, _Field) else (self.right, self.left)
        if not isinstance(field, _Field) or not isinstance(value, _Value) or isinstance(value.value, date):
            return None
        return tuple(field.path), _norm(value.value)


class _OneOf:
    """`F == a OR F == b OR …` as one set look-up: a bulk look-up by 50 Urls costs one probe a record."""

    __slots__ = ("path", "values")

    def __init__(self, path: tuple[str, ...], values: set[Any]) -> None:
        self.path, self.values = list(path), frozenset(values)

    def __call__(self, record: Record) -> bool:
        try:
            return _norm(_lookup(record, self.path)) in self.values
        except TypeError:  # an unhashable value (an object or a list) equals no literal
            return False


class _Parser(BooleanParser[Record]):
    OR = frozenset({"OR", "||"})
    AND = frozenset({"AND", "&&"})
    NOT = frozenset({"NOT", "!"})
    FOLD_KEYWORDS = True

    def __init__(self, text: str, fields: set[str]) -> None:
        super().__init__(_tokenize(text))
        self.fields = fields

    def end_error(self) -> Exception:
        return QueryParseError("Unexpected end of expression")

    def expected_error(self, wanted: str, found: Token) -> Exception:
        return QueryParseError(f"'{wanted}' expected, found '{found.text}'")

    def trailing_error(self, found: Token) -> Exception:
        return QueryParseError(f"Syntax error near '{found.text}'")

    def any_of(self, parts: list[Predicate]) -> Predicate:
        groups: dict[tuple[str, ...], set[Any]] = {}
        rest: list[Predicate] = []
        for part in parts:
            key = part.field_equals() if isinstance(part, _Comparison) else None
            if key is None:
                rest.append(part)
            else:
                groups.setdefault(key[0], set()).add(key[1])
        merged: list[Predicate] = [_OneOf(path, values) for path, values in groups.items()]
        return super().any_of(merged + rest)

    def atom(self) -> Predicate:
        getter = self.operand()
        tok = self.peek()
        if tok is None or tok.kind != "op" or tok.text == "!":
            return lambda r: bool(getter(r))
        op = self.take().text
        return _Comparison(getter, "==" if op == "=" else op, self.operand())

    def operand(self) -> Getter:
        tok = self.take()
        if tok.kind == "string":
            return _Value(bytes(tok.text[1:-1], "utf-8").decode("unicode_escape"))
        if tok.kind == "number":
            return _Value(Decimal(tok.text))
        if tok.kind != "name":
            raise QueryParseError(f"Unexpected '{tok.text}'")
        word = tok.text
        if word.lower() in ("true", "false"):
            return _Value(word.lower() == "true")
        if word.lower() == "null":
            return _Value(None)
        if word in ("Guid", "DateTime") and self.at(("(",)):
            return self.constructor(word)
        path = [word]
        while self.at((".",)):
            self.take()
            part = self.take().text
            if part in _METHODS and self.at(("(",)):
                return self.method(path, part)
            path.append(part)
        self.check_field(path)
        return _Field(path)

    def check_field(self, path: list[str]) -> None:
        if path[0] not in self.fields:
            raise QueryParseError(f"No property or field '{path[0]}' exists in type")

    def constructor(self, word: str) -> Getter:
        self.expect("(")
        args: list[str] = []
        while not self.at((")",)):
            tok = self.take()
            if tok.text != ",":
                args.append(tok.text.strip('"'))
        self.expect(")")
        if word == "Guid":
            return _Value(args[0].lower() if args else "")
        try:
            return _Value(date(*(int(a) for a in args[:3])))
        except (TypeError, ValueError) as exc:
            raise QueryParseError(f"Invalid DateTime({', '.join(args)})") from exc

    def method(self, path: list[str], name: str) -> Getter:
        self.check_field(path)
        self.expect("(")
        arg = "" if self.at((")",)) else self.take().text.strip('"').casefold()
        self.expect(")")

        def call(record: Record) -> Any:
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


def _lookup(record: Record, path: list[str]) -> Any:
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
