"""Importing a bank statement: read it (camt.053 or MT940), keep each entry once, match every new
credit to the open items it pays, take back what a return returns, in one transaction.

Idempotent by statement and entry: a statement is known by its account's IBAN and the bank's id of
it, an entry by the statement, the bank's reference of the entry and, in a batch booking, the
number of its remittance (each remittance is a payment of its own). Importing the same file again
adds nothing; a statement sent again with more entries adds only those. A file with any problem is
refused whole, every problem located (line, field, value, why)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit import audit, progress
from credit.acting import acting, current
from credit.app import App
from credit.db.locks import lock_customers
from credit.db.models import utcnow
from credit.db.models_cash import BankEntry, BankStatement
from credit.domain import matching
from credit.domain.money import ZERO
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import BankEntryStatus
from credit.domain.statements import Entry, EntryKind, Remittance, Statement, StatementProblem
from credit.services.cash import posting
from credit.services.cash.ledger_index import load_ledger
from credit.services.cash.returns import apply_returns
from credit.services.common import table_of

RATE_PLACES = Decimal("0.0000000001")  # what the rate column keeps
STATEMENT_KEY_MAX = 120
STATEMENT_ID_MAX = 80
IBAN_MAX = 34
ENTRY_KEY_MAX = 255


class ImportSummary(TypedDict):
    file: str
    statements: list[str]  # their keys
    read: int  # payments read (entries; a batch booking's remittances each)
    new: int
    skipped: int  # imported before
    matched: dict[str, int]  # by rule
    unmatched: int
    returns: int  # returns that found the payment they take back
    returns_unmatched: int
    ignored: int  # money out that is not a return
    dry_run: bool
    waiting: list[int]  # the new entries that wait for a collector


@dataclass
class Part:
    """One payment of a statement being imported: an entry, or a remittance of a batch."""

    key: str
    entry: Entry
    remittance: Remittance | None
    number: int | None  # the remittance's number in a batch booking
    amount: Any
    row: dict[str, Any] = field(default_factory=dict)
    outcome: matching.Outcome | None = None
    id: int = 0

    @property
    def kind(self) -> str:
        return str(self.entry.kind)

    def incoming(self) -> matching.Incoming:
        r = self.remittance or Remittance(amount=None, currency=None)
        return matching.Incoming(
            key=self.key,
            amount=self.amount,
            currency=self.entry.currency,
            booked_on=self.entry.booked_on,
            structured=r.structured,
            text=r.text,
            payer_name=r.payer_name,
            payer_iban=_iban(r.payer_iban),
            instructed_amount=r.instructed_amount,
            instructed_currency=r.instructed_currency,
            rate=r.rate,
        )


def read_statements(path: Path) -> list[Statement]:
    """The statements of a file (camt.053 or MT940, told apart by content); raises the parser's
    ``StatementRejected`` (every problem located) for a file it cannot read."""
    from credit.importers.statements import read_statements as parse

    return parse(path)


def import_statement(
    app: App,
    *,
    path: Path,
    actor: str,
    as_of: date | None = None,
    dry_run: bool = False,
    today: date | None = None,
) -> ImportSummary:
    """Read a statement file and import it (see the module docstring); ``dry_run`` matches
    everything and writes nothing. ``today`` (the caller's edge) refuses bookings dated later."""
    statements = read_statements(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return apply_statements(
        app,
        statements,
        file_name=path.name,
        label=str(path),
        sha256=digest,
        actor=actor,
        as_of=as_of,
        dry_run=dry_run,
        today=today,
    )


def apply_statements(  # noqa: PLR0913  # what an import needs, each named
    app: App,
    statements: list[Statement],
    *,
    file_name: str,
    sha256: str,
    actor: str,
    as_of: date | None = None,
    dry_run: bool = False,
    today: date | None = None,
    label: str | None = None,
) -> ImportSummary:
    """Import statements already read: keep the new entries, match them, write the payments,
    all in one transaction (or nothing, on a dry run or any problem). ``label`` names the file
    in messages (default: ``file_name``)."""
    day = as_of or today or app.settings.today()
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        job = _Import(s, app, policy, file_name=file_name, actor=actor, as_of=day, today=today)
        job.label = label or file_name
        via = {**(current() or {}), "imported_by": actor}
        with acting(via), audit.batched(s):
            summary = job.run(statements, sha256=sha256, version=version, dry_run=dry_run)
        if not dry_run:
            uow.commit()
    return summary


class _Import:
    def __init__(  # noqa: PLR0913  # the import's context, each named
        self,
        s: Session,
        app: App,
        policy: PolicyBody,
        *,
        file_name: str,
        actor: str,
        as_of: date,
        today: date | None,
    ) -> None:
        self.s, self.app, self.policy = s, app, policy
        self.file_name, self.actor, self.as_of, self.today = file_name, actor, as_of, today
        self.problems: list[StatementProblem] = []
        self.now = utcnow()
        self.read = 0
        self.skipped = 0
        self.ledger: matching.Ledger | None = None
        self.label = file_name
        self.statement_ids: list[int] = []
        self.new_statements = 0

    # ------------------------------------------------------------------ the whole import

    def run(
        self, statements: list[Statement], *, sha256: str, version: int, dry_run: bool
    ) -> ImportSummary:
        planned = [(st, self._plan(st)) for st in statements]
        if self.problems:
            from credit.importers.statements import StatementRejected

            raise StatementRejected(self.label, self.problems)
        parts = [p for _, ps in planned for p in ps]
        progress.expect("payments", len(parts))
        learned = self._match([p for p in parts if p.kind == EntryKind.CREDIT])
        lock_customers(self.s, {cid for p in parts if (cid := _customer_of(p)) is not None})
        for st, ps in planned:
            self._store(st, ps, sha256)
        self._post(parts, learned, version)
        apply_returns(self.s, [p for p in parts if p.kind == EntryKind.RETURN], now=self.now)
        summary = self._summary(statements, parts, dry_run)
        if not parts and not self.new_statements:  # all imported before: nothing to record
            return summary
        audit.record(
            self.s,
            actor=self.actor,
            action="bank_statement.import",
            entity_type="bank_statement",
            entity_id=",".join(map(str, self.statement_ids))[:60],
            after={k: v for k, v in summary.items() if k not in ("waiting", "dry_run")},
            reason=f"import of {self.file_name}",
            policy_version=version,
        )
        return summary

    # ------------------------------------------------------------------ reading and checking

    def _plan(self, st: Statement) -> list[Part]:
        """The statement's payments not imported before (its problems noted)."""
        iban = matching.normalize_iban(st.account_iban) or ""
        self._check_account(iban)
        key = f"{iban}/{st.statement_id}"
        if len(key) > STATEMENT_KEY_MAX or len(st.statement_id) > STATEMENT_ID_MAX:
            self._problem(
                None,
                "statement id",
                st.statement_id,
                f"is longer than {STATEMENT_ID_MAX} characters",
            )
        known = self._known(key)
        parts = []
        seen: dict[str, int] = {}
        for entry in st.entries:
            for part in self._parts(key, entry):
                self.read += 1
                if part.key in seen:
                    self._problem(
                        entry.line,
                        "entry reference",
                        entry.ref,
                        f"appears twice in the statement (first at line {seen[part.key]})",
                    )
                    continue
                seen[part.key] = entry.line
                if self._imported_before(part, known):
                    continue
                parts.append(part)
        return parts

    def _check_account(self, iban: str) -> None:
        accounts = self.app.bank_accounts
        if iban not in {a.iban for a in accounts.accounts}:
            self._problem(
                None,
                "account",
                iban,
                "is not one of the company's accounts "
                f"({accounts.source or 'the bank accounts file'}: "
                f"{', '.join(a.iban for a in accounts.accounts) or 'none'})",
            )

    def _known(self, statement_key: str) -> dict[str, tuple[str, Any]]:
        """Entry key -> (kind, amount) of the entries of this statement imported before."""
        st, be = table_of(BankStatement), table_of(BankEntry)
        query = (
            sa_select(be.c.entry_key, be.c.kind, be.c.amount)
            .join(st, st.c.id == be.c.statement_id)
            .where(st.c.statement_key == statement_key)
        )
        return {r.entry_key: (r.kind, r.amount) for r in self.s.execute(query)}

    def _imported_before(self, part: Part, known: dict[str, tuple[str, Any]]) -> bool:
        before = known.get(part.key)
        if before is None:
            return False
        self.skipped += 1
        if before != (part.kind, part.amount):
            self._problem(
                part.entry.line,
                "entry",
                part.entry.ref,
                f"was imported before as a {before[0]} of {before[1]:f}; now a {part.kind} of "
                f"{part.amount:f} (a statement entry does not change: ask the bank)",
            )
        return True

    def _parts(self, statement_key: str, entry: Entry) -> list[Part]:
        base = f"{statement_key}/{entry.ref}"
        if self.today is not None and entry.booked_on > self.today:
            self._problem(
                entry.line,
                "booking date",
                entry.booked_on.isoformat(),
                f"is in the future (today is {self.today.isoformat()})",
            )
        if len(base) + 4 > ENTRY_KEY_MAX:
            self._problem(entry.line, "entry reference", entry.ref, "is too long")
        if len(entry.remittances) <= 1:
            r = entry.remittances[0] if entry.remittances else None
            return [Part(base, entry, r, None, entry.amount)]
        parts = []
        for n, r in enumerate(entry.remittances, start=1):
            if r.amount is None:
                self._problem(
                    entry.line, "remittance", str(n), "of a batch booking has no amount of its own"
                )
            parts.append(Part(f"{base}/{n}", entry, r, n, r.amount or ZERO))
        total = sum((p.amount for p in parts), ZERO)
        if total != entry.amount:
            self._problem(
                entry.line,
                "amount",
                f"{entry.amount:f}",
                f"differs from the sum of its {len(parts)} remittances ({total:f})",
            )
        return parts

    def _problem(self, line: int | None, field_name: str, value: str, reason: str) -> None:
        self.problems.append(StatementProblem(line, field_name, value, reason))

    # ------------------------------------------------------------------ matching

    def _match(self, credits: list[Part]) -> list[tuple[Part, str]]:
        """Match each new credit in file order; the IBANs to learn (part, iban)."""
        if not credits:
            return []
        ledger = load_ledger(
            self.s, base_currency=self.app.settings.base_currency, as_of=self.as_of
        )
        known = dict(ledger.ibans)
        cash = self.policy.cash_application
        tolerance = matching.Tolerance(cash.tolerance, cash.tolerance_pct)
        learned = []
        for part in credits:
            paid = part.incoming()
            outcome = matching.match(paid, ledger, tolerance)
            part.outcome = outcome
            if outcome.rule is not None and outcome.customer_id is not None:
                ledger.record(outcome.allocations)
                iban = paid.payer_iban
                if outcome.learn_iban and iban and iban not in known:
                    if ledger.learn_iban(iban, outcome.customer_id):
                        known[iban] = outcome.customer_id
                        learned.append((part, iban))
            progress.advance("payments")
        self.ledger = ledger
        return learned

    # ------------------------------------------------------------------ writing

    def _store(self, st: Statement, parts: list[Part], sha256: str) -> None:
        """The statement (new, or its count of entries raised) and its new entries, with ids."""
        iban = matching.normalize_iban(st.account_iban) or ""
        key = f"{iban}/{st.statement_id}"
        table = table_of(BankStatement)
        row = self.s.execute(
            sa_select(table.c.id).where(table.c.statement_key == key)
        ).scalar_one_or_none()
        if row is None:
            self.new_statements += 1
            row = self.s.execute(
                insert(table).returning(table.c.id),
                [
                    {
                        "statement_key": key,
                        "format": st.format,
                        "statement_id": st.statement_id,
                        "account_iban": iban,
                        "currency": st.currency,
                        "file_name": self.file_name[:255],
                        "sha256": sha256,
                        "created_on": st.created_on,
                        "imported_at": self.now,
                        "imported_by": self.actor,
                        "entries": len(parts),
                    }
                ],
            ).scalar_one()
        elif parts:
            self.s.execute(
                update(table).where(table.c.id == row).values(entries=table.c.entries + len(parts))
            )
        self.statement_ids.append(row)
        rows = [self._entry_row(row, p) for p in parts]
        be = table_of(BankEntry)
        for i in range(0, len(rows), 1000):
            ids = self.s.execute(
                insert(be).returning(be.c.id, sort_by_parameter_order=True), rows[i : i + 1000]
            ).scalars()
            for p, entry_id in zip(parts[i : i + 1000], ids, strict=True):
                p.id = entry_id

    def _entry_row(self, statement_id: int, p: Part) -> dict[str, Any]:
        r = p.remittance or Remittance(amount=None, currency=None)
        paid = p.incoming()
        row = {
            "statement_id": statement_id,
            "entry_key": p.key,
            "entry_ref": p.entry.ref[:120],
            "part": p.number,
            "line": p.entry.line,
            "kind": p.kind,
            "booked_on": p.entry.booked_on,
            "value_on": p.entry.value_on,
            "amount": p.amount,
            "currency": p.entry.currency,
            "payer_name": (r.payer_name or None) and r.payer_name[:140],
            "payer_iban": paid.payer_iban,
            "structured_ref": (r.structured or None) and r.structured[:140],
            "remittance": r.text,
            "end_to_end": (r.end_to_end or None) and r.end_to_end[:140],
            "bank_code": p.entry.bank_code[:60],
            "original_ref": (p.entry.original_ref or None) and p.entry.original_ref[:140],
            "instructed_amount": r.instructed_amount,
            "instructed_currency": r.instructed_currency,
            "rate": r.rate.quantize(RATE_PLACES) if r.rate is not None else None,
            "matched_rule": None,
            "matched_by": None,
            "matched_at": None,
            "customer_id": None,
            "suggestions": [],
            "fx_difference": None,
            "fx_currency": None,
            "returns_id": None,
            "returns_payment_id": None,
            "created_at": self.now,
        }
        row.update(_outcome_fields(p, paid, self.now))
        p.row = row
        return row

    def _post(self, parts: list[Part], learned: list[tuple[Part, str]], version: int) -> None:
        """The payments of the matched entries, the IBANs learned, an audit event each."""
        rows: list[dict[str, Any]] = []
        for p in parts:
            o = p.outcome
            if o is None or o.rule is None or o.customer_id is None:
                continue
            made = posting.payment_rows(
                p.id,
                customer_id=o.customer_id,
                allocations=o.allocations,
                paid_on=p.entry.booked_on,
                now=self.now,
            )
            rows += made
            audit.record(
                self.s,
                actor=posting.MATCHER,
                action="bank_entry.match",
                entity_type="bank_entry",
                entity_id=p.id,
                before={"status": BankEntryStatus.UNMATCHED.value},
                after={
                    "status": BankEntryStatus.MATCHED.value,
                    "rule": o.rule,
                    "customer": self._code(o.customer_id),
                    "payments": posting.payments_view(o.allocations, made),
                },
                reason=next((st.why for st in o.steps if st.applied), o.rule)[:2000],
                policy_version=version,
            )
        posting.write_payments(self.s, rows)
        for p, iban in learned:
            cid = p.outcome.customer_id if p.outcome else None
            if cid is not None:
                posting.learn_iban(
                    self.s,
                    iban=iban,
                    customer_id=cid,
                    customer_code=self._code(cid),
                    entry_id=p.id,
                    by=posting.MATCHER,
                    now=self.now,
                )

    def _code(self, customer_id: int) -> str:
        return self.ledger.code(customer_id) if self.ledger else str(customer_id)

    def _summary(
        self, statements: list[Statement], parts: list[Part], dry_run: bool
    ) -> ImportSummary:
        status = Counter(p.row["status"] for p in parts)
        rules = Counter(
            p.row["matched_rule"]
            for p in parts
            if p.kind == EntryKind.CREDIT and p.row["matched_rule"]
        )
        returns = [p for p in parts if p.kind == EntryKind.RETURN]
        return {
            "file": self.file_name,
            "statements": [
                f"{matching.normalize_iban(st.account_iban)}/{st.statement_id}" for st in statements
            ],
            "read": self.read,
            "new": len(parts),
            "skipped": self.skipped,
            "matched": dict(sorted(rules.items())),
            "unmatched": sum(
                1 for p in parts if p.kind == EntryKind.CREDIT and p.row["status"] == "unmatched"
            ),
            "returns": sum(1 for p in returns if p.row["status"] == BankEntryStatus.MATCHED),
            "returns_unmatched": sum(
                1 for p in returns if p.row["status"] == BankEntryStatus.UNMATCHED
            ),
            "ignored": status.get(BankEntryStatus.IGNORED, 0),
            "dry_run": dry_run,
            "waiting": [p.id for p in parts if p.row["status"] == BankEntryStatus.UNMATCHED],
        }


def _iban(text: str | None) -> str | None:
    """The payer's IBAN, compact (None for an account number that is no IBAN)."""
    iban = matching.normalize_iban(text)
    return iban if iban is not None and len(iban) <= IBAN_MAX else None


def _customer_of(p: Part) -> int | None:
    return p.outcome.customer_id if p.outcome is not None else None


def _outcome_fields(p: Part, paid: matching.Incoming, now: Any) -> dict[str, Any]:
    """The entry's status, rule, customer, explanation and suggestions after matching."""
    if p.kind == EntryKind.DEBIT:
        why = "money out that is not a return: kept for the record, not applied"
        return {
            "status": BankEntryStatus.IGNORED.value,
            "explanation": [{"rule": "debit", "applied": False, "why": why}],
        }
    if p.kind == EntryKind.RETURN or p.outcome is None:
        return {"status": BankEntryStatus.UNMATCHED.value, "explanation": []}
    o = p.outcome
    out: dict[str, Any] = {
        "explanation": posting.steps_json(o.steps),
        "suggestions": posting.suggestions_json(o.suggestions),
    }
    if o.rule is None:
        out["status"] = BankEntryStatus.UNMATCHED.value
        return out
    out.update(
        status=BankEntryStatus.MATCHED.value,
        matched_rule=o.rule,
        matched_by=posting.MATCHER,
        matched_at=now,
        customer_id=o.customer_id,
    )
    if o.fx is not None:
        out.update(fx_difference=o.fx.difference, fx_currency=o.fx.conversion.currency)
        out["explanation"].append(posting.fx_step(o.fx, paid))
    return out
