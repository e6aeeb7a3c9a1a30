"""Customer groups: a parent company's customers share a group limit, and the order check compares
every member's exposure together against it.

Setting a group's limit is a credit decision taken by one person with the authority for it: a
holder of a role of the policy's authority matrix whose ``authority_limit`` (base currency)
covers the group limit (credit managers up to theirs, larger ones the finance director or CFO);
it is audited with the reason. Membership changes (add, remove) need the same role, any amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, col, select

from credit import audit
from credit.app import App
from credit.db.locks import lock_customer
from credit.db.models import Customer, SalesOrder, utcnow
from credit.db.models_groups import CustomerGroup, CustomerGroupMember
from credit.domain.directory import Approver
from credit.domain.money import ZERO, check_amount, check_currency, fmt_money, money
from credit.domain.policy import PolicyBody
from credit.domain.receivables_status import OrderStatus
from credit.services.common import (
    ServiceError,
    get_customer,
    known_person,
    required_text,
    saved_id,
)
from credit.services.ledger import converter, open_items

CODE_MAX = 40


class MemberExposure(TypedDict):
    customer: str
    name: str
    receivables: str
    open_orders: str
    exposure: str


class GroupView(TypedDict):
    """A group with its members' exposure, in the group's currency at the latest rates."""

    code: str
    name: str
    currency: str
    limit: str
    receivables: str
    open_orders: str
    exposure: str
    headroom: str
    over_limit: bool
    members: list[MemberExposure]
    unvalued: list[str]
    as_of: str


class GroupOrderCheck(TypedDict):
    """What the order check adds for a customer in a group."""

    group: GroupView
    this_order: str
    exposure_with_order: str
    reasons: list[str]


# --------------------------------------------------------------------------- reading


def group_of(s: Session, customer_id: int) -> CustomerGroup | None:
    """The group a customer belongs to, if any."""
    member = s.exec(
        select(CustomerGroupMember).where(CustomerGroupMember.customer_id == customer_id)
    ).first()
    return None if member is None else s.get(CustomerGroup, member.group_id)


def _members(s: Session, group: CustomerGroup) -> list[Customer]:
    return list(
        s.exec(
            select(Customer)
            .join(CustomerGroupMember, col(CustomerGroupMember.customer_id) == col(Customer.id))
            .where(CustomerGroupMember.group_id == group.id)
            .order_by(col(Customer.code))
        )
    )


def group_view(s: Session, base_currency: str, group: CustomerGroup, as_of: date) -> GroupView:
    """Every member's open receivables (net of credits, disputed or not) and open orders in the
    group's currency at the latest rates on ``as_of``; what has no rate is named, not counted."""
    target = group.currency
    convert = converter(s, base_currency, target, as_of)
    unvalued: list[str] = []
    members: list[MemberExposure] = []
    total_r = total_o = ZERO
    for m in _members(s, group):
        receivables = orders = ZERO
        for cur, its in open_items(s, saved_id(m), as_of).items():
            value = convert(sum((i.open_amount for i in its), ZERO), cur)
            if value is None:
                unvalued.append(f"{m.code}: open items in {cur} (no rate {cur}->{target})")
            else:
                receivables += value
        for o in s.exec(
            select(SalesOrder).where(
                SalesOrder.customer_id == m.id, SalesOrder.status == OrderStatus.OPEN
            )
        ):
            value = convert(o.amount, o.currency)
            if value is None:
                unvalued.append(f"{m.code}: order {o.number} (no rate {o.currency}->{target})")
            else:
                orders += value
        receivables, orders = money(receivables), money(orders)
        total_r, total_o = total_r + receivables, total_o + orders
        members.append(
            {
                "customer": m.code,
                "name": m.name,
                "receivables": str(receivables),
                "open_orders": str(orders),
                "exposure": str(receivables + orders),
            }
        )
    exposure = money(total_r + total_o)
    return {
        "code": group.code,
        "name": group.name,
        "currency": target,
        "limit": str(money(group.limit)),
        "receivables": str(money(total_r)),
        "open_orders": str(money(total_o)),
        "exposure": str(exposure),
        "headroom": str(money(group.limit - exposure)),
        "over_limit": exposure > group.limit,
        "members": members,
        "unvalued": unvalued,
        "as_of": as_of.isoformat(),
    }


def customer_group_view(
    s: Session, base_currency: str, customer: Customer, as_of: date
) -> GroupView | None:
    """The group of a customer with its exposure (research's evidence, the customer's page)."""
    group = group_of(s, saved_id(customer))
    return None if group is None else group_view(s, base_currency, group, as_of)


def order_group_check(
    s: Session,
    base_currency: str,
    *,
    customer: Customer,
    amount: Decimal,
    currency: str,
    as_of: date,
) -> GroupOrderCheck | None:
    """The group's side of an order check: the group's exposure + this order against the group
    limit (None when the customer is in no group). A group limit can hold an order the
    customer's own limit would allow."""
    group = group_of(s, saved_id(customer))
    if group is None:
        return None
    view = group_view(s, base_currency, group, as_of)
    target = group.currency
    reasons = [f"group {group.code}: cannot value {what}" for what in view["unvalued"]]
    this = converter(s, base_currency, target, as_of)(amount, currency)
    if this is None:
        reasons.append(f"group {group.code}: no exchange rate {currency}->{target} for this order")
        this = ZERO
    this = money(this)
    total = money(Decimal(view["exposure"]) + this)
    if total > group.limit:

        def m(value: Decimal | str) -> str:
            return fmt_money(Decimal(value), target)

        reasons.append(
            f"group {group.code} ({group.name}, {len(view['members'])} members): exposure "
            f"{m(total)} (receivables {m(view['receivables'])} + open orders "
            f"{m(view['open_orders'])} + this order {m(this)}) exceeds the group limit "
            f"{m(group.limit)} by {m(total - group.limit)}"
        )
    return {
        "group": view,
        "this_order": str(this),
        "exposure_with_order": str(total),
        "reasons": reasons,
    }


# --------------------------------------------------------------------------- deciding


def _decider(
    app: App, s: Session, policy: PolicyBody, username: str, *, limit: Decimal | None,
    currency: str, as_of: date,
) -> Approver:  # fmt: skip
    """The person managing a group: a role of the authority matrix and, setting a limit, the
    authority for it in the base currency; anyone else is refused by name."""
    person = known_person(app, username)
    roles = {level.role for level in policy.authority.levels}
    if not roles & set(person.roles):
        raise ServiceError(
            f"{person.username} may not manage customer groups: it takes one of the roles "
            f"{', '.join(sorted(roles))}"
        )
    if limit is None:  # membership: the role is enough
        return person
    base = converter(s, policy.base_currency, policy.base_currency, as_of)(limit, currency)
    if base is None:
        raise ServiceError(
            f"no exchange rate {currency}->{policy.base_currency} on {as_of}: cannot weigh the "
            "group limit against anyone's authority"
        )
    if money(base) > person.authority_limit:
        raise ServiceError(
            f"{person.username} may decide limits up to "
            f"{fmt_money(person.authority_limit, policy.base_currency)}; the group limit "
            f"{fmt_money(limit, currency)} is {fmt_money(money(base), policy.base_currency)}: it "
            "takes someone with more authority"
        )
    return person


def _checked_limit(limit: Decimal, currency: str) -> Decimal:
    if limit <= 0:
        raise ServiceError(f"the group limit {limit} must be positive")
    why = check_amount(limit, currency)
    if why:
        raise ServiceError(f"the group limit {limit}: {why}")
    return money(limit)


def _checked_code(code: str) -> str:
    text = (code or "").strip().upper()
    if not text or len(text) > CODE_MAX or not all(ch.isalnum() or ch in "-_." for ch in text):
        raise ServiceError(
            f"the group code {code!r} must be 1 to {CODE_MAX} letters, digits, '-', '_' or '.'"
        )
    return text


def get_group(s: Session, code: str) -> CustomerGroup:
    group = s.exec(select(CustomerGroup).where(CustomerGroup.code == code.strip().upper())).first()
    if group is None:
        raise ServiceError(f"no customer group with code {code!r}")
    return group


def create_group(  # noqa: PLR0913  (the group's own fields, keyword-only)
    app: App,
    *,
    code: str,
    name: str,
    currency: str,
    limit: Decimal,
    by: str,
    reason: str,
    as_of: date,
) -> GroupView:
    """A new group with its limit (a credit decision: audited, by someone with the authority)."""
    code = _checked_code(code)
    name = required_text(name, "the group name", 200)
    reason = required_text(reason, "a reason")
    currency = (currency or "").strip().upper()
    why = check_currency(currency)
    if why:
        raise ServiceError(f"the group currency {currency!r}: {why}")
    limit = _checked_limit(limit, currency)
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        person = _decider(app, s, policy, by, limit=limit, currency=currency, as_of=as_of)
        if s.exec(select(CustomerGroup).where(CustomerGroup.code == code)).first():
            raise ServiceError(f"a customer group {code} exists already")
        group = CustomerGroup(
            code=code,
            name=name,
            currency=currency,
            limit=limit,
            created_by=person.username,
            created_on=as_of,
        )
        s.add(group)
        s.flush()
        audit.record(
            s,
            actor=person.username,
            action="group.create",
            entity_type="customer_group",
            entity_id=code,
            after={"name": name, "currency": currency, "limit": limit},
            reason=reason,
            policy_version=version,
        )
        view = group_view(s, policy.base_currency, group, as_of)
        uow.commit()
        return view


def set_group_limit(
    app: App, *, code: str, limit: Decimal, by: str, reason: str, as_of: date
) -> GroupView:
    """Change a group's limit (audited, by someone with the authority for the new limit)."""
    reason = required_text(reason, "a reason")
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        group = get_group(s, code)
        limit = _checked_limit(limit, group.currency)
        person = _decider(app, s, policy, by, limit=limit, currency=group.currency, as_of=as_of)
        before = {"limit": group.limit}
        group.limit = limit
        group.updated_at = utcnow()
        s.add(group)
        audit.record(
            s,
            actor=person.username,
            action="group.limit",
            entity_type="customer_group",
            entity_id=group.code,
            before=before,
            after={"limit": limit},
            reason=reason,
            policy_version=version,
        )
        view = group_view(s, policy.base_currency, group, as_of)
        uow.commit()
        return view


def add_members(
    app: App, *, code: str, customers: list[str], by: str, reason: str, as_of: date
) -> GroupView:
    """Put customers in a group; a customer already in another group is refused (remove it
    there first); one already in this group is left as it is."""
    reason = required_text(reason, "a reason")
    if not customers:
        raise ServiceError("name at least one customer to add")
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        group = get_group(s, code)
        person = _decider(app, s, policy, by, limit=None, currency=group.currency, as_of=as_of)
        for cust_code in customers:
            customer = get_customer(s, cust_code.strip().upper())
            lock_customer(s, saved_id(customer))
            current = group_of(s, saved_id(customer))
            if current is not None and current.id == group.id:
                continue
            if current is not None:
                raise ServiceError(
                    f"customer {customer.code} is in group {current.code} already; a customer "
                    "is in one group at most (remove it there first)"
                )
            s.add(
                CustomerGroupMember(
                    group_id=saved_id(group),
                    customer_id=saved_id(customer),
                    added_by=person.username,
                    added_on=as_of,
                )
            )
            audit.record(
                s,
                actor=person.username,
                action="group.add_member",
                entity_type="customer",
                entity_id=customer.code,
                before={"group": None},
                after={"group": group.code},
                reason=reason,
                policy_version=version,
            )
        s.flush()
        view = group_view(s, policy.base_currency, group, as_of)
        uow.commit()
        return view


def remove_member(
    app: App, *, code: str, customer_code: str, by: str, reason: str, as_of: date
) -> GroupView:
    """Take a customer out of its group (audited)."""
    reason = required_text(reason, "a reason")
    with app.uow() as uow:
        s = uow.session
        version, policy = app.published_policy(s)
        group = get_group(s, code)
        person = _decider(app, s, policy, by, limit=None, currency=group.currency, as_of=as_of)
        customer = get_customer(s, customer_code.strip().upper())
        lock_customer(s, saved_id(customer))
        member = s.exec(
            select(CustomerGroupMember).where(
                CustomerGroupMember.customer_id == customer.id,
                CustomerGroupMember.group_id == group.id,
            )
        ).first()
        if member is None:
            raise ServiceError(f"customer {customer.code} is not in group {group.code}")
        s.delete(member)
        audit.record(
            s,
            actor=person.username,
            action="group.remove_member",
            entity_type="customer",
            entity_id=customer.code,
            before={"group": group.code},
            after={"group": None},
            reason=reason,
            policy_version=version,
        )
        s.flush()
        view = group_view(s, policy.base_currency, group, as_of)
        uow.commit()
        return view


def show_group(app: App, *, code: str, as_of: date) -> GroupView:
    with app.uow(read_only=True) as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        return group_view(s, policy.base_currency, get_group(s, code), as_of)


def list_groups(app: App, *, as_of: date) -> list[GroupView]:
    with app.uow(read_only=True) as uow:
        s = uow.session
        _, policy = app.published_policy(s)
        groups = s.exec(select(CustomerGroup).order_by(col(CustomerGroup.code))).all()
        return [group_view(s, policy.base_currency, g, as_of) for g in groups]
