"""Scenario 5: collections did not run for 10 days, then runs once: at most one notice per
customer and currency, each at the right level (one level up at most), each item one level up at
most and only to a level whose trigger has come for it, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from sqlmodel import select

from bench.portfolio import generate
from credit import services
from credit.app import App
from credit.db.models import DunningAction, Notice
from credit.db.models_dunning_items import DunningItemLevel
from credit.settings import Settings
from tests.conftest import TEST_COMPANY, scratch_postgres

pytestmark = pytest.mark.slow

AS_OF = date(2027, 3, 1)
GAP = 10  # days without a run


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    source = tmp_path_factory.mktemp("downtime") / "portfolio.db"
    generate(f"sqlite:///{source}", customers=600, invoices=6_000, seed=11, as_of=AS_OF)
    return source


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, portfolio, tmp_path):
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            target = tmp_path / "credit.db"
            shutil.copyfile(portfolio, target)
            yield f"sqlite:///{target}"
        else:
            url = stack.enter_context(scratch_postgres())
            generate(url, customers=600, invoices=6_000, seed=11, as_of=AS_OF)
            yield url


def run(app: App, day: date, processes: int) -> None:
    ids = services.collection_candidates(app, as_of=day)
    if processes > 1:  # a large run's default: the machine's processes work partitions of it
        from credit.services.local_partitions import dun_in_processes

        dun_in_processes(
            app, customer_ids=ids, as_of=day, dry_run=False, processes=processes, send=False
        )
    else:
        services.dun_customers(app, customer_ids=ids, as_of=day, dry_run=False)


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_one_run_after_ten_days_of_downtime_sends_one_notice_at_the_right_level(
    database, tmp_path, processes
):
    app = App(
        Settings.load(
            env_file=None,
            environ={
                "CREDIT_DATABASE_URL": database,
                "CREDIT_OUTBOX_DIR": str(tmp_path / "o"),
                **TEST_COMPANY,
            },
        )
    )
    with app.uow() as uow:
        _, policy = app.published_policy(uow.session)
    levels = {lv.level: lv for lv in policy.dunning.levels}
    run(app, AS_OF, processes)
    with app.uow() as uow:
        first_run = max(uow.session.exec(select(Notice.id)))
    later = AS_OF + timedelta(days=GAP + 1)  # nothing ran in between
    run(app, later, processes)

    with app.uow() as uow:
        s = uow.session
        steps = list(s.exec(select(DunningAction).order_by(DunningAction.id)))
        sent_later = list(s.exec(select(Notice).where(Notice.id > first_run)))
        item_rows = list(s.exec(select(DunningItemLevel)))
    items_later = [r for r in item_rows if r.as_of == later]
    items_before = {
        (r.customer_id, r.currency, r.episode, r.item_number): r.level
        for r in item_rows
        if r.as_of == AS_OF
    }
    before: dict[tuple[int, str], int] = defaultdict(int)
    for a in steps:
        if a.as_of == AS_OF:
            before[(a.customer_id, a.currency)] = a.level
    now = [a for a in steps if a.as_of == later and a.level > 0]
    per_case = Counter((a.customer_id, a.currency) for a in now)
    assert now and max(per_case.values()) == 1  # at most one step per customer and currency
    # Item levels: the notice is at the highest item level, which rises one level at most; each
    # item climbs one level at most, and only to a level whose trigger has come for it.
    climbed = Counter((r.customer_id, r.currency) for r in items_later)
    for a in now:
        previous = before.get((a.customer_id, a.currency), 0)
        assert a.level <= previous + 1, (a.customer_id, previous, a.level)  # no level skipped
        assert climbed[(a.customer_id, a.currency)] > 0  # a notice: at least one item climbed
    for r in items_later:
        key = (r.customer_id, r.currency, r.episode, r.item_number)
        assert r.level == items_before.get(key, 0) + 1, (key, r.level)
        level = levels[r.level]
        if level.trigger == "after_previous" and r.level > 1:
            assert (later - AS_OF).days >= level.days  # its trigger has come
    assert policy.dunning.min_days_between_levels <= GAP + 1
    notices_per_case = Counter(
        (n.customer_id, n.idempotency_key.split(":")[2])
        for n in sent_later
        if n.idempotency_key.startswith("dunning:")
    )
    assert notices_per_case and max(notices_per_case.values()) <= 1
    moved = Counter(levels[a.level].name for a in now)
    print(
        f"{database.split(':')[0]}: after {GAP} days without a run, {len(now)} customer(s) moved "
        f"one level ({dict(moved)}); at most one notice each"
    )
