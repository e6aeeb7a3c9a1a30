"""prefect.yaml and `credit serve` define a deployment for each flow, with the schedules the issue asks."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_every_deployment_entrypoint_is_a_prefect_flow_and_the_daily_ones_are_scheduled():
    from prefect import Flow

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    by_flow = {}
    for d in spec["deployments"]:
        path, func = d["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, func)
        assert isinstance(flow, Flow), d["entrypoint"]
        by_flow[flow.name] = d
    assert {
        "research",
        "draft",
        "approval",
        "publish",
        "periodic-review",
        "collections",
        "policy",
        "policy-research",
        "policy-review",
    } <= set(by_flow)
    # The policy review is quarterly: the first day of January, April, July and October.
    assert by_flow["policy-review"]["schedules"][0]["cron"].split()[2:] == ["1", "1,4,7,10", "*"]
    for name in ("collections", "periodic-review"):
        d = by_flow[name]
        assert d["concurrency_limit"] == 1
        assert d["schedules"][0]["cron"].split()[2:] == ["*", "*", "*"]  # daily


def test_credit_serve_builds_the_same_scheduled_deployments(monkeypatch):
    import flows.serve as serve_module

    captured = []
    monkeypatch.setattr(serve_module, "serve", lambda *deployments: captured.extend(deployments))
    serve_module.serve_all(timezone="Europe/Berlin")
    by_name = {d.flow_name: d for d in captured}
    assert {
        "collections",
        "periodic-review",
        "credit-review",
        "complete-review",
        "approval",
        "policy",
        "research-reminders",
        "policy-review",
        "policy-research",
    } <= set(by_name)
    assert by_name["policy-review"].schedules[0].schedule.cron == "0 7 1 1,4,7,10 *"
    assert by_name["collections"].schedules[0].schedule.cron == "0 6 * * *"
    assert by_name["collections"].concurrency_limit == 1


def test_runs_watched_from_the_command_line_skip_the_heartbeat_unless_the_user_set_one():
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    from flows.watched import watched_runs

    before = get_current_settings().flows.heartbeat_frequency
    assert "heartbeat_frequency" not in get_current_settings().flows.model_fields_set
    with watched_runs():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == before  # a worker's runs keep it
    # set by the user (environment, profile, prefect.toml): kept
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}), watched_runs():
        assert get_current_settings().flows.heartbeat_frequency == 60
