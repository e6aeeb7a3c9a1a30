"""The web workspace's tables: accounts, sessions, sign-in attempts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UserAccount(SQLModel, table=True):
    """A directory person's sign-in to the web workspace: an Argon2 hash (never the password),
    whether it is disabled, and the single sign-on identity it is linked to."""

    __tablename__ = "user_account"

    username: str = Field(primary_key=True, max_length=60)
    password_hash: str | None = Field(default=None, max_length=200)
    oidc_subject: str | None = Field(default=None, max_length=255, unique=True)
    disabled_at: datetime | None = None
    disabled_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    password_set_at: datetime | None = None
    last_sign_in_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries a random token, the row only its SHA-256. Ended
    by sign-out, by the idle and absolute timeouts, or when the account is disabled or reset."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True, max_length=64)  # sha256(token) hex
    username: str = Field(max_length=60, index=True)
    method: str = Field(max_length=20)  # password | oidc
    csrf: str = Field(max_length=64)
    client: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    ended_reason: str | None = Field(default=None, max_length=40)


class SignInAttempt(SQLModel, table=True):
    """Every password sign-in attempt, for throttling per account and per address."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_username_at", "username", "at"),
        Index("ix_sign_in_attempt_client_at", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    username: str = Field(max_length=60)
    client: str = Field(max_length=64)
    ok: bool = False
    throttled: bool = False
