"""Numbers and ids read from request text (paths, query strings), ASCII only (SPEC §12.5).

`str.isdigit()` holds for "²" and "٣", and `int()` reads Arabic-Indic digits ("١٠" is 10) while refusing
superscripts; `uuid.UUID()` reads any Unicode decimal digit. A value a client typed is only ever taken in
the digits every other part of the system (and every other client) reads the same way.
"""

from __future__ import annotations

import re
import uuid

_DIGITS = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")


def is_ascii_digits(raw: str) -> bool:
    """One or more of 0-9 and nothing else."""
    return _DIGITS.fullmatch(raw) is not None


def parse_natural(raw: str, *, max_digits: int) -> int | None:
    """`raw` as a non-negative integer written in at most `max_digits` ASCII digits, else None."""
    if len(raw) > max_digits or not is_ascii_digits(raw):
        return None
    return int(raw)


def parse_integer(raw: str) -> int | None:
    """`raw` as an integer (optional sign, ASCII digits), else None."""
    if _SIGNED.fullmatch(raw) is None:
        return None
    return int(raw)


def parse_uuid(raw: object) -> uuid.UUID | None:
    """A UUID in any form `uuid.UUID` takes, written in ASCII, else None (also for a value not a string)."""
    if not isinstance(raw, str) or not raw.isascii():
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
