"""Customer-facing notices in the customer's locale: English and Traditional Chinese (zh-Hant, with
German kept), with amounts and dates formatted for the locale by Babel.

The contexts are the real ones: the lifecycle runs through the services (review, approval,
publication, collections up to hold, release and handover) with a renderer that records what it
was asked to render; then every recorded notice is rendered again in every locale.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from credit import services
from credit.db.models import Customer, Invoice, Notice
from credit.notices import NoticeError, NoticeRenderer
from credit.resources import resource_dir
from tests.integration.test_lifecycle_services import DAY, decide, review

LOCALES = ("en", "de", "zh-Hant")
CUSTOMER_FACING = (
    "dunning_courtesy",
    "dunning_reminder",
    "dunning_second_notice",
    "dunning_final_demand",
    "dunning_credit_hold",
    "dunning_handover",
    "credit_hold_released",
    "terms_letter",
    "temporary_limit_ended",
)
CJK = re.compile(r"[\u4e00-\u9fff]")


class RecordingRenderer(NoticeRenderer):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.seen: dict[str, dict] = {}

    def render(self, kind, locale, context):
        self.seen.setdefault(kind, context)
        return super().render(kind, locale, context)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    import os

    from credit.app import App
    from credit.settings import Settings
    from tests.conftest import TEST_COMPANY, import_sample

    tmp = tmp_path_factory.mktemp("locales")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = f"sqlite:///{tmp / 'credit.db'}"
    env["CREDIT_OUTBOX_DIR"] = str(tmp / "outbox")
    env.update(TEST_COMPANY)
    a = App(Settings.load(env_file=None, environ=env))
    recorder = RecordingRenderer.for_settings(a.settings)
    recorder.seen = {}
    a.__dict__["renderer"] = recorder  # the App's cached renderer
    services.init_database(a, actor="test")
    import_sample(a, payments_until=DAY)
    with a.uow() as uow:  # Helios (C-1005) reads its notices in Traditional Chinese
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1005")).one()
        c.locale = "zh-Hant"
        uow.session.add(c)
        uow.commit()
    rid = review(a, "C-1003", "30000")
    decide(a, rid, "carla.manager")
    services.publish_request(a, request_id=rid, as_of=DAY)
    for day in (
        DAY,
        date(2026, 10, 15),
        date(2026, 11, 2),
        date(2026, 11, 16),
        date(2026, 11, 30),
    ):
        import_sample(a, ("payments",), payments_until=day)  # the day's bank statement
        for cid in services.collection_candidates(a, as_of=day):
            services.dun_customer(a, customer_id=cid, as_of=day, dry_run=False)
    _the_rest_of_the_lifecycle(a)
    _order_releases(a)
    yield a, recorder
    a.engine.dispose()


def _decide(a, subject, sid, user, approve=True, comment="ok", day=DAY):
    services.decide(
        a, subject=subject, subject_id=sid, username=user, approve=approve, comment=comment,
        as_of=day,
    )  # fmt: skip


def _order_releases(a) -> None:
    """A held order released (asked, approved), another refused, a third reminded."""
    for ref, approve in (("SO-L1", True), ("SO-L2", False)):
        asked = services.request_order_release(
            a, customer_code="C-1004", order_ref=ref, amount=Decimal("5000"), reason="deposit",
            by="sam.sales", as_of=DAY,
        )  # fmt: skip
        _decide(a, "order_release", asked["id"], "carla.manager", approve=approve, comment="no")
    services.request_order_release(
        a, customer_code="C-1004", order_ref="SO-L3", amount=Decimal("5000"), reason="deposit",
        by="sam.sales", as_of=DAY,
    )  # fmt: skip
    services.sweep_approvals(a, as_of=DAY, now=datetime.now(UTC) + timedelta(days=3))


def _the_rest_of_the_lifecycle(a) -> None:
    """Rejection, voided approval, reminders, policy committee, periodic reviews, broken promise."""
    _write_offs(a)  # while policy version 1 (two write-off levels above 5,000.00) is in force
    _a_courtesy_reminder(a)  # version 1 has the key_accounts profile with a courtesy reminder
    rejected = review(a, "C-1004", None)
    _decide(a, services.SUBJECT_REQUEST, rejected, "carla.manager", approve=False, comment="no")
    services.advance_request(a, request_id=rejected, as_of=DAY)
    rid = review(a, "C-1001", "120000")
    decide(a, rid, "carla.manager")
    with a.uow() as uow:  # the exposure changes after level 1 approved: its approval is voided
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1001")).one()
        uow.session.add(
            Invoice(customer_id=c.id, number="NEW-1", issue_date=DAY, due_date=date(2026, 11, 1),
                    amount=Decimal("50000"), currency="EUR")
        )  # fmt: skip
        uow.commit()
    with pytest.raises(services.ChainRestarted):
        decide(a, rid, "fiona.director")
    # Steps are due 48 hours after they were created (wall clock): three days on, a reminder.
    services.sweep_approvals(a, as_of=DAY, now=datetime.now(UTC) + timedelta(days=3))
    path = resource_dir("sample_data") / "policy_v2.yaml"
    v = services.propose_policy(a, path=path, by="carla.manager", reason="test")
    services.advance_policy(a, version=v)
    _decide(a, services.SUBJECT_POLICY, v, "fiona.director", approve=False, comment="not yet")
    services.advance_policy(a, version=v)
    v = services.propose_policy(a, path=path, by="carla.manager", reason="again")
    services.advance_policy(a, version=v)
    for user in ("fiona.director", "victor.cfo"):
        _decide(a, services.SUBJECT_POLICY, v, user)
    services.advance_policy(a, version=v)
    day = date(2027, 1, 5)
    due = services.due_reviews(a, as_of=day)
    started = services.review_customers(a, due=due, as_of=day, requested_by="carla.manager")
    by_code = {d["customer"]: d for d in due}
    services.notify_reviews_started(
        a, as_of=day, reviews=[{**by_code[r["customer"]], "review": r} for r in started]
    )
    services.record_promise(
        a, customer_code="C-1007", amount=Decimal("100"), promised_for=date(2026, 12, 1),
        by="cora.collector", as_of=date(2026, 12, 1),
    )  # fmt: skip
    with a.uow() as uow:
        cid = uow.session.exec(select(Customer.id).where(Customer.code == "C-1007")).one()
    services.dun_customer(a, customer_id=cid, as_of=date(2026, 12, 2), dry_run=False)
    from credit.services.service_desk import open_service_task

    with a.uow() as uow:  # what publishing a cut limit does (test_policy_lifecycle covers it)
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1003")).one()
        open_service_task(a, uow.session, customer=c, key="t", reason="credit limit cut",
                          as_of=DAY, notify=True)  # fmt: skip
        uow.commit()
    services.open_dispute(  # its owner hears of it, and is reminded once it is past due
        a, invoice_number="INV-1007-OPEN2", reason="short delivery", by="cora.collector",
        as_of=date(2026, 12, 2), code="delivery", owner="sam.sales",
    )  # fmt: skip
    services.remind_dispute_owners(a, as_of=date(2026, 12, 31))
    report = services.portfolio_report(a, as_of=date(2026, 12, 31), months=3)
    services.notify_policy_research(a, as_of=date(2026, 12, 31), report=report, path="r.md")
    from credit.db.models import Notice
    from credit.services.outbox import tell_operator

    with a.uow() as uow:  # a notice the mail server refused for good: the operator hears of it
        n = uow.session.exec(select(Notice).where(Notice.kind == "terms_letter")).first()
        n.status, n.last_error = "failed", "SMTPRecipientsRefused: 550 no such user"
        uow.session.add(n)
        uow.commit()
    tell_operator(a, [n.id])
    _a_temporary_limit_ends(a)


def _a_courtesy_reminder(a) -> None:
    """A key account hears of an invoice five days before it falls due."""
    services.assign_dunning_profile(
        a, customer_code="C-1005", profile="key_accounts", by="carla.manager", reason="key"
    )
    with a.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1005")).one()
        uow.session.add(
            Invoice(customer_id=c.id, number="SOON-1", issue_date=date(2026, 11, 20),
                    due_date=date(2026, 12, 8), amount=Decimal("500"), currency=c.currency)
        )  # fmt: skip
        uow.commit()
    services.dun_customer(a, customer_id=c.id, as_of=date(2026, 12, 3), dry_run=False)


def _a_temporary_limit_ends(a) -> None:
    """A raise of C-1003's line in force through 15 December falls back on the 16th."""
    from credit.db.models import CreditLine
    from credit.db.models_groups import TemporaryLimit

    with a.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1003")).one()
        line = uow.session.exec(select(CreditLine).where(CreditLine.customer_id == c.id)).one()
        uow.session.add(
            TemporaryLimit(
                customer_id=c.id, review_key="t:temporary", until=date(2026, 12, 15),
                requested_by="ben.manager", requested_on=DAY, status="in_force",
                limit=line.limit, previous_limit=Decimal("20000"), currency=line.currency,
                started_on=DAY,
            )
        )  # fmt: skip
        uow.commit()
    assert len(services.expire_temporary_limits(a, as_of=date(2026, 12, 16))) == 1


def _write_offs(a) -> None:
    """A write-off rejected; one whose proposal changed under an approval (voided), then
    approved at two levels and booked (C-1007's two open invoices)."""
    from credit.db.models_plans import WriteOff

    on = date(2026, 12, 2)

    def propose(invoice: str) -> int:
        return services.propose_write_off(
            a, customer_code="C-1007", currency="EUR", invoices=[invoice], reason="insolvent",
            by="cora.collector", as_of=on,
        )["id"]  # fmt: skip

    small = propose("INV-1007-OPEN2")
    _decide(a, "write_off", small, "carla.manager", approve=False, comment="they pay", day=on)
    big = propose("INV-1007-OPEN1")
    _decide(a, "write_off", big, "carla.manager", day=on)
    with a.uow() as uow:
        wo = uow.session.get(WriteOff, big)
        wo.reason = "insolvent: the administrator pays nothing"
        uow.session.add(wo)
        uow.commit()
    with pytest.raises(services.ChainRestarted):
        _decide(a, "write_off", big, "fiona.director", day=on)
    _decide(a, "write_off", big, "carla.manager", day=on)
    _decide(a, "write_off", big, "fiona.director", day=on)


def test_the_lifecycle_produced_every_kind_of_notice(recorded):
    _, recorder = recorded
    on_disk = {
        p.name.split(".")[0]
        for p in (resource_dir("templates") / "notices").glob("*.j2")
        if not p.name.startswith(("_", "base"))
    }
    # A call task has the context of every dunning level (the shipped policy calls no one).
    recorder.seen.setdefault("call_task", recorder.seen["dunning_handover"])
    assert set(CUSTOMER_FACING) <= set(recorder.seen)
    assert on_disk == set(recorder.seen), on_disk ^ set(recorder.seen)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_recorded_notice_renders_in_every_locale(recorded, locale):
    _, recorder = recorded
    for kind, context in recorder.seen.items():
        rendered = recorder.render(kind, locale, context)
        assert rendered.subject and rendered.text.strip() and "<html" in rendered.html.lower()
        if locale == "zh-Hant" and kind in CUSTOMER_FACING:
            # its own template, not the English fallback
            assert CJK.search(rendered.subject) and CJK.search(rendered.text), kind


def test_zh_hant_notice_formats_money_and_dates_for_the_locale(recorded):
    _, recorder = recorded
    ctx = recorder.seen["dunning_final_demand"]
    zh = recorder.render("dunning_final_demand", "zh-Hant", ctx)
    en = recorder.render("dunning_final_demand", "en", ctx)
    total = ctx["overdue_total"]
    assert isinstance(total, Decimal)
    # Babel's zh_Hant writes the euro amount as €21,171.51 and the date as 2026年11月2日.
    assert f"€{total:,.2f}" in zh.text
    assert "2026年11月2日" in zh.text
    assert "Nov 2, 2026" in en.text or "November 2, 2026" in en.text
    de = recorder.render("dunning_reminder", "de", recorder.seen["dunning_reminder"])
    assert re.search(r"\d{1,3}(\.\d{3})*,\d{2}\s€", de.text)  # 14.800,00 €


def test_a_zh_hant_customer_gets_zh_hant_notices(recorded):
    a, _ = recorded
    with a.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1005")).one()
        mine = [
            n
            for n in uow.session.exec(select(Notice).where(Notice.customer_id == c.id))
            if c.email in n.recipients
        ]
    assert {n.kind for n in mine} >= {"dunning_reminder", "dunning_handover"}
    for n in mine:
        assert n.locale == "zh-Hant" and CJK.search(n.subject), (n.kind, n.subject)
        assert "€" in n.text and "年" in n.text  # amounts and dates in the zh-Hant style


COUNT_KEYS = {
    "days_overdue", "terms_days", "days", "months", "count", "holds", "cleared", "handovers",
    "invoices_due", "attempts", "total", "dso",
}  # fmt: skip
# "1 days", "1 Tage", "1 notice(s)": a count of one with a plural noun.
ONE_PLURAL = re.compile(
    r"(?<![\d.,])1 (days|months|hours|notices|invoices|items|customers|credit lines|signals|"
    r"new signals|new risk signals|reviews|attempts|holds|episodes|handovers|late charges|"
    r"credits|Tage|Monate|Stunden|Rechnungen)\b"
)


def _ones(value):
    """The context with every count 1 and every list cut to its first item."""
    if isinstance(value, dict):
        return {
            k: 1 if k in COUNT_KEYS and isinstance(v, int | Decimal | str) and v not in ("", None)
            else _ones(v)
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list | tuple):
        return [_ones(v) for v in value[:1]]
    return value


@pytest.mark.parametrize("locale", LOCALES)
def test_a_count_of_one_takes_the_singular_in_every_notice_and_locale(recorded, locale):
    _, recorder = recorded
    wrong = []
    for kind, context in recorder.seen.items():
        for ctx in (context, _ones(context)):
            r = recorder.render(kind, locale, ctx)
            for part in (r.subject, r.text, r.html):
                wrong += [(kind, m.group(0)) for m in ONE_PLURAL.finditer(part)]
                wrong += [(kind, m.group(0)) for m in re.finditer(r".{30}\(s\)", part)]
    assert sorted(set(wrong)) == [], "\n".join(map(str, sorted(set(wrong))))
    one = _ones(recorder.seen["dunning_reminder"])
    text = recorder.render("dunning_reminder", locale, one).text
    assert {"en": "1 day overdue", "de": "1 Tag überfällig", "zh-Hant": "1"}[locale] in text


def _local(due: str) -> str:
    from zoneinfo import ZoneInfo

    moment = datetime.strptime(due, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo("Europe/Berlin"))  # CREDIT_TIMEZONE (the default)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def test_due_and_decision_times_are_shown_in_the_company_time_zone(recorded):
    _, recorder = recorded
    wrong = []
    for kind, context in recorder.seen.items():
        r = recorder.render(kind, "en", context)
        for part in (r.subject, r.text, r.html):
            wrong += [(kind, m.group(0)) for m in re.finditer(r".{30} UTC", part)]
    assert sorted(set(wrong)) == [], "\n".join(map(str, sorted(set(wrong))))
    asked = recorder.seen["qualitative_needed"]
    r = recorder.render("qualitative_needed", "en", asked)
    assert asked["due_at"].endswith(" UTC")
    assert f"due {_local(asked['due_at'])}" in r.subject and _local(asked["due_at"]) in r.text
    reminder = recorder.seen["approval_reminder"]
    r = recorder.render("approval_reminder", "en", reminder)
    assert f"was due by {_local(reminder['step']['due_at'])}" in r.text
    assert f", due {_local(reminder['step']['due_at'])}" in r.subject
    rejected = recorder.seen["request_rejected"]
    r = recorder.render("request_rejected", "en", rejected)
    assert f"on {_local(rejected['rejection']['decided_at'])}." in r.text


def test_a_customer_notice_is_refused_at_render_without_the_company_settings(recorded):
    from credit.settings import Settings

    _, recorder = recorded
    unconfigured = NoticeRenderer.for_settings(Settings.load(env_file=None, environ={}))
    for kind in CUSTOMER_FACING:
        with pytest.raises(NoticeError) as refused:
            unconfigured.render(kind, "de", recorder.seen[kind])
        for name in ("NAME", "ADDRESS", "CONTACT", "PAYMENT_DETAILS"):
            assert f"CREDIT_COMPANY_{name} (not set)" in str(refused.value), kind
    # notices to the company's own people go on, signed by the department alone
    for kind, context in recorder.seen.items():
        if kind not in CUSTOMER_FACING:
            r = unconfigured.render(kind, "en", context)
            assert r.text.rstrip().splitlines()[-2:][0] == "Credit Department", kind
    internal = {**recorder.seen["credit_hold_released"], "audience": "internal"}
    assert "Credit Department" in unconfigured.render("credit_hold_released", "en", internal).text
