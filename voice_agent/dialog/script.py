"""Run a scripted conversation against the engine with an in-memory OMS (tests, chat, demos).

The tiny executor here answers :class:`LookupOrder` from a dict of orders,
:class:`FindCallerOrders` with those under the caller's phone number, and
:class:`CreateWorkOrder` by recording the work order and handing back a reference; it is the
same contract the voice pipeline fulfils over HTTP, with no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.types import (
    Action,
    CallStarted,
    CreateWorkOrder,
    DtmfKey,
    Event,
    FindCallerOrders,
    LookupOrder,
    NotHeard,
    OrderLookedUp,
    OrdersOnFile,
    Silence,
    UserSaid,
    WorkOrderOpened,
)
from voice_agent.oms.models import Order, orders_under, phone_key


@dataclass
class MemoryOms:
    """Orders by id, and the work orders opened (keyed by request id, so replays dedupe).

    ``down`` makes every lookup fail as if the OMS were unreachable; ``fail_work_orders``
    does the same for creating work orders. ``caller`` is the phone number the call came from.
    """

    orders: Mapping[str, Order]
    caller: str | None = None
    down: bool = False
    fail_work_orders: bool = False
    work_orders: dict[str, CreateWorkOrder] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_orders(
        cls,
        orders: Iterable[Order],
        down: bool = False,
        fail_work_orders: bool = False,
        caller: str | None = None,
    ) -> MemoryOms:
        by_id = {o.order_id: o for o in orders}
        return cls(by_id, caller=caller, down=down, fail_work_orders=fail_work_orders)

    def execute(self, action: Action) -> Event | None:
        """Carry out an OMS action; return the event to feed back (None for other actions)."""
        if isinstance(action, LookupOrder):
            if self.down:
                return OrderLookedUp(action.order_id, None, error="OMS unreachable")
            return OrderLookedUp(action.order_id, self.orders.get(action.order_id))
        if isinstance(action, FindCallerOrders):
            if self.down:
                return OrdersOnFile((), error="OMS unreachable")
            mine = orders_under(self.caller, self.orders.values())
            return OrdersOnFile(tuple(sorted(o.order_id for o in mine)))
        if isinstance(action, CreateWorkOrder):
            if self.fail_work_orders:
                return WorkOrderOpened(action.request_id, None, error="OMS unreachable")
            if action.request_id not in self.references:
                self.references[action.request_id] = f"WO{len(self.references) + 1:04d}"
                self.work_orders[action.request_id] = action
            return WorkOrderOpened(action.request_id, self.references[action.request_id])
        return None


def parse_turn(line: str) -> list[Event] | None:
    """Caller-turn shorthand used by scripts and ``voice-agent chat``.

    ``#481526#`` is keypad keys (one :class:`DtmfKey` per digit, ``*`` or ``#``), ``/silence``
    a :class:`Silence`, ``/unheard`` a :class:`NotHeard` (speech without words), any other
    ``/command`` None, and everything else a :class:`UserSaid`.
    """
    stripped = line.strip()
    if stripped.startswith("#") and len(stripped) > 1:
        return [DtmfKey(k) for k in stripped[1:] if k.isdigit() or k in "*#"]
    if stripped == "/silence":
        return [Silence()]
    if stripped == "/unheard":
        return [NotHeard()]
    if stripped.startswith("/"):
        return None
    return [UserSaid(stripped)]


@dataclass
class Transcript:
    """Everything a scripted call produced."""

    state: DialogState
    actions: list[Action]
    events: list[Event]
    steps: list[tuple[Event, list[Action]]]


def run_events(engine: DialogEngine, oms: MemoryOms, start: CallStarted,
               events: Iterable[Event]) -> Transcript:  # fmt: skip
    """Feed caller events; OMS actions are executed at once and their results fed back."""
    state, actions = engine.start(start)
    all_actions = list(actions)
    fed: list[Event] = [start]
    steps: list[tuple[Event, list[Action]]] = [(start, list(actions))]
    queue = list(actions)

    def drain() -> None:
        nonlocal state
        while queue:
            result = oms.execute(queue.pop(0))
            if result is not None:
                state, more = engine.step(state, result)
                fed.append(result)
                steps.append((result, list(more)))
                all_actions.extend(more)
                queue.extend(more)

    drain()
    for event in events:
        if state.ended:
            break
        state, actions = engine.step(state, event)
        fed.append(event)
        steps.append((event, list(actions)))
        all_actions.extend(actions)
        queue.extend(actions)
        drain()
    return Transcript(state=state, actions=all_actions, events=fed, steps=steps)


def run_script(engine: DialogEngine, orders: Iterable[Order], turns: Iterable[Event],
               today: date, call_sid: str = "CA-test", down: bool = False,
               fail_work_orders: bool = False,
               caller: str | None = None) -> tuple[Transcript, MemoryOms]:  # fmt: skip
    """Run caller turns (events) against a fresh in-memory OMS holding ``orders``, the call
    from the phone number ``caller`` when given.
    """
    oms = MemoryOms.from_orders(orders, down, fail_work_orders, caller)
    start = CallStarted(call_sid=call_sid, today=today, caller_known=phone_key(caller) is not None)
    return run_events(engine, oms, start, turns), oms
