"""Customer credit management: the domain package (never imports Prefect)."""

__version__ = "0.1.0"
