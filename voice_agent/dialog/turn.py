"""One engine step under construction: the new state plus the actions it emits.

A :class:`Turn` is created per event and thrown away after it; the flows call its helpers
(ask, propose, transfer, ...) which replace the immutable state and append actions.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from voice_agent.dialog.codes import read_back
from voice_agent.dialog.render import say_date, say_money
from voice_agent.dialog.spec import DialogSpec
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.types import (
    Action,
    CreateWorkOrder,
    HangUp,
    LookupOrder,
    Say,
    Transfer,
)

# Slots that describe the order the caller talks about; they go stale when the order changes.
ORDER_BOUND = ("item", "received", "received_on", "exchange_for")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def request_id(call_sid: str, intent: str, wo_type: str, order_id: str, sku: str | None) -> str:
    """Idempotency key: the same call, intent, order and item always give the same id."""
    raw = "|".join([call_sid, intent, wo_type, order_id, sku or ""])
    return "va-" + hashlib.sha256(raw.encode()).hexdigest()[:29]


class Turn:
    def __init__(self, spec: DialogSpec, state: DialogState):
        self.spec = spec
        self.s = state
        self.actions: list[Action] = []

    # --- state edits ----------------------------------------------------------------------------
    def set(self, **changes: Any) -> None:
        self.s = replace(self.s, **changes)

    def set_slot(self, name: str, value: Any) -> None:
        self.set(slots={**self.s.slots, name: value})

    def drop_slots(self, *names: str) -> None:
        self.set(slots={k: v for k, v in self.s.slots.items() if k not in names})

    def bump(self, key: str) -> int:
        count = self.s.attempts.get(key, 0) + 1
        self.set(attempts={**self.s.attempts, key: count})
        return count

    def attempt(self, key: str) -> int:
        return self.s.attempts.get(key, 0)

    def exhausted(self, key: str) -> bool:
        return self.attempt(key) >= self.spec.limits.max_attempts

    # --- speech ---------------------------------------------------------------------------------
    def context(self, **extra: Any) -> _Blank:
        s, pol = self.s, self.spec.policy
        ctx = _Blank(
            window_days=str(pol.return_window_days),
            protection_days=str(pol.price_protection_days),
            refund_days=pol.refund_days,
            refund_method=pol.refund_method,
            shipping_fee_text=pol.shipping_fee_text,
            question=s.question,
        )
        if "order_id" in s.slots:
            ctx["order_id"] = read_back(s.slots["order_id"])
        reason = s.slots.get("reason")
        if reason in self.spec.reasons:
            ctx["reason"] = self.spec.reasons[reason].say
        elif reason:
            ctx["reason"] = "of the reason you gave"
        if "exchange_for" in s.slots:
            ctx["exchange_for"] = str(s.slots["exchange_for"])
        order = s.order
        if order is not None:
            ctx["status"] = order.status
            ctx["carrier"] = order.carrier or "the carrier"
            ctx["delivered_on"] = say_date(order.delivered_on, s.today)
            ctx["shipped_on"] = say_date(order.shipped_on, s.today)
            ctx["ordered_on"] = say_date(order.ordered_on, s.today)
            if order.delivered_on is not None:
                ctx["days"] = str((s.today - order.delivered_on).days)
            if len(order.items) <= 3:
                names = [f"the {i.name}" for i in order.items]
                ctx["options"] = ", ".join(names[:-1]) + " or " + names[-1]
        item = s.item
        if item is not None:
            ctx["item"] = item.name
            ctx["amount"] = say_money(item.price * item.quantity)
        elif s.selected_items:
            # prompts say "the {item}": "the shoes and the jacket"
            ctx["item"] = " and the ".join(i.name for i in s.selected_items)
        elif order is not None and len(order.items) == 1:
            ctx["item"] = order.items[0].name
        ctx.update({k: str(v) for k, v in extra.items()})
        return ctx

    def render(self, key: str, attempt: int = 0, **extra: Any) -> str:
        return self.spec.prompt(key, attempt).format_map(self.context(**extra)).strip()

    def say(self, text: str) -> None:
        if not text:
            return
        self.actions.append(Say(text))
        self.set(turns=(*self.s.turns, ("agent", text)))

    def tell(self, key: str, attempt: int = 0, **extra: Any) -> None:
        self.say(self.render(key, attempt, **extra))

    def ask(self, key: str, pending: str | None, attempt: int = 0, **extra: Any) -> None:
        """Ask a question and wait for the caller's answer to fill ``pending``."""
        text = self.render(key, attempt, **extra)
        self.say(text)
        self.set(question=text, pending=pending, phase="slot" if pending else "intent")

    # --- endings and handoffs -------------------------------------------------------------------
    def anything_else(self) -> None:
        text = self.render("anything_else")
        self.say(text)
        self.set(question=text, pending=None, phase="anything_else", proposal=None)

    def goodbye(self, key: str = "goodbye") -> None:
        self.tell(key)
        self.actions.append(HangUp())
        self.set(phase="ended", ended=True, pending=None, proposal=None)

    def summary(self, reason: str) -> dict[str, Any]:
        n = self.spec.limits.history_turns
        return {
            "intent": self.s.intent,
            "slots": dict(self.s.slots),
            "orders_not_theirs": list(self.s.rejected),  # not to be looked up again
            "last_turns": [{"speaker": who, "text": text} for who, text in self.s.turns[-n:]],
            "reason": reason,
        }

    def transfer(self, reason: str, key: str = "transfer") -> None:
        summary = self.summary(reason)  # the caller's turns, not our "one moment" line
        self.tell(key)
        self.actions.append(Transfer(reason=reason, summary=summary))
        self.set(phase="ended", ended=True, pending=None, proposal=None)

    # --- OMS --------------------------------------------------------------------------------------
    def lookup(self, order_id: str) -> None:
        self.actions.append(LookupOrder(order_id=order_id))
        self.set(phase="lookup", pending=None)

    def propose(self, key: str, proposal: dict[str, Any], **extra: Any) -> None:
        """Ask a yes/no question; a yes carries out ``proposal``.

        Kinds: ``work_order`` (type, reason, item_sku, details), ``transfer`` (reason),
        ``intent`` (switch to another intent), ``order`` (order_id: the caller's order number
        is this sound-alike of the one heard, or this code of the keys typed).
        """
        if proposal["kind"] == "work_order":
            s = self.s
            proposal = {
                **proposal,
                "request_id": request_id(
                    s.call_sid, s.intent or "", proposal["type"], s.slots["order_id"],
                    proposal.get("item_sku") or s.slots.get("item"),
                ),
            }  # fmt: skip
        text = self.render(key, self.attempt("confirm"), **extra)
        self.say(text)
        self.set(question=text, pending=None, phase="confirm", proposal=proposal)

    def create_work_order(self) -> None:
        p = self.s.proposal
        assert p is not None and p["kind"] == "work_order"
        self.actions.append(
            CreateWorkOrder(
                request_id=p["request_id"],
                type=p["type"],
                order_id=self.s.slots["order_id"],
                reason=p.get("reason", ""),
                item_sku=p.get("item_sku"),
                details=dict(p.get("details", {})),
            )
        )
        self.set(phase="creating")

    def finish(self) -> tuple[DialogState, list[Action]]:
        """Return the new state and the actions, consecutive sentences merged into one Say."""
        merged: list[Action] = []
        for action in self.actions:
            if isinstance(action, Say) and merged and isinstance(merged[-1], Say):
                merged[-1] = Say(merged[-1].text + " " + action.text)
            else:
                merged.append(action)
        return self.s, merged
