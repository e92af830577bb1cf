"""Fixtures for the dialog tests: the real dialog file, the seeded demo orders on a fixed day."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.script import MemoryOms, Transcript, parse_turn, run_events
from voice_agent.dialog.spec import DialogSpec, load_dialog
from voice_agent.dialog.types import (
    Action,
    CallStarted,
    CreateWorkOrder,
    Event,
    FindCallerOrders,
    LookupOrder,
    OrderLookedUp,
    OrdersOnFile,
    Say,
    WorkOrderOpened,
)
from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.models import Order, WorkOrderCreate
from voice_agent.oms.seed import load_seed

ROOT = Path(__file__).resolve().parents[2]
DIALOG = ROOT / "dialogs" / "returns.yaml"
TODAY = date(2026, 11, 22)  # a Sunday; seed dates are relative to it


@pytest.fixture(scope="session")
def spec() -> DialogSpec:
    return load_dialog(DIALOG)


@pytest.fixture(scope="session")
def engine(spec: DialogSpec) -> DialogEngine:
    return DialogEngine(spec)


@pytest.fixture(scope="session")
def orders() -> list[Order]:
    return load_seed(TODAY)


def to_event(turn: str) -> list[Event]:
    """Caller turn shorthand: "#481526#" keys, "/silence", else speech."""
    return parse_turn(turn) or []


def said(transcript: Transcript) -> list[str]:
    """What the agent said in a scripted call, one entry per turn."""
    return [a.text for a in transcript.actions if isinstance(a, Say)]


def lookups(transcript: Transcript) -> list[str]:
    """The order numbers looked up in a scripted call."""
    return [a.order_id for a in transcript.actions if isinstance(a, LookupOrder)]


Run = Callable[..., tuple[Transcript, MemoryOms]]


class EmbeddedOms(MemoryOms):
    """The script executor backed by the real embedded OMS (its FastAPI app over HTTP, its own
    SQLite file): lookups are ``GET /orders/{id}``, the caller's orders ``GET /orders?phone=``,
    work orders ``POST /work-orders`` with the action's request id as ``Idempotency-Key``.
    ``down``/``fail_work_orders`` still simulate an unreachable OMS."""

    def __init__(
        self, http: TestClient, call_sid: str, caller: str | None = None, **flags: bool
    ) -> None:
        super().__init__(orders={}, caller=caller, **flags)
        self.http = http
        self.call_sid = call_sid

    def execute(self, action: Action) -> Event | None:
        if isinstance(action, LookupOrder) and not self.down:
            response = self.http.get(f"/orders/{action.order_id}")
            found = Order.model_validate(response.json()) if response.status_code == 200 else None
            assert response.status_code in (200, 404), response.text
            return OrderLookedUp(action.order_id, found)
        if isinstance(action, FindCallerOrders) and not self.down:
            response = self.http.get("/orders", params={"phone": self.caller})
            assert response.status_code == 200, response.text
            return OrdersOnFile(tuple(o["order_id"] for o in response.json()))
        if isinstance(action, CreateWorkOrder) and not self.fail_work_orders:
            body = WorkOrderCreate(
                call_sid=self.call_sid,
                order_id=action.order_id,
                type=action.type,
                reason=action.reason,
                item_sku=action.item_sku,
                details=action.details,
            )
            response = self.http.post(
                "/work-orders",
                json=body.model_dump(mode="json"),
                headers={"Idempotency-Key": action.request_id},
            )
            assert response.status_code in (200, 201), response.text
            self.work_orders[action.request_id] = action
            self.references[action.request_id] = response.json()["id"]
            return WorkOrderOpened(action.request_id, response.json()["id"])
        return super().execute(action)

    def opened(self) -> list[dict]:
        """The work orders the OMS holds for this call."""
        return list(self.http.get("/work-orders", params={"call_sid": self.call_sid}).json())


@pytest.fixture
def run(engine: DialogEngine, tmp_path: Path) -> Iterator[Run]:
    app = create_oms_app(tmp_path / "oms.sqlite3", today=TODAY)
    calls = 0
    with TestClient(app) as http:

        def _run(
            *turns: str,
            down: bool = False,
            fail_work_orders: bool = False,
            caller: str | None = None,
        ) -> tuple[Transcript, MemoryOms]:
            nonlocal calls
            calls += 1
            call_sid = f"CA-test-{calls}"
            oms = EmbeddedOms(http, call_sid, caller, down=down, fail_work_orders=fail_work_orders)
            events = [e for t in turns for e in to_event(t)]
            start = CallStarted(call_sid, TODAY, caller_known=caller is not None)
            return run_events(engine, oms, start, events), oms

        yield _run
    app.state.close()
