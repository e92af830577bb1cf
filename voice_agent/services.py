"""Builds the per-process :class:`~voice_agent.pipeline.call.AgentServices` from settings."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.oms.client import OmsClient
from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.pipeline.call import AgentServices
from voice_agent.registry import ModelRegistry
from voice_agent.settings import Settings

EMBEDDED_OMS_BASE = "http://embedded-oms/"


class DirectWorkOrders:
    """Opens work orders straight through the OMS client (no outbox)."""

    def __init__(self, client: OmsClient) -> None:
        self._client = client

    async def submit(self, request: WorkOrderCreate, idempotency_key: str) -> str:
        return (await self._client.create_work_order(request, idempotency_key)).id


@dataclass
class Backends:
    """The OMS side of the agent: the embedded OMS app (if any) and the client that reaches it."""

    oms_app: FastAPI | None
    oms_client: OmsClient
    closers: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.oms_client.aclose()
        if self.oms_app is not None:
            self.oms_app.state.close()


def build_backends(settings: Settings, today: date | None = None) -> Backends:
    """The embedded OMS (own SQLite file) and a client for it, or a client for ``oms_url``.

    The embedded OMS is reached over HTTP semantics in process (httpx's ASGI transport), so it
    goes through the same client, status codes and idempotency headers as a remote OMS.
    """
    oms_app = None
    if settings.embedded_oms:
        oms_app = create_oms_app(
            settings.sqlite_path("oms.sqlite3"), settings.oms_seed_file, today=today
        )
    if settings.oms_url:
        client = OmsClient(settings.oms_url, timeout_s=settings.oms_timeout_s)
    elif oms_app is not None:
        client = OmsClient(
            EMBEDDED_OMS_BASE,
            timeout_s=settings.oms_timeout_s,
            transport=httpx.ASGITransport(app=oms_app),
        )
    else:
        raise ValueError("no OMS: set VOICE_AGENT_OMS_URL or enable the embedded OMS")
    return Backends(oms_app=oms_app, oms_client=client)


def build_services(
    settings: Settings, models: ModelRegistry, backends: Backends, stack: AsyncExitStack | None = None
) -> AgentServices:
    engine = DialogEngine(load_dialog(settings.dialog_file))
    return AgentServices(
        settings=settings,
        models=models,
        engine=engine,
        orders=backends.oms_client,
        work_orders=DirectWorkOrders(backends.oms_client),
    )
