"""``GET /healthz``: the server answers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: always ``{"status": "ok"}``."""
    return {"status": "ok"}
