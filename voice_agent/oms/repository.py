"""Storage of the embedded demo OMS: orders and work orders in their own SQLite file.

Synchronous SQLAlchemy Core; the FastAPI app in :mod:`voice_agent.oms.embedded` calls it from its
thread pool. Orders are stored as JSON documents (they are read whole, never queried by field);
work orders get real columns because they are listed by ``call_sid`` and deduplicated by
idempotency key.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from voice_agent.oms.models import Order, WorkOrder, WorkOrderCreate, orders_under
from voice_agent.oms.seed import DEFAULT_SEED, load_seed
from voice_agent.store.db import make_engine

metadata = MetaData()

orders_table = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("doc", Text, nullable=False),
)

work_orders_table = Table(
    "work_orders",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("call_sid", String(128), nullable=False, index=True),
    Column("order_id", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("item_sku", String(64)),
    Column("details", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("idempotency_key", String(255), unique=True),
    Column("request_hash", String(64)),
)

#: Work-order ids are "W" + a number: short enough to read to a caller, and never six digits
#: alone, so they can't be mistaken for an order number.
WORK_ORDER_ID_START = 10001


class UnknownOrder(LookupError):
    """The work order names an order the OMS does not have."""


class UnknownItem(ValueError):
    """The work order names an item SKU that is not part of the order."""


class InvalidDetails(ValueError):
    """The work order's ``details`` cannot be stored as JSON (NaN or infinite numbers)."""


class IdempotencyConflict(Exception):
    """The idempotency key was already used for a different request body."""

    def __init__(self, key: str, existing_id: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request "
            f"(work order {existing_id}); use a new key for a new request"
        )
        self.existing_id = existing_id


@dataclass(frozen=True)
class CreateResult:
    work_order: WorkOrder
    created: bool  # False when an earlier request with the same key is replayed


def request_hash(req: WorkOrderCreate) -> str:
    """Fingerprint a request body, to tell a replay from a key reused by mistake."""
    canonical = json.dumps(req.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def sqlite_engine(db_path: Path) -> Engine:
    """Open a SQLite file in WAL mode, so readers don't block the writer."""
    return make_engine(f"sqlite:///{db_path}")


class OmsRepository:
    """Orders and work orders of the embedded OMS."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    # --- orders ---------------------------------------------------------------------------------
    def seed_if_empty(self, today: date, seed_file: Path | None = None) -> int:
        """Load the seed orders when the database has none; returns how many were added."""
        with self.engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(orders_table)).scalar_one():
                return 0
            orders = load_seed(today, seed_file or DEFAULT_SEED)
            for order in orders:
                conn.execute(
                    insert(orders_table).values(
                        order_id=order.order_id, doc=order.model_dump_json()
                    )
                )
            return len(orders)

    def list_orders(self) -> list[Order]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(orders_table.c.doc).order_by(orders_table.c.order_id))
            return [Order.model_validate_json(doc) for (doc,) in rows]

    def orders_for_phone(self, phone: str) -> list[Order]:
        """The orders under ``phone`` (any form of the number; see :func:`phone_key`)."""
        # Phones sit inside the JSON docs in whatever form they were stored, so match in Python:
        # fine for the demo store's handful of orders.
        return orders_under(phone, self.list_orders())

    def get_order(self, order_id: str) -> Order | None:
        with self.engine.connect() as conn:
            doc = conn.execute(
                select(orders_table.c.doc).where(orders_table.c.order_id == order_id)
            ).scalar_one_or_none()
        return None if doc is None else Order.model_validate_json(doc)

    # --- work orders ----------------------------------------------------------------------------
    def create_work_order(
        self, req: WorkOrderCreate, idempotency_key: str | None = None
    ) -> CreateResult:
        """Open a work order, or return the one an earlier request with the same key opened.

        Raises:
            UnknownOrder: ``req.order_id`` is not an order.
            UnknownItem: ``req.item_sku`` is not an item of that order.
            InvalidDetails: ``req.details`` holds NaN or infinite numbers.
            IdempotencyConflict: the key was used before with a different body.

        """
        try:
            json.dumps(req.details, allow_nan=False, default=str)
            details = json.dumps(req.model_dump(mode="json")["details"], allow_nan=False)
        except ValueError as exc:
            raise InvalidDetails("details must not contain NaN or infinite numbers") from exc
        digest = request_hash(req)
        if idempotency_key is not None:
            earlier = self._by_key(idempotency_key, digest)
            if earlier is not None:
                return CreateResult(earlier, created=False)
        order = self.get_order(req.order_id)
        if order is None:
            raise UnknownOrder(f"order {req.order_id!r} does not exist")
        if req.item_sku is not None and all(i.sku != req.item_sku for i in order.items):
            raise UnknownItem(f"order {req.order_id!r} has no item with SKU {req.item_sku!r}")
        created_at = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                # Insert first: the write takes SQLite's lock up front (a read that later
                # upgrades to a write can fail with SQLITE_BUSY instead of waiting).
                pk = conn.execute(
                    insert(work_orders_table).values(
                        id=f"tmp-{uuid.uuid4().hex}",
                        call_sid=req.call_sid,
                        order_id=req.order_id,
                        type=req.type,
                        reason=req.reason,
                        item_sku=req.item_sku,
                        details=details,
                        status="open",
                        created_at=created_at.isoformat(),
                        idempotency_key=idempotency_key,
                        request_hash=digest,
                    )
                ).inserted_primary_key
                assert pk is not None
                seq = int(pk[0])
                wo_id = f"W{WORK_ORDER_ID_START + seq - 1}"
                conn.execute(
                    update(work_orders_table).where(work_orders_table.c.seq == seq).values(id=wo_id)
                )
        except IntegrityError:
            # Lost a race: another request inserted the same key first.
            if idempotency_key is not None:
                earlier = self._by_key(idempotency_key, digest)
                if earlier is not None:
                    return CreateResult(earlier, created=False)
            raise
        return CreateResult(
            WorkOrder(**req.model_dump(), id=wo_id, status="open", created_at=created_at),
            created=True,
        )

    def _by_key(self, key: str, digest: str) -> WorkOrder | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(work_orders_table).where(work_orders_table.c.idempotency_key == key)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        if row["request_hash"] != digest:
            raise IdempotencyConflict(key, row["id"])
        return _work_order(row)

    def get_work_order(self, wo_id: str) -> WorkOrder | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(work_orders_table).where(work_orders_table.c.id == wo_id))
                .mappings()
                .first()
            )
        return None if row is None else _work_order(row)

    def list_work_orders(self, call_sid: str | None = None) -> list[WorkOrder]:
        query = select(work_orders_table).order_by(work_orders_table.c.seq)
        if call_sid is not None:
            query = query.where(work_orders_table.c.call_sid == call_sid)
        with self.engine.connect() as conn:
            return [_work_order(row) for row in conn.execute(query).mappings()]


def _work_order(row: Any) -> WorkOrder:
    return WorkOrder(
        id=row["id"],
        call_sid=row["call_sid"],
        order_id=row["order_id"],
        type=row["type"],
        reason=row["reason"],
        item_sku=row["item_sku"],
        details=json.loads(row["details"]),
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
