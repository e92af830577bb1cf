"""OmsClient against the real embedded OMS on loopback, with real faults in front of it."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI

from voice_agent.oms.client import (
    OmsClient,
    OmsRejected,
    OmsUnavailable,
    idempotency_key,
)
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.oms.repository import OmsRepository
from voice_agent.oms.serve import FlakyApp, ServerThread, free_port

REQ = WorkOrderCreate(call_sid="CA9", order_id="735902", type="return", reason="broken")


async def test_get_order_and_missing(oms_server: ServerThread) -> None:
    async with OmsClient(oms_server.url) as oms:
        order = await oms.get_order("735902")
        assert order is not None and order.items[0].sku == "HDP-NC-700"
        assert await oms.get_order("000001") is None
        assert await oms.get_order("a/b?c") is None  # quoted, not a different route
        assert len(await oms.list_orders()) >= 8


async def test_create_is_idempotent(oms_server: ServerThread, oms_app: FastAPI) -> None:
    key = idempotency_key("CA9", "return", "735902")
    async with OmsClient(oms_server.url) as oms:
        first = await oms.create_work_order(REQ, key)
        second = await oms.create_work_order(REQ, key)
        assert first == second
        assert await oms.list_work_orders("CA9") == [first]
        assert await oms.get_work_order(first.id) == first
        with pytest.raises(OmsRejected) as info:
            await oms.create_work_order(REQ.model_copy(update={"reason": "other"}), key)
        assert info.value.status == 409 and not info.value.retryable
    repo: OmsRepository = oms_app.state.oms_repository
    assert len(repo.list_work_orders("CA9")) == 1


async def test_unknown_order_is_rejected_without_retry(oms_app: FastAPI) -> None:
    flaky = FlakyApp(oms_app, fail=0)
    sleeps: list[float] = []

    async def record(s: float) -> None:
        sleeps.append(s)

    with ServerThread(flaky) as server:
        async with OmsClient(server.url, sleep=record) as oms:
            with pytest.raises(OmsRejected) as info:
                await oms.create_work_order(REQ.model_copy(update={"order_id": "1"}), "kx")
    assert info.value.status == 422 and "does not exist" in str(info.value)
    assert flaky.passed == 1 and sleeps == []


async def test_500s_then_201_makes_exactly_one_work_order(oms_app: FastAPI) -> None:
    flaky = FlakyApp(oms_app, fail=2, status=500)
    with ServerThread(flaky) as server:
        async with OmsClient(server.url, retries=3, backoff_s=0.01) as oms:
            wo = await oms.create_work_order(REQ, "k-500")
    assert flaky.failed == 2 and flaky.passed == 1
    repo: OmsRepository = oms_app.state.oms_repository
    assert [w.id for w in repo.list_work_orders("CA9")] == [wo.id]


async def test_gives_up_after_retries_as_unavailable(oms_app: FastAPI) -> None:
    flaky = FlakyApp(oms_app, fail=10, status=503)
    with ServerThread(flaky) as server:
        async with OmsClient(server.url, retries=2, backoff_s=0.01) as oms:
            with pytest.raises(OmsUnavailable) as info:
                await oms.create_work_order(REQ, "k-503")
    assert info.value.status == 503 and info.value.retryable
    assert flaky.failed == 3  # first try + 2 retries


async def test_429_honours_retry_after(oms_app: FastAPI) -> None:
    flaky = FlakyApp(oms_app, fail=1, status=429, retry_after="1")
    sleeps: list[float] = []

    async def record(s: float) -> None:
        sleeps.append(s)

    with ServerThread(flaky) as server:
        async with OmsClient(server.url, backoff_s=0.01, sleep=record) as oms:
            await oms.create_work_order(REQ, "k-429")
    assert sleeps == [1.0]


async def test_closed_port_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with OmsClient(url, retries=1, backoff_s=0.01) as oms:
        started = time.monotonic()
        with pytest.raises(OmsUnavailable) as info:
            await oms.get_order("481526")
    assert "ConnectError" in str(info.value)
    assert time.monotonic() - started < 2


async def test_read_timeout_is_retryable(oms_app: FastAPI) -> None:
    async def slow(scope, receive, send):  # type: ignore[no-untyped-def]
        import asyncio

        if scope["type"] == "http":
            await asyncio.sleep(1.0)
        await oms_app(scope, receive, send)

    with ServerThread(slow) as server:
        async with OmsClient(server.url, timeout_s=0.2, retries=0) as oms:
            with pytest.raises(OmsUnavailable) as info:
                await oms.get_order("481526")
    assert "Timeout" in str(info.value)


async def test_garbled_answer_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": True})

    # MockTransport stands in for a broken third-party OMS; we can't make ours send garbage.
    async with OmsClient("http://oms.invalid", transport=httpx.MockTransport(handler)) as oms:
        with pytest.raises(OmsUnavailable):
            await oms.get_order("481526")


def test_idempotency_key_is_stable_and_distinct() -> None:
    a = idempotency_key("CA1", "return", "481526")
    assert a == idempotency_key("CA1", "return", "481526")
    assert a != idempotency_key("CA1", "refund", "481526")
    assert a != idempotency_key("CA2", "return", "481526")
    assert len(a) <= 64


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("120", 5.0, 5.0),
        ("soon", 0.0075, 0.0125),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0075, 0.0125),
    ],
)
async def test_retry_after_is_capped_and_bad_values_ignored(
    oms_app: FastAPI, retry_after: str, low: float, high: float
) -> None:
    flaky = FlakyApp(oms_app, fail=1, status=503, retry_after=retry_after)
    sleeps: list[float] = []

    async def record(s: float) -> None:
        sleeps.append(s)

    with ServerThread(flaky) as server:
        async with OmsClient(server.url, backoff_s=0.01, max_backoff_s=5.0, sleep=record) as oms:
            await oms.create_work_order(REQ, f"k-ra-{retry_after}")
    assert len(sleeps) == 1 and low <= sleeps[0] <= high
