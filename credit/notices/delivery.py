"""Delivery: claim due notices, send each (file | SMTP | letter), record the outcome, retry with
exponential backoff; a sweep stops early while the mail server is down."""

from __future__ import annotations

import logging
import random
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import func
from sqlmodel import Session, col, select

from credit import progress
from credit.db.models import UNSENT, Notice, NoticeStatus, utcnow
from credit.faults import checkpoint
from credit.notices import stopping
from credit.notices.base import Channel
from credit.notices.claims import (
    LEASE,
    Outgoing,
    claim,
    due_notices,
    held_back,
    mark,
    waiting,
)
from credit.notices.document import LetterRefused
from credit.notices.message import Attachment, build_message, message_id
from credit.notices.transports import LetterWriter, Transport

log = logging.getLogger("credit.notices")

MAX_ATTEMPTS = 6
CLAIM = 200  # notices taken per claim
RETRY_BASE = 30.0  # seconds before the first retry; doubled each time (jittered, capped at 1 h)
GIVE_UP_AFTER = 3  # server failures in a row that end a sweep


class SendOutcome(StrEnum):
    """What became of one notice a sender took: ``failed`` is this notice's problem (retried or
    failed for good), ``unavailable`` the server's (it waits), ``unbuildable`` never a message."""

    SENT = "sent"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    UNBUILDABLE = "unbuildable"


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    # Taken over from a sender that stopped after claiming them (its lease ended): the server may
    # have accepted them already, so the recipient may get them twice, with the same Message-ID.
    repeated: int = 0
    failed_ids: list[int] = field(default_factory=list)  # failed for good in this sweep
    stopped: str = ""  # why the sweep stopped before the outbox was empty (the server is down)
    # After the sweep: notices waiting out a retry delay, and the earliest of their next attempts
    # (UTC); customer notices held back because the company's details are not configured.
    waiting: int = 0
    next_attempt: datetime | None = None
    held: int = 0
    held_reason: str = ""

    def done(self) -> int:
        """The notices this sweep has an outcome for (sent, to be retried, failed)."""
        return self.sent + self.retried + self.failed


@dataclass(frozen=True)
class Sender:
    """How a sweep sends: the e-mail transport, the letters' folder, the sender address, the
    base of the retry delays."""

    transport: Transport
    letters: LetterWriter
    mail_from: str
    retry_base: float = RETRY_BASE
    # Makes a customer letter's files (its PDF ...) from what its notice stored, and refuses one
    # naming no or an old account (credit.notices.pdf_maker.LetterMaker); None: such notices fail.
    letter_maker: Any = None


class DeliveryOptions(TypedDict, total=False):
    """The options of :func:`deliver_pending` (``mail_from`` is required)."""

    mail_from: Required[str]
    limit: int | None
    notice_ids: list[int] | None
    letters_dir: Path | None
    lease: timedelta
    retry_base: float
    hold: frozenset[str]
    hold_reason: str
    letter_maker: Any


@dataclass
class _Sweep:
    """One delivery sweep: its session, how it sends, which notices, what it has done so far."""

    session: Session
    sender: Sender
    began: datetime  # due before the sweep began: a notice retried in this sweep waits
    limit: int | None
    notice_ids: list[int] | None
    lease: timedelta
    held: Any
    report: DeliveryReport = field(default_factory=DeliveryReport)
    down: int = 0  # server failures in a row

    @property
    def per_chunk(self) -> bool:
        return bool(getattr(self.sender.transport, "idempotent", False))

    def more(self) -> bool:
        return self.limit is None or self.report.done() < self.limit

    def want(self) -> int:
        # A file is rewritten by a second send, so files are claimed 200 at a time; a mail
        # cannot be unsent, so each is claimed alone, right before it is sent.
        size = CLAIM if self.per_chunk else 1
        return size if self.limit is None else min(size, self.limit - self.report.done())


def deliver_pending(
    engine: Any, transport: Transport, **options: Unpack[DeliveryOptions]
) -> DeliveryReport:
    """Send what the outbox holds (or just ``notice_ids``): claim a chunk, send each, mark each.

    Over SMTP each notice is claimed alone (its lease covers one message, not a chunk that a slow
    server could outlast) and marked sent in its own commit right after the server accepted it:
    a crash in between repeats at most that one message, with the same Message-ID. A transport
    that writes files (``idempotent``: sending again rewrites the same file) is claimed and marked
    200 at a time.
    Letters (channel ``letter``) are written as printable HTML files to ``letters_dir`` for the
    post room, whatever the e-mail transport. Notices to customers of the kinds in ``hold`` are
    not sent (they stay pending, no attempt spent): the company's details they print are not
    configured (``hold_reason``)."""
    hold = options.get("hold", frozenset())
    sender = Sender(
        transport=transport,
        letters=LetterWriter(options.get("letters_dir") or Path("var/outbox/letters")),
        mail_from=options["mail_from"],
        retry_base=options.get("retry_base", RETRY_BASE),
        letter_maker=options.get("letter_maker"),
    )
    began = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        sweep = _Sweep(
            session=session,
            sender=sender,
            began=began,
            limit=options.get("limit"),
            notice_ids=options.get("notice_ids"),
            lease=options.get("lease", LEASE),
            held=held_back(hold) if hold else None,
        )
        try:
            _run(sweep)
            session.commit()  # the last mark (when the limit ended the loop)
            stopping.handed_over()
            _count_what_is_left(sweep, options.get("hold_reason", ""))
        finally:
            stopping.handed_over()
            transport.close()
    return sweep.report


def _expect(sweep: _Sweep) -> None:
    """Tell a watcher how many notices are due now (counted only when someone watches)."""
    if not progress.watched():
        return
    due = due_notices(
        "",  # counted, not claimed: no row locks
        sweep.began,
        sweep.limit if sweep.limit is not None else 2**62,
        notice_ids=sweep.notice_ids,
        held=sweep.held,
    )
    progress.expect(
        "notices", sweep.session.exec(select(func.count()).select_from(due.subquery())).one()
    )


def _run(sweep: _Sweep) -> None:
    """Claim, send and mark until the outbox is empty, the limit reached or the server down."""
    _expect(sweep)
    while sweep.more():
        if stopping.asked():  # the last message's mark committed, then the end: no new claim
            sweep.session.commit()
            stopping.handed_over()
        claimed = claim(
            sweep.session,
            sweep.began,
            sweep.want(),
            sweep.notice_ids,
            lease=sweep.lease,
            held=sweep.held,
        )
        stopping.handed_over()  # the claim committed the last message's mark
        if not claimed:
            break
        chunk = [out for out, _ in claimed]
        interrupted = [out.id for out, again in claimed if again]
        if interrupted:
            sweep.report.repeated += len(interrupted)
            log.warning(
                "notice(s) %s: a sender stopped after claiming them; sending again with "
                "the same Message-ID (the recipient may get a copy twice)",
                interrupted,
            )
        # (the claim committed: no transaction, on SQLite no write lock, while sending)
        _send_chunk(sweep, chunk)
        if sweep.down >= GIVE_UP_AFTER:
            # The server is down or hanging: what is left waits for the next sweep
            # instead of timing out notice after notice.
            sweep.session.commit()
            sweep.report.stopped = (
                f"{sweep.down} failures in a row, the last: {chunk[-1].last_error}"
            )
            log.warning("delivery stopped for now: %s", sweep.report.stopped)
            break


def _send_chunk(sweep: _Sweep, chunk: list[Outgoing]) -> None:
    stopping.handing_over()
    for out in chunk:
        outcome = send_one(out, sweep.sender, sweep.report)
        progress.advance("notices")
        sweep.down = sweep.down + 1 if outcome == SendOutcome.UNAVAILABLE else 0
        if not sweep.per_chunk:
            if outcome == SendOutcome.SENT:
                checkpoint("delivery.accepted")
            # Marked now, committed with the next claim: one commit per message. A
            # failure before that commit repeats this one message, as a crash would.
            mark(sweep.session, [out])
    if sweep.per_chunk:
        checkpoint("delivery.accepted")
        mark(sweep.session, chunk)
        sweep.session.commit()
        stopping.handed_over()


def _count_what_is_left(sweep: _Sweep, hold_reason: str) -> None:
    session, report = sweep.session, sweep.report
    # What other senders hold right now (their leases have not ended).
    report.skipped = session.exec(
        select(func.count())
        .select_from(Notice)
        .where(UNSENT, Notice.status == NoticeStatus.SENDING)
        .where(col(Notice.claimed_until) >= utcnow())
    ).one()
    report.waiting, report.next_attempt = waiting(session, utcnow(), sweep.held, sweep.notice_ids)
    if sweep.held is not None:
        report.held = session.exec(
            select(func.count()).select_from(Notice).where(UNSENT, sweep.held)
        ).one()
        report.held_reason = hold_reason if report.held else ""


def send_one(notice: Outgoing, sender: Sender, report: DeliveryReport) -> SendOutcome:
    """Send one claimed notice and record the outcome on it (the caller marks and commits):
    ``sent``, ``failed`` (this notice), ``unavailable`` (the server) or ``unbuildable``."""
    now = utcnow()
    if notice.message_id is None:
        notice.message_id = message_id(notice, sender.mail_from)
    if notice.attempts > MAX_ATTEMPTS + 2:  # claimed again and again, never an outcome
        return fail(notice, report, f"claimed {notice.attempts} times without an outcome")
    try:
        files = letter_files(notice, sender)
    except LetterRefused as exc:  # no or another account: refused, never sent with a wrong one
        fail(notice, report, f"not sent: {exc}")
        return SendOutcome.UNBUILDABLE
    except Exception as exc:
        fail(notice, report, f"its letter (PDF) cannot be made: {type(exc).__name__}: {exc}")
        return SendOutcome.UNBUILDABLE
    try:
        message = build_message(notice, mail_from=sender.mail_from, attachments=files)
    except Exception as exc:  # a notice that cannot become a message never will
        fail(notice, report, f"cannot build the message: {type(exc).__name__}: {exc}")
        return SendOutcome.UNBUILDABLE
    try:
        if notice.channel == Channel.LETTER:
            where = sender.letters.write(notice, files)
        else:
            where = sender.transport.send(notice, message)
    except (smtplib.SMTPException, OSError) as exc:
        return _not_delivered(notice, report, exc, now=now, retry_base=sender.retry_base)
    except Exception as exc:  # the notice itself cannot be sent (say, an address smtplib refuses)
        abandon = getattr(sender.transport, "abandon", None)
        if abandon is not None:
            abandon()
        return fail(notice, report, f"cannot be sent: {type(exc).__name__}: {exc}")
    notice.status = NoticeStatus.SENT
    notice.sent_at = utcnow()
    notice.delivered_to = where
    notice.claimed_until = None
    report.sent += 1
    return SendOutcome.SENT


def letter_files(notice: Outgoing, sender: Sender) -> list[Attachment]:
    """The files a customer letter goes with, made from what its notice stored (none for other
    notices). Raises :class:`LetterRefused` when it must not go out as stored."""
    if not notice.document:
        return []
    if sender.letter_maker is None:
        raise LetterRefused(
            "this delivery cannot make customer letters (it has neither the company's details "
            "nor its bank accounts): deliver with `credit notices deliver`"
        )
    files: list[Attachment] = sender.letter_maker.files(notice)
    return files


def _not_delivered(
    notice: Outgoing, report: DeliveryReport, exc: Exception, *, now: datetime, retry_base: float
) -> SendOutcome:
    """The transport refused or failed: the server waits (no attempt spent), this notice is
    retried with backoff or, refused for good or out of attempts, fails."""
    notice.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if server_unavailable(exc):
        # The server (or our login to it) failed, not this notice: it waits without
        # spending an attempt, and the sweep stops after a few of these.
        notice.attempts -= 1
        notice.status = NoticeStatus.PENDING
        notice.claimed_until = now + timedelta(seconds=retry_base * random.uniform(0.8, 1.2))
        report.retried += 1
        log.warning("notice %s waits: the mail server failed: %s", notice.id, notice.last_error)
        return SendOutcome.UNAVAILABLE
    if permanent(exc) or notice.attempts >= MAX_ATTEMPTS:
        notice.status, notice.claimed_until = NoticeStatus.FAILED, None
        report.failed += 1
        report.failed_ids.append(notice.id)
    else:  # exponential backoff with jitter: 1, 2, 4, 8 ... times the base, capped at 1 h
        backoff = min(3600.0, retry_base * 2 ** (notice.attempts - 1))
        notice.status = NoticeStatus.PENDING
        notice.claimed_until = now + timedelta(seconds=backoff * random.uniform(0.8, 1.2))
        report.retried += 1
    log.warning("notice %s not delivered: %s", notice.id, notice.last_error)
    return SendOutcome.FAILED


def fail(notice: Outgoing, report: DeliveryReport, why: str) -> SendOutcome:
    """This notice failed for good: recorded on it and in the report."""
    notice.last_error = why[:2000]
    notice.status, notice.claimed_until = NoticeStatus.FAILED, None
    report.failed += 1
    report.failed_ids.append(notice.id)
    log.error("notice %s failed: %s", notice.id, notice.last_error)
    return SendOutcome.FAILED


def permanent(exc: Exception) -> bool:
    """A 5xx answer, or every recipient refused with a 5xx: sending again cannot help. (A 4xx,
    greylisting say, is temporary.)"""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def server_unavailable(exc: Exception) -> bool:
    """The server itself, or the session with it, failed: down, unreachable, hanging, closing,
    refusing our login or our sender address. Not one message's problem."""
    if isinstance(
        exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError | smtplib.SMTPNotSupportedError
    ):
        return True
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPSenderRefused):
        return True  # 530/535 after a password change; a sender address the server refuses
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError) and not isinstance(
        exc, smtplib.SMTPRecipientsRefused
    )
