from __future__ import annotations

import pytest

from assortment.domain.paging import Paging
from assortment.errors import BadRequest


def test_defaults() -> None:
    assert Paging.parse(None, None) == Paging(limit=25, offset=0)


def test_limit_is_clamped_to_100() -> None:
    assert Paging.parse("1000", "0").limit == 100


@pytest.mark.parametrize(
    ("limit", "offset"), [("0", None), ("x", None), (None, "-1"), (None, "10001"), ("", None)]
)
def test_bad_values(limit: str | None, offset: str | None) -> None:
    with pytest.raises(BadRequest):
        Paging.parse(limit, offset)


@pytest.mark.parametrize("value", ["²", "٣", "١٠", "1²", "５", "10\u00a0", "+5", "1_0", "-"])
@pytest.mark.parametrize("name", ["limit", "offset"])
def test_only_ascii_digits_are_integers(name: str, value: str) -> None:
    """SPEC §12.5: "²".isdigit() holds and int("١٠") is 10; neither is a page value."""
    with pytest.raises(BadRequest, match="must be an integer"):
        Paging.parse(value if name == "limit" else None, value if name == "offset" else None)


def test_ascii_values_with_surrounding_spaces() -> None:
    assert Paging.parse(" 10 ", "\t3") == Paging(limit=10, offset=3)
