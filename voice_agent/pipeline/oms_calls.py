"""The dialog's OMS requests, turned into the engine events that answer them.

A failed request is an event too (with ``error``): the engine speaks a fallback, the call goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loguru import logger

from voice_agent.dialog.types import (
    CreateWorkOrder,
    LookupOrder,
    OrderLookedUp,
    OrdersOnFile,
    WorkOrderOpened,
)
from voice_agent.oms.models import WorkOrderCreate

if TYPE_CHECKING:
    from voice_agent.pipeline.call import AgentServices, OrderLookup, WorkOrderSink

Record = Callable[[str, dict[str, Any]], Awaitable[None]]


async def oms_answer(
    action: LookupOrder | CreateWorkOrder, services: AgentServices, call_sid: str, record: Record
) -> OrderLookedUp | WorkOrderOpened:
    """Carry out the dialog's OMS request; the engine event that answers it."""
    if isinstance(action, LookupOrder):
        return await lookup_order(services.orders, call_sid, action.order_id, record)
    return await open_work_order(services.work_orders, call_sid, action, record)


async def lookup_order(
    orders: OrderLookup, call_sid: str, order_id: str, record: Record
) -> OrderLookedUp:
    try:
        order = await orders.get_order(order_id)
    except Exception as exc:
        logger.warning(f"[{call_sid}] order lookup failed: {exc}")
        error = str(exc) or type(exc).__name__
        return OrderLookedUp(order_id=order_id, order=None, error=error)
    await record("order_lookup", {"order_id": order_id, "found": order is not None})
    return OrderLookedUp(order_id=order_id, order=order)


async def orders_on_file(
    orders: OrderLookup, call_sid: str, phone: str, record: Record
) -> OrdersOnFile:
    """The orders on file under the caller's phone number; none when the OMS can't say."""
    try:
        found = await orders.orders_for_phone(phone)
    except Exception as exc:
        logger.warning(f"[{call_sid}] orders on file not found: {exc}")
        return OrdersOnFile((), error=str(exc) or type(exc).__name__)
    order_ids = tuple(o.order_id for o in found)
    await record("orders_on_file", {"order_ids": list(order_ids)})
    return OrdersOnFile(order_ids)


async def open_work_order(
    sink: WorkOrderSink, call_sid: str, action: CreateWorkOrder, record: Record
) -> WorkOrderOpened:
    request = WorkOrderCreate(
        call_sid=call_sid,
        order_id=action.order_id,
        type=action.type,
        reason=action.reason,
        item_sku=action.item_sku,
        details=action.details,
    )
    try:
        reference = await sink.submit(request, action.request_id)
    except Exception as exc:
        logger.error(f"[{call_sid}] work order not accepted: {exc}")
        return WorkOrderOpened(request_id=action.request_id, reference=None, error=str(exc))
    await record(
        "work_order",
        {"request_id": action.request_id, "reference": reference} | request.model_dump(mode="json"),
    )
    return WorkOrderOpened(request_id=action.request_id, reference=reference)
