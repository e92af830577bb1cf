"""Domain models shared by the embedded OMS, the OMS client and the dialog engine.

These mirror the OMS REST contract (``/oms/...``): a real OMS that speaks the same JSON can be
swapped in with ``VOICE_AGENT_OMS_URL``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

OrderStatus = Literal["processing", "shipped", "delivered", "cancelled"]
WorkOrderType = Literal[
    "return", "refund", "exchange", "investigation", "price_adjustment", "cancellation"
]


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
