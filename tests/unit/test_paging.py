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
