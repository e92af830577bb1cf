"""Domain models shared by the embedded OMS, the OMS client and the dialog engine.

These mirror the OMS REST contract (``/oms/...``): a real OMS that speaks the same JSON can be
swapped in with ``VOICE_AGENT_OMS_URL``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

OrderStatus = Literal["processing", "shipped", "delivered", "cancelled"]
WorkOrderType = Literal[
    "return", "refund", "exchange", "investigation", "price_adjustment", "cancellation"
]

_NON_DIGITS = re.compile(r"[^0-9]")
#: Fewer digits than this is a SIP user name or an extension ("alice", "101"), not a number.
_MIN_PHONE_DIGITS = 7


def phone_key(phone: str | None) -> str | None:
    """The number's last 10 digits, so one caller's number matches whichever form it came in.

    Twilio gives the caller's number in E.164 (``+15550142211``); a SIP trunk may give the
    national form (``5550142211``) and an OMS may store it formatted (``+1 (555) 014-2211``).
    Returns None when ``phone`` is None or has fewer than 7 digits.
    """
    if phone is None:
        return None
    digits = _NON_DIGITS.sub("", phone)
    return digits[-10:] if len(digits) >= _MIN_PHONE_DIGITS else None


def orders_under(phone: str | None, orders: Iterable[Order]) -> list[Order]:
    """The ``orders`` under ``phone`` in any of its forms (:func:`phone_key`); none when
    ``phone`` is not a phone number.
    """
    key = phone_key(phone)
    return [] if key is None else [o for o in orders if phone_key(o.phone) == key]


class OrderItem(BaseModel):
    sku: str
    name: str
    category: str = "general"
    price: float
    quantity: int = 1
    final_sale: bool = False
    size: str | None = None
    colour: str | None = None
    current_price: float | None = None  # today's price, for price protection


class Refund(BaseModel):
    refund_id: str
    state: Literal["pending", "processing", "issued", "rejected"]
    amount: float
    method: str = "original payment method"
    expected_on: date | None = None


class Order(BaseModel):
    order_id: str
    customer_name: str
    phone: str | None = None
    email: str | None = None
    status: OrderStatus
    ordered_on: date
    shipped_on: date | None = None
    delivered_on: date | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    items: list[OrderItem]
    total: float
    refunds: list[Refund] = Field(default_factory=list)


class WorkOrderCreate(BaseModel):
    """What the agent asks the OMS to open."""

    call_sid: str = Field(min_length=1, max_length=128)
    order_id: str = Field(min_length=1, max_length=64)
    type: WorkOrderType
    reason: str = Field(default="", max_length=500)
    item_sku: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict)


class WorkOrder(WorkOrderCreate):
    id: str
    status: Literal["open", "in_progress", "closed", "cancelled"] = "open"
    created_at: datetime
