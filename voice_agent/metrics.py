"""Prometheus metrics (``GET /metrics``): calls, latency, ASR speed, turn endings, outbox backlog.

Metrics live in a :class:`CallMetrics` object (its own ``CollectorRegistry``, so several apps or
tests in one process don't collide). Pipelines report into it through the call observer in
:mod:`voice_agent.pipeline.recording`; the outbox backlog is read when scraped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)
STAGES = ("vad_end_to_transcript", "transcript_to_first_audio", "end_of_speech_to_first_audio")


class CallMetrics:
    """The agent's metrics. Thread-safe (prometheus_client metrics are)."""

    def __init__(
        self,
        on_answer: Callable[[float], None] | None = None,
        on_behind: Callable[[str, float], None] | None = None,
    ) -> None:
        """``on_answer`` is told each end_of_speech_to_first_audio latency, ``on_behind`` how
        far behind the line each call's audio is handled (the call limit's pace,
        :class:`voice_agent.capacity.CallCapacity`).
        """
        self._on_answer = on_answer
        self._on_behind = on_behind
        self.registry = CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge(
            "voice_agent_active_calls", "Calls in progress", ["channel"], registry=r
        )
        self.calls_turned_away = Counter(
            "voice_agent_calls_turned_away",
            "Calls not taken because max_calls calls were in progress",
            registry=r,
        )
        self.calls_total = Counter(
            "voice_agent_calls", "Calls ended, by outcome", ["channel", "outcome"], registry=r
        )
        self.latency = Histogram(
            "voice_agent_latency_seconds",
            "Per-stage latency: vad_end_to_transcript (caller stops -> transcript), "
            "transcript_to_first_audio (transcript -> first agent audio out), "
            "end_of_speech_to_first_audio (caller stops -> first agent audio out)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.asr_rtf = Histogram(
            "voice_agent_asr_real_time_factor",
            "ASR time over utterance length: (caller stops -> transcript) / speech duration",
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "voice_agent_outbox_backlog", "Work orders written but not yet delivered", registry=r
        )
        self.caller_turns = Counter(
            "voice_agent_caller_turns",
            "Caller turns, by what ended them: transcript (the early transcript read as a "
            "finished answer, before the VAD's hangover ran out) or vad (the VAD's stop)",
            ["ended_by"],
            registry=r,
        )
        self.turns_held = Counter(
            "voice_agent_turns_held",
            "Early ends of turn vetoed because the caller sounded unfinished (left to the VAD)",
            registry=r,
        )
        self.work_orders = Counter(
            "voice_agent_work_orders", "Work orders opened by calls", ["type"], registry=r
        )

    def call_started(self, channel: str) -> None:
        self.active_calls.labels(channel=channel).inc()

    def call_ended(self, channel: str, outcome: str) -> None:
        self.active_calls.labels(channel=channel).dec()
        self.calls_total.labels(channel=channel, outcome=outcome).inc()

    def observe_latency(self, stage: str, seconds: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self.latency.labels(stage=stage).observe(max(seconds, 0.0))
        if stage == "end_of_speech_to_first_audio" and self._on_answer is not None:
            self._on_answer(seconds)

    def observe_behind(self, call_sid: str, seconds: float) -> None:
        if self._on_behind is not None:
            self._on_behind(call_sid, seconds)

    def observe_asr(self, processing_s: float, speech_s: float) -> None:
        if speech_s > 0.05:
            self.asr_rtf.observe(max(processing_s, 0.0) / speech_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_router(
    metrics: CallMetrics, backlog: Callable[[], Awaitable[int]] | None = None
) -> APIRouter:
    """``GET /metrics``; ``backlog`` (e.g. ``outbox.pending_count``) is awaited per scrape."""
    router = APIRouter(tags=["metrics"])

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def get_metrics() -> Response:
        if backlog is not None:
            with contextlib.suppress(Exception):  # a database hiccup must not fail the scrape
                metrics.outbox_backlog.set(await backlog())
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
