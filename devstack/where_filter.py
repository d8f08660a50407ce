"""What the emulators' filter languages share: a regex tokenizer and a recursive-descent skeleton for
boolean expressions (or / and / not / parentheses).

Xero's `where` (devstack.xero.where) and OData's `$filter` (devstack.dataverse.odata_filter) each keep
their own tokens, atoms (comparisons, functions, literals), keywords and error wording; only the cursor
and the boolean layers live here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

T = TypeVar("T")  # what a compiled predicate is applied to: a record, or a path resolver
Predicate = Callable[[T], bool]


@dataclass(frozen=True)
class Token:
    kind: str  # the name of the lexer rule that matched
    text: str
    position: int  # offset of the token's first character in the filter text


class Lexer:
    """Named regex rules tried in order at each position (the first that matches wins); white space
    between tokens is skipped."""

    def __init__(self, rules: Sequence[tuple[str, str]]) -> None:
        alternatives = "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in rules)
        self._pattern = re.compile(rf"\s*(?:{alternatives})")

    def tokens(self, text: str, fail: Callable[[int], Exception]) -> list[Token]:
        """Tokens of `text`; `fail(position)` builds the error raised at the first character no rule takes."""
        tokens: list[Token] = []
        position, end = 0, len(text.rstrip())
        while position < end:
            match = self._pattern.match(text, position)
            if match is None or match.end() == position:
                raise fail(position)
            kind = match.lastgroup or ""
            tokens.append(Token(kind, match.group(kind), match.start(kind)))
            position = match.end()
        return tokens


class BooleanParser(Generic[T]):
    """`or_expr := and_expr (OR and_expr)*`, `and_expr := unary (AND unary)*`,
    `unary := NOT unary | "(" or_expr ")" | atom`. Subclasses supply the keywords, the atom and the
    wording of the three structural errors."""

    OR: ClassVar[frozenset[str]]
    AND: ClassVar[frozenset[str]]
    NOT: ClassVar[frozenset[str]]
    FOLD_KEYWORDS: ClassVar[bool] = False  # True: `or`, `Or` and `OR` are one keyword

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0

    # ---- the language's own parts -------------------------------------------------------------------
    def atom(self) -> Predicate[T]:
        raise NotImplementedError

    def end_error(self) -> Exception:
        raise NotImplementedError

    def expected_error(self, wanted: str, found: Token) -> Exception:
        raise NotImplementedError

    def trailing_error(self, found: Token) -> Exception:
        raise NotImplementedError

    def any_of(self, parts: list[Predicate[T]]) -> Predicate[T]:
        """Join OR operands; a language may merge some of them first (e.g. equalities into a set)."""
        return _any_of(parts)

    # ---- cursor ---------------------------------------------------------------------------------------
    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.end_error()
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise self.expected_error(text, token)

    def at(self, words: Collection[str]) -> bool:
        """Whether the next token's text is one of `words` (case-folded when the language says so)."""
        token = self.peek()
        if token is None:
            return False
        return token.text in words or (self.FOLD_KEYWORDS and token.text.upper() in words)

    # ---- the boolean layers ---------------------------------------------------------------------------
    def parse(self) -> Predicate[T]:
        predicate = self.or_expr()
        trailing = self.peek()
        if trailing is not None:
            raise self.trailing_error(trailing)
        return predicate

    def or_expr(self) -> Predicate[T]:
        # Chains are kept flat: a 50-term OR is one loop, not 50 nested calls.
        parts = [self.and_expr()]
        while self.at(self.OR):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else self.any_of(parts)

    def and_expr(self) -> Predicate[T]:
        parts = [self.unary()]
        while self.at(self.AND):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _all_of(parts)

    def unary(self) -> Predicate[T]:
        if self.at(self.NOT):
            self.take()
            inner = self.unary()
            return lambda subject: not inner(subject)
        if self.at(("(",)):
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.atom()


def _any_of(parts: list[Predicate[T]]) -> Predicate[T]:
    if len(parts) == 1:
        return parts[0]

    def check(subject: T) -> bool:
        return any(part(subject) for part in parts)

    return check


def _all_of(parts: list[Predicate[T]]) -> Predicate[T]:
    def check(subject: T) -> bool:
        return all(part(subject) for part in parts)

    return check
