"""Approvals the inbox lists but decides elsewhere: an order release is decided with
`credit approve|reject ID --subject order_release` (the notice that asks names both); its page
says so."""

from __future__ import annotations

from typing import Any

# Subjects of the approval engine whose decision page is the command line.
COMMAND_LINE_ONLY = ("order_release", "write_off")


def command_line_only(subject: str, subject_id: int, me: Any) -> dict[str, Any]:
    """The message page of such a subject: how ``me`` decides it."""
    who = me.username
    return {
        "title": "Decided with the command line",
        "text": f"{subject.replace('_', ' ').capitalize()} {subject_id} is decided with the "
        "command line (the notice that asked you names both commands): "
        f"credit approve {subject_id} --subject {subject} --as {who}, or "
        f'credit reject {subject_id} --subject {subject} --as {who} --comment "why".',
        "me": me,
    }
