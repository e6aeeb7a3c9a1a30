from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from credit.config import ConfigError, load_policy_file, read_yaml
from credit.resources import resource_dir
from credit.settings import Settings, SettingsError

CREDIT = Path(__file__).resolve().parents[2] / "credit"


def test_shipped_policy_loads_with_exact_decimals(policy):
    assert policy.dunning.tolerance == Decimal("10.00")
    assert isinstance(policy.scorecard.factors[0].weight, Decimal)


def test_unquoted_yaml_floats_become_decimals_not_floats():
    assert read_yaml("x: 0.1", "t") == {"x": Decimal("0.1")}


def test_policy_with_weights_not_adding_to_one_is_refused_naming_file_and_field(tmp_path):
    text = (
        (resource_dir("config") / "policy.yaml")
        .read_text()
        .replace('weight: "0.20"', 'weight: "0.30"', 1)
    )
    bad = tmp_path / "policy.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_policy_file(bad)
    assert str(bad) in str(exc.value)
    assert "weights add up to 1.10" in str(exc.value)


def test_policy_with_unknown_key_is_refused(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text((resource_dir("config") / "policy.yaml").read_text() + "\nsurprise: 1\n")
    with pytest.raises(ConfigError, match="surprise"):
        load_policy_file(bad)


def test_settings_come_from_dotenv_and_the_environment_wins(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "CREDIT_DATABASE_URL=sqlite:///from-dotenv.db\nCREDIT_SMTP_HOST=mail.local\nCREDIT_SMTP_PORT=2525\n"
    )
    s = Settings.load(env, environ={"CREDIT_SMTP_PORT": "1025"})
    assert s.database_url == "sqlite:///from-dotenv.db"
    assert s.smtp_host == "mail.local" and s.smtp_port == 1025
    assert s.delivery == "smtp"
    assert Settings.load(tmp_path / "missing.env", environ={}).delivery == "file"


def test_bad_setting_is_named(tmp_path):
    with pytest.raises(SettingsError, match="CREDIT_SMTP_PORT"):
        Settings.load(None, environ={"CREDIT_SMTP_PORT": "twenty"})
    with pytest.raises(SettingsError, match="CREDIT_BASE_CURRENCY"):
        Settings.load(None, environ={"CREDIT_BASE_CURRENCY": "EURO"})


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at module level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, node.lineno, id(node) in top))
    return out


def test_domain_package_never_imports_prefect_flows_or_tasks():
    offenders = []
    for path in CREDIT.rglob("*.py"):
        for module, line, top_level in _imports(path):
            root = module.split(".")[0]
            if root in {"prefect", "flows", "tasks"} and (path.name != "cli.py" or top_level):
                offenders.append(f"{path.relative_to(CREDIT.parent)}:{line} imports {module}")
    assert offenders == []


def test_pure_domain_imports_no_database_jinja_or_dotenv():
    offenders = []
    for path in (CREDIT / "domain").rglob("*.py"):
        for module, line, _ in _imports(path):
            if module.split(".")[0] in {
                "sqlalchemy",
                "sqlmodel",
                "jinja2",
                "dotenv",
                "prefect",
            } or module.startswith("credit.db"):
                offenders.append(f"{path.name}:{line} imports {module}")
    assert offenders == []


def test_today_is_counted_in_the_company_time_zone():
    import pytest

    from credit.settings import Settings, SettingsError

    east = Settings.load(env_file=None, environ={"CREDIT_TIMEZONE": "Pacific/Kiritimati"})
    west = Settings.load(env_file=None, environ={"CREDIT_TIMEZONE": "Pacific/Pago_Pago"})
    assert east.today() > west.today()  # UTC+14 and UTC-11 are never on the same day
    with pytest.raises(SettingsError, match="CREDIT_TIMEZONE: value 'Mars/Olympus'"):
        Settings.load(env_file=None, environ={"CREDIT_TIMEZONE": "Mars/Olympus"})
