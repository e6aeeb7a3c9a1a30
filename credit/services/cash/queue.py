"""The collector's side of cash application: the payments waiting unmatched (with suggestions),
one entry with how it was matched, a match a person makes or confirms, and a match undone.

Collectors and credit managers match and undo; every change is audited with the entry before and
after. A match writes one received payment per item (and one on account for what is left over),
so every balance, dunning step, hold and promise sees it; undoing it marks those payments
reversed (never deleted) and puts the entry back in the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import Customer, Invoice, Payment, utcnow
from credit.db.models_cash import BankEntry, BankStatement, CustomerBankAccount
from credit.domain import matching
from credit.domain.matching_amounts import fx_of, listing
from credit.domain.money import fmt_money
from credit.domain.receivables_status import BankEntryStatus, PaymentStatus
from credit.services.casework.shared import WORKS_CASES, roles_under
from credit.services.cash import posting
from credit.services.cash.ledger_index import load_ledger
from credit.services.cash.returns import Found, take_back
from credit.services.common import ServiceError, get_customer, known_user, required_text, saved_id

REASON_MAX = 500


def unmatched_payments(app: App, *, limit: int = 500) -> list[dict[str, Any]]:
    """The payments (and returns) waiting for a collector, oldest booking first."""
    with app.uow(read_only=True) as uow:
        rows = uow.session.exec(
            select(BankEntry)
            .where(BankEntry.status == BankEntryStatus.UNMATCHED)
            .order_by(col(BankEntry.booked_on), col(BankEntry.id))
            .limit(limit)
        ).all()
        return [_summary(e) for e in rows]


def _summary(e: BankEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "status": e.status,
        "booked_on": e.booked_on,
        "amount": e.amount,
        "currency": e.currency,
        "payer_name": e.payer_name,
        "payer_iban": e.payer_iban,
        "reference": e.structured_ref,
        "remittance": e.remittance,
        "suggestions": e.suggestions,
    }


def payment_entry(app: App, *, entry_id: int) -> dict[str, Any]:
    """One entry: what the bank said, how it was matched (each rule tried and why), its
    suggestions and the payments it wrote."""
    with app.uow(read_only=True) as uow:
        s = uow.session
        e = _entry(s, entry_id)
        st = s.get(BankStatement, e.statement_id)
        customer = s.get(Customer, e.customer_id) if e.customer_id else None
        payments = s.exec(
            select(Payment, Invoice.number)
            .join(Invoice, col(Invoice.id) == col(Payment.invoice_id), isouter=True)
            .where(Payment.bank_entry_id == e.id)
            .order_by(col(Payment.id))
        ).all()
        return {
            **_summary(e),
            "entry_key": e.entry_key,
            "line": e.line,
            "value_on": e.value_on,
            "end_to_end": e.end_to_end,
            "bank_code": e.bank_code,
            "instructed_amount": e.instructed_amount,
            "instructed_currency": e.instructed_currency,
            "rate": e.rate,
            "statement": {"file": st.file_name, "format": st.format, "key": st.statement_key}
            if st
            else None,
            "rule": e.matched_rule,
            "matched_by": e.matched_by,
            "matched_at": e.matched_at,
            "customer": customer.code if customer else None,
            "explanation": e.explanation,
            "fx_difference": e.fx_difference,
            "fx_currency": e.fx_currency,
            "returns": e.returns_id,
            "payments": [
                {
                    "reference": p.reference,
                    "invoice": number,
                    "amount": p.amount,
                    "currency": p.currency,
                    "status": p.status,
                    "paid_on": p.paid_on,
                }
                for p, number in payments
            ],
        }


def _entry(s: Session, entry_id: int) -> BankEntry:
    found = s.get(BankEntry, entry_id)
    if found is None:
        raise ServiceError(f"no bank statement entry {entry_id}")
    return found


def _may_match(app: App, s: Session, by: str) -> tuple[str, int]:
    """Who matches (a collector or credit manager), and the published policy's version."""
    who = known_user(app, by)
    version, policy = app.published_policy(s)
    if not roles_under(app, policy, who) & WORKS_CASES:
        raise ServiceError(
            f"{who} may not match or undo payments: collectors and credit managers do"
        )
    return who, version


def _open_to_match(s: Session, e: BankEntry) -> None:
    if e.kind == "debit":
        raise ServiceError(
            f"entry {e.id} is money out ({e.bank_code or 'a debit'}): nothing to match"
        )
    if e.status == BankEntryStatus.MATCHED:
        who = _code(s, e.customer_id)
        raise ServiceError(
            f"entry {e.id} is matched already ({e.matched_rule} by {e.matched_by}, {who}): "
            "undo its match first"
        )
    if e.status == BankEntryStatus.RETURNED:
        raise ServiceError(f"entry {e.id} was taken back by the bank (a return): nothing to match")


def _code(s: Session, customer_id: int | None) -> str:
    c = s.get(Customer, customer_id) if customer_id else None
    return c.code if c else "no customer"


def match_payment(  # noqa: PLR0913  # what a person's match names, each keyword-only
    app: App,
    *,
    entry_id: int,
    by: str,
    invoices: list[str] | None = None,
    customer: str | None = None,
    suggestion: int | None = None,
    returns: int | None = None,
    reason: str | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """A person matches an entry: to invoices (paid oldest first, the rest on account), to a
    customer alone (all on account), to its ``suggestion`` (1 = the first), or, for a return,
    to the entry it ``returns``. Refused with one line (and nothing changed) for an unknown
    entry or invoice, items of another customer or currency, items paid already, an entry
    matched already."""
    with app.uow() as uow:
        s = uow.session
        who, version = _may_match(app, s, by)
        e = _entry(s, entry_id)
        _open_to_match(s, e)
        note = (reason or "").strip()[:REASON_MAX]
        if e.kind == "return":
            _match_return(s, e, returns, by=who, reason=note)
        else:
            if returns is not None:
                raise ServiceError(
                    f"entry {e.id} is a credit, not a return: only a return takes back another entry"
                )
            numbers, code = _target(e, invoices or [], customer, suggestion)
            _match_credit(
                app,
                s,
                e,
                numbers=numbers,
                code=code,
                by=who,
                reason=note,
                as_of=as_of,
                version=version,
            )
        uow.commit()
    return payment_entry(app, entry_id=entry_id)


def _target(
    e: BankEntry, invoices: list[str], customer: str | None, suggestion: int | None
) -> tuple[list[str], str | None]:
    """The invoice numbers and the customer a person named (or the suggestion they chose)."""
    if suggestion is not None:
        if invoices or customer:
            raise ServiceError("choose a suggestion or name invoices (or a customer), not both")
        if not 1 <= suggestion <= len(e.suggestions):
            have = len(e.suggestions)
            raise ServiceError(
                f"entry {e.id} has {have} suggestion{'' if have == 1 else 's'}"
                + (f": choose 1 to {have}" if have else ": name the invoices it pays")
            )
        chosen = e.suggestions[suggestion - 1]
        return list(chosen["invoices"]), str(chosen["customer"])
    numbers = [n.strip() for n in invoices if n.strip()]
    if not numbers and not customer:
        raise ServiceError(
            "name the invoices it pays, a suggestion to confirm, or the customer to keep it on "
            "account"
        )
    return numbers, customer.strip().upper() if customer else None


def _match_credit(  # noqa: PLR0913  # the entry, what was named, who and why
    app: App,
    s: Session,
    e: BankEntry,
    *,
    numbers: list[str],
    code: str | None,
    by: str,
    reason: str,
    as_of: date | None,
    version: int,
) -> None:
    rows = _invoices(s, numbers)
    owner = get_customer(s, code) if code else None
    cid = _one_customer(s, rows, owner)
    lock_customer(s, cid)
    ledger = load_ledger(
        s,
        base_currency=app.settings.base_currency,
        as_of=as_of or app.settings.today(),
        customer_ids=[cid],
    )
    paid = _incoming(e)
    currency = rows[0].currency if rows else e.currency
    items = []
    for inv in rows:
        item = ledger.items.get(saved_id(inv))
        if item is None or ledger.open_amount(item.invoice_id) <= 0:
            raise ServiceError(f"{inv.number} is paid already (nothing is open on it)")
        items.append(item)
    valued = matching.convert(paid, currency, ledger.rates) if currency != e.currency else None
    if isinstance(valued, str):
        raise ServiceError(f"entry {e.id} cannot pay {currency} items: {valued}")
    allocations = matching.allocate(valued.amount if valued else e.amount, items, ledger, currency)
    fx = fx_of(valued, allocations, ledger)
    _record(
        s,
        e,
        _Match(cid, ledger.code(cid), allocations, fx, paid),
        by=by,
        reason=reason,
        version=version,
    )


@dataclass(frozen=True)
class _Match:
    customer_id: int
    customer: str
    allocations: list[matching.Allocation]
    fx: matching.Fx | None
    paid: matching.Incoming


def _record(  # noqa: PLR0913  # the entry, its match, who, why, under which policy
    s: Session, e: BankEntry, m: _Match, *, by: str, reason: str, version: int
) -> None:
    """Write a person's match: the payments, the entry, the audit event, the IBAN learned."""
    before = posting.entry_view(e)
    now = utcnow()
    made = posting.payment_rows(
        saved_id(e),
        customer_id=m.customer_id,
        allocations=m.allocations,
        paid_on=e.booked_on,
        first=posting.payments_so_far(s, saved_id(e)) + 1,
        now=now,
    )
    posting.write_payments(s, made)
    said = f"{by} matched it: {listing(m.allocations)}" + (f" ({reason})" if reason else "")
    e.status, e.matched_rule, e.matched_by, e.matched_at = (
        BankEntryStatus.MATCHED.value,
        matching.RULE_MANUAL,
        by,
        now,
    )
    e.customer_id = m.customer_id
    e.explanation = [*e.explanation, {"rule": matching.RULE_MANUAL, "applied": True, "why": said}]
    if m.fx is not None:
        e.fx_difference, e.fx_currency = m.fx.difference, m.fx.conversion.currency
        e.explanation = [*e.explanation, posting.fx_step(m.fx, m.paid)]
    s.add(e)
    audit.record(
        s,
        actor=by,
        action="bank_entry.match",
        entity_type="bank_entry",
        entity_id=saved_id(e),
        before=before,
        after={
            **posting.entry_view(e),
            "customer": m.customer,
            "payments": posting.payments_view(m.allocations, made),
        },
        reason=reason or "matched by hand",
        policy_version=version,
    )
    _learn(s, e, m.customer_id, m.customer, by=by, now=now)


def _invoices(s: Session, numbers: list[str]) -> list[Invoice]:
    rows = []
    for number in dict.fromkeys(numbers):
        inv = s.exec(select(Invoice).where(Invoice.number == number)).first()
        if inv is None:
            raise ServiceError(f"no invoice {number!r}")
        if inv.amount <= 0:
            raise ServiceError(f"{number} is a credit note, not an item to pay")
        rows.append(inv)
    currencies = sorted({i.currency for i in rows})
    if len(currencies) > 1:
        raise ServiceError(
            f"the invoices are in {' and '.join(currencies)}: match one currency's items at a time"
        )
    return rows


def _one_customer(s: Session, rows: list[Invoice], owner: Customer | None) -> int:
    owners = sorted({i.customer_id for i in rows})
    if owner is not None:
        for inv in rows:
            if inv.customer_id != owner.id:
                raise ServiceError(
                    f"{inv.number} belongs to {_code(s, inv.customer_id)}, not {owner.code}"
                )
        return saved_id(owner)
    if len(owners) > 1:
        named = ", ".join(f"{i.number} ({_code(s, i.customer_id)})" for i in rows)
        raise ServiceError(f"the invoices belong to different customers ({named}): name one's")
    return owners[0]


def _incoming(e: BankEntry) -> matching.Incoming:
    return matching.Incoming(
        key=e.entry_key,
        amount=e.amount,
        currency=e.currency,
        booked_on=e.booked_on,
        structured=e.structured_ref,
        text=e.remittance,
        payer_name=e.payer_name,
        payer_iban=e.payer_iban,
        instructed_amount=e.instructed_amount,
        instructed_currency=e.instructed_currency,
        rate=e.rate,
    )


def _learn(  # noqa: PLR0913  # the entry, its customer, who and when
    s: Session, e: BankEntry, cid: int, code: str, *, by: str, now: Any
) -> None:
    """A person confirmed whose payment it is: the IBAN it came from is the customer's."""
    if not e.payer_iban:
        return
    known = s.exec(
        select(CustomerBankAccount).where(CustomerBankAccount.iban == e.payer_iban)
    ).first()
    if known is None:
        posting.learn_iban(
            s,
            iban=e.payer_iban,
            customer_id=cid,
            customer_code=code,
            entry_id=saved_id(e),
            by=by,
            now=now,
        )


def _match_return(s: Session, e: BankEntry, returns: int | None, *, by: str, reason: str) -> None:
    if returns is None:
        raise ServiceError(f"entry {e.id} is a return: name the credit entry it takes back")
    original = _entry(s, returns)
    if original.kind != "credit":
        raise ServiceError(f"entry {returns} is not a credit: a return takes back a credit")
    if original.status == BankEntryStatus.RETURNED:
        raise ServiceError(f"entry {returns} was returned already")
    if original.amount != e.amount or original.currency != e.currency:
        raise ServiceError(
            f"entry {returns} is {fmt_money(original.amount, original.currency)}, the return "
            f"{fmt_money(e.amount, e.currency)}: a return takes back the whole amount"
        )
    take_back(
        s,
        e,
        Found(original, None, f"{by} matched it to entry {returns}"),
        steps=[],
        by=by,
        now=utcnow(),
        reason=reason or "matched by hand",
    )


def unmatch_payment(app: App, *, entry_id: int, by: str, reason: str) -> dict[str, Any]:
    """Undo a match: the entry's payments are reversed (kept, paying nothing), an IBAN learned
    from it is forgotten, and it waits in the queue again with fresh suggestions; a return
    undone gives back the payments it bounced. Audited with the entry before and after."""
    note = required_text(reason, "the reason for undoing the match", REASON_MAX)
    with app.uow() as uow:
        s = uow.session
        who, version = _may_match(app, s, by)
        e = _entry(s, entry_id)
        if e.status != BankEntryStatus.MATCHED:
            raise ServiceError(f"entry {e.id} is {e.status}, not matched: nothing to undo")
        if e.customer_id is not None:
            lock_customer(s, e.customer_id)
        before = {**posting.entry_view(e), "customer": _code(s, e.customer_id)}
        if e.kind == "return":
            changed = _undo_return(s, e)
        else:
            changed = _reverse_payments(s, e)
            _forget_iban(s, e, by=who)
            e.suggestions = _fresh_suggestions(app, s, e)
        e.status = BankEntryStatus.UNMATCHED.value
        e.matched_rule = e.matched_by = None
        e.matched_at = None
        e.customer_id = None
        e.fx_difference = e.fx_currency = None
        e.explanation = [
            *e.explanation,
            {"rule": "unmatch", "applied": True, "why": f"{who} undid the match: {note}"},
        ]
        s.add(e)
        audit.record(
            s,
            actor=who,
            action="bank_entry.unmatch",
            entity_type="bank_entry",
            entity_id=saved_id(e),
            before=before,
            after={**posting.entry_view(e), "payments": changed},
            reason=note,
            policy_version=version,
        )
        uow.commit()
    return payment_entry(app, entry_id=entry_id)


def _reverse_payments(s: Session, e: BankEntry) -> list[str]:
    payments = s.exec(
        select(Payment).where(
            Payment.bank_entry_id == e.id, Payment.status == PaymentStatus.RECEIVED
        )
    ).all()
    for p in payments:
        p.status = PaymentStatus.REVERSED.value
        s.add(p)
    return [f"{p.reference} reversed" for p in payments]


def _undo_return(s: Session, e: BankEntry) -> list[str]:
    """The payments a return bounced are received again; the credit it took back is back."""
    changed = []
    if e.returns_id is not None:
        original = _entry(s, e.returns_id)
        bounced = s.exec(
            select(Payment).where(
                Payment.bank_entry_id == original.id, Payment.status == PaymentStatus.BOUNCED
            )
        ).all()
        for p in bounced:
            p.status = PaymentStatus.RECEIVED.value
            s.add(p)
            changed.append(f"{p.reference} received")
        original.status = (
            BankEntryStatus.MATCHED.value if bounced else BankEntryStatus.UNMATCHED.value
        )
        undone = f"the return (entry {e.id}) was undone: {original.status} again"
        original.explanation = [
            *original.explanation,
            {"rule": matching.RULE_RETURN, "applied": False, "why": undone},
        ]
        s.add(original)
        e.returns_id = None
    if e.returns_payment_id is not None:
        taken = s.get(Payment, e.returns_payment_id)
        if taken is not None and taken.status == PaymentStatus.BOUNCED:
            taken.status = PaymentStatus.RECEIVED.value
            s.add(taken)
            changed.append(f"{taken.reference} received")
        e.returns_payment_id = None
    return changed


def _forget_iban(s: Session, e: BankEntry, *, by: str) -> None:
    learned = s.exec(
        select(CustomerBankAccount).where(CustomerBankAccount.learned_from_id == e.id)
    ).all()
    for acc in learned:
        audit.record(
            s,
            actor=by,
            action="customer_bank_account.forget",
            entity_type="customer",
            entity_id=_code(s, acc.customer_id),
            before={"iban": acc.iban, "bank_entry": e.id},
            reason=f"the match of bank entry {e.id} it was learned from was undone",
        )
    if learned:
        s.execute(
            delete(CustomerBankAccount).where(col(CustomerBankAccount.learned_from_id) == e.id)
        )


def _fresh_suggestions(app: App, s: Session, e: BankEntry) -> list[dict[str, Any]]:
    """Suggestions for an entry back in the queue: among the customer it was matched to and the
    one its IBAN is known for (a whole-ledger search is the import's)."""
    ids = {e.customer_id} if e.customer_id else set()
    if e.payer_iban:
        owner = s.exec(
            select(CustomerBankAccount.customer_id).where(CustomerBankAccount.iban == e.payer_iban)
        ).first()
        if owner is not None:
            ids.add(owner)
    ledger = load_ledger(
        s, base_currency=app.settings.base_currency, as_of=app.settings.today(), customer_ids=ids
    )
    _, policy = app.published_policy(s)
    tolerance = matching.Tolerance(
        policy.cash_application.tolerance, policy.cash_application.tolerance_pct
    )
    hints = {
        cid: [matching.Hint("reference", f"matched to {ledger.code(cid)} before")]
        for cid in ids
        if cid == e.customer_id
    }
    return posting.suggestions_json(matching.suggest(_incoming(e), ledger, tolerance, hints))
