"""At delivery: the files a customer letter goes with (its PDF, the statement of account its
level attaches, the EPC QR code its e-mail shows), made from what the notice stored; and the check
that the account it names is still the company's for its currency (else it is not sent).
Importing it is cheap: the PDF libraries are loaded with the first letter."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from credit.domain.bank_accounts import BankAccounts
from credit.notices.document import Letter, LetterRefused, account_problem
from credit.notices.message import Attachment


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "letter"


@dataclass
class LetterMaker:
    """Makes a stored letter's files for delivery, with the company's details and its accounts
    (read on the first letter: a bad accounts file refuses the letters, not the other notices)."""

    company: Mapping[str, Any]
    load_accounts: Callable[[], BankAccounts]
    _accounts: BankAccounts | None = field(default=None, init=False)

    @property
    def accounts(self) -> BankAccounts:
        if self._accounts is None:
            try:
                self._accounts = self.load_accounts()
            except ValueError as exc:  # ConfigError: the file, entry, field, value and reason
                raise LetterRefused(f"the company's bank accounts cannot be read: {exc}") from exc
        return self._accounts

    def files(self, notice: Any) -> list[Attachment]:
        """The letter's PDF first, then a statement of account and the inline QR code if it has
        them; none for a notice without a letter. Raises :class:`LetterRefused`."""
        letter = Letter.of(notice)
        if letter is None:
            return []
        # fpdf2 and what it loads (fontTools, Pillow: about 0.7 s) come with the first letter: a
        # delivery of internal notices alone (an approval's, a reminder's) goes without them.
        from credit.notices.pdf_letter import as_of_of, epc_payload, letter_pdf
        from credit.notices.pdf_statement import statement_pdf

        problem = account_problem(letter, self.accounts)
        if problem is not None:
            raise LetterRefused(problem)
        code = _safe(str(letter.context["customer"]["code"]))
        day = as_of_of(letter).isoformat()
        files = [
            Attachment(
                filename=f"{_safe(letter.kind.replace('_', '-'))}-{code}-{day}.pdf",
                content_type="application/pdf",
                data=letter_pdf(letter, company=self.company),
            )
        ]
        statement = letter.context.get("account_statement")
        if statement:
            data = statement_pdf(
                statement, company=self.company, locale=letter.locale, created=letter.created_at
            )
            files.append(
                Attachment(f"statement-of-account-{code}-{day}.pdf", "application/pdf", data)
            )
        remit = letter.remittance
        if remit is not None and remit.get("inline_qr"):
            from credit.notices.pdf import qr_png

            payload = epc_payload(remit)
            if payload is not None:
                files.append(
                    Attachment("epc-qr.png", "image/png", qr_png(payload), remit["qr_cid"])
                )
        return files
