"""Country codes and locales a customer may have: real ISO 3166-1 countries (pycountry) and the
locales Babel knows, in the form notices are looked up by."""

from __future__ import annotations

import re
from functools import lru_cache

# Kosovo: user-assigned in ISO 3166-1, but the code the EU, SWIFT/IBAN and CLDR use for it; its
# customers could not be imported otherwise.
USER_ASSIGNED_ACCEPTED = frozenset({"XK"})

_LOCALE = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


@lru_cache(maxsize=512)
def check_country(code: str) -> str | None:
    """Why ``code`` is not an ISO 3166-1 alpha-2 country code in use, or None when it is."""
    if not re.fullmatch(r"[A-Z]{2}", code):
        return "not an ISO 3166 country code (e.g. DE)"
    if code in USER_ASSIGNED_ACCEPTED:
        return None
    import pycountry

    if pycountry.countries.get(alpha_2=code) is None:
        return "no country has this ISO 3166-1 code (e.g. DE)"
    return None


@lru_cache(maxsize=512)
def normal_locale(text: str) -> tuple[str | None, str | None]:
    """``(normal form, None)`` for a locale Babel knows, written language[-Script][-REGION]
    (``de_de`` -> ``de-DE``, ``zh-hant`` -> ``zh-Hant``, ``zh_TW`` -> ``zh-TW``), the form notice
    templates are named in; ``(None, reason)`` otherwise (``xx-YY``, ``en-ZZ``)."""
    found = _LOCALE.fullmatch(text)
    if found is None:
        return None, "not a locale (e.g. en, de_DE, zh-Hant)"
    language, script, region = found.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    from babel import Locale, UnknownLocaleError

    try:
        known = Locale.parse("_".join(parts))
    except (ValueError, UnknownLocaleError):
        return None, "not a locale Babel knows (e.g. en, de_DE, zh-Hant)"
    # Babel fills in what it can guess (zh_TW is zh_Hant_TW) but also swaps what it does not know
    # for a guess (en_ZZ becomes en_US): a locale is known only if what was written survives.
    if (
        known.language != parts[0]
        or (script and known.script != parts[1])
        or (region and known.territory != parts[-1])
    ):
        return None, "not a locale Babel knows (e.g. en, de_DE, zh-Hant)"
    return "-".join(parts), None
