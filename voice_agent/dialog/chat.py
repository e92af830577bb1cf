"""``voice-agent chat``: talk to the dialog by typing, with the same engine and an OMS.

Each line is one caller turn. Special lines:

* ``#481526#`` -- keypad keys (digits, ``*``, ``#``), one DtmfKey per character
* ``/silence`` -- the caller said nothing
* ``/unheard`` -- the caller spoke, but no words were recognised
* ``/state``   -- print the dialog state as JSON
* ``/quit``    -- leave

Orders come from the seeded demo orders in-process, or from a real OMS with ``--oms-url``.
``--caller +15550142211`` plays a call from that phone number: the orders on file under it
are asked for, and a number typed a digit or two away from one of them is offered back.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.script import MemoryOms, parse_turn
from voice_agent.dialog.spec import DialogSpecError, load_dialog
from voice_agent.dialog.types import (
    Action,
    CallStarted,
    CreateWorkOrder,
    Event,
    FindCallerOrders,
    HangUp,
    LookupOrder,
    OrderLookedUp,
    OrdersOnFile,
    Say,
    Transfer,
    WorkOrderOpened,
)
from voice_agent.oms.models import Order, orders_under, phone_key
from voice_agent.oms.seed import load_seed
from voice_agent.settings import Settings


class HttpOms:
    """Executes OMS actions against the REST API (``GET /orders/{id}``, ``POST /work-orders``)."""

    def __init__(
        self, base_url: str, call_sid: str, caller: str | None = None, timeout: float = 3.0
    ):
        import httpx

        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self._call_sid = call_sid
        self._caller = caller

    def execute(self, action: Action) -> Event | None:
        import httpx

        try:
            if isinstance(action, LookupOrder):
                resp = self._client.get(f"/orders/{action.order_id}")
                if resp.status_code == 404:
                    return OrderLookedUp(action.order_id, None)
                resp.raise_for_status()
                return OrderLookedUp(action.order_id, Order.model_validate(resp.json()))
            if isinstance(action, FindCallerOrders):
                resp = self._client.get("/orders", params={"phone": self._caller or ""})
                resp.raise_for_status()
                orders = [Order.model_validate(o) for o in resp.json()]
                mine = orders_under(self._caller, orders)
                return OrdersOnFile(tuple(o.order_id for o in mine))
            if isinstance(action, CreateWorkOrder):
                body = {
                    "call_sid": self._call_sid,
                    "order_id": action.order_id,
                    "type": action.type,
                    "reason": action.reason,
                    "item_sku": action.item_sku,
                    "details": action.details,
                }
                resp = self._client.post(
                    "/work-orders", json=body, headers={"Idempotency-Key": action.request_id}
                )
                resp.raise_for_status()
                return WorkOrderOpened(action.request_id, str(resp.json()["id"]))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            if isinstance(action, LookupOrder):
                return OrderLookedUp(action.order_id, None, error=str(exc))
            if isinstance(action, CreateWorkOrder):
                return WorkOrderOpened(action.request_id, None, error=str(exc))
            if isinstance(action, FindCallerOrders):
                return OrdersOnFile((), error=str(exc))
        return None


def _show(action: Action, out: TextIO) -> None:
    if isinstance(action, Say):
        print(f"agent> {action.text}", file=out)
    elif isinstance(action, Transfer):
        print(f"  [transfer: {action.reason}]", file=out)
        print("  " + json.dumps(action.summary, default=str), file=out)
    elif isinstance(action, HangUp):
        print("  [hang up]", file=out)
    else:
        print(f"  [{action}]", file=out)


def main(argv: list[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voice-agent chat", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dialog", type=Path, default=None, help="default: the dialog_file setting"
    )
    parser.add_argument("--oms-url", help="OMS REST base URL (default: demo orders in-process)")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--call-sid", default="CHAT-1")
    parser.add_argument("--caller", help="the phone number the call comes from")
    args = parser.parse_args(argv)
    inp, out = stdin or sys.stdin, stdout or sys.stdout
    try:
        spec = load_dialog(args.dialog or Settings().dialog_file)
    except DialogSpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    today = args.today or date.today()
    engine = DialogEngine(spec)
    oms: MemoryOms | HttpOms
    if args.oms_url:
        oms = HttpOms(args.oms_url, args.call_sid, args.caller)
    else:
        oms = MemoryOms.from_orders(load_seed(today), caller=args.caller)
    print("Type what the caller says. #123# = keypad, /silence, /unheard, /state, /quit.", file=out)
    known = phone_key(args.caller) is not None
    start = CallStarted(call_sid=args.call_sid, today=today, caller_known=known)
    state, actions = engine.start(start)
    pending: list[Any] = list(actions)
    while True:
        while pending:
            action = pending.pop(0)
            _show(action, out)
            result = oms.execute(action)
            if result is not None:
                state, more = engine.step(state, result)
                pending.extend(more)
        if state.ended:
            return 0
        print("caller> ", end="", file=out, flush=True)
        line = inp.readline()
        if not line or line.strip() == "/quit":
            return 0
        if line.strip() == "/state":
            print(json.dumps(state.to_dict(), indent=2), file=out)
            continue
        for event in parse_turn(line) or []:
            state, actions = engine.step(state, event)
            pending.extend(actions)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
