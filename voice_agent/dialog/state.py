"""The dialog state: an immutable value, replaced (never mutated) by every engine step."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from voice_agent.oms.models import Order

ALL_ITEMS = "*"  # the item slot's value when the caller means every item of the order


@dataclass(frozen=True)
class DialogState:
    """Everything the engine knows about one call.

    Dicts here are never mutated after construction: the engine builds new ones and
    :func:`dataclasses.replace` s the state, so old states stay valid for replay and records.
    """

    call_sid: str
    today: date
    phase: str = "intent"  # intent | slot | lookup | confirm | creating | anything_else | ended
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    pending: str | None = None  # the slot the last question asked for
    order: Order | None = None  # the looked-up order for slots["order_id"]
    attempts: dict[str, int] = field(default_factory=dict)
    silences: int = 0
    unheard: int = 0  # caller turns in a row in which no words were recognised
    dtmf: str = ""
    partial: str = ""  # digits of an order number heard so far (caller paused mid-number)
    partial_ohs: int = 0  # "oh"s said before them: zeros or a word, as the rest decides
    probes: tuple[str, ...] = ()  # sound-alikes of an order number not found, left to look up
    on_file: tuple[str, ...] = ()  # the orders the OMS has under the caller's phone number
    rejected: tuple[str, ...] = ()  # orders found that the caller said are not theirs
    declined: tuple[str, ...] = ()  # codes offered as sound-alikes or for keys, answered no
    keys: str = ""  # keys typed for a letter code whose codes (the probes) are being looked up
    proposal: dict[str, Any] | None = None  # what a yes in the confirm phase does
    question: str = ""  # the last question asked (repeats, silence reprompts)
    turns: tuple[tuple[str, str], ...] = ()  # (speaker, text), speaker "caller" | "agent"
    upset: tuple[float, ...] = ()  # per caller turn upset scores
    mentions: tuple[str, ...] = ()  # caller turns before the order was known (item matching)
    references: tuple[str, ...] = ()  # work orders opened in this call
    ended: bool = False

    @property
    def item(self) -> Any:
        """The one selected order item, if exactly one is selected."""
        sku = self.slots.get("item")
        if self.order is None or sku is None:
            return None
        return next((i for i in self.order.items if i.sku == sku), None)

    @property
    def selected_items(self) -> list[Any]:
        """The selected items: one, or all of them when the caller said "both" (slot ``*``)."""
        if self.order is not None and self.slots.get("item") == ALL_ITEMS:
            return list(self.order.items)
        return [self.item] if self.item is not None else []

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable snapshot (for call records)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Order):
                value = value.model_dump(mode="json")
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        return out
