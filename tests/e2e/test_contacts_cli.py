"""`credit import contacts` and `credit customers contacts` as a user runs them: real `credit`
processes on a real SQLite file (a dry run, the import, a rerun, a refused file, the views)."""

from __future__ import annotations

from tests.conftest import SAMPLE

CONTACTS = (
    "customer_code,name,role,email,phone,dunning,cc\n"
    "C-1001,Petra Pay,Accounts payable,petra@nordwind.example,+49 40 555 01,yes,\n"
    "C-1001,Carl Control,Controller,carl@nordwind.example,,,yes\n"
    "C-1001,Bea Buyer,Purchasing,bea@nordwind.example,,,\n"
)


def test_contacts_are_imported_shown_and_a_bad_file_is_refused_with_its_lines(cli):
    cli("init")
    cli("import", "customers", str(SAMPLE / "customers.csv"))
    good = cli.path / "contacts.csv"
    good.write_text(CONTACTS)
    dry = cli("import", "contacts", str(good), "--dry-run")
    assert "would import 3 rows: 3 new, 0 changed, 0 unchanged (dry run" in dry.stdout
    assert "No contacts on file" in cli("customers", "contacts", "C-1001").stdout
    done = cli("import", "contacts", str(good), "--as", "carla.manager")
    assert "imported 3 rows: 3 new, 0 changed, 0 unchanged" in done.stdout
    again = cli.json("import", "contacts", str(good))
    assert (again["created"], again["unchanged"], again["removed"]) == (0, 3, 0)

    shown = cli("customers", "contacts", "c-1001").stdout
    assert "Petra Pay" in shown and "+49 40 555 01" in shown and "Purchasing" in shown
    assert "Dunning notices to petra@nordwind.example, cc carl@nordwind.example" in shown
    view = cli.json("customers", "contacts", "C-1001")
    assert [c["email"] for c in view["contacts"]][0] == "petra@nordwind.example"
    assert "Dunning notices to petra@nordwind.example" in cli("customers", "show", "C-1001").stdout
    other = cli("customers", "show", "C-1002").stdout
    assert "Dunning notices to finance@atlas.example" in other  # no contacts: as before

    fewer = cli.path / "fewer.csv"
    fewer.write_text(
        CONTACTS.splitlines(keepends=True)[0] + "".join(CONTACTS.splitlines(True)[1:3])
    )
    dropped = cli("import", "contacts", str(fewer))
    assert "0 new, 0 changed, 2 unchanged, 1 removed" in dropped.stdout

    bad = cli.path / "bad.csv"
    bad.write_text(
        "customer_code,name,role,email,phone,dunning,cc\n"
        "C-1001,Petra Pay,,petra@nordwind.example,,yes,\n"
        "C-1001,Otto Other,,otto@nordwind.example,,yes,\n"
        "C-9999,Nobody,,n@x.example,,,\n"
    )
    refused = cli("import", "contacts", str(bad), expect=2)
    assert f"{bad}:3: column dunning: value 'yes': customer C-1001 has its dunning contact" in (
        refused.stderr
    )
    assert f"{bad}:4: column customer_code: value 'C-9999': no such customer" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert len(cli.json("customers", "contacts", "C-1001")["contacts"]) == 2  # nothing changed
    missing = cli("customers", "contacts", "NOPE", expect=2)
    assert "no customer with code 'NOPE'" in missing.stderr
