"""The FastAPI application: health, Twilio endpoints and the embedded OMS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from loguru import logger

from voice_agent.capacity import CallCapacity, cores, default_limit
from voice_agent.console.api import console_router
from voice_agent.console.phone import phone_router
from voice_agent.metrics import CallMetrics, metrics_router
from voice_agent.pii import install_log_masking
from voice_agent.registry import ModelRegistry
from voice_agent.services import build_backends, build_services
from voice_agent.settings import Settings
from voice_agent.sip.server import start_sip
from voice_agent.store.api import calls_router
from voice_agent.telephony.twilio import stream_secret, twilio_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Models load in the background: ``/health`` answers 503 until they are in."""
    settings = settings or Settings()
    install_log_masking()
    backends = build_backends(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                models = await asyncio.to_thread(ModelRegistry.load, settings)
                services = await asyncio.to_thread(build_services, settings, models, backends)
                services.metrics = app.state.metrics
                app.state.services = services
            except Exception as exc:
                logger.exception("start-up failed")
                app.state.startup_error = repr(exc)

        loader = asyncio.create_task(load())
        backends.outbox.start()
        sip = await start_sip(settings, lambda: app.state.services, capacity=app.state.capacity)
        try:
            yield
        finally:
            loader.cancel()
            if app.state.services is not None and app.state.services.warmer is not None:
                await asyncio.to_thread(app.state.services.warmer.stop)
            if sip is not None:
                await sip.stop()
            await backends.aclose()

    app = FastAPI(title="voice_agent", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.stream_secret = stream_secret(settings)
    app.state.metrics = CallMetrics(
        on_answer=lambda seconds: app.state.capacity.answered(seconds, time.monotonic()),
        on_behind=lambda call, seconds: app.state.capacity.behind(call, seconds, time.monotonic()),
    )
    app.state.capacity = CallCapacity(
        settings.max_calls or default_limit(),
        on_full=app.state.metrics.calls_turned_away.inc,
        slow_answer_s=settings.slow_answer_s,
        always=cores(),
    )
    if not settings.twilio_auth_token:
        logger.warning(
            "VOICE_AGENT_TWILIO_AUTH_TOKEN is not set: Twilio webhooks are accepted unsigned "
            "(fine for local use; set it in production)"
        )
    app.state.services = None
    app.state.startup_error = None

    @app.get("/health")
    async def health() -> JSONResponse:
        services = app.state.services
        if services is not None:
            warm = services.warmer is None or services.warmer.done
            capacity = app.state.capacity
            return JSONResponse(
                {
                    "status": "ok",
                    "prompts_warm": warm,
                    "calls": capacity.in_use,  # a balancer in front of several boxes reads these
                    "max_calls": capacity.limit,
                    "answer_median_s": capacity.answer_median(time.monotonic()),
                    "behind_s": capacity.behind_median(time.monotonic()),
                }
            )
        status = "error" if app.state.startup_error else "loading"
        return JSONResponse({"status": status, "error": app.state.startup_error}, status_code=503)

    app.include_router(twilio_router())
    app.include_router(calls_router(backends.calls))
    app.include_router(metrics_router(app.state.metrics, backends.outbox.pending_count))
    app.include_router(console_router(backends.calls, settings.data_dir))
    app.include_router(phone_router())
    if backends.oms_app is not None:
        app.mount("/oms", backends.oms_app)
    return app
