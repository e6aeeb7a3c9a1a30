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


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("A=1\nCREDIT_SMTP_HOST smtp.example.com\n",
         "line 2: 'CREDIT_SMTP_HOST smtp.example.com': not NAME=value; fix or remove the line"),
        ("# settings\nA=1\n\n  \nB=\"no end\nC=3\n",
         "line 5: 'B=\"no end': the value cannot be read (a quote not closed?)"),
        ("A=1\nCREDIT_SMTP_PASSWORD='s3cret\n", "line 2: 'CREDIT_SMTP_PASSWORD …': the value"),
        ("A=1\nCREDIT_COMPANY_NAME " + "x" * 200 + "\n",
         "line 2: 'CREDIT_COMPANY_NAME " + "x" * 59 + "…': not NAME=value"),
        ("A=caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 5); save it as UTF-8"),
    ],
    ids=["no equals sign", "open quote after blank lines", "secret not repeated", "long line",
         "latin-1"],
)  # fmt: skip
def test_a_settings_file_line_dotenv_cannot_parse_is_refused_located(tmp_path, content, says):
    """python-dotenv would skip the line with a warning, and its setting would not be set."""
    env = tmp_path / ".env"
    (env.write_bytes if isinstance(content, bytes) else env.write_text)(content)
    with pytest.raises(SettingsError) as refused:
        Settings.load(env, environ={})
    assert str(refused.value).startswith(f"{env}")
    assert says in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_a_settings_file_dotenv_can_parse_is_read_as_before(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "# c\n\nexport CREDIT_SMTP_HOST=mail.local  # inline\nCREDIT_COMPANY_NAME='A # B'\n"
        'CREDIT_MAIL_FROM="x@example.com"\nCREDIT_TIMEZONE=\n'
    )
    s = Settings.load(env, environ={})
    assert s.smtp_host == "mail.local" and s.company_name == "A # B"
    assert s.mail_from == "x@example.com"


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
            if root in {"prefect", "flows", "tasks"} and (path.parent.name != "cli" or top_level):
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


COMPANY = {
    "CREDIT_COMPANY_NAME": "Testfirma Nord GmbH (fictitious)",
    "CREDIT_COMPANY_ADDRESS": "Teststrasse 9 | 99999 Testdorf",
    "CREDIT_COMPANY_CONTACT": "credit@testfirma.invalid",
    "CREDIT_COMPANY_PAYMENT_DETAILS": "IBAN DE02 1203 0000 0000 2020 51 | BIC BYLADEM1001",
}
# What .env.example and the code used to ship: people copied them into their .env.
OLD_EXAMPLE = {
    "CREDIT_COMPANY_NAME": "Example Trading GmbH",
    "CREDIT_COMPANY_ADDRESS": "Example Trading GmbH | Hafenstrasse 1 | 20457 Hamburg | Germany",
    "CREDIT_COMPANY_CONTACT": "credit@example.com | +49 40 1234 5670",
    "CREDIT_COMPANY_PAYMENT_DETAILS": "IBAN DE89 3704 0044 0532 0130 00 | BIC COBADEFFXXX",
}


def test_the_company_has_no_default_and_each_missing_setting_is_named():
    s = Settings.load(env_file=None, environ={})
    assert s.company_name is None and s.company_payment_details is None
    assert s.company_missing() == [f"{name} (not set)" for name in COMPANY]
    refusal = s.company_refusal("credit init")
    assert refusal is not None and ".env or the environment" in refusal
    assert all(name in refusal for name in COMPANY)
    configured = Settings.load(env_file=None, environ=COMPANY)
    assert configured.company_missing() == [] and configured.company_refusal("x") is None
    partly = Settings.load(env_file=None, environ={**COMPANY, "CREDIT_COMPANY_CONTACT": "  "})
    assert partly.company_missing() == ["CREDIT_COMPANY_CONTACT (not set)"]


def test_the_old_shipped_example_company_counts_as_not_configured():
    s = Settings.load(env_file=None, environ=OLD_EXAMPLE)
    assert [m.split(" ")[0] for m in s.company_missing()] == list(COMPANY)
    assert all("still the example value" in m for m in s.company_missing())
    # the example IBAN among real lines, written without spaces, is still the example
    s = Settings.load(
        env_file=None,
        environ={
            **COMPANY,
            "CREDIT_COMPANY_PAYMENT_DETAILS": "Bank X | IBAN DE89370400440532013000",
        },
    )
    assert [m.split(" ")[0] for m in s.company_missing()] == ["CREDIT_COMPANY_PAYMENT_DETAILS"]


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ("IBAN DE02 1203 0000 0000 2020 52 | BIC BYLADEM1001", "checksum"),
        ("IBAN: DE02 1203 0000 0000 2020 5", "length"),
        ("IBAN XX02 1203 0000 0000 2020 51", "country"),
        ("Konto DE02120300000000202052", "checksum"),  # an IBAN without its label
        ("IBAN DE02 1203 0000 0000 2020 51 | BIC BYLA", "length"),
        ("IBAN DE02 1203 0000 0000 2020 52 at DKB", "checksum"),
        ("Pay to IBAN", "no account number follows"),
    ],
)
def test_an_invalid_iban_or_bic_in_the_payment_details_is_refused_naming_value_and_reason(
    details, reason
):
    with pytest.raises(SettingsError) as refused:
        Settings.load(env_file=None, environ={**COMPANY, "CREDIT_COMPANY_PAYMENT_DETAILS": details})
    message = str(refused.value)
    assert message.startswith("CREDIT_COMPANY_PAYMENT_DETAILS: value '")
    assert reason in message.lower()


def test_valid_payment_details_with_or_without_an_iban_are_kept():
    for details in (
        "IBAN DE02 1203 0000 0000 2020 51 (DKB) BIC BYLADEM1001",
        "iban gb33bukb20201555555555",
        # the words around an account are the letter's, not the account's
        "IBAN DE02 1203 0000 0000 2020 51 at DKB, BIC BYLADEM1001 DKB Berlin",
        "Bank transfer to IBAN DE02120300000000202051 quoting the invoice number",
        "DEMO - do not pay: no real bank account",
    ):
        s = Settings.load(
            env_file=None, environ={**COMPANY, "CREDIT_COMPANY_PAYMENT_DETAILS": details}
        )
        assert s.company["payment"] == [details]


def test_an_unset_web_base_url_is_a_warning_not_an_error():
    [warning] = Settings.load(env_file=None, environ=COMPANY).warnings()
    assert "CREDIT_WEB_BASE_URL" in warning and "http://127.0.0.1:8765" in warning
    set_ = Settings.load(env_file=None, environ={**COMPANY, "CREDIT_WEB_BASE_URL": "https://c.x/"})
    assert set_.warnings() == [] and set_.web_base_url == "https://c.x"


def test_a_helper_process_gets_the_run_settings_back_from_its_environment():
    from credit.settings import Settings

    given = {
        "CREDIT_DATABASE_URL": "sqlite:///elsewhere.db",
        "CREDIT_SMTP_STARTTLS": "yes",
        "CREDIT_DELIVERY_RETRY_SECONDS": "0.5",
        "CREDIT_WEB_BASE_URL": "https://credit.example.org/",
        "CREDIT_COMPANY_NAME": "Example GmbH",
        "CREDIT_COLLECTIONS_PROCESSES": "3",
    }
    settings = Settings.load(env_file=None, environ=given)
    # the process's own CREDIT_* settings give way to the run's; other variables stay
    env = settings.as_environ({"CREDIT_DATABASE_URL": "sqlite:///mine.db", "PATH": "/bin"})
    assert env["PATH"] == "/bin" and env["CREDIT_DATABASE_URL"] == "sqlite:///elsewhere.db"
    assert "CREDIT_SMTP_HOST" not in env  # unset stays unset
    assert Settings.load(env_file=None, environ=env) == settings
    plain = Settings.load(env_file=None, environ={})
    assert "CREDIT_WEB_BASE_URL" not in plain.as_environ({})
    assert Settings.load(env_file=None, environ=plain.as_environ({})) == plain
