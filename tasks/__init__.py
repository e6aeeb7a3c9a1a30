"""Thin Prefect task adapters: unpack ids, call one service function, return ids or summaries."""
