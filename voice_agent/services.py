"""Builds the per-process :class:`~voice_agent.pipeline.call.AgentServices` from settings."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from datetime import date

import httpx
from fastapi import FastAPI

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.spec import load_dialog
from voice_agent.dialog.types import CallStarted, Say
from voice_agent.oms.client import OmsClient
from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.pipeline.call import AgentServices
from voice_agent.pipeline.tts import split_sentences, synthesize_into
from voice_agent.registry import ModelRegistry
from voice_agent.settings import Settings
from voice_agent.store.calls import CallStore
from voice_agent.store.db import Database, default_database_url
from voice_agent.store.outbox import WorkOrderOutbox

EMBEDDED_OMS_BASE = "http://embedded-oms/"


class WorkOrderRejected(Exception):
    """The OMS refused the work order for good (it will never be opened)."""


class OutboxWorkOrders:
    """Work orders go through the durable outbox: written first, then delivered. The caller
    hears the OMS id, or our own reference while the OMS is unreachable.
    """

    def __init__(self, outbox: WorkOrderOutbox) -> None:
        self._outbox = outbox

    async def submit(self, request: WorkOrderCreate, idempotency_key: str) -> str:
        receipt = await self._outbox.submit(request, idempotency_key)
        if receipt.status == "rejected":
            raise WorkOrderRejected(receipt.error or "rejected by the OMS")
        return receipt.reference


@dataclass
class Backends:
    """Everything but the models: the embedded OMS (if any), the OMS client, the agent database
    (call records and the work-order outbox).
    """

    oms_app: FastAPI | None
    oms_client: OmsClient
    db: Database
    calls: CallStore
    outbox: WorkOrderOutbox

    async def aclose(self) -> None:
        await self.outbox.stop()
        await self.oms_client.aclose()
        self.db.dispose()
        if self.oms_app is not None:
            self.oms_app.state.close()


def build_backends(settings: Settings, today: date | None = None) -> Backends:
    """The embedded OMS (own SQLite file) and a client for it, or a client for ``oms_url``.

    The embedded OMS is reached with HTTP semantics in process (httpx's ASGI transport), so it
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
    db = Database(settings.database_url or default_database_url(settings.data_dir))
    return Backends(
        oms_app=oms_app,
        oms_client=client,
        db=db,
        calls=CallStore(db),
        outbox=WorkOrderOutbox(db, client),
    )


class PromptWarmer:
    """Synthesizes the greeting at once and the dialog's other fixed prompts in a background
    thread, so callers hear them without synthesis delay. ``stop()`` before the process exits:
    a thread left inside onnxruntime at interpreter exit aborts the process.

    The background thread runs at the lowest priority (niceness 19, Linux): it takes ~10 s of
    CPU after start-up, while the first calls may already be in, and no caller waits for it.
    """

    def __init__(self, engine: DialogEngine, models: ModelRegistry) -> None:
        self._models = models
        _state, actions = engine.start(CallStarted(call_sid="warm-up", today=date.today()))
        self.greeting = [a.text for a in actions if isinstance(a, Say)]
        # Every sentence without a placeholder, also those of templated prompts ("To confirm:"
        # before "you're returning the {item}..."): the caller hears it while the rest is made.
        self.others = [
            sentence
            for variants in engine.spec.prompts.values()
            for text in variants
            for sentence in split_sentences(text)
            if "{" not in sentence
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def warm_greeting(self) -> None:
        for text in self.greeting:
            synthesize_into(self._models.voice, self._models.tts_cache, text)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prompt-warm-up", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        """Every fixed prompt is in the cache (or warming was never started)."""
        return self._thread is None or not self._thread.is_alive()

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # not Linux: run as is
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for text in self.others:
            if self._stop.is_set():
                return
            synthesize_into(self._models.voice, self._models.tts_cache, text)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def build_services(
    settings: Settings, models: ModelRegistry, backends: Backends, *, warm_all_prompts: bool = True
) -> AgentServices:
    """Load the dialog, warm the prompt cache, and bundle what every call needs (blocking)."""
    engine = DialogEngine(load_dialog(settings.dialog_file))
    warmer = PromptWarmer(engine, models)
    warmer.warm_greeting()
    if warm_all_prompts:
        warmer.start()
    return AgentServices(
        settings=settings,
        models=models,
        engine=engine,
        orders=backends.oms_client,
        work_orders=OutboxWorkOrders(backends.outbox),
        recorder=backends.calls,
        warmer=warmer,
    )
