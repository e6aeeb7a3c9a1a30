"""``audit.jsonable``: what goes into JSON columns and the audit chain, the same the first time
a kind of value is seen and every time after (its dataclasses' fields are remembered)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import ClassVar

from credit.audit import jsonable
from credit.domain import scoring


class Colour(Enum):
    RED = "red"


class Mood(StrEnum):
    CALM = "calm"


@dataclass
class Inner:
    amount: Decimal
    on: date


@dataclass
class Outer:
    LIMIT: ClassVar[int] = 3
    name: str
    inner: Inner
    items: list[Inner] = field(default_factory=list)
    pair: tuple[int, Decimal] = (1, Decimal("2.50"))
    colour: Colour = Colour.RED
    mood: Mood = Mood.CALM


def test_values_become_json_ready_and_stay_so_on_the_second_call():
    when = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {
        1: Outer(
            "x", Inner(Decimal("1.10"), date(2027, 1, 1)), [Inner(Decimal("0"), date(2026, 12, 31))]
        ),
        "at": when,
        "set": {Decimal("5")},
        "flag": True,
        "none": None,
        "float": 1.5,
    }
    expected = {
        "1": {
            "LIMIT": 3,  # what __dataclass_fields__ lists, as before
            "name": "x",
            "inner": {"amount": "1.10", "on": "2027-01-01"},
            "items": [{"amount": "0", "on": "2026-12-31"}],
            "pair": [1, "2.50"],
            "colour": "red",
            "mood": "calm",
        },
        "at": "2027-01-02T03:04:05+00:00",
        "set": ["5"],
        "flag": True,
        "none": None,
        "float": 1.5,
    }
    assert jsonable(value) == expected
    assert jsonable(value) == expected  # the dataclasses' fields now come from the cache


def test_a_qualitative_row_is_what_asdict_then_jsonable_gave():
    row = scoring.QualitativeScore(
        "mgmt", "Management", Decimal("70"), Decimal("0.4"), Decimal("28.00")
    )
    assert (
        jsonable([row])
        == jsonable([asdict(row)])
        == [
            {
                "name": "mgmt",
                "label": "Management",
                "score": "70",
                "weight": "0.4",
                "weighted": "28.00",
            }
        ]
    )
