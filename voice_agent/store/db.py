"""The agent's own database: call records and the work-order outbox, through SQLAlchemy.

SQLite by default (one file under ``data_dir``); PostgreSQL (or any SQLAlchemy URL) with
``VOICE_AGENT_DATABASE_URL`` so several agent processes can share one database. Everything here is
synchronous; the stores run it in worker threads.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

DEFAULT_DB_NAME = "voice_agent.sqlite3"


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData()

# No foreign keys on purpose: a turn or event that arrives for a call whose start was not recorded
# is still kept rather than failing the pipeline that reported it.

calls = Table(
    "calls",
    metadata,
    Column("call_sid", String(128), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("caller", String(128)),  # masked at write time
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("outcome", String(32)),
    Column("last_state", String(64)),
    Index("ix_calls_started_at", "started_at"),
)

call_turns = Table(
    "call_turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_sid", String(128), nullable=False, index=True),
    Column("speaker", String(16), nullable=False),
    Column("text", Text, nullable=False),  # masked at write time
    Column("at", UtcDateTime, nullable=False),
    Column("latency_ms", Integer),
    Column("interrupted", Boolean, nullable=False, default=False),
)

call_events = Table(
    "call_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_sid", String(128), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("data", JSON, nullable=False),  # masked at write time
)

#: One row per work order to open. ``payload`` keeps the raw request (the OMS needs it);
#: ``claimed_until`` is both the claim lease and the time of the next attempt.
outbox = Table(
    "work_order_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(32), unique=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("call_sid", String(128), nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | rejected
    Column("oms_id", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("claimed_until", UtcDateTime),
    Column("claimed_by", String(64)),
    Index("ix_outbox_due", "status", "claimed_until"),
)


def default_database_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / DEFAULT_DB_NAME).resolve()}"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; ``postgresql://`` URLs use psycopg 3 when it is installed."""
    sa_url = make_url(url)
    if sa_url.drivername == "postgresql" and importlib.util.find_spec("psycopg") is not None:
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    if sa_url.get_backend_name() != "sqlite":
        return create_engine(sa_url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if sa_url.database and sa_url.database != ":memory:":
        Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sa_url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


class Database:
    """An engine with the schema created, and a way to run blocking SQL off the event loop."""

    def __init__(self, engine_or_url: Engine | str) -> None:
        self.engine = (
            make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
        )
        metadata.create_all(self.engine)

    @classmethod
    def of(cls, engine_or_db: Database | Engine | str) -> Database:
        return engine_or_db if isinstance(engine_or_db, Database) else cls(engine_or_db)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def dispose(self) -> None:
        self.engine.dispose()
