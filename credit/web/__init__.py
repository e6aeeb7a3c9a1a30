"""The approval page behind the signed link in an approver's notice (FastAPI + Jinja).

GET shows the proposal and changes nothing (a link scanner may open it). The decision is a POST
that carries a CSRF token bound to the link (form field and SameSite cookie). The link is signed,
expires, names the request, the step, the approver and the round, and works once: it is marked
used in the decision's own transaction. Every refused link is answered with a clear page and
recorded in the audit trail.

:func:`create_app` builds the app from its routers (:mod:`.approval`, :mod:`.health`) and their
dependencies (:mod:`.deps`: the site's context, the verified signed link).
"""

from __future__ import annotations

from credit.web.site import create_app

__all__ = ["create_app"]
