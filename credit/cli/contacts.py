"""`credit customers contacts CODE`: the people at a customer and where its notices about
receivables go (imported with `credit import contacts FILE`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credit.cli.output import JsonOpt, as_code, clear_errors, console, get_app, print_json, table


def addressed_line(view: dict[str, Any]) -> str:
    """'Dunning notices to a@b.cd, cc c@d.ef': where collections notices go."""
    cc = view["notices_cc"]
    return f"Dunning notices to {view['notices_to']}" + (f", cc {', '.join(cc)}" if cc else "")


def show_contacts(view: dict[str, Any]) -> None:
    """The contacts table (when there are any) and where dunning notices go."""
    if view["contacts"]:
        table(
            "Contacts",
            ["name", "role", "email", "phone", "receives"],
            [
                [
                    c["name"],
                    c["role"] or "",
                    c["email"],
                    c["phone"] or "",
                    "dunning" if c["dunning"] else "cc" if c["cc"] else "",
                ]
                for c in view["contacts"]
            ],
        )
    console.print(addressed_line(view), highlight=False, markup=False)


def customers_contacts(
    customer_code: Annotated[str, typer.Argument(help="Customer code.")],
    as_json: JsonOpt = False,
) -> None:
    """The customer's contacts (name, role, e-mail, phone), its dunning contact and who gets a
    copy of its dunning notices."""
    from credit import services

    a = get_app()
    with clear_errors():
        view = services.customer_contacts(a, code=as_code(customer_code))
    if as_json:
        print_json(view)
        return
    console.print(f"{view['name']} ({view['customer']})", highlight=False, markup=False)
    if not view["contacts"]:
        console.print("No contacts on file: notices go to the customer's e-mail.", highlight=False)
    show_contacts(view)
