"""The embedded OMS over real HTTP (uvicorn on loopback) and its repository."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.oms.repository import (
    IdempotencyConflict,
    OmsRepository,
    UnknownItem,
    UnknownOrder,
    sqlite_engine,
)
from voice_agent.oms.serve import ServerThread

from .conftest import TODAY

BODY = {"call_sid": "CA1", "order_id": "481526", "type": "return", "reason": "too small"}


def test_orders_list_and_lookup(oms_server: ServerThread) -> None:
    with httpx.Client(base_url=oms_server.url) as http:
        orders = http.get("/orders").json()
        assert {o["order_id"] for o in orders} >= {"481526", "735902", "220417"}
        one = http.get("/orders/481526")
        assert one.status_code == 200
        body = one.json()
        assert body["status"] == "delivered"
        assert body["delivered_on"] == str(TODAY - timedelta(days=6))
        assert [i["sku"] for i in body["items"]] == ["SHOE-BLU-42", "JKT-RAIN-M"]
        assert body["items"][0]["price"] == 89.99
        missing = http.get("/orders/999999")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "order '999999' not found"}


def test_work_order_idempotency_over_http(oms_server: ServerThread) -> None:
    with httpx.Client(base_url=oms_server.url) as http:
        first = http.post("/work-orders", json=BODY, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 201
        wo = first.json()
        assert wo["id"].startswith("W") and wo["status"] == "open"
        again = http.post("/work-orders", json=BODY, headers={"Idempotency-Key": "k1"})
        assert again.status_code == 200
        assert again.json() == wo
        other = dict(BODY, reason="wrong colour")
        conflict = http.post("/work-orders", json=other, headers={"Idempotency-Key": "k1"})
        assert conflict.status_code == 409
        assert "already used for a different request" in conflict.json()["detail"]
        listed = http.get("/work-orders", params={"call_sid": "CA1"}).json()
        assert listed == [wo]
        assert http.get(f"/work-orders/{wo['id']}").json() == wo
        assert http.get("/work-orders/W1").status_code == 404
        assert http.get("/work-orders", params={"call_sid": "nobody"}).json() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (dict(BODY, order_id="000000"), "order '000000' does not exist"),
        (dict(BODY, item_sku="NOPE"), "no item with SKU 'NOPE'"),
        (dict(BODY, type="teleport"), "type"),
        ({"order_id": "481526"}, "call_sid"),
    ],
)
def test_bad_work_orders_are_4xx_with_reason(
    oms_server: ServerThread, body: dict[str, object], fragment: str
) -> None:
    with httpx.Client(base_url=oms_server.url) as http:
        response = http.post("/work-orders", json=body)
        assert response.status_code == 422
        assert fragment in str(response.json()["detail"])
        assert http.get("/work-orders").json() == []


def test_malformed_json_is_422(oms_server: ServerThread) -> None:
    with httpx.Client(base_url=oms_server.url) as http:
        response = http.post(
            "/work-orders", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"call_sid":"a","order_id":"481526","type":"return","details":{"x":NaN}}', "NaN"),
        (b'{"call_sid":"a","order_id":"481526","type":"return","details":{"x":1e999}}', "NaN"),
        (b'{"call_sid":"a","order_id":"481526","type":"return","reason":"\\ud800"}', "reason"),
        (b'{"call_sid":"a","order_id":"481526","type":"return","details":' + b"[" * 5000, ""),
    ],
)
def test_hostile_bodies_are_4xx(oms_server: ServerThread, raw: bytes, fragment: str) -> None:
    with httpx.Client(base_url=oms_server.url) as http:
        response = http.post(
            "/work-orders", content=raw, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert fragment in response.text
        assert http.get("/work-orders").json() == []


def test_seed_only_when_empty_and_data_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "oms.sqlite3"
    app = create_oms_app(db, today=TODAY)
    repo: OmsRepository = app.state.oms_repository
    wo = repo.create_work_order(WorkOrderCreate.model_validate(BODY), "key").work_order
    app.state.close()
    again = create_oms_app(db, today=TODAY + timedelta(days=30))
    repo2: OmsRepository = again.state.oms_repository
    # Not reseeded: dates stay those of the first seeding.
    order = repo2.get_order("481526")
    assert order is not None and order.delivered_on == TODAY - timedelta(days=6)
    assert repo2.list_work_orders("CA1") == [wo]
    again.state.close()


def test_custom_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "orders:\n"
        "  - {order_id: '111222', customer_name: A B, status: processing, ordered_days_ago: 1,\n"
        "     items: [{sku: X1, name: thing, price: 1.5}], total: 1.5}\n"
    )
    app = create_oms_app(tmp_path / "o.sqlite3", seed_file=seed, today=TODAY)
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as http:
        assert [o["order_id"] for o in http.get("/orders").json()] == ["111222"]
    app.state.close()


def test_repository_rules(tmp_path: Path) -> None:
    repo = OmsRepository(sqlite_engine(tmp_path / "r.sqlite3"))
    assert repo.seed_if_empty(TODAY) > 0
    assert repo.seed_if_empty(TODAY) == 0
    req = WorkOrderCreate.model_validate(BODY)
    a = repo.create_work_order(req, "k")
    b = repo.create_work_order(req, "k")
    assert a.created and not b.created and a.work_order == b.work_order
    c = repo.create_work_order(req)  # no key: a new work order every time
    assert c.created and c.work_order.id != a.work_order.id
    with pytest.raises(IdempotencyConflict):
        repo.create_work_order(req.model_copy(update={"reason": "x"}), "k")
    with pytest.raises(UnknownOrder):
        repo.create_work_order(req.model_copy(update={"order_id": "123"}), "k2")
    with pytest.raises(UnknownItem):
        repo.create_work_order(req.model_copy(update={"item_sku": "Z"}), "k3")
    assert [w.id for w in repo.list_work_orders()] == [a.work_order.id, c.work_order.id]
