"""Pure credit rules: plain values in, decisions out. No database, Jinja, dotenv or Prefect here."""
