"""Orders under a caller's phone number: the key, the repository, the endpoint and the client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from voice_agent.oms.client import OmsClient, OmsUnavailable
from voice_agent.oms.models import phone_key
from voice_agent.oms.repository import OmsRepository, sqlite_engine
from voice_agent.oms.serve import FlakyApp, ServerThread

from .conftest import TODAY

# Seed order 481526 is stored under "+15550142211"; the forms a caller's number may arrive in:
DANA_FORMS = ["+15550142211", "15550142211", "5550142211", "+1 (555) 014-2211"]
UNKNOWN = "+15550000000"


@pytest.mark.parametrize("phone", DANA_FORMS)
def test_phone_key_of_each_form_is_the_last_ten_digits(phone: str) -> None:
    assert phone_key(phone) == "5550142211"


@pytest.mark.parametrize(
    ("phone", "key"),
    [("alice", None), ("101", None), (None, None), ("", None), ("555-0142", "5550142")],
)
def test_phone_key_of_non_numbers_is_none(phone: str | None, key: str | None) -> None:
    assert phone_key(phone) == key


@pytest.mark.parametrize("phone", DANA_FORMS)
def test_repository_finds_seeded_order_by_any_form(tmp_path: Path, phone: str) -> None:
    repo = OmsRepository(sqlite_engine(tmp_path / "r.sqlite3"))
    repo.seed_if_empty(TODAY)
    assert [o.order_id for o in repo.orders_for_phone(phone)] == ["481526"]


@pytest.mark.parametrize("phone", [UNKNOWN, "alice", "101", ""])
def test_repository_finds_nothing_for_unknown_or_non_numbers(tmp_path: Path, phone: str) -> None:
    repo = OmsRepository(sqlite_engine(tmp_path / "r.sqlite3"))
    repo.seed_if_empty(TODAY)
    assert repo.orders_for_phone(phone) == []


def test_repository_matches_stored_forms_and_sorts_by_order_id(tmp_path: Path) -> None:
    rows = [("300003", "555 014 2211"), ("100001", "+1-555-014-2211"), ("200002", "+15550178830")]
    orders = [
        f"  - {{order_id: '{order_id}', customer_name: A, status: processing, phone: '{phone}',\n"
        "     ordered_days_ago: 1, items: [{sku: X1, name: thing, price: 1.5}], total: 1.5}\n"
        for order_id, phone in rows
    ]
    no_phone = (
        "  - {order_id: '400004', customer_name: B, status: processing, ordered_days_ago: 1,\n"
        "     items: [{sku: X1, name: thing, price: 1.5}], total: 1.5}\n"
    )
    seed = tmp_path / "seed.yaml"
    seed.write_text("orders:\n" + "".join(orders) + no_phone)
    repo = OmsRepository(sqlite_engine(tmp_path / "r.sqlite3"))
    assert repo.seed_if_empty(TODAY, seed) == 4
    assert [o.order_id for o in repo.orders_for_phone("+15550142211")] == ["100001", "300003"]


def test_endpoint_with_and_without_phone(oms_server: ServerThread) -> None:
    with httpx.Client(base_url=oms_server.url) as http:
        everything = http.get("/orders")
        assert everything.status_code == 200 and len(everything.json()) >= 8
        for phone in DANA_FORMS:
            mine = http.get("/orders", params={"phone": phone})
            assert mine.status_code == 200
            assert [o["order_id"] for o in mine.json()] == ["481526"], phone
        for phone in (UNKNOWN, "alice"):
            none = http.get("/orders", params={"phone": phone})
            assert none.status_code == 200 and none.json() == []
        too_long = http.get("/orders", params={"phone": "1" * 33})
        assert too_long.status_code == 422 and too_long.json()["detail"]


async def test_client_returns_that_phones_orders(oms_server: ServerThread) -> None:
    async with OmsClient(oms_server.url) as oms:
        orders = await oms.orders_for_phone("5550178830")
        assert [o.order_id for o in orders] == ["735902"]
        assert orders[0].customer_name == "Marcus Ortega"
        assert await oms.orders_for_phone(UNKNOWN) == []


async def test_client_sends_no_request_for_a_sip_user_name(oms_app: FastAPI) -> None:
    counter = FlakyApp(oms_app, fail=0, method="GET", path="/orders")
    with ServerThread(counter) as server:
        async with OmsClient(server.url) as oms:
            assert await oms.orders_for_phone("alice") == []
            assert await oms.orders_for_phone("101") == []
            assert counter.passed == 0
            assert [o.order_id for o in await oms.orders_for_phone("+15550142211")] == ["481526"]
            assert counter.passed == 1


async def test_client_propagates_an_outage(oms_app: FastAPI) -> None:
    down = FlakyApp(oms_app, fail=10, status=503, method="GET", path="/orders")
    with ServerThread(down) as server:
        async with OmsClient(server.url, retries=1, backoff_s=0.01) as oms:
            with pytest.raises(OmsUnavailable) as info:
                await oms.orders_for_phone("+15550142211")
    assert info.value.status == 503 and down.failed == 2


async def test_client_filters_when_the_oms_ignores_the_phone_parameter(oms_app: FastAPI) -> None:
    """A retailer's OMS that ignores ``?phone=`` and sends every order.

    httpx.MockTransport stands in for that third-party OMS (ours honours the parameter); it
    answers with the real seeded orders.
    """
    repo: OmsRepository = oms_app.state.oms_repository
    every_order = [o.model_dump(mode="json") for o in repo.list_orders()]
    seen: list[httpx.URL] = []

    def ignores_phone(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=every_order)

    transport = httpx.MockTransport(ignores_phone)
    async with OmsClient("http://oms.invalid", transport=transport) as oms:
        orders = await oms.orders_for_phone("+1 (555) 014-2211")
    assert [o.order_id for o in orders] == ["481526"]
    assert len(every_order) >= 8
    assert [(u.path, u.params.get("phone")) for u in seen] == [("/orders", "+1 (555) 014-2211")]
