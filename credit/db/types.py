"""Column types that keep money exact on every database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from credit.domain.money import MAX_AMOUNT

SCALE = 4
_FACTOR = Decimal(10) ** SCALE


class Money(TypeDecorator):
    """Decimal money: NUMERIC(19,4) where the database has it; on SQLite an exact integer of
    ten-thousandths, so that SUM() and comparisons in SQL stay exact (SQLite's NUMERIC is a float)."""

    impl = Numeric(19, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(19, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, never a float")
        value = Decimal(value)
        scaled = value * _FACTOR
        if scaled != scaled.to_integral_value():
            raise ValueError(f"amount {value} has more than {SCALE} decimal places")
        if abs(value) > MAX_AMOUNT:
            raise ValueError(f"amount {value} is larger than the maximum {MAX_AMOUNT}")
        if dialect.name == "sqlite":
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / _FACTOR).quantize(Decimal(1).scaleb(-SCALE))
        return Decimal(value).quantize(Decimal(1).scaleb(-SCALE))


class Rate(TypeDecorator):
    """An exact exchange rate: NUMERIC(24,10) on PostgreSQL, the decimal text on SQLite."""

    impl = Numeric(24, 10, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(24, 10, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("rates must be a Decimal, never a float")
        value = Decimal(value)
        if value.as_tuple().exponent < -10:
            raise ValueError(f"rate {value} has more than 10 decimal places")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:  # noqa: ARG002  # SQLAlchemy's signature
        return None if value is None else Decimal(str(value)).normalize()
