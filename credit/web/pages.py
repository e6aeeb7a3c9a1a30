"""Rendering the web pages: one Jinja environment, the page headers, the message page."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from credit.domain import workspace
from credit.notices import install_filters
from credit.resources import resource_dir
from credit.settings import Settings


class Pages:
    """The site's templates (``templates/web``) with the notices' filters."""

    def __init__(self, settings: Settings) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(resource_dir("templates"))),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
            undefined=StrictUndefined,
        )
        install_filters(self.env, ZoneInfo(settings.timezone))
        self.env.globals["company_name"] = settings.company_name or "Credit management"
        self.env.globals["nav"] = navigation
        self.env.globals["role_names"] = workspace.ROLE_NAMES

    def page(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        response = HTMLResponse(
            self.env.get_template(f"web/{name}").render(**ctx), status_code=status
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def fragment(self, name: str, **ctx: Any) -> str:
        return self.env.get_template(f"web/{name}").render(**ctx)

    def message(
        self,
        title: str,
        text: str,
        *,
        ok: bool,
        status: int,
        details: list[str] | None = None,
        back: str = "",
        me: Any = None,
        back_label: str = "Back to the request",
    ) -> HTMLResponse:
        return self.page(
            "message.html.j2",
            status,
            title=title,
            message=text,
            ok=ok,
            details=details or [],
            back=back,
            back_label=back_label,
            me=me,
        )


# The workspace's sections: (label, link, roles that see it; empty: everyone signed in).
SECTIONS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("Home", "/", frozenset()),
    ("Customers", "/customers", workspace.CREDIT_STAFF | {workspace.SALES}),
    ("Dashboard", "/dashboard", workspace.CREDIT_STAFF),
    ("Ratings", "/ratings", frozenset({workspace.ANALYST, workspace.MANAGER})),
    ("Approvals", "/approvals", frozenset({workspace.APPROVER, workspace.COMMITTEE})),
    ("Worklist", "/worklist", frozenset({workspace.COLLECTOR, workspace.MANAGER})),
    ("Payments", "/payments", frozenset({workspace.COLLECTOR, workspace.MANAGER})),
    ("Imports", "/imports", frozenset({workspace.MANAGER})),
    ("Policy", "/policy", workspace.CREDIT_STAFF),
    ("Operations", "/operations", frozenset({workspace.OPERATOR})),
)


def navigation(me: Any) -> list[dict[str, Any]]:
    """The sections the signed-in person may open."""
    return [
        {"label": label, "href": href, "current": False}
        for label, href, roles in SECTIONS
        if not roles or me.roles & roles
    ]
