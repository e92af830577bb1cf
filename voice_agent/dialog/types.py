"""Events into and actions out of the dialog engine.

The engine is pure: ``step(state, event) -> (state, actions)``. Everything that touches the world
(speech, the OMS, the clock) reaches it as an event and leaves it as an action; the call pipeline
(or a test, or ``voice-agent chat``) executes the actions and feeds the results back as events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from voice_agent.oms.models import Order, WorkOrderType


# --- events -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallStarted:
    """A call began. ``caller_known``: the call came with the caller's phone number, so the
    orders on file under it can be asked for (:class:`FindCallerOrders`); the number itself
    stays with the pipeline.
    """

    call_sid: str
    today: date
    channel: str = "twilio"
    caller_known: bool = False


@dataclass(frozen=True)
class UserSaid:
    """A final transcript of one caller turn."""

    text: str


@dataclass(frozen=True)
class DtmfKey:
    """One keypad key: ``0-9``, ``*`` or ``#``."""

    key: str


@dataclass(frozen=True)
class Silence:
    """The caller said nothing for the configured time while the agent waited."""


@dataclass(frozen=True)
class NotHeard:
    """The caller spoke (``speech_s`` seconds by the VAD) but no words were recognised in it:
    a muffled line, a voice too far from the phone, or a decode that failed.
    """

    speech_s: float = 0.0


@dataclass(frozen=True)
class OrderLookedUp:
    """Result of a :class:`LookupOrder` action. ``order`` is None when the OMS has no such order;
    ``error`` is set when the OMS could not be asked (down, timeout).
    """

    order_id: str
    order: Order | None
    error: str | None = None


@dataclass(frozen=True)
class OrdersOnFile:
    """Result of a :class:`FindCallerOrders` action: the order numbers the OMS has under the
    caller's phone number; ``error`` is set when the OMS could not be asked.
    """

    order_ids: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class WorkOrderOpened:
    """Result of a :class:`CreateWorkOrder` action. ``reference`` is what the caller is told
    (the OMS id, or the agent's own reference when delivery is still pending).
    """

    request_id: str
    reference: str | None
    error: str | None = None


Event = (
    CallStarted
    | UserSaid
    | DtmfKey
    | Silence
    | NotHeard
    | OrderLookedUp
    | OrdersOnFile
    | WorkOrderOpened
)
#: The events that are a caller's turn (what a call record counts as one).
CALLER_INPUTS = (UserSaid, DtmfKey, Silence, NotHeard)


# --- actions ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class LookupOrder:
    order_id: str


@dataclass(frozen=True)
class FindCallerOrders:
    """Ask the OMS for the orders on file under the caller's phone number (the pipeline
    knows the number; the dialog and its records don't need it).
    """


@dataclass(frozen=True)
class CreateWorkOrder:
    """Open a work order. ``request_id`` is stable for the same call + intent + order, so a
    retried or replayed request maps to the same idempotency key.
    """

    request_id: str
    type: WorkOrderType
    order_id: str
    reason: str
    item_sku: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transfer:
    """Hand the call to a human. ``summary`` carries intent, slots, last turns and why."""

    reason: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HangUp:
    """End the call once everything said before it has been played."""


Action = Say | LookupOrder | FindCallerOrders | CreateWorkOrder | Transfer | HangUp


def describe_event(event: Event) -> dict[str, Any]:
    """A JSON-able description of an event, for call records and replay output."""
    data: dict[str, Any] = {"type": type(event).__name__}
    if isinstance(event, CallStarted) and event.caller_known:
        data["caller_known"] = True
    elif isinstance(event, UserSaid):
        data["text"] = event.text
    elif isinstance(event, DtmfKey):
        data["key"] = event.key
    elif isinstance(event, NotHeard):
        data["speech_s"] = round(event.speech_s, 2)
    elif isinstance(event, OrderLookedUp):
        data |= {"order_id": event.order_id, "found": event.order is not None, "error": event.error}
    elif isinstance(event, OrdersOnFile):
        data |= {"order_ids": list(event.order_ids), "error": event.error}
    elif isinstance(event, WorkOrderOpened):
        data |= {"reference": event.reference, "error": event.error}
    return data
