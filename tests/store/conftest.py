from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI

from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.repository import OmsRepository
from voice_agent.oms.serve import ServerThread

from .pg import PostgresUnavailable, fresh_database, temporary_cluster

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: VOICE_AGENT_TEST_POSTGRES_URL, or a temporary local one."""
    if os.environ.get("VOICE_AGENT_TEST_POSTGRES") == "0":
        pytest.skip("PostgreSQL variant disabled by VOICE_AGENT_TEST_POSTGRES=0")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("PostgreSQL variant needs the psycopg package (pip install psycopg[binary])")
    url = os.environ.get("VOICE_AGENT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        with temporary_cluster() as started:
            yield started
    except PostgresUnavailable as exc:
        pytest.skip(
            f"PostgreSQL variant skipped: set VOICE_AGENT_TEST_POSTGRES_URL or install the "
            f"Debian 'postgresql' package ({exc})"
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty agent database: a SQLite file, or a fresh database on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'agent.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    with fresh_database(server) as url:
        yield url


@pytest.fixture
def oms_app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_oms_app(tmp_path / "oms.sqlite3", today=TODAY)
    yield app
    app.state.close()


@pytest.fixture
def oms_repo(oms_app: FastAPI) -> OmsRepository:
    repo: OmsRepository = oms_app.state.oms_repository
    return repo


@pytest.fixture
def oms_server(oms_app: FastAPI) -> Iterator[ServerThread]:
    """The embedded OMS served by uvicorn on a loopback port."""
    with ServerThread(oms_app) as server:
        yield server
