"""The ``credit`` command line. Commands that only read or list never import Prefect."""

import functools
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from credit.domain.words import counted, said
from credit.settings import Settings, SettingsError

# Piped output (a file, less, grep) is not folded to 80 columns: tables stay one row per line.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 180
console = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

app = typer.Typer(
    help="Customer credit management: research, approval, credit lines, periodic review and "
    "collections, run as Prefect flows with every step's notice in an outbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
review_app = typer.Typer(help="Start credit reviews.", no_args_is_help=True)
reviews_app = typer.Typer(help="Scheduled re-reviews.", no_args_is_help=True)
approvals_app = typer.Typer(help="What is waiting for an approver.", no_args_is_help=True)
collections_app = typer.Typer(
    help="Dunning: age receivables and send the next level.", no_args_is_help=True
)
customers_app = typer.Typer(help="Look up customers.", no_args_is_help=True)
notices_app = typer.Typer(help="The notice outbox.", no_args_is_help=True)
policy_app = typer.Typer(help="The credit policy and its versions.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)
research_app = typer.Typer(
    help="The research step: qualitative ratings waiting and reminders.", no_args_is_help=True
)
risk_app = typer.Typer(help="Risk signals found in profiles and ledgers.", no_args_is_help=True)
dispute_app = typer.Typer(
    help="Disputed invoices: they leave dunning until resolved.", no_args_is_help=True
)
orders_app = typer.Typer(help="May a new order ship on credit?", no_args_is_help=True)
service_app = typer.Typer(
    help="Customer service's follow-ups after a limit cut or a hold.", no_args_is_help=True
)
worklist_app = typer.Typer(
    help="The collections team's worklist: handovers and call tasks.",
    invoke_without_command=True,
)
import_app = typer.Typer(
    help="Import CSV files (all-or-nothing; --dry-run shows what would change).",
    no_args_is_help=True,
)
for sub, name in [
    (review_app, "review"),
    (reviews_app, "reviews"),
    (approvals_app, "approvals"),
    (collections_app, "collections"),
    (customers_app, "customers"),
    (notices_app, "notices"),
    (policy_app, "policy"),
    (audit_app, "audit"),
    (research_app, "research"),
    (risk_app, "risk"),
    (import_app, "import"),
    (dispute_app, "dispute"),
    (orders_app, "orders"),
    (worklist_app, "worklist"),
    (service_app, "service"),
]:
    app.add_typer(sub, name=name)


# --------------------------------------------------------------------------- helpers


class BadInput(Exception):
    pass


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn the product's refusals into a clear message and exit code 2 (no traceback)."""
    from credit.app import NotInitialised
    from credit.config import ConfigError
    from credit.importers import ImportFailed
    from credit.notices import NoticeError
    from credit.services import ServiceError

    try:
        yield
    except ImportFailed as exc:
        for e in exc.errors:
            err.print(str(e), highlight=False, markup=False, soft_wrap=True)
        fail(f"{counted(len(exc.errors), 'error')}; nothing was imported")
    except (ServiceError, ConfigError, SettingsError, NotInitialised, NoticeError, BadInput) as exc:
        fail(str(exc))
    except Exception as exc:  # database unreachable and the like: say so without a traceback
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):
            if any(
                gone in str(exc.orig)
                for gone in ("no such table", "no such column", "does not exist")
            ):
                fail(
                    "the database is not initialised (or is from an older version): run `credit init`"
                )
            reason = " ".join(str(exc.orig).split())[:300]
            fail(f"database error: {reason} (details in {report_unexpected(exc)})")
        raise


def get_app() -> Any:
    from credit.app import App

    try:
        return App(Settings.load())
    except SettingsError as exc:
        fail(str(exc))


def parse_date(value: str | None, option: str = "--as-of") -> date:
    if value is None:
        try:
            return Settings.load().today()  # the edge: today in the company's time zone
        except SettingsError as exc:
            fail(str(exc))
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: value {value!r} is not an ISO date (YYYY-MM-DD)")


def parse_money(value: str, option: str) -> Decimal:
    """An amount typed on the command line (plain decimals, not negative, at most the limit of one
    document); a bad one ends the command with the reason."""
    from credit.domain.money import MAX_DOCUMENT_AMOUNT, parse_amount

    try:  # the limit of one document: what a command adds to a customer's total stays summable
        amount = parse_amount(value, maximum=MAX_DOCUMENT_AMOUNT)
    except ValueError as exc:
        fail(f"{option}: value {value!r}: {exc}")
    if amount < 0:
        fail(f"{option}: value {value!r}: must not be negative")
    return amount


def fmt_amount(value: Any, currency: str) -> str:
    """An amount as tables show it: 'EUR 18,250.00', 'JPY 5,000' (the currency's decimals, exact
    from the Decimal); nothing for no amount."""
    if value is None or str(value).strip() == "":
        return ""
    from credit.domain.money import fmt_money

    return fmt_money(Decimal(str(value)), currency).strip()


def fmt_figure(value: Any) -> str:
    """A figure as a reader takes it in: '42,000,000' for 42000000.0000, '0.8571' stays."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not number.is_finite() or abs(number) < 1000:
        return str(value)
    text = f"{number:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_time(value: str | None) -> str:
    """A stored moment (ISO, UTC) in the company's time zone: '2026-12-08 01:41 CET'."""
    if not value:
        return "-"
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_company_zone()).strftime("%Y-%m-%d %H:%M %Z")


@functools.lru_cache(maxsize=1)
def _company_zone() -> Any:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(Settings.load().timezone)
    except SettingsError:
        return ZoneInfo("UTC")


def print_json(data: Any) -> None:
    from credit.audit import jsonable

    sys.stdout.write(json.dumps(jsonable(data), indent=2) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[str(v) for v in r])
    console.print(t)


def prefect_defaults() -> None:
    """Quiet logs, no analytics, and time for local mode's server to start (it runs in a
    subprocess; on a busy machine that takes longer than Prefect's 20 s default). The user's own
    settings win."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Prefect's event sender says how many events it still has to send while the process ends:
    # nothing a user can act on.
    import logging

    for name in ("EventsWorker", "prefect.events.clients"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_flow(label: str, call: Callable[[], Any]) -> Any:
    """Run a Prefect flow in this process with a progress display (Prefect is imported here)."""
    prefect_defaults()
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flows.watched import watched_runs

    with (
        watched_runs(error_log=_error_log()),
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        progress.add_task(label, total=None)
        return call()


AsOpt = Annotated[
    str | None, typer.Option("--as-of", help="Business date, YYYY-MM-DD (default: today).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# --------------------------------------------------------------------------- set-up


@app.command()
def init(
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Who runs the set-up (audited; a person in the directory)."),
    ] = None,
) -> None:
    """Create or upgrade the database schema; publish config/policy.yaml as version 1 if no policy
    exists. Safe to run again: an up-to-date database is left as it is."""
    from credit import services

    a = get_app()
    _require_company(a.settings, "credit init")
    with clear_errors():
        who = "admin" if actor is None else services.known_user(a, actor)
        result = services.init_database(a, actor=who)
    where = a.settings.database_url
    schema = (
        f"schema upgraded to {result['migrated_to']}"
        if result["upgraded"]
        else f"schema {result['migrated_to']}, already up to date"
    )
    if result["created_policy"]:
        console.print(
            f"Database ready at {where} ({schema}); "
            f"published policy version 1 from {a.settings.policy_path}."
        )
    else:
        console.print(
            f"Database ready at {where} ({schema}); "
            f"published policy is version {result['policy_version']}."
        )


def _require_company(settings: Settings, what: str) -> None:
    """Refuse (nothing is created or started) while customer notices would lack the company's
    details; warn of settings that work but probably not as meant."""
    refusal = settings.company_refusal(what)
    if refusal:
        fail(refusal)
    for line in settings.warnings():
        err.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)


def _import(kind: str, file: Path, dry_run: bool, actor: str | None, as_json: bool) -> None:
    from credit import services

    a = get_app()
    with clear_errors():
        actor = "import" if actor is None else services.known_user(a, actor)
    with clear_errors():
        plan = services.import_data(
            a,
            kind=kind,
            path=file,
            actor=actor,
            dry_run=dry_run,
            today=a.settings.today(),  # the edge: statements and rates may not be dated later
        )
    if as_json:
        print_json(plan.summary())
        return
    verb = "would import" if dry_run else "imported"
    console.print(
        f"{file}: {verb} {counted(plan.rows, 'row')}: {len(plan.created)} new, "
        f"{len(plan.updated)} changed, {len(plan.unchanged)} unchanged"
        + (" (dry run: nothing written)" if dry_run else "")
    )
    for fix in plan.fixes:
        console.print(f"  cleaned: {fix}", highlight=False)
    if dry_run and plan.updated:
        console.print("changed: " + ", ".join(plan.updated[:20]))


def _make_import_command(kind: str) -> None:
    def command(
        file: Annotated[Path, typer.Argument(help=f"CSV file of {kind}.")],
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Validate and show what would change; write nothing."),
        ] = False,
        actor: Annotated[
            str | None,
            typer.Option("--as", help="Who imports (audited; a person in the directory)."),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        _import(kind, file, dry_run, actor, as_json)

    from credit.domain.columns import COLUMNS

    command.__doc__ = f"Import {kind} from CSV with columns: {','.join(COLUMNS[kind])}."
    import_app.command(kind)(command)


for _kind in ("customers", "financials", "invoices", "payments", "fx-rates", "orders"):
    _make_import_command(_kind)


# --------------------------------------------------------------------------- reviews and approvals


@review_app.command("start")
def review_start(
    customer_code: Annotated[str, typer.Argument(help="Customer code, e.g. C-1001.")],
    by: Annotated[
        str,
        typer.Option(
            "--as", "--by", help="The credit manager asking (username in approvers.yaml)."
        ),
    ],
    requested_limit: Annotated[
        str | None,
        typer.Option(
            "--requested-limit",
            help="Limit asked for instead of the policy's recommendation (needs --reason).",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why the requested limit overrides the recommendation."),
    ] = None,
    analyst: Annotated[
        str | None,
        typer.Option(
            "--analyst", help="Who gives the qualitative rating (default: the requester)."
        ),
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Research a customer: collect and clean the data, score it, and ask the analyst for the
    qualitative rating (answered with `credit assess`); without a qualitative part the request is
    drafted and routed at once."""
    from credit import services

    day = parse_date(as_of)
    limit = (
        parse_money(requested_limit, "--requested-limit") if requested_limit is not None else None
    )
    a = get_app()
    code = customer_code.strip().upper()
    with clear_errors():
        services.check_review_can_start(
            a,
            customer_code=code,
            requested_by=by,
            analyst=analyst,
            requested_limit=limit,
            override_reason=reason,
        )
    key = f"manual:{code}:{uuid.uuid4().hex[:12]}"

    def call() -> Any:
        from flows.review import credit_review

        return credit_review(
            customer_code=code,
            requested_by=by,
            as_of=day,
            review_key=key,
            requested_limit=str(limit) if limit is not None else None,
            override_reason=reason,
            analyst=analyst,
        )

    with clear_errors():
        result = run_flow(f"Reviewing {code}", call)
    if as_json:
        print_json(result)
        return
    msg = f"Review of {code}: assessment {result['assessment_id']}"
    if result.get("request_id"):
        msg += f", request {result['request_id']}"
    msg += f": {said(result['status'])}"
    if result.get("waiting_for"):
        msg += f", waiting for {result['waiting_for']}"
    console.print(msg + ".")


@app.command()
def assess(
    customer_code: Annotated[
        str, typer.Argument(help="Customer code whose assessment waits for you.")
    ],
    user: Annotated[str, typer.Option("--as", help="The assigned analyst (username).")],
    factor: Annotated[
        list[str],
        typer.Option(
            "--factor", help="NAME=SCORE (0-100) for each qualitative factor of the policy."
        ),
    ],
    comment: Annotated[
        str, typer.Option("--comment", help="Why these ratings (required, audited).")
    ],
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit", help="Propose this limit instead of the recommendation (needs --reason)."
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the limit differs (audited).")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give the qualitative rating a review waits for; the review then drafts and routes the request.
    The analyst may propose another limit than the recommendation, with a reason."""
    from credit import services

    day = parse_date(as_of)
    scores: dict[str, Decimal] = {}
    for item in factor:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--factor: value {item!r} is not NAME=SCORE")
        try:
            score = Decimal(value.strip())
        except ArithmeticError:
            fail(f"--factor {name}: value {value!r} is not a number")
        if not score.is_finite() or not 0 <= score <= 100:
            fail(f"--factor {name}: value {value!r} must be between 0 and 100")
        if name.strip() in scores:
            fail(f"--factor {name}: given twice")
        scores[name.strip()] = score
    override = parse_money(limit, "--limit") if limit is not None else None
    if override is not None and not (reason and reason.strip()):
        fail("--limit overrides the recommendation: give the reason with --reason")
    a = get_app()
    with clear_errors():
        done = services.record_qualitative(
            a,
            customer_code=customer_code.strip().upper(),
            username=user,
            scores=scores,
            comment=comment,
            override_limit=override,
            override_reason=reason,
            as_of=day,
        )
    if not as_json:
        console.print(
            f"Assessment {done['assessment_id']}: qualitative rating recorded; combined score "
            f"{done['score']}, rating {done['rating']}, recommended limit "
            f"{fmt_amount(done['recommended_limit'], done['currency'])}."
        )

    def call() -> Any:
        from flows.review import complete_review

        return complete_review(assessment_id=done["assessment_id"], as_of=day)

    with clear_errors():
        result = run_flow(f"Drafting the request of {customer_code}", call)
    if as_json:
        print_json({**done, **result})
        return
    console.print(
        f"Request {result['request_id']}: {said(result['status'])}"
        + (f", waiting for {result['waiting_for']}" if result.get("waiting_for") else "")
        + "."
    )


@research_app.command("waiting")
def research_waiting(as_json: JsonOpt = False) -> None:
    """Assessments waiting for an analyst's qualitative rating."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.waiting_assessments(a)
    if as_json:
        print_json(rows)
        return
    table(
        "Waiting for a qualitative rating",
        ["assessment", "customer", "analyst", "requested by", "quantitative score", "due"],
        [
            [
                r["assessment_id"],
                r["customer"],
                r["analyst"],
                r["requested_by"],
                r["quantitative_score"],
                fmt_time(r["due_at"]),
            ]
            for r in rows
        ],
    )


@research_app.command("reassign")
def research_reassign(
    customer_code: Annotated[str, typer.Argument(help="Customer whose assessment waits.")],
    to: Annotated[str, typer.Option("--to", help="The analyst who rates instead.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who reassigns (audited).")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """Give a waiting qualitative rating to another analyst (they are asked at once)."""
    from credit import services

    a = get_app()
    with clear_errors():
        assessment_id = services.reassign_analyst(
            a, customer_code=customer_code.strip().upper(), to=to, by=by, reason=reason
        )
        services.deliver(a)
    console.print(f"Assessment {assessment_id} now waits for {to}.")


@research_app.command("cancel")
def research_cancel(
    customer_code: Annotated[str, typer.Argument(help="Customer whose assessment waits.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who cancels (audited).")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """Abandon a review waiting for its qualitative rating, so that a new review can start."""
    from credit import services

    a = get_app()
    with clear_errors():
        assessment_id = services.cancel_research(
            a, customer_code=customer_code.strip().upper(), by=by, reason=reason
        )
    console.print(f"Assessment {assessment_id} cancelled.")


@risk_app.command("scan")
def risk_scan(as_of: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Scan every customer with a credit line for risk signals now; high ones alert and flag."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.scan_risk(a, as_of=day)
        services.deliver(a)
    if as_json:
        print_json(result)
        return
    console.print(
        f"{counted(result['customers'], 'customer')} scanned: "
        f"{counted(result['new'], 'new signal')}; flagged for "
        f"re-review: {', '.join(result['flagged']) or 'none'}."
    )


@research_app.command("remind")
def research_remind() -> None:
    """Send reminders for overdue qualitative ratings (the research-reminders flow; hourly when served)."""
    get_app()

    def call() -> Any:
        from flows.research import research_reminders

        return research_reminders()

    with clear_errors():
        sent = run_flow("Sending reminders", call)
    console.print(
        f"{counted(sent['reminders'], 'reminder')}, "
        f"{counted(sent['escalations'], 'escalation')} sent."
    )


@risk_app.command("signals")
def risk_signals(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer's signals.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Risk signals found so far, with severity and the review that answered them."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.list_signals(
            a, customer_code=customer.strip().upper() if customer else None
        )
    if as_json:
        print_json(rows)
        return
    table(
        "Risk signals",
        ["id", "customer", "kind", "severity", "detail", "detected", "reviewed in"],
        [
            [
                r["id"],
                r["customer"],
                r["kind"],
                r["severity"],
                r["detail"],
                r["detected_on"],
                r["reviewed_in"] or "-",
            ]
            for r in rows
        ],
    )


def _continue_request(request_id: int, day: date) -> dict[str, Any]:
    def call() -> Any:
        from flows.approval import approval

        return approval(request_id=request_id, as_of=day)

    return run_flow(f"Continuing request {request_id}", call)


def _decide(
    request_id: int, user: str, approve: bool, comment: str | None, as_of: str | None, as_json: bool
) -> None:
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        step = services.decide(
            a,
            subject=services.SUBJECT_REQUEST,
            subject_id=request_id,
            username=user,
            approve=approve,
            comment=comment,
            as_of=day,
        )
    if not as_json:
        console.print(
            f"Request {request_id} level {step.level} ({step.role}): {step.decision} by {user}."
        )
    from credit.faults import checkpoint

    checkpoint("approval.decided")  # the fault tests stop here: decided, not followed up
    try:
        with clear_errors():
            progress = _continue_request(request_id, day)
    except typer.Exit:
        err.print(
            f"The decision is recorded; to deliver its notices and publish an approved line, "
            f"run `credit approvals resume {request_id}`."
        )
        raise
    if as_json:
        print_json(progress)
        return
    msg = f"Request {request_id} is now {said(progress['status'])}"
    if progress.get("waiting_for"):
        msg += f", waiting for {progress['waiting_for']}"
    if progress.get("published"):
        p = progress["published"]
        msg += f": credit line {p['currency']} {Decimal(p['limit']):,.2f}, next review {p['next_review_on']}"
    console.print(msg + ".")


@app.command()
def approve(
    request_id: Annotated[
        int, typer.Argument(help="Credit request id (from `credit approvals list`).")
    ],
    user: Annotated[str, typer.Option("--as", help="The approver deciding (username).")],
    comment: Annotated[
        str | None, typer.Option("--comment", help="Why (recorded in the audit trail).")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve the pending level of a credit request; the lifecycle continues (next level or publish)."""
    _decide(request_id, user, True, comment, as_of, as_json)


@app.command()
def reject(
    request_id: Annotated[int, typer.Argument(help="Credit request id.")],
    user: Annotated[str, typer.Option("--as", help="The approver deciding (username).")],
    comment: Annotated[
        str, typer.Option("--comment", help="Why (required; sent to the requester).")
    ],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a credit request at its pending level; the requester is told why."""
    _decide(request_id, user, False, comment, as_of, as_json)


@approvals_app.command("list")
def approvals_list(
    user: Annotated[
        str | None, typer.Option("--for", help="Only steps this person's roles can decide.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approval steps waiting for a decision."""
    from credit import services

    a = get_app()
    with clear_errors():
        if user is not None:
            services.person_email(a, user)
        rows = services.pending_approvals(a, username=user)
    if as_json:
        print_json(rows)
        return
    table(
        "Waiting for approval",
        [
            "subject",
            "id",
            "customer",
            "kind",
            "amount",
            "rating",
            "level",
            "role",
            "asked",
            "requested by",
            "due",
        ],
        [
            [
                r["subject"],
                r["id"],
                r["customer"],
                r["kind"],
                f"{r['currency']} {Decimal(r['amount']):,.2f}" if r["amount"] else "-",
                r["rating"],
                r["level"],
                r["role"],
                r["approver"],
                r["requested_by"],
                fmt_time(r["due_at"]),
            ]
            for r in rows
        ],
    )


@approvals_app.command("sweep")
def approvals_sweep(as_of: AsOpt = None) -> None:
    """Send reminders for overdue approval steps and escalate those past their second deadline
    (the approval-sweeper flow; hourly when served)."""
    day = parse_date(as_of)
    get_app()

    def call() -> Any:
        from flows.approval import approval_sweeper

        return approval_sweeper(as_of=day)

    with clear_errors():
        counts = run_flow("Sweeping approvals", call)
    console.print(
        f"{counted(counts['reminders'], 'reminder')}, "
        f"{counted(counts['escalations'], 'escalation')} sent; "
        f"{counted(counts['published'], 'approved request')} published."
    )
    if counts["not_published"]:
        err.print(
            f"approved but not published (see the log; `credit approvals resume ID` after fixing "
            f"the cause): {', '.join(map(str, counts['not_published']))}"
        )
        raise typer.Exit(1)


@approvals_app.command("resume")
def approvals_resume(
    request_id: Annotated[int, typer.Argument(help="Credit request id.")],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue a request from what the database says: deliver its notices, publish it if approved
    (after a crash or an outage between a decision and its follow-up)."""
    day = parse_date(as_of)
    get_app()
    with clear_errors():
        progress = _continue_request(request_id, day)
    if as_json:
        print_json(progress)
        return
    console.print(
        f"Request {request_id} is {said(progress['status'])}"
        + (f", waiting for {progress['waiting_for']}" if progress.get("waiting_for") else "")
        + "."
    )


@reviews_app.command("due")
def reviews_due(
    as_of: AsOpt = None,
    run: Annotated[
        bool, typer.Option("--run", help="Start the reviews (periodic_review flow).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Credit lines whose periodic review is due as of a date; --run starts them."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        due = services.due_reviews(a, as_of=day, include_in_progress=not run)
    if run:

        def call() -> Any:
            from flows.periodic_review import periodic_review

            return periodic_review(as_of=day)

        with clear_errors():
            result = run_flow(f"Starting {counted(len(due), 'review')}", call)
        if as_json:
            print_json(result)
            return
        table(
            f"Reviews started as of {day}",
            ["customer", "request", "status", "waiting for"],
            [
                [
                    r["customer"],
                    r.get("request_id", "-"),
                    r.get("status", r.get("error", "")),
                    r.get("waiting_for") or "",
                ]
                for r in result["reviews"]
            ],
        )
        return
    if as_json:
        print_json(due)
        return
    table(
        f"Reviews due as of {day}",
        ["customer", "name", "due", "why", "limit", "rating", "line", "review"],
        [
            [
                d["customer"],
                d["name"],
                d["next_review_on"],
                d["reason"],
                fmt_amount(d["limit"], d["currency"]),
                d["rating"],
                d["status"],
                (
                    f"in progress: {d['in_progress']['what']} since "
                    f"{d['in_progress']['since']}, waiting for {d['in_progress']['waiting_for']}"
                )
                if d["in_progress"]
                else "to start (--run)",
            ]
            for d in due
        ],
    )
    if not due:
        console.print(f"No credit line is due for review as of {day}.")


# --------------------------------------------------------------------------- collections


UserOpt = Annotated[str, typer.Option("--as", help="Who does this (audited).")]


@dispute_app.command("open")
def dispute_open(
    invoice: Annotated[str, typer.Argument(help="Invoice number.")],
    reason: Annotated[str, typer.Option("--reason", help="What the customer disputes.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who records the dispute (audited).")],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that the customer disputes an invoice: it leaves dunning until resolved."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.open_dispute(
            a, invoice_number=invoice, reason=reason, by=by, as_of=day, today=a.settings.today()
        )
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['invoice']} ({result['customer']}) is disputed: it is left out of dunning "
        "until `credit dispute resolve`."
    )


@dispute_app.command("resolve")
def dispute_resolve(
    invoice: Annotated[str, typer.Argument(help="Invoice number.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who resolves it (audited).")],
    note: Annotated[
        str, typer.Option("--note", help="The outcome (e.g. credit note CN-12 issued).")
    ],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close an invoice's dispute: what is still open on it is dunned again."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.resolve_dispute(
            a, invoice_number=invoice, by=by, note=note, as_of=day, today=a.settings.today()
        )
    if as_json:
        print_json(result)
        return
    console.print(f"{result['invoice']} ({result['customer']}): dispute resolved.")


@app.command("promise")
def promise(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    amount: Annotated[str, typer.Option("--amount", help="Amount promised.")],
    by_date: Annotated[
        str, typer.Option("--date", help="The date the customer promised to pay by, YYYY-MM-DD.")
    ],
    actor: UserOpt,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Default: the customer's currency.")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="What was agreed.")] = "",
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a promise to pay: escalation pauses until the date; a broken promise resumes it one
    level up and raises a risk signal."""
    from credit import services

    day = parse_date(as_of)
    promised = parse_date(by_date, "--date")
    value = parse_money(amount, "--amount")
    a = get_app()
    with clear_errors():
        result = services.record_promise(
            a,
            customer_code=customer.strip().upper(),
            amount=value,
            promised_for=promised,
            by=actor,
            as_of=day,
            currency=currency,
            note=note,
            today=a.settings.today(),
        )
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['customer']} promised {fmt_amount(result['amount'], result['currency'])} by "
        f"{result['promised_for']}: escalation paused until then"
        + (
            f" (replaces promise {', '.join(map(str, result['replaced']))})"
            if result["replaced"]
            else ""
        )
        + "."
    )


@app.command("feedback")
def feedback(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    topic: Annotated[
        str, typer.Option("--topic", help="terms, limit, collection, service or other.")
    ],
    text: Annotated[str, typer.Option("--text", help="What the customer said.")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who records it (audited).")],
    as_of: AsOpt = None,
) -> None:
    """Record customer feedback on terms and collection (the policy research report sums it up)."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.record_feedback(
            a, customer_code=customer.strip().upper(), topic=topic, text=text, by=by, as_of=day
        )
    console.print(f"Feedback {result['id']} recorded for {result['customer']} ({result['topic']}).")


@service_app.command("tasks")
def service_tasks_command(
    status: Annotated[str, typer.Option("--status", help="open, done or all.")] = "open",
    as_json: JsonOpt = False,
) -> None:
    """Follow-ups for customer service: customers whose limit was cut or who were put on hold."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.service_tasks(a, status=status)
    if as_json:
        print_json(rows)
        return
    table(
        f"Service tasks ({status})",
        ["id", "customer", "reason", "opened", "sales owner", "status"],
        [
            [
                r["id"],
                f"{r['customer']} {r['name']}",
                r["reason"],
                r["opened_on"],
                r["sales_owner"],
                r["status"] + (f" ({r['done_by']}: {r['note']})" if r["done_by"] else ""),
            ]  # fmt: skip
            for r in rows
        ],
    )


@service_app.command("done")
def service_done(
    task_id: Annotated[int, typer.Argument(help="Service task id.")],
    note: Annotated[str, typer.Option("--note", help="What was agreed with the customer.")],
    actor: UserOpt,
    as_of: AsOpt = None,
) -> None:
    """Close a customer service follow-up with a note."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        services.close_service_task(a, task_id=task_id, by=actor, note=note, as_of=day)
    console.print(f"Service task {task_id} done.")


@orders_app.command("check")
def orders_check(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    amount: Annotated[str, typer.Option("--amount", help="Order amount.")],
    currency: Annotated[
        str | None, typer.Option("--currency", help="Default: the credit line's currency.")
    ] = None,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Allow or hold a new order: exposure (open receivables + open orders + this order) against
    the limit, a line on hold, invoices overdue beyond policy. Exit code 0 allow, 1 hold."""
    from credit import services

    day = parse_date(as_of)
    value = parse_money(amount, "--amount")
    a = get_app()
    with clear_errors():
        result = services.check_order(
            a,
            customer_code=customer.strip().upper(),
            amount=value,
            as_of=day,
            currency=currency,
        )
    if as_json:
        print_json(result)
    else:
        colour = "green" if result["decision"] == "allow" else "red"
        cur = result["currency"]
        console.print(
            f"[bold {colour}]{result['decision'].upper()}[/] {result['customer']}: order "
            f"{fmt_amount(result['order_amount'], cur)}; exposure "
            f"{fmt_amount(result['exposure'], cur)} of limit "
            f"{fmt_amount(result['limit'], cur) if result['limit'] else '-'} (headroom "
            f"{fmt_amount(result['headroom'], cur) if result['headroom'] else '-'})",
            highlight=False,
        )
        for r in result["reasons"]:
            console.print(f"  - {r}", highlight=False)
    raise typer.Exit(0 if result["decision"] == "allow" else 1)


@worklist_app.callback()
def worklist_show(
    ctx: typer.Context,
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open handovers and call tasks: amount, oldest overdue, last action, promise, next step."""
    if ctx.invoked_subcommand is not None:
        return
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        rows = services.worklist(a, as_of=day)
    if as_json:
        print_json(rows)
        return
    table(
        f"Collections worklist as of {day}",
        ["customer", "task", "amount", "oldest overdue", "last action", "promised", "next step"],
        [
            [
                f"{r['customer']} {r['name']}",
                r["task"],
                fmt_amount(r["amount"], r["currency"]),
                f"{r['oldest_overdue_days']} days ({r['oldest_due_date'] or '-'})",
                r["last_action"],
                r["promised_date"] or "",
                r["next_step"],
            ]
            for r in rows
        ],
    )
    if not rows:
        console.print("Nothing on the worklist.")


@worklist_app.command("log")
def worklist_log(
    customer: Annotated[str, typer.Argument(help="Customer code.")],
    note: Annotated[str, typer.Option("--note", help="What was said or done.")],
    actor: UserOpt,
    kind: Annotated[
        str, typer.Option("--kind", help="call (closes the open call task) or note.")
    ] = "note",
    as_of: AsOpt = None,
) -> None:
    """Log a call or a note against a customer."""
    from credit import services

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        result = services.log_note(
            a, customer_code=customer.strip().upper(), note=note, by=actor, as_of=day, kind=kind
        )
    closed = result["call_tasks_closed"]
    console.print(
        f"{result['kind']} logged for {result['customer']}"
        + (f"; call task closed ({', '.join(closed)})" if closed else "")
        + "."
    )


# The outcomes in the order the summary line counts them, in words.
OUTCOME_WORDS = {
    "sent": "sent",
    "would_send": "would be sent",
    "cleared": "cleared",
    "would_clear": "would be cleared",
    "promise_broken": "promise broken",
    "already_done": "already done",
    "deferred": "deferred",
    "promised": "promised",
    "paused": "paused",
    "skipped": "skipped",
    "nothing_due": "nothing due",
    "error": "failed",
}


def collections_summary(result: dict[str, Any]) -> str:
    """``6 customers checked: EUR 4 sent, 1 nothing due; USD 1 sent; 1 failed``: the outcomes
    per currency (a customer may owe in several), a customer that failed as a whole last."""
    by_currency = result.get("by_currency") or {"": result.get("counts", {})}

    def words(counts: dict[str, int]) -> str:
        order = [*OUTCOME_WORDS, *sorted(set(counts) - set(OUTCOME_WORDS))]
        return ", ".join(
            f"{counts[s]} {OUTCOME_WORDS.get(s, s.replace('_', ' '))}"
            for s in order
            if counts.get(s)
        )

    groups = [
        f"{cur} {words(by_currency[cur])}" if cur else words(by_currency[cur])
        for cur in sorted(by_currency, key=lambda c: (c == "", c))
        if words(by_currency[cur])
    ]
    return f"{counted(result['customers'], 'customer')} checked: " + (
        "; ".join(groups) or "nothing due"
    )


@contextmanager
def collections_log(path: Path | None = None) -> Iterator[Path]:
    """Send what the collections service logs (a failing customer's traceback, with the SQL) to
    the error log instead of the terminal, for the duration of the command: the run's table says
    which customers failed and why, in one line each."""
    path = path or _error_log()
    import logging

    class FileOnFirstRecord(logging.FileHandler):  # no folder, no file, unless something is logged
        def _open(self) -> Any:
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            return super()._open()

    logger = logging.getLogger("credit.services.collections")
    handler = FileOnFirstRecord(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        handler.close()


@collections_app.command("run")
def collections_run(
    as_of: AsOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show who would get which level; send and change nothing."),
    ] = False,
    partitions: Annotated[
        int,
        typer.Option(
            "--partitions",
            min=0,
            max=1000,
            help="Split the customers into N partitions that workers of the Prefect pool claim "
            "alongside this run (needs PREFECT_API_URL and the collections-partition deployment; "
            "without them this run does every partition itself).",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Age open invoices and send each customer's next dunning level (holds and handovers included).

    A live run dated before the latest run, or before payments already recorded, is refused;
    --dry-run may look at any date. A customer that fails is listed with the reason and left as
    it was, the others are dunned, and the command then exits with 1."""
    from credit.services.collections import CollectionsRunFailed, check_run_date

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        # before Prefect starts: a plain refusal (a date typed in the future too)
        check_run_date(a, as_of=day, dry_run=dry_run, today=a.settings.today())

    def call() -> Any:
        from flows.collections import collections

        with collections_log() as log_path:
            try:
                return collections(as_of=day, dry_run=dry_run, partitions=partitions), log_path
            except CollectionsRunFailed as failed:  # the others were dunned: show them all
                return failed.result, log_path

    with clear_errors():
        result, log_path = run_flow(f"Collections as of {day}", call)
    if as_json:
        print_json(result)
    else:
        table(
            f"Collections as of {day}" + (" (dry run)" if dry_run else ""),
            ["customer", "currency", "level", "channel", "overdue", "invoices", "action", "result"],
            [
                [
                    o["customer"],
                    o["currency"],
                    f"{o['level']} {o['level_name']}" if o["status"] != "error" else "",
                    o.get("channel", ""),
                    fmt_amount(o["overdue_total"], o["currency"]),
                    ", ".join(o["invoices"]),
                    o["action"],
                    said(o["status"]) + (f": {o['reason']}" if o.get("reason") else ""),
                ]
                for o in result["actions"]
            ],
        )
        shown = len(result["actions"])
        if result.get("actions_total", shown) > shown:
            console.print(
                f"the first {shown} of {result['actions_total']} actions are shown; every one is "
                "in `credit audit list` and `credit notices list`"
            )
        console.print(collections_summary(result), highlight=False)
    failed = result.get("failed", 0)
    if failed:
        err.print(
            f"[bold red]error:[/] {counted(failed, 'customer')} failed and "
            f"{'was' if failed == 1 else 'were'} left as {'it was' if failed == 1 else 'they were'}"
            f" (the result column says why); the full error is in {log_path}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


# --------------------------------------------------------------------------- read models


@customers_app.command("show")
def customers_show(
    customer_code: Annotated[str, typer.Argument(help="Customer code.")],
    as_of: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Profile, rating and score breakdown with the risk effects, what a proposal changes,
    credit line, exposure (open items and open orders), aging and dunning level."""
    from credit import services

    def amt(value: Any, cur: str) -> str:  # "EUR 120,000.00" in the currency's minor units
        return fmt_amount(value, cur) or "-"

    def num(value: Any, cur: str) -> str:  # "120,000.00"
        return amt(value, cur).split(" ", 1)[-1]

    day = parse_date(as_of)
    a = get_app()
    with clear_errors():
        view = services.customer_overview(a, code=customer_code.strip().upper(), as_of=day)
    if as_json:
        print_json(view)
        return
    say = lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True)  # noqa: E731
    c = view["customer"]
    console.print(
        f"[bold]{c['name']}[/] ({c['code']}) - {c['country']}, {c['currency']}, {c['email']}, "
        f"sales: {c['sales_owner_email']}"
    )
    asm = view["assessment"]
    if asm and asm["status"] != "complete":
        say(
            f"Assessment {asm['id']} as of {asm['as_of']} is {asm['status'].replace('_', ' ')} "
            f"(analyst {asm['analyst']}); quantitative score {asm['quantitative_score']}"
        )
    elif asm:
        say(
            f"Rating {asm['rating']} (combined score {asm['score']} = quantitative "
            f"{asm['quantitative_score']} and qualitative {asm['qualitative_score'] or '-'}; policy "
            f"v{asm['policy_version']}, as of {asm['as_of']}); recommended limit "
            f"{amt(asm['recommended_limit'], c['currency'])} ({asm['limit_basis']}), "
            f"{asm['terms_days']} days, conditions: {', '.join(asm['conditions']) or 'none'}"
        )
        effects = asm["risk_effects"]
        if effects is not None:
            say("Risk effects:" + ("" if effects["lines"] else " none"))
            for line in effects["lines"]:
                say(f"  {line}")
            for sig in effects["signals"]:
                since = (
                    "found by this research"
                    if sig["source"] == "research"
                    else f"open since {sig['detected_on']}"
                )
                say(f"  in force ({sig['severity']}): {sig['kind']} ({since}): {sig['detail']}")
    if asm:
        table(
            "Quantitative scorecard",
            ["factor", "value", "band", "points", "weight", "weighted"],
            [
                [
                    f["label"],
                    fmt_figure(f["value"]),
                    f["band"],
                    f["points"],
                    f["weight"],
                    f["weighted"],
                ]
                for f in asm["factors"]
            ],
        )
        q = asm["qualitative"]
        if q["factors"]:
            source = (
                f"carried over from assessment {q['carried_over_from']}"
                if q["carried_over_from"]
                else f"by {q['by']}"
            )
            table(
                f"Qualitative assessment ({source}): {q['comment']}",
                ["factor", "score", "weight", "weighted"],
                [[f["label"], f["score"], f["weight"], f["weighted"]] for f in q["factors"]],
            )
        cleaning = asm["cleaning"]
        say(
            f"Cleaning: {counted(len(cleaning['fixes']), 'fix', 'fixes')}, "
            f"{counted(len(cleaning['rejected']), 'rejected value')}, "
            f"{counted(len(cleaning['flags']), 'flag')}"
        )
        for kind, label in (("fixes", "fix"), ("rejected", "rejected"), ("flags", "flag")):
            for e in cleaning[kind]:
                say(f"  {label}: {e['item']} {e['field']} '{e['value']}': {e['reason']}")
        if asm.get("risk_effects") is None:  # made before risk effects: its signals as found
            for sig in asm["signals"]:
                say(f"  risk signal ({sig['severity']}): {sig['kind']}: {sig['detail']}")
        if asm["override_reason"]:
            say(
                f"Requested limit {amt(asm['requested_limit'], c['currency'])} overrides the "
                f"recommendation: {asm['override_reason']}"
            )
    if not asm:
        say("Not assessed yet.")
    change = view["change"]
    if change:
        against = (
            "no credit line yet (a new line)"
            if change["new_line"]
            else "the credit line as it stands"
        )
        previous = (
            f"assessment {change['previous']['assessment_id']} as of {change['previous']['as_of']}"
            if change["previous"]
            else "no earlier assessment"
        )
        subject = change["subject"] + (" (in approval)" if "request" in change["subject"] else "")
        say(f"Changes: {subject} against {against} and {previous}:")
        for line in change["lines"]:
            say(f"  {line}")
    line = view["credit_line"]
    if line:
        say(
            f"Credit line: {amt(line['limit'], line['currency'])}, {line['terms_days']} days, "
            f"conditions: {', '.join(line['conditions']) or 'none'}, {said(line['status'])}"
            f"{' (' + line['hold_reason'] + ')' if line['hold_reason'] else ''}, "
            f"next review {line['next_review_on']}"
        )
    else:
        say("No credit line.")
    for cur, amount in view["exposure"].items():
        aging = ", ".join(f"{k}: {num(v, cur)}" for k, v in view["aging"][cur].items())
        say(
            f"Open items {amt(amount, cur)} ({aging}); dunning level "
            f"{view['dunning_level'].get(cur, 0)}"
        )
    ex = view["credit_exposure"]
    cur = ex["currency"]
    say(
        f"Exposure {amt(ex['exposure'], cur)} (what `credit orders check` counts: open items "
        f"{amt(ex['receivables'], cur)} + open orders {amt(ex['open_orders'], cur)})"
        + (
            f" against the limit {amt(ex['limit'], cur)}: headroom {amt(ex['headroom'], cur)}"
            if ex["limit"] is not None
            else ""
        )
    )
    for o in ex["orders"]:
        say(f"  open order {o['number']} of {o['order_date']}: {amt(o['amount'], o['currency'])}")
    for why in ex["unvalued"]:
        say(f"  not counted: {why}")
    rows = [
        [
            cur,
            i["number"],
            i["kind"] + (" (disputed)" if i["disputed"] else ""),
            i["due_date"],
            i["days_overdue"],
            num(i["open_amount"], cur),
        ]
        for cur, items in view["open_items"].items()
        for i in items
    ]
    if rows:
        table("Open items", ["currency", "document", "kind", "due", "days overdue", "open"], rows)
    for p in view["promises"]:
        say(
            f"Promise: {amt(p['amount'], p['currency'])} by {p['promised_for']} "
            f"({p['recorded_by']}): {p['status']}"
        )


@customers_app.command("list")
def customers_list(as_json: JsonOpt = False) -> None:
    """Every customer with rating, credit line and status."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.customer_list(a)
    if as_json:
        print_json(rows)
        return
    table(
        "Customers",
        ["code", "name", "currency", "rating", "limit", "terms", "line status", "next review"],
        [
            [
                r["code"],
                r["name"],
                r["currency"],
                r["rating"] or "-",
                f"{r['currency']} {Decimal(r['limit']):,.2f}" if r["limit"] else "-",
                r["terms_days"] if r["terms_days"] is not None else "-",
                r["status"] or "-",
                r["next_review_on"] or "-",
            ]
            for r in rows
        ],
    )


@notices_app.command("list")
def notices_list(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer's notices.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind, e.g. dunning_reminder.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, sending, sent or failed.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Notices in the outbox with their delivery status."""
    from credit import services

    if status is not None and status not in ("pending", "sending", "sent", "failed"):
        fail(f"--status: value {status!r}: choose pending, sending, sent or failed")
    a = get_app()
    with clear_errors():
        rows = services.list_notices(
            a, customer_code=customer, kind=kind, status=status, limit=10_000
        )
    if as_json:
        print_json(rows)
        return
    failed = any(r["status"] == "failed" for r in rows)
    table(
        f"Notices ({len(rows)})",
        ["id", "kind", "status", "to", "subject", "created"]
        + (["attempts", "last error"] if failed else []),
        [
            [
                r["id"],
                r["kind"] + (" (letter)" if r["channel"] == "letter" else ""),
                r["status"],
                r["delivered_to"] if r["channel"] == "letter" else ", ".join(r["recipients"]),
                r["subject"],
                fmt_time(r["created_at"]),
            ]
            + ([r["attempts"], r["last_error"]] if failed else [])
            for r in rows
        ],
    )


@notices_app.command("deliver")
def notices_deliver(
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Also send the notices waiting out a retry delay, now (after an outage was "
            "fixed, say; audited).",
        ),
    ] = False,
    by: Annotated[
        str | None, typer.Option("--as", help="Who asks for --now (audited; a directory user).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send whatever the outbox still holds (after an outage, say)."""
    from credit import services
    from credit.notices import local_time

    a = get_app()
    if now and by is None:
        fail("--now sends notices before their retry is due: say who asks with --as USER")
    with clear_errors():
        report = services.deliver(a, now=now, by=by)
    if as_json:
        print_json(report)
        return
    if report["released"]:
        console.print(
            f"{counted(report['released'], 'waiting notice')} released to be sent now, not after "
            "their delay"
        )
    console.print(
        f"sent {report['sent']}, retrying later {report['retried']}, failed {report['failed']}, "
        f"held by another sender {report['skipped']}"
    )
    if report["stopped"]:
        console.print(f"[yellow]stopped for now: {report['stopped']}[/yellow]", highlight=False)
    if report["waiting"]:
        from zoneinfo import ZoneInfo

        when = local_time(report["next_attempt"], ZoneInfo(a.settings.timezone))
        console.print(
            f"[yellow]{counted(report['waiting'], 'notice')} "
            f"{'waits' if report['waiting'] == 1 else 'wait'} for a retry; the next attempt "
            "is due at "
            f"{when}. To send them now: credit notices deliver --now --as USER[/yellow]",
            highlight=False,
        )
    if report["held"]:
        console.print(
            f"[red]{counted(report['held'], 'notice')} to customers not sent: "
            f"{report['held_reason']}. "
            "They stay in the outbox and go out with the next delivery once set.[/red]",
            highlight=False,
        )
    if report["repeated"]:
        console.print(
            f"[yellow]{counted(report['repeated'], 'notice')} being sent by a sender that stopped: "
            "sent again with the same Message-ID (a recipient may see one twice)[/yellow]"
        )
    if report["failed"]:
        console.print(
            f"[red]{counted(report['failed'], 'notice')} failed for good; the operator was told. "
            "See them with `credit notices list --status failed`, fix the cause, then "
            "`credit notices retry ID...`[/red]"
        )


@notices_app.command("retry")
def notices_retry(
    ids: Annotated[list[int], typer.Argument(help="Ids of failed notices to send again.")],
    by: Annotated[str, typer.Option("--as", help="Who asks (for the audit trail).")],
    reason: Annotated[str, typer.Option("--reason", help="What was fixed.")],
) -> None:
    """Put failed notices back in the outbox once the cause is fixed; the next delivery sends
    them."""
    from credit import services

    a = get_app()
    with clear_errors():
        done = services.retry_notices(a, notice_ids=ids, by=by, reason=reason)
    console.print(f"{counted(len(done), 'notice')} back in the outbox: {', '.join(map(str, done))}")


@audit_app.command("list")
def audit_list(
    entity: Annotated[
        str | None, typer.Option("--entity", help="Only events about this id or code.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many of the latest events.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The latest audit events: who did what, when, why, before and after."""
    from credit import services

    a = get_app()
    with clear_errors():
        rows = services.audit_events(a, entity=entity, limit=limit)
    if as_json:
        print_json(rows)
        return
    table(
        "Audit trail",
        ["id", "at", "actor", "action", "entity", "reason"],
        [
            [
                r["id"],
                fmt_time(r["at"]),
                r["actor"],
                r["action"],
                f"{r['entity_type']}:{r['entity_id']}",
                r["reason"],
            ]
            for r in rows
        ],
    )


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check the audit trail's hash chain; names the first event that was edited, deleted, inserted or moved."""
    from credit import services

    a = get_app()
    with clear_errors():
        result = services.verify_audit(a)
    if as_json:
        print_json(result)
    elif result["ok"]:
        console.print(
            f"Audit trail intact: {result['events']} events, every link and hash checks out."
        )
    else:
        err.print(
            f"[bold red]Audit trail broken at event {result['broken_at']}[/]: {result['reason']}",
            highlight=False,
        )
    if not result["ok"]:
        raise typer.Exit(1)


def csv_safe(value: Any) -> str:
    """A spreadsheet must not run what a cell says: text starting with = + - @ (or a tab/CR) is
    prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@audit_app.command("limits")
def audit_limits(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (audit clock, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV for a spreadsheet (formula cells neutralised).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Every credit-limit change in a period with its approval evidence: who, when, what they saw."""
    import csv as csv_module

    from credit import services

    lo, hi = parse_date(start, "--from"), parse_date(end, "--to")
    if hi < lo:
        fail(f"--to {hi} is before --from {lo}")
    a = get_app()
    with clear_errors():
        rows = services.limit_changes(a, start=lo, end=hi)
    if as_json:
        print_json(rows)
        return
    if as_csv:
        writer = csv_module.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            [
                "at",
                "customer",
                "currency",
                "old_limit",
                "new_limit",
                "terms_days",
                "rating",
                "policy_version",
                "request_id",
                "level",
                "role",
                "decided_by",
                "decided_at",
                "decision",
                "amount_seen",
                "exposure_seen",
                "evidence_hash",
            ]
        )
        for r in rows:
            for st in r["approvals"] or [{}]:
                saw = st.get("saw") or {}
                writer.writerow(
                    [
                        csv_safe(v)
                        for v in (
                            r["at"],
                            r["customer"],
                            r["currency"],
                            r["old_limit"],
                            r["new_limit"],
                            r["terms_days"],
                            r["rating"],
                            r["policy_version"],
                            r["request_id"],
                            st.get("level"),
                            st.get("role"),
                            st.get("by"),
                            st.get("at"),
                            st.get("decision"),
                            saw.get("amount"),
                            json.dumps(saw.get("exposure", {}), sort_keys=True),
                            st.get("evidence_hash"),
                        )
                    ]
                )
        return
    table(
        f"Credit-limit changes {lo} to {hi}",
        ["at", "customer", "old", "new", "request", "approvals (who, when, evidence)"],
        [
            [
                fmt_time(r["at"]),
                r["customer"],
                fmt_amount(r["old_limit"], r["currency"]) if r["old_limit"] else "-",
                fmt_amount(r["new_limit"], r["currency"]),
                r["request_id"],
                "; ".join(
                    f"L{st['level']} {st['by']} {(st['at'] or '')[:16]} #{(st['evidence_hash'] or '')[:10]}"
                    for st in r["approvals"]
                ),
            ]
            for r in rows
        ],
    )


# --------------------------------------------------------------------------- policy


@policy_app.command("show")
def policy_show(
    version: Annotated[
        int | None, typer.Option("--version", help="Version number (default: the published one).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a policy version: status, rating table, authority matrix and dunning schedule."""
    from credit import services

    a = get_app()
    with clear_errors():
        view = services.policy_view(a, version=version)
    if as_json:
        print_json(view)
        return
    body = view["body"]
    console.print(
        f"[bold]{view['name']}[/] version {view['version']} ({said(view['status'])}), proposed by "
        f"{view['proposed_by']}; sha256 {view['sha256'][:12]}"
    )
    table(
        "Ratings",
        ["grade", "min score", "limit rule", "terms", "conditions", "review"],
        [
            [
                r["grade"],
                r["min_score"],
                f"min({r['limit']['share_of_equity']} x equity, "
                f"{r['limit']['share_of_revenue']} x revenue, "
                f"{fmt_amount(r['limit']['cap'], body['base_currency'])})",
                f"{r['terms_days']} d",
                ", ".join(r["conditions"]) or "-",
                r["review"],
            ]
            for r in body["ratings"]
        ],
    )
    table(
        "Authority matrix",
        ["level", "role", "up to"],
        [
            [
                lv["level"],
                lv["role"],
                fmt_amount(lv["up_to"], body["base_currency"]) if lv["up_to"] else "no limit",
            ]
            for lv in body["authority"]["levels"]
        ],
    )
    effects = view["risk_effects"]
    table(
        "Risk effects on the rating",
        ["signal severity", "best rating", "limit cut", "conditions added"],
        [
            [
                e["severity"],
                e["max_rating"] or "-",
                f"{e['limit_cut_pct']}%" if e["limit_cut_pct"] else "-",
                ", ".join(e["conditions"]) or "-",
            ]
            for e in effects
        ],
    )
    console.print(
        "Risk signals change nothing in the rating under this version."
        if not effects
        else f"Signals in force: those research finds, and those recorded in the "
        f"{view['effects_lookback_days']} days before it that no review has answered."
    )
    table(
        "Dunning schedule",
        ["level", "name", "sent", "channel", "action", "asks payment within"],
        [
            [lv["level"], lv["label"], lv["when"], lv["channel"], lv["action"], lv["pay_within"]]
            for lv in view["dunning_levels"]
        ],
    )


def _continue_policy(version: int) -> dict[str, Any]:
    def call() -> Any:
        from flows.policy import policy

        return policy(version=version)

    return run_flow(f"Policy version {version}", call)


@policy_app.command("diff")
def policy_diff(
    from_version: Annotated[
        int | None, typer.Option("--from", help="Version to compare from (default: published).")
    ] = None,
    to_version: Annotated[
        int | None, typer.Option("--to", help="Version to compare to (default: the newest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What a policy version changes: bands, weights, ratings and limits, terms, the authority
    matrix, the dunning schedule, order checks and risk rules."""
    from credit import services

    a = get_app()
    with clear_errors():
        result = services.policy_diff(a, from_version=from_version, to_version=to_version)
    if as_json:
        print_json(result)
        return
    f, t = result["from"], result["to"]
    table(
        f"Policy version {f['version']} ({said(f['status'])}) → {t['version']} "
        f"({said(t['status'])}): "
        f"{counted(len(result['changes']), 'change')}",
        ["section", "change"],
        [[c["section"], c["text"]] for c in result["changes"]],
    )


@policy_app.command("research")
def policy_research_command(
    as_of: AsOpt = None,
    months: Annotated[
        int, typer.Option("--months", help="How many months back.", min=1, max=36)
    ] = 12,
    review: Annotated[
        bool, typer.Option("--review", help="Also tell the committee the policy is due for review.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Portfolio analytics as of a date (aging, DSO, collection rate and CEI per month, late payment
    and bad debt by rating, utilisation, concentration, what the policy did), written as a report
    with charts under the reports folder and sent to the policy committee."""
    day = parse_date(as_of)
    get_app()

    def call() -> Any:
        from flows.policy_research import policy_research

        return policy_research(as_of=day, months=months, review_due=review)

    with clear_errors():
        result = run_flow(f"Policy research as of {day}", call)
    if as_json:
        print_json(result)
        return
    figures = result["figures"]
    last = figures["monthly"][-1]
    console.print(
        f"Receivables {fmt_amount(figures['receivables'], figures['base_currency'])}; "
        f"{last['month']}: DSO "
        f"{last['dso'] or '-'} days, collection rate {last['collection_rate'] or '-'}%, CEI "
        f"{last['cei'] or '-'}%; top 5 customers {figures['concentration']['top_share_pct'] or '-'}%"
        f" of the exposure."
    )
    for w in figures["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"Report: [bold]{result['report']}[/] (sent to the policy committee).")


@policy_app.command("backtest")
def policy_backtest(
    version: Annotated[int, typer.Argument(help="The draft policy version.")],
    start: Annotated[
        str | None, typer.Option("--from", help="First date (default: 90 days before --to).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date (default: today).")] = None,
    every: Annotated[int, typer.Option("--every", help="Days between dates.", min=1)] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Shadow-run a draft policy on the stored history: whose rating, limit, terms, dunning level
    and hold would differ, and the totals. Nothing is sent or changed."""
    from datetime import timedelta

    from credit import services
    from credit.services.backtest import span

    last = parse_date(end, "--to")
    first = parse_date(start, "--from") if start else last - timedelta(days=90)
    a = get_app()
    with clear_errors():
        result = services.backtest(a, version=version, dates=span(first, last, every))
    if as_json:
        print_json(result)
        return
    table(
        f"Policy version {version} against version {result['against']}: decisions that change",
        ["date", "customer", "rating", "limit", "terms", "conditions"],
        [
            [
                d["date"],
                d["customer"],
                f"{d['live']['rating']} → {d['draft']['rating']}",
                f"{d['live']['limit']} → {d['draft']['limit']}",
                f"{d['live']['terms_days']} → {d['draft']['terms_days']}",
                f"{', '.join(d['live']['conditions']) or '-'} → "
                f"{', '.join(d['draft']['conditions']) or '-'}",
            ]
            for d in result["decisions"]
        ],
    )
    if result["dunning"]:
        table(
            "Dunning levels that differ",
            ["date", "customer", "currency", "level", "hold"],
            [
                [
                    d["date"],
                    d["customer"],
                    d["currency"],
                    f"{d['live_level']} → {d['draft_level']}",
                    f"{d['live_hold']} → {d['draft_hold']}",
                ]  # fmt: skip
                for d in result["dunning"]
            ],
        )
    for t in result["totals"]:
        console.print(
            f"{t['date']}: in dunning {t['customers_in_dunning']['live']} → "
            f"{t['customers_in_dunning']['draft']}, holds {t['holds']['live']} → "
            f"{t['holds']['draft']}, notices to date {t['notices_to_date']['live']} → "
            f"{t['notices_to_date']['draft']}",
            highlight=False,
        )
    console.print("Nothing was sent or changed (a shadow run).")


@policy_app.command("propose")
def policy_propose(
    file: Annotated[Path, typer.Argument(help="Policy YAML (same schema as config/policy.yaml).")],
    by: Annotated[str, typer.Option("--as", "--by", help="Who proposes (username).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the policy changes.")] = "",
) -> None:
    """Propose a new policy version; it goes to the committee the current policy names."""
    from credit import services

    a = get_app()
    with clear_errors():
        version = services.propose_policy(
            a, path=file, by=by, reason=reason, as_of=a.settings.today()
        )
        progress = _continue_policy(version)
    console.print(
        f"Policy version {version} is {said(progress['status'])}, waiting for "
        f"{progress['waiting_for']}."
    )


def _policy_decide(version: int, user: str, approve: bool, comment: str | None) -> None:
    from credit import services

    a = get_app()
    with clear_errors():
        step = services.decide(
            a,
            subject=services.SUBJECT_POLICY,
            subject_id=version,
            username=user,
            approve=approve,
            comment=comment,
            as_of=a.settings.today(),  # the edge: today in the company's time zone
        )
        console.print(f"Policy version {version} ({step.role}): {step.decision} by {user}.")
        progress = _continue_policy(version)
    msg = f"Policy version {version} is now {said(progress['status'])}"
    console.print(
        msg + (f", waiting for {progress['waiting_for']}." if progress.get("waiting_for") else ".")
    )


@policy_app.command("approve")
def policy_approve(
    version: Annotated[int, typer.Argument(help="Policy version.")],
    user: Annotated[str, typer.Option("--as", help="Committee member deciding.")],
    comment: Annotated[str | None, typer.Option("--comment")] = None,
) -> None:
    """Approve a proposed policy version as a committee member."""
    _policy_decide(version, user, True, comment)


@policy_app.command("reject")
def policy_reject(
    version: Annotated[int, typer.Argument(help="Policy version.")],
    user: Annotated[str, typer.Option("--as", help="Committee member deciding.")],
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")],
) -> None:
    """Reject a proposed policy version."""
    _policy_decide(version, user, False, comment)


# --------------------------------------------------------------------------- running


@app.command()
def serve(
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone", help="Time zone of the cron schedules (default: CREDIT_TIMEZONE)."
        ),
    ] = None,
) -> None:
    """Run all deployments on this machine (collections and periodic review daily) with Prefect's serve()."""
    a = get_app()
    zone = timezone or a.settings.timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: value {zone!r} is not an IANA time zone (e.g. Europe/Berlin)")
    _require_company(a.settings, "credit serve")
    prefect_defaults()
    with clear_errors(), _prefect_server():
        from flows.serve import serve_all
        from flows.watched import tracebacks_to

        with tracebacks_to(_error_log()):
            serve_all(timezone=zone)
    console.print("credit serve stopped: schedules wait until it runs again.")


@contextmanager
def _prefect_server() -> Iterator[None]:
    """The Prefect server `credit serve` talks to: PREFECT_API_URL's, or else one it runs itself,
    in a session of its own, for as long as it serves.

    Prefect's local mode would start a temporary server in the command's process group: Ctrl-C in
    the terminal then stopped that server first, and serve spent a minute retrying it before it
    could stop. Here Ctrl-C reaches serve alone; serve stops, then its server. The server's state
    (runs, the UI at its address) lives in PREFECT_HOME."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as probe:  # 4200 (Prefect's usual port) when free, else any free one
        port = 4200 if probe.connect_ex(("127.0.0.1", 4200)) != 0 else 0
    if port == 0:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
    log_path = _error_log().with_name("prefect-server.log")
    url = f"http://127.0.0.1:{port}/api"
    with log_path.open("a", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                fail(
                    f"the Prefect server did not start (exit code {server.returncode}); see {log_path}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail(f"the Prefect server did not answer within 120 s; see {log_path}")
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = url
        console.print(
            f"Prefect server (and its UI) on http://127.0.0.1:{port}; its log: {log_path}"
        )
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@app.command()
def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port (CREDIT_WEB_BASE_URL must point here).")
    ] = 8765,
) -> None:
    """Serve the approval page that the signed links in approvers' notices open."""
    import threading

    import uvicorn

    from credit.web import create_app

    a = get_app()
    # An approval published from the page sends the customer the terms letter.
    _require_company(a.settings, "credit web")

    def continue_request(request_id: int, as_of: date) -> None:
        def run() -> None:
            prefect_defaults()
            from flows.approval import approval

            try:
                approval(request_id=request_id, as_of=as_of)
            except (
                Exception
            ):  # the decision is recorded; `credit approvals resume` finishes the rest
                err.print(
                    f"continuing request {request_id} failed; run `credit approvals resume {request_id}`"
                )

        threading.Thread(target=run, daemon=True).start()

    console.print(
        f"Approval page on http://{host}:{port} (links point to {a.settings.web_base_url})"
    )
    uvicorn.run(
        create_app(a, on_decided=continue_request), host=host, port=port, log_level="warning"
    )


@app.command()
def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            help="Where the demo keeps its database, Prefect home and notices (wiped first).",
        ),
    ] = Path("var/demo"),
) -> None:
    """Run the whole lifecycle on the shipped sample data and say where the notices are."""
    import shutil
    import time

    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "prefect").mkdir(parents=True)
    os.environ["CREDIT_DATABASE_URL"] = f"sqlite:///{directory / 'credit.db'}"
    os.environ["CREDIT_OUTBOX_DIR"] = str(directory / "outbox")
    os.environ["CREDIT_REPORTS_DIR"] = str(directory / "reports")
    # Its letters are the made-up company's: never through a real mail server, never into the
    # real post room's folder, whatever .env says.
    os.environ["CREDIT_SMTP_HOST"] = ""
    os.environ["CREDIT_LETTERS_DIR"] = str(directory / "outbox" / "letters")
    os.environ.setdefault("PREFECT_HOME", str(directory / "prefect"))
    prefect_defaults()
    started = time.monotonic()
    console.print(
        f"Demo in {directory} (SQLite + Prefect local mode; the first flow starts Prefect)"
    )
    from flows.demo import DEMO_COMPANY, run_demo  # imports Prefect
    from flows.watched import watched_runs

    os.environ.update(DEMO_COMPANY)  # its own, visibly made-up company (not .env's)

    with clear_errors(), watched_runs(error_log=_error_log()):
        run_demo(directory, console=console)
    console.print(f"Demo finished in {time.monotonic() - started:.0f} s.")


def _error_log() -> Path:
    """The file unexpected errors are written to: CREDIT_LOG_DIR (default var/log) if it can be
    written, else the system's temporary folder."""
    import tempfile

    try:
        folder = Settings.load().log_dir
    except SettingsError:
        folder = Path("var/log")
    for candidate in (folder, Path(tempfile.gettempdir())):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            path = candidate / "credit-errors.log"
            with path.open("a", encoding="utf-8"):
                return path.resolve()
        except OSError:
            continue
    return Path(tempfile.gettempdir()) / "credit-errors.log"


def report_unexpected(exc: BaseException) -> Path:
    """Write the traceback of an error the product did not expect to the error log; the path."""
    import traceback
    from datetime import UTC, datetime

    path = _error_log()
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(
                f"--- {datetime.now(UTC).isoformat(timespec='seconds')} pid {os.getpid()}: "
                f"credit {' '.join(sys.argv[1:])}\n"
            )
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass
    return path


def main() -> None:
    """Run the command. Ctrl-C ends it with one line; an error the product did not expect is
    written whole to the error log and shown as one line naming that file (exit code 1)."""
    import signal

    from credit.console import INTERRUPTED, interrupted

    def after_ctrl_c(exc: BaseException) -> bool:
        """Whether ``exc`` is what Ctrl-C became on its way up: a library may wrap it (Prefect's
        client turned it into a serialisation error). Python's own SIGINT handler stays in place:
        asyncio (Prefect's serve) stops cleanly only with it."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if isinstance(current, KeyboardInterrupt) or "KeyboardInterrupt" in str(current):
                return True
            current = current.__cause__ or current.__context__
        return False

    try:
        app()
    except KeyboardInterrupt:
        interrupted()
    except SystemExit as done:
        # Typer turns Ctrl-C into exit code 130; a command that stops on Ctrl-C as its way of
        # ending (credit serve) finished: it keeps its own exit code and last words.
        if done.code == INTERRUPTED:
            interrupted()
        # Ctrl-C while the interpreter shuts down (Prefect's exit handlers): one line too.
        signal.signal(signal.SIGINT, lambda signum, frame: interrupted())
        raise
    except Exception as exc:
        if after_ctrl_c(exc):
            interrupted()
        path = report_unexpected(exc)
        text = " ".join(str(exc).split())
        text = text if len(text) <= 200 else text[:197] + "..."
        err.print(
            f"[bold red]error:[/] the command stopped on an unexpected error "
            f"({type(exc).__name__}: {text}); what was already committed stays. "
            f"The details are in {path}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted())
