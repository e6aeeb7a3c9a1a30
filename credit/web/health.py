"""Liveness for the service manager."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from credit.web.auth import PUBLIC, Access

router = APIRouter()


@router.get("/healthz", response_class=PlainTextResponse, dependencies=[Depends(Access(PUBLIC))])
def healthz() -> str:
    return "ok"
