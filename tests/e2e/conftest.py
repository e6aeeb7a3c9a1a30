"""The ``cli`` fixture: real `credit` processes on a real SQLite file and the session's Prefect server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_zygote import Forks
from tests.conftest import SAMPLE, TEST_COMPANY, copy_database

CREDIT = str(Path(sys.executable).with_name("credit"))
# Commands forked from a process that has imported the product once (tests/cli_zygote.py);
# CREDIT_TEST_SCRIPT=1 runs the installed script for every command instead.
FORKS = Forks(CREDIT, enabled=os.environ.get("CREDIT_TEST_SCRIPT") != "1")


@pytest.fixture
def cli(tmp_path, prefect_api_url):
    return credit_in(tmp_path, prefect_api_url)


def credit_in(tmp_path: Path, prefect_api_url: str):
    """What the ``cli`` fixture gives, in a folder of the caller's (a module's fixture, say)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'credit.db'}",
        CREDIT_OUTBOX_DIR=str(tmp_path / "outbox"),
        PREFECT_API_URL=prefect_api_url,
        PREFECT_LOGGING_LEVEL="WARNING",
        COLUMNS="200",
        **TEST_COMPANY,
    )

    def run(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
        """Run `credit ARGS`; its exit code must be ``expect`` (None: the caller checks)."""
        proc = FORKS.run(list(args), cwd=tmp_path, env=env, timeout=300)
        assert expect is None or proc.returncode == expect, (
            f"credit {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        return proc

    def run_json(*args: str):
        return json.loads(run(*args, "--json").stdout)

    run.json = run_json  # type: ignore[attr-defined]
    run.path = tmp_path  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    return run


def forget_deployments() -> None:
    """Delete the deployments `credit serve` left on the session's Prefect server: a later test's
    partitioned run would otherwise ask them for helpers nobody serves, and wait for them."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            client.delete_deployment(deployment.id)


@pytest.fixture(scope="session")
def sample_ledger(tmp_path_factory, prefect_api_url):
    """``sample_ledger(cli, kinds)``: the database `credit init` and `credit import KIND
    sample_data/KIND.csv` (for each of ``kinds``, in order) leave, as the test's own copy in
    ``cli``'s folder. Real `credit` processes make it once per session and set of files; each test
    then starts from its copy (tests of init and import themselves run them)."""
    made: dict[tuple[str, ...], Path] = {}

    def copy(cli, kinds: tuple[str, ...]) -> None:
        if kinds not in made:
            where = tmp_path_factory.mktemp("sample-ledger")
            run = credit_in(where, prefect_api_url)
            run("init")
            for kind in kinds:
                run("import", kind, str(SAMPLE / f"{kind.replace('-', '_')}.csv"))
            made[kinds] = where / "credit.db"
        copy_database(made[kinds], cli.path / "credit.db")

    return copy
