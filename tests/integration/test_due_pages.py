"""The due list a page at a time (what a large periodic review holds) is the whole due list."""

from __future__ import annotations

from datetime import date

import pytest

from bench.portfolio import generate
from credit import services
from credit.app import App
from credit.settings import Settings
from tests.conftest import TEST_COMPANY

AS_OF = date(2027, 3, 1)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> App:
    url = f"sqlite:///{tmp_path_factory.mktemp('due') / 'portfolio.db'}"
    generate(url, customers=60, invoices=300, seed=11, as_of=AS_OF, lines_share=0.8, due_share=0.5)
    return App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))


def _paged(app: App, size: int) -> tuple[list, list[int]]:
    due, lines, after = [], [], 0
    while after is not None:
        page = services.due_reviews_page(app, as_of=AS_OF, after=after, size=size)
        due += page["due"]
        lines.append(page["lines"])
        after = page["after"]
    return due, lines


@pytest.mark.parametrize("size", [1, 7, 2000])
def test_the_pages_together_list_every_due_line_once(portfolio, size):
    whole = services.due_reviews(portfolio, as_of=AS_OF)
    paged, lines = _paged(portfolio, size)
    assert 10 < len(whole) < 60
    key = lambda d: d["review_key"]  # noqa: E731
    assert sorted(paged, key=key) == sorted(whole, key=key)
    assert len({d["customer"] for d in paged}) == len(paged)  # no customer twice
    assert sum(lines) == services.count_due_lines(portfolio, as_of=AS_OF) == len(whole)
    assert all(n == size for n in lines[:-1]) and lines[-1] <= size


def test_reviewing_a_page_leaves_the_later_pages_as_they_were(tmp_path):
    # What the flow does: review a page, then read the next one from where it ended.
    url = f"sqlite:///{tmp_path / 'portfolio.db'}"
    generate(url, customers=40, invoices=200, seed=12, as_of=AS_OF, lines_share=1.0, due_share=0.6)
    app = App(Settings.load(env_file=None, environ={"CREDIT_DATABASE_URL": url, **TEST_COMPANY}))
    whole = services.due_reviews(app, as_of=AS_OF)
    first = services.due_reviews_page(app, as_of=AS_OF, size=5)
    assert len(first["due"]) == 5 and first["after"] is not None
    researched = services.research_customers(
        app, due=first["due"], as_of=AS_OF, requested_by="carla.manager", notify_ready=False
    )
    assert {r["status"] for r in researched} == {"complete"}
    rest: list = []
    after = first["after"]
    while after is not None:
        page = services.due_reviews_page(app, as_of=AS_OF, after=after, size=5)
        rest += page["due"]
        after = page["after"]
    assert {d["review_key"] for d in first["due"] + rest} == {d["review_key"] for d in whole}
    # read again from the start: the reviewed five are not listed again
    again, _ = _paged(app, 5)
    assert {d["review_key"] for d in again} == {d["review_key"] for d in rest}
