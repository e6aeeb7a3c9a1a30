"""The policy research report: Markdown with PNG charts (matplotlib, imported only here)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from credit.domain.words import counted


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join("-" if v is None else str(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _charts(report: dict[str, Any], folder: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts: dict[str, str] = {}
    months = [m["month"] for m in report["monthly"]]

    def num(v: Any) -> float:
        # Only for drawing: the figures themselves stay Decimal in the report and its tables.
        return float(Decimal(v)) if v is not None else float("nan")

    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(months, [num(m["dso"]) for m in report["monthly"]], marker="o", label="DSO (days)")
    ax2 = ax.twinx()
    ax2.plot(months, [num(m["cei"]) for m in report["monthly"]], marker="s", color="tab:green",
             label="CEI (%)")  # fmt: skip
    ax2.plot(months, [num(m["collection_rate"]) for m in report["monthly"]], marker="^",
             color="tab:orange", label="collection rate (%)")  # fmt: skip
    ax.set_ylabel("days")
    ax2.set_ylabel("%")
    ax.tick_params(axis="x", rotation=45)
    fig.legend(loc="upper left", fontsize=8)
    ax.set_title("DSO, CEI and collection rate per month")
    fig.tight_layout()
    charts["trend"] = "trend.png"
    fig.savefig(folder / charts["trend"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(list(report["aging"]), [num(v) for v in report["aging"].values()], color="tab:blue")
    ax.set_title(f"Receivables by days past due ({report['base_currency']})")
    fig.tight_layout()
    charts["aging"] = "aging.png"
    fig.savefig(folder / charts["aging"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    rows = report["by_rating"]
    ax.bar([r["rating"] for r in rows], [num(r["late_rate"]) for r in rows], color="tab:red")
    ax.set_ylabel("% of invoices due paid late or open")
    ax.set_title("Late payment by rating")
    fig.tight_layout()
    charts["ratings"] = "ratings.png"
    fig.savefig(folder / charts["ratings"], dpi=110)
    plt.close(fig)
    return charts


def _monthly_section(report: dict[str, Any], charts: dict[str, str]) -> list[str]:
    return [
        "## Collection per month",
        "",
        f"![DSO, CEI and collection rate]({charts['trend']})",
        "",
        _table(
            [
                "month",
                "receivables start",
                "sales",
                "late charges",
                "collected",
                "receivables end",
                "DSO (days)",
                "collection rate %",
                "CEI %",
            ],  # fmt: skip
            [
                [
                    m["month"],
                    m["receivables_start"],
                    m["sales"],
                    m["charges"],
                    m["collections"],
                    m["receivables_end"],
                    m["dso"],
                    m["collection_rate"],
                    m["cei"],
                ]  # fmt: skip
                for m in report["monthly"]
            ],
        ),
    ]


def _aging_section(report: dict[str, Any], charts: dict[str, str]) -> list[str]:
    return [
        "## Aging",
        "",
        f"![Aging]({charts['aging']})",
        "",
        _table(list(report["aging"]), [list(report["aging"].values())]),
    ]


def _rating_section(report: dict[str, Any], charts: dict[str, str]) -> list[str]:
    return [
        "## By rating",
        "",
        f"![Late payment by rating]({charts['ratings']})",
        "",
        _table(
            [
                "rating",
                "invoices due",
                "paid late or open",
                "late %",
                "receivables",
                "over 90 days",
                "bad-debt exposure %",
            ],  # fmt: skip
            [
                [
                    r["rating"],
                    r["invoices_due"],
                    r["paid_late_or_open"],
                    r["late_rate"],
                    r["receivables"],
                    r["over_90"],
                    r["bad_debt_rate"],
                ]  # fmt: skip
                for r in report["by_rating"]
            ],
        ),
        *_bad_debt_lines(report),
    ]


def _bad_debt_lines(report: dict[str, Any]) -> list[str]:
    """What approved write-offs booked in the period (credit.services.analytics)."""
    bad = report.get("bad_debt")
    if not bad:
        return []
    by_rating = ", ".join(f"{k} {v}" for k, v in bad["by_rating"].items()) or "none"
    return [
        "",
        f"Written off as bad debt in the period: {bad['written_off']} {report['base_currency']} "
        f"({counted(bad['write_offs'], 'write-off')}; by rating: {by_rating}).",
    ]


def _concentration_section(report: dict[str, Any]) -> list[str]:
    cur = report["base_currency"]
    return [
        "## Concentration and limit utilisation",
        "",
        _table(["customer", f"exposure {cur}"], report["concentration"]["top"]),
        "",
        _table(
            ["customer", "exposure", "limit", "utilisation %"],
            [[c, u["exposure"], u["limit"], u["pct"]] for c, u in report["utilisation"].items()],
        ),
    ]


def _outcomes_section(report: dict[str, Any]) -> list[str]:
    return [
        "## What the current policy did",
        "",
        f"Holds placed: {report['outcomes']['holds']}; episodes cleared: "
        f"{report['outcomes']['cleared']}; handovers to collections: "
        f"{report['outcomes']['handovers']}.",
        "",
        _table(["dunning level", "steps"], list(report["outcomes"]["dunning_steps"].items())),
        "",
        _table(
            ["approval level", "approved", "rejected", "median turnaround (hours)"],
            [
                [a["level"], a["approved"], a["rejected"], a["median_hours"]]
                for a in report["outcomes"]["approvals_by_level"]
            ],  # fmt: skip
        ),
    ]


def _feedback_section(report: dict[str, Any]) -> list[str]:
    fb = report["feedback"]
    lines = ["## Customer feedback", ""]
    if not fb["count"]:
        return [
            *lines,
            "None recorded in the period (credit feedback CUSTOMER --topic ... --text ...).",
        ]
    return [
        *lines,
        f"{counted(fb['count'], 'item')}: "
        + ", ".join(f"{topic} {n}" for topic, n in fb["by_topic"].items())
        + ".",
        "",
        _table(
            ["received", "customer", "topic", "what they said"],
            [[f["on"], f["customer"], f["topic"], f["text"]] for f in fb["latest"]],
        ),
    ]


def render_markdown(report: dict[str, Any], charts: dict[str, str]) -> str:
    cur = report["base_currency"]
    lines = [
        f"# Credit policy research as of {report['as_of']}",
        "",
        f"Policy version {report['policy_version']} in force; the last {report['months']} months; "
        f"amounts in {cur} at the rates of {report['as_of']}.",
        "",
        f"**Receivables**: {report['receivables']} {cur}. **Top 5 customers**: "
        f"{report['concentration']['top_share_pct'] or '-'}% of the exposure.",
    ]
    for section in (
        _monthly_section(report, charts),
        _aging_section(report, charts),
        _rating_section(report, charts),
        _concentration_section(report),
        _outcomes_section(report),
        _feedback_section(report),
    ):
        lines += ["", *section]
    if report["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], reports_dir: Path) -> Path:
    """Write ``report.md`` and its charts to ``reports_dir/policy-research-<as_of>/``."""
    folder = reports_dir / f"policy-research-{report['as_of']}"
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(report, folder)
    path = folder / "report.md"
    path.write_text(render_markdown(report, charts), encoding="utf-8")
    return path
