"""Prefect flows, one per business process. Each step's notice goes through the outbox."""
