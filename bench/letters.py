"""What a customer letter's files cost at delivery: ``LetterMaker.files`` (the letter's PDF, the
statement of account its level attaches, the inline EPC QR code) on notices already queued.

    python -m bench.letters --database-url sqlite:////tmp/p10k-queued.db [--sample 400]
    python -m bench.letters --source /var/bench/p10k.db --queue 2000 [--sample 400]

With ``--source``, the portfolio is copied to a temporary file and the first ``--queue``
collection candidates are dunned first (``dun_customers`` on 2026-12-01, or ``--as-of``). Then
``--sample`` letters spread evenly over the queued ones (all: 0) are made in one process, each
``--repeat`` times (the best time kept), after a warm-up of one letter per kind of font (the first
letter of a process parses what later ones reuse; that cost is printed apart). Letters are grouped:
``latin-eur`` (built-in fonts, EPC QR code), ``latin`` (built-in fonts, no QR code) and
``unicode`` (DejaVu embedded: text beyond Windows-1252, e.g. Polish or Chinese names); the mix is
every sampled letter. ``--bound`` also times a plain fpdf2 + segno letter of the same text (no
layout beyond cells and one multi_cell per paragraph, the QR as one PNG): what the libraries cost
at the least. ``--profile N`` prints the N most expensive functions (cProfile, one pass).
Times are the process's CPU time (a machine shared with other work changes them less than the
wall clock; making a letter waits on nothing).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from bench._db import BENCH_COMPANY


def queue(source: str, target: Path, count: int, as_of: date) -> str:
    shutil.copyfile(source, target)
    url = f"sqlite:///{target}"
    from credit.app import App
    from credit.services import collections as cs
    from credit.settings import Settings

    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}))
    ids = cs.collection_candidates(app, as_of=as_of)[:count]
    cs.dun_customers(app, customer_ids=ids, as_of=as_of, dry_run=False)
    app.engine.dispose()
    return url


def group(files: list[Any]) -> str:
    pdf = files[0].data
    if b"/FontFile2" in pdf:
        return "unicode"
    return "latin-eur" if any(f.content_type == "image/png" for f in files) else "latin"


def bound(letter: Any, company: Any) -> bytes:
    """The same letter's text with fpdf2 and segno used plainly: Helvetica, cells, a multi_cell
    per paragraph, the QR code saved as a PNG and placed as an image."""
    import segno
    from fpdf import FPDF

    from credit.notices.pdf_letter import epc_payload

    pdf = FPDF(unit="mm", format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(letter.created_at)
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    for line in [str(company.get("name", "")), *company.get("address", [])]:
        pdf.cell(160, 4, str(line), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(160, 5, letter.subject, new_x="LMARGIN", new_y="NEXT")
    for block in letter.body.split("\n\n"):
        pdf.multi_cell(160, 4.6, block, new_x="LMARGIN", new_y="NEXT")
    for item in letter.context.get("invoices") or []:
        for text in (item["number"], str(item["due_date"]), str(item["open_amount"])):
            pdf.cell(40, 5, text)
        pdf.ln(5)
    remit = letter.remittance
    payload = epc_payload(remit) if remit else None
    if payload is not None:
        out = io.BytesIO()
        segno.make(payload, error="m", mode="byte", micro=False, boost_error=False).save(
            out, kind="png", scale=6, border=4
        )
        pdf.image(io.BytesIO(out.getvalue()), x=150, y=200, w=36, h=36)
    return bytes(pdf.output())


def best(fn: Any, repeat: int) -> float:
    """The least CPU time of ``repeat`` calls, each without the QR codes an earlier call left in
    ``credit.notices.qr``'s cache (a letter's PDF and its inline PNG share one code; a repeat
    must not)."""
    from credit.notices import qr

    times = []
    for _ in range(repeat):
        qr.epc_matrix.cache_clear()
        qr.qr_png.cache_clear()
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--source", help="a portfolio's SQLite file to copy and dun first")
    parser.add_argument("--queue", type=int, default=2000)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 12, 1))
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bound", action="store_true")
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    for key, value in BENCH_COMPANY.items():
        os.environ.setdefault(key, value)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url
        if args.source:
            url = queue(args.source, Path(tmp) / "queued.db", args.queue, args.as_of)
        if not url:
            parser.error("--database-url or --source")
        run(url, args)


def run(url: str, args: argparse.Namespace) -> None:
    from sqlmodel import select

    from credit.app import App
    from credit.db.models import Notice
    from credit.notices.document import Letter
    from credit.notices.pdf_maker import LetterMaker
    from credit.settings import Settings

    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **BENCH_COMPANY}))
    with app.uow(read_only=True) as uow:
        notices = [
            n for n in uow.session.exec(select(Notice).order_by(Notice.id)).all() if n.document
        ]
    if args.sample and len(notices) > args.sample:
        step = len(notices) / args.sample
        notices = [notices[int(k * step)] for k in range(args.sample)]
    company = app.settings.company
    maker = LetterMaker(company=company, load_accounts=lambda: app.bank_accounts)
    # The warm-up: the first letter of each group (fonts parsed, modules imported).
    first: dict[str, float] = {}
    for notice in notices:
        t = time.process_time()
        files = maker.files(notice)
        kind = group(files)
        if kind not in first:
            first[kind] = time.process_time() - t
        if len(first) == 3:
            break
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for notice in notices:
            maker.files(notice)
        prof.disable()
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    times: dict[str, list[float]] = defaultdict(list)
    bounds: dict[str, list[float]] = defaultdict(list)
    for notice in notices:
        kind = group(maker.files(notice))
        times[kind].append(best(lambda n=notice: maker.files(n), args.repeat))
        if args.bound and kind != "unicode":
            letter = Letter.of(notice)
            bounds[kind].append(best(lambda x=letter: bound(x, company), args.repeat))
    every = [t for ts in times.values() for t in ts]
    print(f"{len(notices)} letters; CPU ms per letter (mean / median), first of a process apart")
    for kind in ("latin-eur", "latin", "unicode"):
        ts = times.get(kind)
        if not ts:
            continue
        line = f"  {kind:10} {len(ts):5}  {1e3 * statistics.mean(ts):7.1f} / "
        line += f"{1e3 * statistics.median(ts):6.1f}"
        line += f"   first {1e3 * first[kind]:6.1f}" if kind in first else ""
        if bounds.get(kind):
            line += f"   plain fpdf2+segno {1e3 * statistics.mean(bounds[kind]):6.1f}"
        print(line)
    print(f"  {'mix':10} {len(every):5}  {1e3 * statistics.mean(every):7.1f}")
    app.engine.dispose()


if __name__ == "__main__":
    main()
