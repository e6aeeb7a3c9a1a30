"""JSON columns are written by orjson: the same JSON value json.dumps writes, and where orjson
would not write what json.dumps writes (or would write what json.dumps refuses), json.dumps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.db.engine import json_dumps

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(st.dictionaries(st.text(), _json, max_size=6) | st.lists(_json, max_size=6))
def test_the_written_text_reads_back_as_what_json_dumps_writes(value):
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


class Status(StrEnum):
    OPEN = "open"


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {1: "a key that is not a string"},
        {"n": 2**70},  # over 64 bits
        {"status": Status.OPEN},
        [True, 1, "é and \u2028"],
    ],
    ids=["int key", "big int", "str enum", "plain"],
)
def test_what_orjson_will_not_take_as_json_dumps_would_is_written_by_json_dumps(value):
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "value",
    [{"amount": Decimal("1.00")}, {"day": date(2026, 12, 1)}, {"point": Point(1)}],
    ids=["Decimal", "date", "dataclass"],
)
def test_what_json_dumps_refuses_is_still_refused(value):
    # orjson would write a date or a dataclass; a JSON column takes them as json.dumps does
    # (not at all: the product turns them into strings and dicts first, audit.jsonable).
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        json_dumps(value)
