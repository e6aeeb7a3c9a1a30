"""What item-level dunning reads of a batch of customers: each open item's level in the
customer's current episode (``dunning_item_level``) and the notices of each level the episode
already sent (``dunning_action``)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from credit.db.models import DunningAction, utcnow
from credit.db.models_dunning_items import DunningItemLevel
from credit.domain.dunning import DunningState
from credit.domain.dunning_items import ItemBook, ItemLevel

Books = dict[int, dict[str, ItemBook]]  # customer -> currency -> the items of its episode


def item_books(s: Session, ids: list[int], state: dict[int, dict[str, DunningState]]) -> Books:
    """The item levels of each customer's current episode per currency (``state``: where each
    customer stands, read after its lock), set-based: two queries for the whole batch."""

    def episode(cid: int, cur: str) -> int:
        return state.get(cid, {}).get(cur, DunningState()).episode

    levels: dict[tuple[int, str], dict[str, ItemLevel]] = {}
    for cid, cur, ep, number, level, day in s.execute(
        sa_select(  # six columns: SQLModel's select types up to four
            col(DunningItemLevel.customer_id),
            col(DunningItemLevel.currency),
            col(DunningItemLevel.episode),
            col(DunningItemLevel.item_number),
            col(DunningItemLevel.level),
            col(DunningItemLevel.as_of),
        ).where(col(DunningItemLevel.customer_id).in_(ids))
    ):
        if ep != episode(cid, cur):
            continue  # an earlier episode: history
        items = levels.setdefault((cid, cur), {})
        if level > items.get(number, ItemLevel()).level:
            items[number] = ItemLevel(level, day)
    sent: dict[tuple[int, str], Counter[int]] = {}
    for cid, cur, ep, level in s.execute(
        sa_select(
            col(DunningAction.customer_id),
            col(DunningAction.currency),
            col(DunningAction.episode),
            col(DunningAction.level),
        ).where(col(DunningAction.customer_id).in_(ids), col(DunningAction.level) > 0)
    ):
        if ep == episode(cid, cur):
            sent.setdefault((cid, cur), Counter())[level] += 1
    books: Books = {}
    for cid, cur in levels.keys() | sent.keys():
        books.setdefault(cid, {})[cur] = ItemBook(
            levels=levels.get((cid, cur), {}), sent=dict(sent.get((cid, cur), {}))
        )
    return books


def item_rows(
    *, customer_id: int, currency: str, episode: int, climbs: dict[str, int], as_of: date
) -> list[dict[str, object]]:
    """The ``dunning_item_level`` rows of the items that climbed in a step."""
    return [
        {
            "customer_id": customer_id,
            "currency": currency,
            "episode": episode,
            "item_number": number,
            "level": level,
            "as_of": as_of,
            "created_at": utcnow(),
        }
        for number, level in sorted(climbs.items())
    ]
