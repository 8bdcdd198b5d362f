"""Compile a parsed filter into a SQLAlchemy expression, for a whitelist of fields per endpoint.

Values are always bound parameters; field names only ever come from the whitelist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, literal, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnClause, FunctionElement
from sqlalchemy.types import Boolean, String

from assortment.db.models import ORGANIZATION_SCOPE
from assortment.domain.filters import FILTER_PARSE_ERROR, AnyOf, Condition, Term
from assortment.domain.parsing import is_ascii_digits, parse_integer, parse_uuid
from assortment.errors import BadRequest

LIKE_ESCAPE = "\\"


class Kind:
    STRING = "string"
    UUID = "uuid"
    DATETIME = "datetime"
    BOOL = "bool"
    INT = "int"
    STRING_ARRAY = "string_array"  # a JSON array of strings (e.g. product tags)
    CONSTANT = "constant"  # a value every row shares (e.g. product_types = standard)


@dataclass(frozen=True)
class FilterField:
    column: Any
    kind: str
    ops: frozenset[str]
    # For Kind.CONSTANT: the value every row has.
    constant: str | None = None
    # Replaces the default `eq` compilation (e.g. a digest column, a derived predicate).
    eq: Callable[[Any], ColumnElement[bool]] | None = None
    # Builds the whole predicate from the condition applied to `column` (e.g. "some ancestor matches").
    around: Callable[[ColumnElement[bool], Condition], ColumnElement[bool]] | None = None


# A whitelist entry whose name has a variable part, e.g. `locales.*.name`: given the parts the `*`
# matched, it returns the field to filter on.
FieldPattern = Callable[[list[str]], FilterField]


def allow(
    column: Any, kind: str, ops: str, *, constant: str | None = None, eq: Any = None, around: Any = None
) -> FilterField:
    return FilterField(column=column, kind=kind, ops=frozenset(ops.split()), constant=constant, eq=eq, around=around)


def owner_field(scope_column: Any) -> FilterField:
    """`eq(owner,store|organization)`: who owns the row, from its scope column."""

    def owned_by(value: str) -> ColumnElement[bool]:
        if value == "organization":
            return scope_column == ORGANIZATION_SCOPE  # type: ignore[no-any-return]
        if value == "store":
            return scope_column != ORGANIZATION_SCOPE  # type: ignore[no-any-return]
        raise _bad()

    return allow(scope_column, Kind.STRING, "eq", eq=owned_by)


def lookup(whitelist: Mapping[str, Any], name: str) -> FilterField | None:
    """The whitelist entry for a field name: exact names first, then names with `*` segments."""
    found = whitelist.get(name)
    if isinstance(found, FilterField):
        return found
    parts = name.split(".")
    for pattern, make in whitelist.items():
        if "*" not in pattern:
            continue
        wanted = pattern.split(".")
        if len(wanted) == len(parts) and all(w in ("*", p) for w, p in zip(wanted, parts, strict=True)):
            field: FilterField = make([p for w, p in zip(wanted, parts, strict=True) if w == "*"])
            return field
    return None


def compile_filter(terms: tuple[Term, ...], whitelist: Mapping[str, Any]) -> ColumnElement[bool]:
    clauses = []
    for term in terms:
        if isinstance(term, AnyOf):
            clauses.append(or_(*(_condition(c, whitelist) for c in term.conditions)))
        else:
            clauses.append(_condition(term, whitelist))
    return and_(*clauses)


def _bad() -> BadRequest:
    return BadRequest(FILTER_PARSE_ERROR)


def _condition(cond: Condition, whitelist: Mapping[str, Any]) -> ColumnElement[bool]:
    spec = lookup(whitelist, cond.field)
    if spec is None or cond.op not in spec.ops:
        raise _bad()
    predicate = column_condition(cond, spec)
    return spec.around(predicate, cond) if spec.around is not None else predicate


def column_condition(cond: Condition, spec: FilterField) -> ColumnElement[bool]:
    """The condition applied to the field's column."""
    col: ColumnElement[Any] = spec.column
    if cond.op == "is_null":
        wanted = True if not cond.values else _to_bool(cond.values[0])
        return col.is_(None) if wanted else col.is_not(None)
    if spec.kind == Kind.CONSTANT:
        assert spec.constant is not None
        return true() if any(v == spec.constant for v in cond.values) and cond.op in ("eq", "in") else false()
    if spec.kind == Kind.STRING_ARRAY:
        return _array_condition(cond, col)
    if cond.op in ("like", "ilike"):
        pattern = like_pattern(cond.values[0])
        if cond.op == "like":
            return col.like(pattern, escape=LIKE_ESCAPE)
        return col.ilike(pattern, escape=LIKE_ESCAPE)
    values = [convert_value(spec.kind, v) for v in cond.values]
    if cond.op == "eq":
        return spec.eq(values[0]) if spec.eq is not None else col == values[0]
    if cond.op == "in":
        if spec.eq is not None:
            return or_(*(spec.eq(v) for v in values))
        return col.in_(values)
    comparisons = {"gt": col.__gt__, "ge": col.__ge__, "lt": col.__lt__, "le": col.__le__}
    return comparisons[cond.op](values[0])


def like_pattern(value: str) -> str:
    """`*` at the start and/or end is a wildcard; everything else matches literally."""
    lead = value.startswith("*")
    trail = value.endswith("*") and len(value) > 1
    core = value[1 if lead else 0 : len(value) - 1 if trail else len(value)]
    if value == "*":
        core, trail = "", False
    core = core.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return ("%" if lead else "") + core + ("%" if trail else "")


def _to_bool(value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise _bad()


def convert_value(kind: str, value: str) -> Any:
    try:
        if kind == Kind.STRING:
            return value
        if kind == Kind.UUID:
            parsed = parse_uuid(value)
            if parsed is None:
                raise _bad()
            return parsed
        if kind == Kind.INT:
            number = parse_integer(value)
            if number is None:
                raise _bad()
            return number
        if kind == Kind.BOOL:
            return _to_bool(value)
        if kind == Kind.DATETIME:
            return parse_instant(value)
    except (ValueError, OverflowError) as exc:
        raise _bad() from exc
    raise _bad()


def parse_instant(value: str) -> datetime:
    """ISO date, ISO date-time (UTC when no offset is given) or epoch milliseconds, as a UTC datetime.

    ValueError for anything else, including instants that exist only outside years 1-9999 in UTC (such as
    9999-12-31T23:59:59-14:00 or 20-digit milliseconds), which no column or comparison could take.
    """
    try:
        if is_ascii_digits(value):
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"{value} is out of range") from exc


# --- a text value inside a JSON object ------------------------------------------------------------------


class json_text(FunctionElement[str]):
    """The text at a path of string keys in a JSON object column (NULL where absent)."""

    type = String()
    inherit_cache = True


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: Any, **kw: Any) -> str:
    column, *keys = list(element.clauses)
    path = "$" + "".join(f'."{key.value}"' for key in keys)
    return f"json_extract({compiler.process(column, **kw)}, {compiler.process(literal(path), **kw)})"


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: Any, **kw: Any) -> str:
    column, *keys = list(element.clauses)
    steps = [compiler.process(key, **kw) for key in keys]
    return f"({compiler.process(column, **kw)} #>> ARRAY[{', '.join(steps)}]::text[])"


# --- JSON string arrays -------------------------------------------------------------------------


class _ArrayAny(FunctionElement[bool]):
    """True when any element of a JSON string array column compares true with a value.

    One subclass per operator, so that the operator is part of the statement cache key.
    """

    type = Boolean()
    inherit_cache = True
    operator_name = "eq"

    def __init__(self, column: ColumnClause[Any], value: Any) -> None:
        super().__init__(column, value)


class _ArrayAnyEq(_ArrayAny):
    inherit_cache = True
    operator_name = "eq"


class _ArrayAnyLike(_ArrayAny):
    inherit_cache = True
    operator_name = "like"


class _ArrayAnyILike(_ArrayAny):
    inherit_cache = True
    operator_name = "ilike"


@compiles(_ArrayAny, "sqlite")
def _array_any_sqlite(element: _ArrayAny, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    sql_op = {"eq": "=", "like": "LIKE", "ilike": "LIKE"}[element.operator_name]
    left = "lower(je.value)" if element.operator_name == "ilike" else "je.value"
    right = compiler.process(value, **kw)
    if element.operator_name == "ilike":
        right = f"lower({right})"
    escape = " ESCAPE '\\'" if element.operator_name in ("like", "ilike") else ""
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)}) AS je "
        f"WHERE {left} {sql_op} {right}{escape})"
    )


@compiles(_ArrayAny, "postgresql")
def _array_any_postgresql(element: _ArrayAny, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    sql_op = {"eq": "=", "like": "LIKE", "ilike": "ILIKE"}[element.operator_name]
    escape = " ESCAPE '\\'" if element.operator_name in ("like", "ilike") else ""
    return (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({compiler.process(column, **kw)}) AS je(value) "
        f"WHERE je.value {sql_op} {compiler.process(value, **kw)}{escape})"
    )


def _array_condition(cond: Condition, col: Any) -> ColumnElement[bool]:
    if cond.op in ("eq", "in"):
        return or_(*(_ArrayAnyEq(col, literal(v)) for v in cond.values))
    if cond.op == "like":
        return _ArrayAnyLike(col, literal(like_pattern(cond.values[0])))
    if cond.op == "ilike":
        return _ArrayAnyILike(col, literal(like_pattern(cond.values[0])))
    raise _bad()
