"""A digest of every customer notice the collections run writes, to show that a change to the
rendering (or to the remittance details) leaves every byte of every notice as it was.

    . /tmp/benv.sh   # the company settings customer notices need
    python -m bench.notice_digest portfolio [--source /var/bench/p10k.db] [--customers N]
    python -m bench.notice_digest fixtures

``portfolio``: copies the portfolio, gives some of its customers (deterministically: by id) a
locale that falls back (de_AT, zh_TW, zh-HK, en_GB, fr, pt-BR), runs
``credit.services.collections.dun_customers`` as of its date over every candidate (and on later
days over the first ``--later-customers`` of them, so that they climb the levels), then digests
each notice's kind, locale, subject, text, HTML and stored document (the letter's context and
body) ordered by idempotency key, and, separately, the RF references issued (key, reference,
customer, currency, invoice ids, amount).

``fixtures``: runs the lifecycle of ``tests/integration/test_locales.py`` (every kind of notice
the services write, courtesy reminders, holds and their release, handover, final demand,
promises, disputes) recording every context rendered, then renders each of them again in every
locale (and the fallbacks) and digests subject, text, HTML and the letter body.

Prints one digest per part, and per kind, so a difference can be traced to a template.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

FALLBACKS = ("de_AT", "zh_TW", "zh-HK", "en_GB", "fr", "pt-BR")
LOCALES = ("en", "de", "zh-Hant", *FALLBACKS)


def _h(*parts: Any) -> bytes:
    return b"\x00".join(
        (p if isinstance(p, str) else json.dumps(p, sort_keys=True, default=str)).encode()
        for p in parts
    )


def portfolio(
    source: str, customers: int | None, as_of: date, later: list[date], later_customers: int
) -> None:
    from sqlalchemy import text

    tmp = Path(tempfile.mkdtemp(prefix="notice_digest_"))
    db = tmp / "p.db"
    shutil.copyfile(source, db)
    os.environ["CREDIT_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["CREDIT_OUTBOX_DIR"] = str(tmp / "outbox")
    from credit.app import App
    from credit.services import collections as cs
    from credit.settings import Settings

    app = App(Settings.load())
    with app.engine.begin() as conn:  # some customers read their notices in a fallback locale
        for i, loc in enumerate(FALLBACKS):
            conn.execute(
                text("UPDATE customer SET locale = :loc WHERE id % 23 = :i"), {"loc": loc, "i": i}
            )
    ids = cs.collection_candidates(app, as_of=as_of)
    if customers:
        ids = ids[:customers]
    t = time.perf_counter()
    cs.dun_customers(app, customer_ids=ids, as_of=as_of, dry_run=False)
    took = time.perf_counter() - t
    # Later runs for the first customers, so their notices climb the levels (second notice,
    # final demand, credit hold, handover, courtesy reminders).
    some = set(ids[:later_customers])
    for day in later:
        again = [c for c in cs.collection_candidates(app, as_of=day) if c in some]
        cs.dun_customers(app, customer_ids=again, as_of=day, dry_run=False)
    notices = hashlib.sha256()
    refs = hashlib.sha256()
    by_kind: dict[str, Any] = defaultdict(hashlib.sha256)
    kinds: Counter[str] = Counter()
    locales: Counter[str] = Counter()
    with app.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT idempotency_key, kind, locale, subject, text, html, document, channel, "
                "recipients FROM notice ORDER BY idempotency_key"
            )
        )
        for key, kind, locale, subject, body, html, document, channel, recipients in rows:
            doc = json.loads(document) if isinstance(document, str) else document
            part = _h(key, kind, locale, subject, body, html, doc, channel, recipients)
            notices.update(hashlib.sha256(part).digest())
            by_kind[kind].update(hashlib.sha256(part).digest())
            kinds[kind] += 1
            locales[locale] += 1
        n_refs = 0
        for row in conn.execute(
            text(
                "SELECT notice_key, rf, customer_id, currency, invoice_ids, amount, purpose, "
                "issued_on FROM payment_reference ORDER BY notice_key, rf"
            )
        ):
            ids_ = json.loads(row[4]) if isinstance(row[4], str) else row[4]
            refs.update(hashlib.sha256(_h(*row[:4], ids_, *row[5:])).digest())
            n_refs += 1
        summaries = conn.execute(
            text("SELECT count(*) FROM notice WHERE text LIKE '%these are the 10 oldest%'")
        ).scalar()
    print(f"customers {len(ids)}  dun_customers {took:.1f} s  notices {sum(kinds.values())}")
    print("kinds", dict(sorted(kinds.items())))
    print("locales", dict(sorted(locales.items())))
    print("summary-mode notices (en)", summaries)
    for kind, h in sorted(by_kind.items()):
        print(f"  {kind:28s} {h.hexdigest()[:16]}")
    print(f"references {n_refs} digest {refs.hexdigest()}")
    print(f"NOTICES DIGEST {notices.hexdigest()}")
    app.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


def fixtures(dump: Path | None = None) -> None:
    import pytest

    from credit import services
    from credit.app import App
    from credit.db.models import Customer
    from credit.settings import Settings
    from tests.conftest import TEST_COMPANY, import_sample
    from tests.integration import test_locales as tl
    from tests.integration.test_lifecycle_services import DAY, decide, review

    seen: list[tuple[str, dict[str, Any]]] = []

    class Recorder(tl.RecordingRenderer):
        def render(self, kind, locale, context):  # type: ignore[no-untyped-def]
            seen.append((kind, context))
            return super().render(kind, locale, context)

    tmp = Path(tempfile.mkdtemp(prefix="notice_fixtures_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = f"sqlite:///{tmp / 'credit.db'}"
    env["CREDIT_OUTBOX_DIR"] = str(tmp / "outbox")
    env.update(TEST_COMPANY)
    a = App(Settings.load(env_file=None, environ=env))
    recorder = Recorder.for_settings(a.settings)
    a.__dict__["renderer"] = recorder
    from sqlmodel import select

    services.init_database(a, actor="test")
    import_sample(a, payments_until=DAY)
    with a.uow() as uow:
        c = uow.session.exec(select(Customer).where(Customer.code == "C-1005")).one()
        c.locale = "zh-Hant"
        uow.session.add(c)
        uow.commit()
    rid = review(a, "C-1003", "30000")
    decide(a, rid, "carla.manager")
    services.publish_request(a, request_id=rid, as_of=DAY)
    for day in (DAY, date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 16), date(2026, 11, 30)):
        import_sample(a, ("payments",), payments_until=day)
        for cid in services.collection_candidates(a, as_of=day):
            services.dun_customer(a, customer_id=cid, as_of=day, dry_run=False)
    with pytest.MonkeyPatch.context():
        tl._the_rest_of_the_lifecycle(a)
        tl._order_releases(a)
    a.engine.dispose()
    recorded = [(kind, _scrubbed(ctx)) for kind, ctx in seen]
    recorded += [
        v for kind, ctx in recorded if kind.startswith("dunning_") for v in _variants(kind, ctx)
    ]
    fresh = Recorder.for_settings(a.settings)  # renders all again, from cold caches
    total = hashlib.sha256()
    by_kind: dict[str, Any] = defaultdict(hashlib.sha256)
    count = 0
    for kind, ctx in recorded:
        for locale in LOCALES:
            r = fresh.render(kind, locale, ctx)
            body = fresh.render_letter_body(kind, locale, ctx)
            part = hashlib.sha256(_h(kind, locale, r.subject, r.text, r.html, body)).digest()
            total.update(part)
            by_kind[kind].update(part)
            count += 1
            if dump is not None:
                dump.mkdir(parents=True, exist_ok=True)
                (dump / f"{count:05d}.{kind}.{locale}.txt").write_text(
                    "\n".join((r.subject, r.text, r.html, body))
                )
    print(f"contexts {len(recorded)}  renders {count}")
    for kind, h in sorted(by_kind.items()):
        print(f"  {kind:28s} {h.hexdigest()[:16]}")
    print(f"FIXTURES DIGEST {total.hexdigest()}")
    shutil.rmtree(tmp, ignore_errors=True)


_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _scrubbed(value: Any) -> Any:
    """The context with its wall-clock times and signed links fixed (they differ per run)."""
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    if isinstance(value, datetime):
        return datetime(2026, 12, 1, 12, 34, tzinfo=UTC)
    if isinstance(value, str) and _MOMENT.match(value):
        return "2026-12-01 12:34 UTC"
    if isinstance(value, str) and "/approve/" in value:  # a signed link: a random nonce
        return value.split("/approve/")[0] + "/approve/TOKEN"
    return value


def _variants(kind: str, ctx: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A dunning context in other shapes: other currencies (no decimals, three decimals), a long
    list (summary mode), credits and payments on account, a letter instead of an e-mail, levels
    on the items, a customer whose name needs escaping."""
    from credit.services.letters import summary

    out = []
    for currency in ("JPY", "KWD", "CHF", "USD"):
        v = copy.deepcopy(ctx)
        v["currency"] = currency
        if isinstance(v.get("remittance"), dict):
            v["remittance"]["currency"] = currency
            v["remittance"]["account"] = None
        out.append((kind, v))
    if ctx.get("invoices"):
        v = copy.deepcopy(ctx)
        first = v["invoices"][0]
        v["invoices"] = [
            {
                **first,
                "number": f"INV-X{n:03d}",
                "open_amount": Decimal(f"{n * 37}.{n % 100:02d}"),
                "due_date": date(2026, 1 + n % 11, 1 + n % 27),
                "days_overdue": 300 - n,
                "level": n % 4,
            }
            for n in range(31)
        ]
        v["invoices"][3]["kind"] = "fee"
        v["invoices"][4]["kind"] = "interest"
        v["summary"] = summary(v["invoices"])
        out.append((kind, v))
        v = copy.deepcopy(ctx)
        v["credits"] = [
            {
                "number": "CN-1",
                "kind": "credit_note",
                "date": date(2026, 11, 3),
                "amount": Decimal("-120.50"),
            },
            {
                "number": "PAY-77",
                "kind": "payment",
                "date": date(2026, 11, 4),
                "amount": Decimal("-1"),
            },
        ]
        v["invoices"][0]["days_overdue"] = 1
        v["customer"] = {**v["customer"], "name": 'O\'Brien & <Söhne> "GmbH"'}
        out.append((kind, v))
    if isinstance(ctx.get("level"), dict):
        v = copy.deepcopy(ctx)
        v["level"]["channel"] = "letter" if ctx["level"]["channel"] != "letter" else "email"
        out.append((kind, v))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("part", choices=["portfolio", "fixtures"])
    p.add_argument("--source", default="/var/bench/p10k.db")
    p.add_argument("--customers", type=int, default=None)
    p.add_argument(
        "--later",
        type=lambda v: [date.fromisoformat(d) for d in v.split(",") if d],
        default=[date(2026, 12, 15), date(2026, 12, 29), date(2027, 1, 12), date(2027, 1, 26)],
        help="portfolio: later run days (comma-separated) for the first --later-customers",
    )
    p.add_argument("--later-customers", type=int, default=2000)
    p.add_argument("--dump", type=Path, default=None, help="fixtures: write each render here")
    p.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 12, 1))
    args = p.parse_args(argv)
    if args.part == "portfolio":
        portfolio(args.source, args.customers, args.as_of, args.later, args.later_customers)
    else:
        fixtures(args.dump)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
