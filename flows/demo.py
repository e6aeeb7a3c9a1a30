"""The demo: the whole lifecycle on the shipped sample data, on SQLite and Prefect's local mode.

Run it with ``credit demo`` (or ``make demo``); it sets up its own folder first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from credit import services
from credit.app import App
from credit.db.models import AssessmentStatus
from credit.domain.money import fmt_money
from credit.domain.words import counted, said
from credit.resources import resource_dir, sample_payments_until
from flows import demo_control
from flows.approval import approval
from flows.collections import collections
from flows.periodic_review import periodic_review
from flows.policy import policy
from flows.policy_research import policy_review
from flows.review import complete_review, credit_review
from tasks.runtime import app

REVIEW_DAY = date(2026, 10, 1)
COLLECTION_DAYS = [
    date(2026, 10, 1),
    date(2026, 10, 15),
    date(2026, 11, 2),
    date(2026, 11, 16),
    date(2026, 11, 30),
    date(2026, 12, 15),
]
PERIODIC_DAY = date(2027, 1, 4)
RESEARCH_DAY = date(2026, 12, 31)  # the quarter's figures, month by month
# The company the demo's letters come from: visibly made up, with no bank account to pay into
# (`credit demo` sets these, whatever .env says).
DEMO_COMPANY = {
    "CREDIT_COMPANY_NAME": "Demo Trading GmbH (fictitious)",
    "CREDIT_COMPANY_ADDRESS": "Demo Trading GmbH (fictitious) | DEMO ADDRESS, not a real company "
    "| Beispielweg 1 | 00000 Demo City",
    "CREDIT_COMPANY_CONTACT": "credit@demo-trading.invalid (DEMO) | +00 000 000 000 (DEMO)",
    "CREDIT_COMPANY_PAYMENT_DETAILS": "DEMO - do not pay: no real bank account",
}


@dataclass
class Demo:
    """What the steps share: the app, the folder, the console, and what earlier steps made."""

    app: App
    directory: Path
    console: Console
    data: Path = field(default_factory=lambda: resource_dir("sample_data"))
    assessments: dict[str, int] = field(default_factory=dict)  # customer code -> assessment id
    requests: dict[str, int] = field(default_factory=dict)  # customer code -> credit request id
    qualitative_factors: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.console.print(text)


def run_demo(directory: Path, console: Console) -> None:
    demo = Demo(app(), directory, console)
    set_up(demo)
    research(demo)
    rate_and_draft(demo)
    approve(demo)
    policy_change(demo)
    collect(demo)
    review(demo)
    policy_research(demo)
    finish_follow_ups(demo)
    sample_accounts(demo)
    summary(demo)


def finish_follow_ups(demo: Demo) -> None:
    """The demo ran every step itself; the follow-ups its decisions queued find their work done
    (each continues from the database and sends nothing twice), so `credit status` shows none
    waiting."""
    from flows.followups import drain

    drain(demo.app, claimer="demo")


def demo_password(username: str) -> str:
    """A sample account's password (only in the demo's own database)."""
    return f"demo-{username.split('.')[0]}-2026"


def sample_accounts(demo: Demo) -> None:
    """An account for everyone in the sample directory, so each role can sign in to the
    workspace."""
    from credit.services import accounts

    for person in demo.app.directory.approvers:
        accounts.add_user(
            demo.app, username=person.username, password=demo_password(person.username), by="demo"
        )


def set_up(demo: Demo) -> None:
    """1. Migrate the database, publish the default policy, import the sample data."""
    demo.say(
        f"[bold]DEMO[/]: the letters come from {DEMO_COMPANY['CREDIT_COMPANY_NAME']}, a made-up "
        f'company; its bank details read "{DEMO_COMPANY["CREDIT_COMPANY_PAYMENT_DETAILS"]}"'
    )
    demo.say("[bold]1. Set-up[/]: migrate the database and publish config/policy.yaml as version 1")
    services.init_database(demo.app, actor="demo")
    for kind, name in (
        ("customers", "customers"),
        ("financials", "financials"),
        ("invoices", "invoices"),
        ("payments", "payments"),
        ("fx-rates", "fx_rates"),
        ("orders", "orders"),
    ):
        plan = services.import_data(
            demo.app,
            kind=kind,
            path=(
                sample_payments_until(COLLECTION_DAYS[0], demo.directory)
                if kind == "payments"  # the later ones come in with the days they are made
                else demo.data / f"{name}.csv"
            ),
            actor="demo",
            dry_run=False,
        )
        demo.say(f"   imported {kind}: {len(plan.created)} new rows")


def research(demo: Demo) -> None:
    """2. Research of three customers: each waits for the analyst's qualitative rating."""
    demo.say(
        "[bold]2. Research[/] of three customers as of 2026-10-01: collect, clean, score, "
        "ask the analyst"
    )
    for code, limit, why in (
        ("C-1001", "120000", "Sales plan for the 2027 logistics contract"),
        ("C-1003", "30000", "Seasonal peak orders"),
        ("C-1004", "20000", "New customer, first orders"),
    ):
        r = credit_review(
            customer_code=code,
            requested_by="ben.manager",
            as_of=REVIEW_DAY,
            review_key=f"demo:{code}",
            requested_limit=limit,
            override_reason=why,
            analyst="junior.analyst",
        )
        demo.assessments[code] = r["assessment_id"]
        demo.say(
            f"   {code}: assessment {r['assessment_id']} {said(r['status'])}, waiting for "
            f"{r['waiting_for']}"
        )


QUALITATIVE_RATINGS = {  # customer: (scores in the policy's factor order, the analyst's comment)
    "C-1001": (
        (85, 80, 70, 85),
        "Market leader in northern freight; long-standing, transparent management.",
    ),
    "C-1003": ((55, 60, 45, 60), "Regional retailer under pressure from online competitors."),
    "C-1004": ((30, 40, 50, 35), "Start-up without a track record; founders unknown to the trade."),
}


def rate_and_draft(demo: Demo) -> None:
    """2b. The analyst's qualitative ratings; each research then drafts and routes a request."""
    demo.say(
        "[bold]2b. Qualitative ratings[/] by the analyst (`credit assess`), then draft and routing"
    )
    with demo.app.uow() as uow:
        policy_body = demo.app.published_policy(uow.session)[1]
        demo.qualitative_factors = [f.name for f in policy_body.scorecard.qualitative.factors]
    for code, (scores, comment) in QUALITATIVE_RATINGS.items():
        done = services.record_qualitative(
            demo.app,
            customer_code=code,
            username="junior.analyst",
            scores=_scores(demo, scores),
            comment=comment,
        )
        r = complete_review(assessment_id=demo.assessments[code], as_of=REVIEW_DAY)
        demo.requests[code] = r["request_id"]
        demo.say(
            f"   {code}: quantitative {done['quantitative_score']}, combined {done['score']}, "
            f"rating {done['rating']}; request {r['request_id']} {said(r['status'])}, waiting for "
            f"{r['waiting_for']}"
        )


def _scores(demo: Demo, scores: tuple[int, ...]) -> dict[str, Decimal]:
    return {n: Decimal(v) for n, v in zip(demo.qualitative_factors, scores, strict=True)}


def approve(demo: Demo) -> None:
    """3. Two decisions the rules refuse, then the approvers decide each step."""
    demo.say("[bold]3. Decisions[/] (each one starts a short approval flow run)")
    for user, code, why in (
        ("ben.manager", "C-1001", "self-approval"),
        ("junior.analyst", "C-1003", "the analyst approving what they rated"),
    ):
        try:
            _decide_request(demo, user=user, code=code, approve=True, comment=None)
            raise AssertionError(f"{why} was accepted")
        except services.DecisionRefused as exc:
            demo.say(f"   refused ({why}): {exc}")
    steps = [
        ("carla.manager", "C-1001", True, "Strong balance sheet, clean payment record."),
        ("fiona.director", "C-1001", True, "Within the group's exposure appetite."),
        ("carla.manager", "C-1003", True, "Acceptable; quarterly review."),
        ("carla.manager", "C-1004", False, "Loss-making start-up: prepayment only for now."),
    ]
    for user, code, ok, comment in steps:
        _decide_request(demo, user=user, code=code, approve=ok, comment=comment)
        progress = approval(request_id=demo.requests[code], as_of=REVIEW_DAY)
        demo.say(
            f"   {user} {'approved' if ok else 'rejected'} {code}: request now "
            f"{said(progress['status'])}"
            + (f", waiting for {progress['waiting_for']}" if progress.get("waiting_for") else "")
        )


def _decide_request(
    demo: Demo, *, user: str, code: str, approve: bool, comment: str | None
) -> None:
    services.decide(
        demo.app,
        subject=services.SUBJECT_REQUEST,
        subject_id=demo.requests[code],
        username=user,
        approve=approve,
        comment=comment,
        as_of=REVIEW_DAY,
    )


def policy_change(demo: Demo) -> None:
    """4. Policy version 2: proposed, approved by the committee, published."""
    demo.say(
        "[bold]4. Policy lifecycle[/]: version 2 proposed, approved by the committee, published"
    )
    version = services.propose_policy(
        demo.app,
        path=demo.data / "policy_v2.yaml",
        by="carla.manager",
        reason="Higher cap for A-rated customers; higher tolerance",
    )
    progress = policy(version=version)
    demo.say(
        f"   version {version} {said(progress['status'])}, waiting for {progress['waiting_for']}"
    )
    for user in ("fiona.director", "victor.cfo"):
        services.decide(
            demo.app,
            subject=services.SUBJECT_POLICY,
            subject_id=version,
            username=user,
            approve=True,
            comment="Agreed in the credit committee.",
            as_of=REVIEW_DAY,
        )
        progress = policy(version=version)
    demo.say(f"   version {version} is {said(progress['status'])}")


def collect(demo: Demo) -> None:
    """5. Collections runs over simulated weeks, then a rerun of the last day that sends nothing."""
    demo.say(
        "[bold]5. Collections[/] over simulated weeks (one level per run, never skipping; final "
        "demand as a letter with fee and interest; weekends and holidays wait)"
    )
    demo_control.before_collections(demo)
    for day in COLLECTION_DAYS:
        collect_day(demo, day)
    again = _collections(COLLECTION_DAYS[-1])
    sent_again = [o for o in again["actions"] if o["status"] == "sent"]
    demo.say(
        f"   {COLLECTION_DAYS[-1]} again: {counted(len(sent_again), 'new notice')} (a rerun sends "
        "nothing twice)"
    )


def collect_day(demo: Demo, day: date) -> None:
    """One collections day: what the collector did since, the payments in, the run, and checks."""
    from flows.demo_cash import BY_STATEMENT, cash_application, released, statement_of_nov_27

    demo_control.before_run(demo, day)
    held = statement_of_nov_27(demo) if day == date(2026, 11, 30) else None
    if day == date(2026, 12, 15):
        _collector_calls(demo)
        held = cash_application(demo)
    paid = services.import_data(  # the payments since the last run
        demo.app,
        kind="payments",
        path=sample_payments_until(day, demo.directory, leave_out=BY_STATEMENT),
        actor="demo",
        dry_run=False,
    )
    if paid.created:
        demo.say(f"   payments received by {day} imported: {len(paid.created)}")
    result = _collections(day)
    moves = [
        f"{o['customer']}:{o['level_name']}"
        + (f" ({o['channel']})" if o["channel"] == "letter" else "")
        for o in result["actions"]
        if o["status"] in ("sent", "cleared")
    ]
    demo.say(f"   {day}: {', '.join(moves) or 'nothing due'}")
    if held is not None:
        released(demo, held)
    for o in result["actions"]:
        if o["status"] in ("deferred", "paused", "promised", "promise_broken"):
            demo.say(f"      {o['customer']}: {said(o['status'])}: {o['reason']}")
    if day in (date(2026, 11, 16), date(2026, 11, 30)):
        _check_order(demo, day)
    demo_control.after_run(demo, day)
    if day == date(2026, 11, 30):
        _worklist(demo, day)


def _collector_calls(demo: Demo) -> None:
    """2026-12-01: a call with a promise to pay, and a dispute taking an invoice out of dunning."""
    a = demo.app
    demo.say(
        "   2026-12-01: cora.collector calls C-1007 (credit worklist log) and records a promise"
    )
    services.log_note(
        a, customer_code="C-1007", note="Spoke to the CFO: full payment by 10 December",
        by="cora.collector", as_of=date(2026, 12, 1), kind="call",
    )  # fmt: skip
    services.record_promise(
        a, customer_code="C-1007", amount=Decimal("9800.00"),  # its invoices less a credit note
        promised_for=date(2026, 12, 10), by="cora.collector", as_of=date(2026, 12, 1),
    )  # fmt: skip
    services.open_dispute(
        a, invoice_number="INV-1009-OPEN1", reason="Quantity short-shipped",
        by="cora.collector", as_of=date(2026, 12, 1),
    )  # fmt: skip
    demo.say("   2026-12-01: C-1009 disputes INV-1009-OPEN1 (credit dispute open): out of dunning")


def _check_order(demo: Demo, day: date) -> None:
    o = services.check_order(demo.app, customer_code="C-1003", amount=Decimal("8000"), as_of=day)
    cur = o["currency"]
    demo.say(
        f"   credit orders check C-1003 --amount 8000 --as-of {day}: "
        f"[bold]{o['decision'].upper()}[/] (exposure {fmt_money(Decimal(o['exposure']), cur)} "
        f"of limit {fmt_money(Decimal(o['limit']), cur) if o['limit'] else '-'})"
        + "".join(f"\n      - {r}" for r in o["reasons"])
    )


def _worklist(demo: Demo, day: date) -> None:
    for w in services.worklist(demo.app, as_of=day):
        demo.say(
            f"   worklist: {w['customer']} {fmt_money(Decimal(w['amount']), w['currency'])}, "
            f"oldest {counted(w['oldest_overdue_days'], 'day')} overdue; next: "
            f"{w['next_step']}"
        )


def review(demo: Demo) -> None:
    """6. The periodic review: a risk scan, the reviews it starts, the analyst's new ratings."""
    demo.say(f"[bold]6. Periodic review[/] as of {PERIODIC_DAY}")
    result = periodic_review(as_of=PERIODIC_DAY)
    risk = result["risk"]
    demo.say(
        f"   risk scan of {counted(risk['customers'], 'credit line')}: "
        f"{counted(risk['new'], 'new signal')}, flagged for "
        f"re-review: {', '.join(risk['flagged']) or 'none'}"
    )
    for r in result["reviews"]:
        what = (
            f"request {r['request_id']} {said(r['status'])}"
            if r.get("request_id")
            else f"assessment {r.get('assessment_id')} {r.get('status', '').replace('_', ' ')}"
        )
        demo.say(
            f"   {r['customer']} ({r.get('reason', '')}): {what}, "
            f"waiting for {r.get('waiting_for')}"
        )
    for r in result["reviews"]:
        if r.get("status") == AssessmentStatus.AWAITING_QUALITATIVE:
            analyst = r["waiting_for"]
            services.record_qualitative(
                demo.app,
                customer_code=r["customer"],
                username=analyst,
                scores=_scores(demo, (80, 75, 70, 70)),
                comment="The bank confirmed a technical error on the bounced direct debit.",
            )
            drafted = complete_review(assessment_id=r["assessment_id"], as_of=PERIODIC_DAY)
            demo.say(
                f"   {analyst} rated {r['customer']} again (`credit assess`): request "
                f"{drafted['request_id']} "
                f"{said(drafted['status'])}, waiting for {drafted['waiting_for']}"
            )


def policy_research(demo: Demo) -> None:
    """7. The quarterly policy review's research report."""
    demo.say(f"[bold]7. Policy review[/] (quarterly): research report as of {RESEARCH_DAY}")
    research = policy_review(as_of=RESEARCH_DAY)
    figures = research["figures"]
    # the latest month with sales (the sample ledger invoices nothing in December)
    last = next((m for m in reversed(figures["monthly"]) if m["dso"]), figures["monthly"][-1])
    demo.say(
        f"   receivables {fmt_money(Decimal(figures['receivables']), figures['base_currency'])}; "
        f"{last['month']}: DSO "
        f"{last['dso'] or '-'} days, CEI {last['cei'] or '-'}%; late payment by rating: "
        + ", ".join(f"{r['rating']} {r['late_rate'] or '-'}%" for r in figures["by_rating"])
    )
    demo.say(f"   report with charts: {research['report']} (sent to the policy committee)")


def _collections(as_of: date) -> dict[str, Any]:
    """A collections run's result (the flow returns a Failed state only when customers failed, and
    calling the flow raises that state's error)."""
    result = collections(as_of=as_of)
    assert isinstance(result, dict)
    return result


def summary(demo: Demo) -> None:
    """8. The customers, notices and audit trail the demo left, and where to look next."""
    a, console = demo.app, demo.console
    console.print(_customers_table(a))
    notices = services.list_notices(a, customer_code=None, kind=None, limit=100_000)
    by_kind = Counter(n["kind"] for n in notices)
    k = Table(title="Notices", title_justify="left")
    k.add_column("kind")
    k.add_column("count", justify="right")
    for kind, count in sorted(by_kind.items()):
        k.add_row(kind, str(count))
    console.print(k)
    _audit_summary(a, console)
    status = Counter(n["status"] for n in notices)
    outbox = Path(a.settings.outbox_dir).resolve()
    letters = Path(a.settings.letters_path).resolve()
    sent = ", ".join(f"{n} {said(k)}" for k, n in sorted(status.items()))
    console.print(
        f"[bold green]{len(notices)} notices[/] ({sent}); the .eml files are in "
        f"[bold]{outbox}[/] ({len(list(outbox.glob('*.eml')))} files; each dunning e-mail carries "
        f"its letter as a PDF), letters to print in [bold]{letters}[/] "
        f"({len(list(letters.glob('*.pdf')))} PDFs with the account for their currency, the RF "
        "reference and, in euros, an EPC QR code to pay by phone)."
    )
    url = a.settings.database_url
    console.print(f"Database: {url}. Try: CREDIT_DATABASE_URL={url} credit customers show C-1003")
    _workspace_hint(a, console)


def _workspace_hint(a: App, console: Console) -> None:
    import shlex

    from credit.services import accounts

    url = a.settings.database_url
    settings = {
        "CREDIT_DATABASE_URL": url,
        "CREDIT_OUTBOX_DIR": str(a.settings.outbox_dir),
        "CREDIT_SMTP_HOST": "",
        **DEMO_COMPANY,
    }
    env_file = Path(str(a.settings.outbox_dir)).parent / "demo.env"
    env_file.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in settings.items()))
    console.print(
        f"[bold]Workspace[/]: set -a; . {env_file}; set +a; credit serve (the demo's database and "
        "its made-up company), then open "
        f"{a.settings.web_base_url} and sign in as one of the sample users (these accounts exist "
        "only in this demo database):"
    )
    shown: set[str] = set()
    for person in a.directory.approvers:
        roles = sorted(accounts.roles_of(a, person.username) - shown)
        if not roles:
            continue
        shown.update(roles)
        console.print(
            f"   {person.username:<16} password {demo_password(person.username):<22} "
            f"({', '.join(roles)})",
            highlight=False,
        )


def _customers_table(a: App) -> Table:
    t = Table(title="Customers after the demo", title_justify="left")
    for col in ("code", "name", "rating", "limit", "terms", "line", "dunning level"):
        t.add_column(col)
    for r in services.customer_list(a):
        view = services.customer_overview(a, code=r["code"], as_of=PERIODIC_DAY)
        levels = ", ".join(f"{cur} {lv}" for cur, lv in view["dunning_level"].items() if lv) or "-"
        limit = f"{r['currency']} {Decimal(r['limit']):,.2f}" if r["limit"] else "-"
        t.add_row(
            r["code"],
            r["name"],
            r["rating"] or "-",
            limit,
            f"{r['terms_days']} d" if r["terms_days"] is not None else "-",
            r["status"] or "-",
            levels,
        )
    return t


def _audit_summary(a: App, console: Console) -> None:
    actions = Counter(e["action"] for e in services.audit_events(a, entity=None, limit=1_000_000))
    console.print(
        f"Audit trail: {sum(actions.values())} events - {actions['credit_line.publish']} credit "
        f"lines published, {actions['approval.approve']} approvals, "
        f"{counted(actions['approval.reject'], 'rejection')}, "
        f"{counted(actions['approval.refused'], 'refused attempt')}, "
        f"{counted(actions['credit_line.hold'], 'hold')} placed, "
        f"{actions['credit_line.release']} released, {actions['dunning.level']} dunning steps."
    )
    verified = services.verify_audit(a)
    chain = "intact" if verified["ok"] else "BROKEN: " + verified["reason"]
    console.print(
        f"Audit chain: {verified['events']} events, {chain} (credit audit verify); credit-limit "
        "changes with their approval evidence: credit audit limits --from 2026-01-01 "
        "--to 2030-12-31"
    )
