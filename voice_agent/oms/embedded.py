"""The embedded demo OMS: its own FastAPI app over its own SQLite file.

The agent talks to it only over HTTP, through :class:`voice_agent.oms.client.OmsClient`, exactly as
it would talk to a real OMS; the main server mounts it at ``/oms``. Errors are JSON
``{"detail": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from voice_agent.oms.models import Order, WorkOrder, WorkOrderCreate
from voice_agent.oms.repository import (
    IdempotencyConflict,
    InvalidDetails,
    OmsRepository,
    UnknownItem,
    UnknownOrder,
    sqlite_engine,
)


class ErrorBody(BaseModel):
    detail: str


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such resource"}
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description=(
            "Replaying a request with the same key returns the first work order (200) instead "
            "of opening a second one; the same key with a different body is a 409."
        ),
    ),
]


def create_oms_app(
    db_path: Path, seed_file: Path | None = None, today: date | None = None
) -> FastAPI:
    """Build the embedded OMS app, creating and seeding its database on first use.

    Args:
        db_path: the OMS's own SQLite file (created with its folder if missing).
        seed_file: YAML of demo orders (default: the bundled ``seed.yaml``); loaded only when the
            database has no orders yet.
        today: the date relative seed dates count from (default: today).

    The engine is on ``app.state.oms_repository.engine``; call ``app.state.close()`` to dispose it.

    """
    repo = OmsRepository(sqlite_engine(db_path))
    repo.seed_if_empty(today or date.today(), seed_file)

    app = FastAPI(
        title="voice_agent embedded OMS",
        version="1.0.0",
        description="Demo order-management system: orders and return/refund work orders.",
    )
    app.state.oms_repository = repo

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the input back, which fails to encode (-> 500) when the
        # body held a lone surrogate; the location and message say enough.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        body = json.dumps({"detail": errors}, ensure_ascii=True, default=str)
        return Response(body, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json")

    app.state.close = repo.engine.dispose

    @app.get("/orders", response_model=list[Order], summary="List orders")
    def list_orders(
        phone: Annotated[
            str | None,
            Query(
                max_length=32,
                description=(
                    "Only the orders under this phone number, in any form (E.164 or national)"
                ),
            ),
        ] = None,
    ) -> list[Order]:
        return repo.list_orders() if phone is None else repo.orders_for_phone(phone)

    @app.get("/orders/{order_id}", response_model=Order, responses=_NOT_FOUND, summary="One order")
    def get_order(order_id: str) -> Order:
        order = repo.get_order(order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id!r} not found")
        return order

    @app.post(
        "/work-orders",
        response_model=WorkOrder,
        status_code=status.HTTP_201_CREATED,
        summary="Open a work order (idempotent with Idempotency-Key)",
        responses={
            200: {"model": WorkOrder, "description": "Replay of an earlier request with this key"},
            400: {"model": ErrorBody, "description": "Body is not valid JSON text"},
            409: {"model": ErrorBody, "description": "Key reused with a different body"},
            422: {"description": "Invalid body, unknown order or unknown item"},
        },
    )
    def create_work_order(
        body: WorkOrderCreate, response: Response, idempotency_key: IdempotencyKey = None
    ) -> WorkOrder:
        try:
            result = repo.create_work_order(body, idempotency_key)
        except IdempotencyConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except (UnknownOrder, UnknownItem, InvalidDetails) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        if not result.created:
            response.status_code = status.HTTP_200_OK
        return result.work_order

    @app.get("/work-orders", response_model=list[WorkOrder], summary="List work orders")
    def list_work_orders(
        call_sid: Annotated[
            str | None, Query(max_length=128, description="Only this call's work orders")
        ] = None,
    ) -> list[WorkOrder]:
        return repo.list_work_orders(call_sid)

    @app.get(
        "/work-orders/{work_order_id}",
        response_model=WorkOrder,
        responses=_NOT_FOUND,
        summary="One work order",
    )
    def get_work_order(work_order_id: str) -> WorkOrder:
        wo = repo.get_work_order(work_order_id)
        if wo is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"work order {work_order_id!r} not found"
            )
        return wo

    return app
