"""JSON errors: ``{"error": "<one line>", "kind": "<kind>"}`` with a fitting status code."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ferryman.errors import FerrymanError
from ferryman.temporal.client.gates import GateRefused

STATUS = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not-found": 404,
    "conflict": 409,
    "invalid": 422,
}


class ApiError(Exception):
    """An error answered as JSON with ``status``."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    """The JSON error body every route answers with."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "kind": kind}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Answer ferryman's errors, refusals and bad bodies as one-line JSON errors."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.kind, exc.message)

    @app.exception_handler(GateRefused)
    async def _refused(_: Request, exc: GateRefused) -> JSONResponse:
        return error_response(STATUS[exc.kind], exc.kind, exc.message)

    @app.exception_handler(FerrymanError)
    async def _ferryman(_: Request, exc: FerrymanError) -> JSONResponse:
        return error_response(503, "unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid body"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(422, "invalid", f"{where + ': ' if where else ''}{first['msg']}")
