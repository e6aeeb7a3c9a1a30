"""Transports: ``.eml`` files (idempotent), SMTP (one connection per sweep), printed letters."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol

from credit.notices.message import envelope_recipients, header_value
from credit.settings import Delivery


class Transport(Protocol):
    def send(self, notice: Any, message: bytes) -> str: ...
    def close(self) -> None: ...


class FileTransport:
    """Writes each notice as an RFC 5322 ``.eml`` file; the name derives from the notice id, so
    writing a notice again replaces its file (no duplicate)."""

    idempotent = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, notice: Any) -> Path:
        return self.directory / f"{notice.id:07d}-{notice.kind}.eml"

    def send(self, notice: Any, message: bytes) -> str:
        target = self.path_for(notice)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(bytes(message))
        os.replace(tmp, target)  # atomic: a reader never sees half a message
        return str(target)

    def close(self) -> None:
        pass


class LetterWriter:
    """Writes a letter for the post room: its PDF (A4, for a window envelope) and, beside it, its
    printable HTML; a statement of account it goes with as a second PDF. The file names derive
    from the notice id, so writing a letter again replaces its files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, notice: Any) -> Path:
        return self.directory / f"{notice.id:07d}-{notice.kind}.html"

    def write(self, notice: Any, files: Sequence[Any] = ()) -> str:
        """Write the letter; where it is (its PDF, or its HTML when it has no PDF)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(notice)
        _replace(target, notice.html.encode("utf-8"))
        pdfs = [f for f in files if f.content_type == "application/pdf"]
        for n, pdf in enumerate(pdfs):
            suffix = ".pdf" if n == 0 else f"-{n + 1}.pdf"
            _replace(target.with_name(target.stem + suffix), pdf.data)
        return str(target.with_suffix(".pdf") if pdfs else target)


def _replace(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically: a reader never sees half a file."""
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)


class SmtpTransport:
    """One SMTP connection reused for a batch; reconnects once if the server dropped it."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str | None,
        password: str | None,
        starttls: bool,
        timeout: float,
        mail_from: str = "",
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.starttls, self.timeout = starttls, timeout
        self.envelope_from = parseaddr(mail_from)[1]
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            conn.starttls(context=ssl.create_default_context())
        if self.user:
            conn.login(self.user, self.password or "")
        return conn

    def send(self, notice: Any, message: bytes) -> str:
        sender = self.envelope_from or parseaddr(header_value(message, b"From"))[1]
        to = envelope_recipients(notice)
        try:
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = self._conn.sendmail(sender, to, message)
            except smtplib.SMTPServerDisconnected:  # an idle connection the server closed
                self._conn = self._connect()
                refused = self._conn.sendmail(sender, to, message)
        except (smtplib.SMTPException, OSError):
            # A timeout or a refusal may leave the dialogue mid-way (a late reply would be read
            # as the answer to the next message): the next message gets a new connection.
            self.abandon()
            raise
        where = f"smtp://{self.host}:{self.port}"
        if refused:  # some recipients accepted, these not: say so on the notice
            where += " (refused: " + ", ".join(sorted(refused)) + ")"
        return where

    def abandon(self) -> None:
        """Drop the connection without a goodbye (its dialogue may be mid-way)."""
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._conn = None


def transport_for(settings: Any) -> Transport:
    """The transport the settings choose: SMTP when a host is set, else ``.eml`` files."""
    if settings.delivery == Delivery.SMTP:
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
            mail_from=settings.mail_from,
        )
    return FileTransport(Path(settings.outbox_dir))
