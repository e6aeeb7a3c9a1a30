"""Signed, expiring, single-use links to the approval page.

A token names the link (nonce), the request, the step, the approver, the round and the expiry, and
is signed with HMAC-SHA256. The link row in the database makes it single-use and lets a decision
made elsewhere (CLI, a new round) turn it stale.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from credit.app import App
from credit.db.models import ApprovalLink, ApprovalStep, utcnow
from credit.domain.authority import Decision
from credit.services.common import ServiceError, saved_id

log = logging.getLogger(__name__)


def web_secret(app: App) -> bytes:
    """CREDIT_WEB_SECRET; on the embedded SQLite default a random secret kept beside the
    database."""
    if app.settings.web_secret:
        return app.settings.web_secret.encode()
    url = make_url(app.settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise ServiceError(
            "set CREDIT_WEB_SECRET (a long random string): it signs approval links and "
            "workspace sessions"
        )
    path = Path(url.database).with_name("web-secret")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: dict) -> str:
    body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def csrf_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, f"csrf|{nonce}".encode(), hashlib.sha256).hexdigest()


def new_link(app: App, s: Session, *, step: ApprovalStep, request_id: int, approver: str) -> str:
    """Create the link row and return the URL for the approver's notice ("" when no signing key is
    configured: the notice then offers the command only, and routing never fails for it)."""
    try:
        secret = web_secret(app)
    except ServiceError as exc:
        log.warning("approval links are off: %s", exc)
        return ""
    nonce = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(hours=app.settings.link_valid_hours)
    s.add(
        ApprovalLink(
            nonce=nonce,
            step_id=saved_id(step),
            request_id=request_id,
            approver=approver,
            round=step.round,
            expires_at=expires,
        )
    )
    token = sign(
        secret,
        {
            "n": nonce,
            "r": request_id,
            "s": step.id,
            "a": approver,
            "rd": step.round,
            "x": int(expires.timestamp()),
        },
    )
    return f"{app.settings.web_base_url}/approve/{token}"


class LinkRefused(Exception):
    """Why a link cannot be used; ``status`` is the HTTP status of the page that says so."""

    def __init__(self, status: int, reason: str, payload: dict | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.payload = status, reason, payload or {}


@dataclass(frozen=True)
class ValidLink:
    link: ApprovalLink
    step: ApprovalStep
    payload: dict


def check(app: App, s: Session, token: str, *, now: datetime | None = None) -> ValidLink:
    """Verify signature, expiry, use and currency of a token; raise :class:`LinkRefused`
    otherwise."""
    now = now or utcnow()
    secret = web_secret(app)
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret, body.encode(), hashlib.sha256).digest()
        if not mac or not hmac.compare_digest(expected, _unb64(mac)):
            raise ValueError("bad signature")
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise LinkRefused(
            400,
            "This link is not valid: it was changed or cut off. Use the link from "
            "your notice, or the command it shows.",
        ) from None
    if datetime.fromtimestamp(int(payload.get("x", 0)), UTC) <= now:
        raise LinkRefused(
            410,
            "This link has expired. Ask the credit team for a new one, or use the "
            "command in your notice.",
            payload,
        )
    link = s.exec(select(ApprovalLink).where(ApprovalLink.nonce == payload.get("n"))).first()
    if link is None or (link.request_id, link.step_id, link.approver, link.round) != (
        payload.get("r"),
        payload.get("s"),
        payload.get("a"),
        payload.get("rd"),
    ):
        raise LinkRefused(400, "This link does not match any approval we sent.", payload)
    if link.used_at is not None:
        raise LinkRefused(409, "This link was already used: a link works once.", payload)
    step = s.get(ApprovalStep, link.step_id)
    if step is None or step.decision != Decision.PENDING or step.round != link.round:
        raise LinkRefused(
            409,
            "This approval step was decided already or the request changed since "
            "the link was sent; nothing is waiting for you here.",
            payload,
        )
    return ValidLink(link, step, payload)


def mark_used(s: Session, *, link_id: int | None) -> None:
    """A link works once: mark it used (inside the transaction of the decision it carried)."""
    s.execute(
        update(ApprovalLink)
        .where(col(ApprovalLink.id) == link_id, col(ApprovalLink.used_at).is_(None))
        .values(used_at=utcnow())
    )
