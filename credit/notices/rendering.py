"""Rendering: ``notices/<kind>.<locale>.{txt,html}.j2`` with Jinja (StrictUndefined,
autoescape)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.bccache import Bucket

from credit.notices.base import CUSTOMER_KINDS, NoticeError, company_refusal, is_customer_facing
from credit.notices.formats import install_filters, rendering
from credit.resources import resource_dir


class _Unconfigured:
    """The company in a notice while its settings are missing: internal notices do without it
    (``company.configured`` is false); a template that prints any of its details fails, so no
    notice goes out with an empty or someone else's name or bank account."""

    configured = False

    def __init__(self, refusal: str) -> None:
        self._refusal = refusal

    def _refuse(self) -> NoReturn:
        raise NoticeError(self._refusal)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse()

    def __getitem__(self, name: str) -> Any:
        self._refuse()

    def __str__(self) -> str:
        self._refuse()

    def __html__(self) -> str:
        self._refuse()

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class _QuietBytecodeCache(FileSystemBytecodeCache):
    """A cache that never makes rendering fail: a file it cannot read or write is compiled."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            pass

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    try:
        return _QuietBytecodeCache()
    except (OSError, RuntimeError):  # no private temporary folder: compile every time
        return None


class NoticeRenderer:
    """Renders ``notices/<kind>.<locale>.{txt,html}.j2``; locale falls back to its language,
    then en."""

    def __init__(
        self,
        templates_dir: Path,
        *,
        company_name: str | None = None,
        company: Mapping[str, Any] | None = None,
        company_missing: Sequence[str] = (),
        timezone: str = "UTC",
        kinds_for_customers: frozenset[str] = CUSTOMER_KINDS,
    ) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Compiled templates kept between processes (in the system's temporary folder, one
            # per user, keyed by each template's source): a command that writes one notice
            # saves about 0.25 s of compiling.
            bytecode_cache=_bytecode_cache(),
            # A notice's template is resolved once per renderer (``_resolved``), so the layouts
            # and helpers it extends and imports are not checked on disk again either (a stat
            # of each file for every notice).
            auto_reload=False,
        )
        self._resolved: dict[tuple[str, str, str], tuple[Any, str]] = {}
        self.zone = ZoneInfo(timezone)
        self.kinds_for_customers = kinds_for_customers
        self.company_missing = list(company_missing)
        if not company_name and not self.company_missing:
            self.company_missing = ["CREDIT_COMPANY_NAME (not set)"]
        install_filters(self.env, self.zone)
        self.env.globals["timezone"] = timezone
        if self.company_missing:
            unconfigured = _Unconfigured(company_refusal(self.company_missing))
            self.env.globals["company_name"] = unconfigured
            self.env.globals["company"] = unconfigured
        else:
            self.env.globals["company_name"] = company_name
            self.env.globals["company"] = {
                "configured": True,
                **(
                    company
                    or {
                        "name": company_name,
                        "address": [company_name],
                        "contact": [],
                        "payment": [],
                    }
                ),
            }

    @classmethod
    def default(
        cls,
        *,
        company_name: str | None = None,
        company: Mapping[str, Any] | None = None,
        company_missing: Sequence[str] = (),
        timezone: str = "UTC",
    ) -> NoticeRenderer:
        return cls(
            resource_dir("templates"),
            company_name=company_name,
            company=company,
            company_missing=company_missing,
            timezone=timezone,
        )

    @classmethod
    def for_settings(cls, settings: Any) -> NoticeRenderer:
        """The renderer for these settings: the company, its time zone."""
        return cls.default(
            company_name=settings.company_name,
            company=settings.company,
            company_missing=settings.company_missing(),
            timezone=settings.timezone,
        )

    def _template(self, kind: str, locale: str, fmt: str) -> tuple[Any, str]:
        """The compiled template for a kind, locale and format; resolved once per renderer (the
        fallback chain's misses are not looked up on disk again for every notice)."""
        found = self._resolved.get((kind, locale, fmt))
        if found is None:
            found = self._resolved[(kind, locale, fmt)] = self._resolve(kind, locale, fmt)
        return found

    def _resolve(self, kind: str, locale: str, fmt: str) -> tuple[Any, str]:
        """The template and the language it is written in (the locale, or the fallback's)."""
        tried = []
        language = locale.split("_")[0].split("-")[0]
        parts = set(locale.replace("_", "-").split("-")[1:])
        # Traditional Chinese by script or by region (Taiwan, Hong Kong, Macao).
        script = ["zh-Hant"] if language == "zh" and parts & {"Hant", "TW", "HK", "MO"} else []
        for loc in dict.fromkeys([locale, locale.replace("_", "-"), *script, language, "en"]):
            name = f"notices/{kind}.{loc}.{fmt}.j2"
            tried.append(name)
            try:
                return self.env.get_template(name), loc
            except TemplateNotFound:
                continue
        raise NoticeError(f"no template for notice {kind!r}: tried {', '.join(tried)}")

    def has_template(self, kind: str) -> bool:
        """Whether notices of ``kind`` can be rendered (in English at least)."""
        try:
            self._template(kind, "en", "txt")
            self._template(kind, "en", "html")
        except NoticeError:
            return False
        return True

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
        """Render subject, text and HTML; any missing variable raises :class:`NoticeError`.

        ``locale`` is in the context, so money and dates are formatted for it. A notice to the
        customer is refused while the company's details are not configured."""
        if self.company_missing and is_customer_facing(kind, context, self.kinds_for_customers):
            raise NoticeError(
                f"notice {kind!r} to the customer cannot be rendered: "
                + company_refusal(self.company_missing)
            )
        context = {**context, "locale": locale}
        try:
            # |money and |date format for the notice's locale; |plural takes the noun by the
            # rules of the language the template is written in (English when it fell back).
            text_template, text_language = self._template(kind, locale, "txt")
            html_template, html_language = self._template(kind, locale, "html")
            text_vars = {**context, "template_language": text_language}
            with rendering(text_vars):
                text_module = text_template.make_module(text_vars)
            html_vars = {**context, "template_language": html_language}
            with rendering(html_vars):
                html = html_template.render(html_vars)
        except NoticeError:
            raise
        except Exception as exc:  # jinja2.UndefinedError and friends
            raise NoticeError(f"notice {kind!r} ({locale}) cannot be rendered: {exc}") from exc
        # A subject is one line, whatever the data put in it.
        subject = " ".join(str(getattr(text_module, "subject", "")).split())
        if not subject:
            raise NoticeError(f"notice {kind!r}: the text template sets no subject")
        return Rendered(subject=subject, text=str(text_module), html=html)

    def render_letter_body(self, kind: str, locale: str, context: dict[str, Any]) -> str:
        """The body of a customer letter for its PDF: the text template rendered with
        ``letter_pdf`` set (no e-mail footer; the items table, totals and payment details
        replaced by the line :data:`~credit.notices.document.STATEMENT_MARK`, where the PDF
        draws them)."""
        context = {**context, "locale": locale, "letter_pdf": True}
        try:
            template, language = self._template(kind, locale, "txt")
            body_vars = {**context, "template_language": language}
            with rendering(body_vars):
                body = template.render(body_vars)
        except NoticeError:
            raise
        except Exception as exc:  # jinja2.UndefinedError and friends
            raise NoticeError(f"letter {kind!r} ({locale}) cannot be rendered: {exc}") from exc
        return body.strip("\n") + "\n"
