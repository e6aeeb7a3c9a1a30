"""Who does what in the web workspace: a person's workspace roles follow from their roles in the
directory and the published policy (who approves credit, who votes on policy changes). Pure: the
services and the web's route table both ask here."""

from __future__ import annotations

from collections.abc import Iterable

# The workspace's roles, in the order the navigation shows them.
MANAGER = "manager"  # starts reviews, reassigns, overrides, imports
ANALYST = "analyst"  # rates customers
APPROVER = "approver"  # decides credit requests within their authority
COLLECTOR = "collector"  # works collection cases
COMMITTEE = "committee"  # votes on policy versions
OPERATOR = "operator"  # outbox, schedules, audit chain, users
SALES = "sales"  # checks orders and reads customer files

ROLES: tuple[str, ...] = (MANAGER, ANALYST, APPROVER, COLLECTOR, COMMITTEE, OPERATOR, SALES)

ROLE_NAMES: dict[str, str] = {
    MANAGER: "Credit manager",
    ANALYST: "Analyst",
    APPROVER: "Approver",
    COLLECTOR: "Collector",
    COMMITTEE: "Policy committee",
    OPERATOR: "Operator",
    SALES: "Sales",
}

# Everyone who works on customers' credit (reads customer files and the dashboard).
CREDIT_STAFF: frozenset[str] = frozenset({MANAGER, ANALYST, APPROVER, COLLECTOR, COMMITTEE})


def workspace_roles(
    directory_roles: Iterable[str],
    *,
    approval_roles: Iterable[str],
    committee_roles: Iterable[str],
) -> frozenset[str]:
    """A person's workspace roles. ``approval_roles`` are the roles of the policy's authority
    levels; ``committee_roles`` those that vote on policy changes."""
    mine = set(directory_roles)
    found: set[str] = set()
    if "credit_manager" in mine:
        found.add(MANAGER)
    if "analyst" in mine:
        found.add(ANALYST)
    if mine & set(approval_roles):
        found.add(APPROVER)
    if "collector" in mine:
        found.add(COLLECTOR)
    if mine & set(committee_roles):
        found.add(COMMITTEE)
    if "operator" in mine:
        found.add(OPERATOR)
    if "sales" in mine:
        found.add(SALES)
    return frozenset(found)


MIN_PASSWORD = 12
MAX_PASSWORD = 128


def password_problem(password: str, *, username: str) -> str | None:
    """Why a new password is refused (OWASP ASVS 2.1: at least 12 characters, at most 128, any
    characters; no composition rules), or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters (this one has {len(password)})"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if password.strip().lower() == username.lower() or username.lower() in password.lower():
        return "a password may not contain the username"
    if len(set(password)) < 4:
        return "a password needs more than three different characters"
    return None
