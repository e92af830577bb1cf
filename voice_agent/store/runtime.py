"""The agent's storage side as one object for ``create_app()``: database, call records, outbox.

Usage::

    store = AgentStore.from_settings(settings, oms_client)
    app.include_router(calls_router(store.calls))
    # in the lifespan:
    store.start()          # the outbox delivery worker, on the running loop
    ...
    await store.aclose()   # stops the worker, disposes the engine (not the OMS client)
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.settings import Settings
from voice_agent.store.calls import CallStore
from voice_agent.store.db import Database, default_database_url
from voice_agent.store.outbox import WorkOrderOutbox
from voice_agent.store.outbox_rows import Receipt


def database_url(settings: Settings) -> str:
    """``VOICE_AGENT_DATABASE_URL``, else a SQLite file under ``data_dir``."""
    return settings.database_url or default_database_url(settings.data_dir)


class OutboxWorkOrders:
    """The pipeline's work-order sink: ``submit()`` returns the reference the caller hears.

    That is the OMS's work-order id when the OMS answered in time, else our own reference
    (``R100001``) which the outbox delivers later. :attr:`last_receipts` keeps the full receipts.
    """

    def __init__(self, outbox: WorkOrderOutbox) -> None:
        self.outbox = outbox
        self.last_receipts: dict[str, Receipt] = {}

    async def submit(self, request: WorkOrderCreate, idempotency_key: str) -> str:
        receipt = await self.submit_receipt(request, idempotency_key)
        return receipt.reference

    async def submit_receipt(self, request: WorkOrderCreate, idempotency_key: str) -> Receipt:
        receipt = await self.outbox.submit(request, idempotency_key)
        self.last_receipts[idempotency_key] = receipt
        if len(self.last_receipts) > 1000:
            self.last_receipts.pop(next(iter(self.last_receipts)))
        return receipt


class AgentStore:
    """Database + :class:`CallStore` + :class:`WorkOrderOutbox` (+ its worker) of one process.

    Args:
        engine_or_url: SQLAlchemy URL or engine of the agent database.
        oms_client: client the outbox delivers with (owned by the caller, not closed here).
        outbox_options: keyword arguments for :class:`WorkOrderOutbox` (``inline_timeout_s``...).
    """

    def __init__(
        self, engine_or_url: Engine | str, oms_client: OmsClient, **outbox_options: Any
    ) -> None:
        self.db = Database(engine_or_url)
        self.calls = CallStore(self.db)
        self.outbox = WorkOrderOutbox(self.db, oms_client, **outbox_options)
        self.work_orders = OutboxWorkOrders(self.outbox)

    @classmethod
    def from_settings(
        cls, settings: Settings, oms_client: OmsClient, **outbox_options: Any
    ) -> AgentStore:
        return cls(database_url(settings), oms_client, **outbox_options)

    def start(self) -> asyncio.Task[None]:
        """Start the outbox delivery worker on the running event loop."""
        return self.outbox.start()

    async def aclose(self) -> None:
        await self.outbox.stop()
        self.db.dispose()
