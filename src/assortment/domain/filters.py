"""The `filter=` grammar of the PXM API, parsed into a small tree. No SQL here: `db/filters.py`
compiles the tree against a per-endpoint whitelist of fields.

    filter     := term (":" term)*                      terms are ANDed
    term       := call | "(" call ("|" call)* ")"      an or-group
    call       := op "(" field ["," value]* ")"
    value      := bare | '"' (char | '\\"')* '"'
    op         := eq | like | ilike | in | gt | ge | lt | le | is_null
"""

from __future__ import annotations

from dataclasses import dataclass

from assortment.errors import BadRequest

FILTER_PARSE_ERROR = "Could not parse the supplied filter"
MAX_FILTER_BYTES = 8 * 1024
MAX_EXPRESSIONS = 10
OPERATORS = frozenset({"eq", "like", "ilike", "in", "gt", "ge", "lt", "le", "is_null"})
SINGLE_VALUE_OPERATORS = frozenset({"eq", "like", "ilike", "gt", "ge", "lt", "le"})


@dataclass(frozen=True, slots=True)
class Condition:
    op: str
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """An or-group: at least one of its conditions holds."""

    conditions: tuple[Condition, ...]


Term = Condition | AnyOf


def parse_filter(text: str) -> tuple[Term, ...]:
    """Parse a filter string; raise BadRequest on anything that is not exactly the grammar."""
    if len(text.encode()) > MAX_FILTER_BYTES:
        raise BadRequest(FILTER_PARSE_ERROR)
    parser = _Parser(text)
    terms = parser.parse()
    count = sum(len(t.conditions) if isinstance(t, AnyOf) else 1 for t in terms)
    if count > MAX_EXPRESSIONS:
        raise BadRequest(FILTER_PARSE_ERROR)
    return terms


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[Term, ...]:
        if not self.text.strip():
            raise BadRequest(FILTER_PARSE_ERROR)
        terms: list[Term] = [self._term()]
        while self.pos < len(self.text):
            self._expect(":")
            terms.append(self._term())
        return tuple(terms)

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise BadRequest(FILTER_PARSE_ERROR)
        self.pos += 1

    def _term(self) -> Term:
        if self._peek() != "(":
            return self._call()
        self.pos += 1
        calls = [self._call()]
        while self._peek() == "|":
            self.pos += 1
            calls.append(self._call())
        self._expect(")")
        return AnyOf(tuple(calls))

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_.-"):
            self.pos += 1
        if start == self.pos:
            raise BadRequest(FILTER_PARSE_ERROR)
        return self.text[start : self.pos]

    def _call(self) -> Condition:
        op = self._name()
        if op not in OPERATORS:
            raise BadRequest(FILTER_PARSE_ERROR)
        self._expect("(")
        field = self._name()
        values: list[str] = []
        while self._peek() == ",":
            self.pos += 1
            values.append(self._value())
        self._expect(")")
        if op in SINGLE_VALUE_OPERATORS and len(values) != 1:
            raise BadRequest(FILTER_PARSE_ERROR)
        if op == "in" and not values:
            raise BadRequest(FILTER_PARSE_ERROR)
        if op == "is_null" and len(values) > 1:
            raise BadRequest(FILTER_PARSE_ERROR)
        return Condition(op=op, field=field, values=tuple(values))

    def _value(self) -> str:
        if self._peek() == '"':
            return self._quoted()
        start = self.pos
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.pos += 1
        return self.text[start : self.pos]

    def _quoted(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise BadRequest(FILTER_PARSE_ERROR)
