"""What each intent needs and decides, given the slots filled so far.

Each flow is called after every change and does the next missing thing: ask for a slot, look
the order up, apply the policy from the dialog file, or propose the work order for a yes.
Words come from the dialog file's prompts; the decisions (eligibility, dates, prices) live here.
"""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.dialog.normalize import match_item, means_all_items
from voice_agent.dialog.on_file import offer_on_file
from voice_agent.dialog.render import say_date, say_money
from voice_agent.dialog.state import ALL_ITEMS
from voice_agent.dialog.turn import Turn
from voice_agent.oms.models import OrderItem

_REFUND_STATE = {
    "pending": "pending",
    "processing": "being processed",
    "issued": "issued",
    "rejected": "not approved",
}


def intent_for(t: Turn, handler: str) -> str:
    """The dialog file's name for the intent run by ``handler`` (the spec checks it exists)."""
    return next((n for n, i in t.spec.intents.items() if i.handler == handler), handler)


def _your(method: str) -> str:
    return method if method.startswith("your") else f"your {method}"


# --- shared steps (return True when they asked something and the flow must wait) ---------------
def need_order(t: Turn) -> bool:
    order_id = t.s.slots.get("order_id")
    if order_id is None:
        t.ask("ask_order_id", "order_id", t.attempt("order_id"))
        return True
    if t.s.order is None or t.s.order.order_id != order_id:
        if not offer_on_file(t, order_id):
            t.lookup(order_id)
        return True
    return False


def need_item(t: Turn) -> bool:
    s = t.s
    assert s.order is not None
    if s.selected_items:
        return False
    items = s.order.items
    if len(items) == 1:
        t.set_slot("item", items[0].sku)
        return False
    names = [i.name for i in items]
    for text in reversed(s.mentions):
        idx = match_item(text, names)
        if idx is not None:
            t.set_slot("item", items[idx].sku)
            return False
        if multi_item_ok(t) and means_all_items(text):
            t.set_slot("item", ALL_ITEMS)
            return False
    key = "ask_item" if len(items) <= 3 else "ask_item_open"
    if key not in t.spec.prompts:
        key = "ask_item"
    t.ask(key, "item", t.attempt("item"))
    return True


def need_slot(t: Turn, name: str) -> bool:
    if name in t.s.slots:
        return False
    t.ask(f"ask_{name}", name, t.attempt(name))
    return True


def multi_item_ok(t: Turn) -> bool:
    """Returns and exchanges can cover several items in one work order."""
    intent = t.spec.intents.get(t.s.intent or "")
    return intent is not None and intent.handler in ("return", "exchange")


def final_sale(t: Turn, item: OrderItem) -> bool:
    return item.final_sale or item.category in t.spec.policy.final_sale_categories


def outside_window(t: Turn) -> bool:
    order = t.s.order
    assert order is not None
    if order.delivered_on is None:
        return False
    return (t.s.today - order.delivered_on).days > t.spec.policy.return_window_days


def tell_then_anything_else(t: Turn, key: str, **extra: object) -> None:
    t.tell(key, 0, **extra)
    t.anything_else()


def work_order(t: Turn, wo_type: str, reason: str, **details: object) -> dict[str, object]:
    item = t.s.item
    if item is None and t.s.selected_items:
        details = {**details, "item_skus": [i.sku for i in t.s.selected_items]}
    return {
        "kind": "work_order",
        "type": wo_type,
        "reason": reason,
        "item_sku": item.sku if item is not None else None,
        "details": details,
    }


def _reason_text(t: Turn) -> str:
    reason = str(t.s.slots.get("reason", ""))
    if reason == "other":
        return "other: " + str(t.s.slots.get("reason_text", ""))[:400]
    return reason


def _not_delivered(t: Turn) -> bool:
    """For processing/cancelled orders a return makes no sense: offer the alternative."""
    order = t.s.order
    assert order is not None
    if order.status == "processing":
        t.propose("confirm_cancel", work_order(t, "cancellation", "cancel before shipping"))
        return True
    if order.status == "cancelled":
        tell_then_anything_else(t, "status_cancelled")
        return True
    return False


def _eligible(t: Turn) -> bool:
    for item in t.s.selected_items:
        if final_sale(t, item):
            tell_then_anything_else(t, "final_sale", item=item.name)
            return False
    if outside_window(t):
        tell_then_anything_else(t, "outside_window")
        return False
    return True


# --- intents ------------------------------------------------------------------------------------
def flow_return(t: Turn) -> None:
    if need_order(t) or _not_delivered(t) or need_item(t):
        return
    if not _eligible(t) or need_slot(t, "reason"):
        return
    order = t.s.order
    assert order is not None
    reason = t.spec.reasons.get(str(t.s.slots["reason"]))
    implied = reason.implies_received if reason is not None else True  # "other": described it
    if (order.status == "shipped" or not implied) and need_slot(t, "received"):
        return
    if t.s.slots.get("received") is False:
        if order.status == "delivered":
            t.propose("confirm_investigation", work_order(t, "investigation", "not received"))
        else:
            t.propose(
                "confirm_intercept", work_order(t, "cancellation", "intercept", intercept=True)
            )
        return
    t.propose("confirm_return", work_order(t, "return", _reason_text(t)))


def flow_exchange(t: Turn) -> None:
    if need_order(t) or _not_delivered(t):
        return
    order = t.s.order
    assert order is not None
    if order.status == "shipped":
        tell_then_anything_else(t, "status_shipped")
        return
    if need_item(t) or not _eligible(t) or need_slot(t, "exchange_for"):
        return
    want = str(t.s.slots["exchange_for"])
    reason = _reason_text(t) or "exchange"
    t.propose("confirm_exchange", work_order(t, "exchange", reason, exchange_for=want))


def flow_refund_status(t: Turn) -> None:
    if need_order(t):
        return
    order = t.s.order
    assert order is not None
    if not order.refunds:
        tell_then_anything_else(t, "no_refund")
        return
    refund = order.refunds[-1]
    tell_then_anything_else(
        t,
        "refund_status",
        refund_state=_REFUND_STATE.get(refund.state, refund.state),
        amount=say_money(refund.amount),
        refund_date=say_date(refund.expected_on, t.s.today) or "soon",
        refund_method=_your(refund.method),
    )


def _delivered_order(t: Turn) -> bool:
    """Get the order; if it is not delivered yet, say its status. True when it is delivered."""
    if need_order(t):
        return False
    order = t.s.order
    assert order is not None
    if order.status != "delivered":
        tell_then_anything_else(t, f"status_{order.status}")
        return False
    return True


def flow_order_status(t: Turn) -> None:
    if not _delivered_order(t):
        return
    received = t.s.slots.get("received")
    if received is None:
        t.ask("status_delivered", "received")
    elif received:
        t.anything_else()
    else:
        t.set(intent=intent_for(t, "delivery_problem"))
        flow_delivery_problem(t)


def flow_delivery_problem(t: Turn) -> None:
    if not _delivered_order(t):
        return
    t.propose("confirm_investigation", work_order(t, "investigation", "not received"))


def flow_price_protection(t: Turn) -> None:
    if need_order(t) or need_item(t):
        return
    order, item = t.s.order, t.s.item
    assert order is not None and item is not None
    if (t.s.today - order.ordered_on).days > t.spec.policy.price_protection_days:
        tell_then_anything_else(t, "price_window_passed")
        return
    if item.current_price is None or item.current_price >= item.price:
        tell_then_anything_else(t, "price_unchanged")
        return
    diff = round(item.price - item.current_price, 2)
    t.propose(
        "confirm_price_adjustment",
        work_order(t, "price_adjustment", "price dropped", difference=diff,
                   paid=item.price, current_price=item.current_price),
        old_price=say_money(item.price),
        new_price=say_money(item.current_price),
        difference=say_money(diff),
    )  # fmt: skip


def flow_cancel(t: Turn) -> None:
    if need_order(t):
        return
    order = t.s.order
    assert order is not None
    if order.status == "processing":
        t.propose("confirm_cancel", work_order(t, "cancellation", "cancel before shipping"))
    elif order.status == "shipped":
        t.propose("confirm_intercept", work_order(t, "cancellation", "intercept", intercept=True))
    elif order.status == "delivered":
        t.propose("offer_return", {"kind": "intent", "intent": intent_for(t, "return")})
    else:
        tell_then_anything_else(t, "status_cancelled")


def flow_policy(t: Turn) -> None:
    topic = t.s.slots.get("faq")
    faq = t.spec.faq.get(str(topic)) if topic else None
    if faq is not None:
        t.say(faq.answer.format_map(t.context()))
        t.anything_else()
    else:
        tell_then_anything_else(t, "policy_general")


def flow_handoff(t: Turn) -> None:
    t.transfer("caller asked for a person")


FLOWS: dict[str, Callable[[Turn], None]] = {
    "return": flow_return,
    "exchange": flow_exchange,
    "refund_status": flow_refund_status,
    "order_status": flow_order_status,
    "delivery_problem": flow_delivery_problem,
    "price_protection": flow_price_protection,
    "cancel": flow_cancel,
    "policy": flow_policy,
    "handoff": flow_handoff,
}


def advance(t: Turn) -> None:
    """Do the next thing the current intent needs (or ask what the caller wants)."""
    if t.s.intent is None:
        if "order_id" in t.s.slots and "ask_intent_order" in t.spec.prompts:
            t.ask("ask_intent_order", None)
        elif t.attempt("intent"):
            t.ask("help", None, t.attempt("intent") - 1)
        else:
            t.ask("ask_intent", None)
        return
    handler = t.spec.intents[t.s.intent].handler
    FLOWS[handler](t)
