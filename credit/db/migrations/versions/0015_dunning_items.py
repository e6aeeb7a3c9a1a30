"""item-level dunning: each open item's own dunning level

Each overdue item climbs its own dunning levels (``dunning_item_level``: one row per level an item
reached in a customer's episode). The customer's step record (``dunning_action``) may now hold the
same notice level twice in an episode: its unique key becomes one step per customer, currency and
day.

Existing history is carried over so that no customer jumps: every open invoice of a customer in an
unfinished episode that was due before the episode's last step gets the customer's current level,
reached on that step's day; later invoices start at level 0. (A downgrade restores the old key; it
fails if an episode holds the same level twice.)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD_KEY = ["customer_id", "currency", "episode", "level"]
NEW_KEY = ["customer_id", "currency", "as_of"]
# How batch mode names the reflected unnamed unique key on SQLite, so that it can be dropped.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}

# The open invoices of every unfinished episode, due before its last step, at the step's level.
CARRY_OVER = """
INSERT INTO dunning_item_level (customer_id, currency, episode, item_number, level, as_of,
                                created_at)
SELECT i.customer_id, i.currency, d.episode, i.number, d.level, d.as_of, CURRENT_TIMESTAMP
FROM dunning_action d
JOIN invoice i ON i.customer_id = d.customer_id AND i.currency = d.currency
WHERE d.id IN (SELECT MAX(a.id) FROM dunning_action a GROUP BY a.customer_id, a.currency)
  AND d.level > 0
  AND i.kind = 'invoice' AND i.amount > 0 AND i.due_date < d.as_of
  AND i.amount
      - COALESCE((SELECT SUM(p.amount) FROM payment p
                  WHERE p.invoice_id = i.id AND p.status = 'received'), 0)
      + COALESCE((SELECT SUM(c.amount) FROM invoice c WHERE c.applies_to_id = i.id), 0) > 0
"""


def _swap_key(drop: list[str], create: list[str], name: str) -> None:
    """Replace the unique key of ``dunning_action`` on ``drop`` by one on ``create``."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "dunning_action", naming_convention=SQLITE_NAMES, recreate="always"
        ) as batch_op:
            for uc in sa.inspect(bind).get_unique_constraints("dunning_action"):
                if uc["column_names"] == drop:
                    batch_op.drop_constraint(
                        uc["name"] or f"uq_dunning_action_{drop[0]}", type_="unique"
                    )
            batch_op.create_unique_constraint(name, create)
        return
    for uc in sa.inspect(bind).get_unique_constraints("dunning_action"):
        if uc["column_names"] == drop and uc["name"]:
            op.drop_constraint(uc["name"], "dunning_action", type_="unique")
    op.create_unique_constraint(name, "dunning_action", create)


def upgrade() -> None:
    op.create_table(
        "dunning_item_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("item_number", sa.String(length=60), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "customer_id",
            "currency",
            "episode",
            "item_number",
            "level",
            name="uq_dunning_item_level",
        ),  # fmt: skip
    )
    op.create_index(
        "ix_dunning_item_level_customer_id", "dunning_item_level", ["customer_id"], unique=False
    )
    op.execute(CARRY_OVER)
    _swap_key(OLD_KEY, NEW_KEY, "uq_dunning_day")


def downgrade() -> None:
    _swap_key(NEW_KEY, OLD_KEY, "dunning_action_customer_id_currency_episode_level_key")
    op.drop_index("ix_dunning_item_level_customer_id", table_name="dunning_item_level")
    op.drop_table("dunning_item_level")
