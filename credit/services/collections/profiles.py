"""The dunning profile a customer follows in a run: the run as that profile sees it (its levels
in place of ``dunning.levels``), so that every step, charge and hold follows them and names it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from credit.domain.dunning_profiles import Schedule, dunning_schedule
from credit.services.collections.state import CustomerPosition, DunningRun
from credit.services.receivables.dunning_profiles import profile_of


@dataclass(frozen=True)
class Followed:
    """The run for one customer under its profile, the schedule and why it applies."""

    run: DunningRun
    schedule: Schedule
    why: str

    def not_dunned(self) -> str:
        return f"dunning profile {self.schedule.profile} ({self.why}): this customer is not dunned"


def follow_profile(run: DunningRun, pos: CustomerPosition) -> Followed:
    """The customer's profile (assigned, by rule or the default) and the run under it."""
    setting = run.batch.profiles.get(pos.customer_id)
    name, why = profile_of(run.policy, pos.customer, line=pos.line, setting=setting)
    schedule = dunning_schedule(run.policy, name)
    return Followed(replace(run, policy=schedule.policy, profile=name), schedule, why)


def named(run: DunningRun) -> dict[str, str]:
    """``{"profile": name}`` for a record of what the run did (empty: the policy has none)."""
    return {"profile": run.profile} if run.profile is not None else {}


def profile_words(run: DunningRun) -> str:
    """`` (profile key_accounts)`` for a reason (empty: the policy has none)."""
    return f" (profile {run.profile})" if run.profile is not None else ""
