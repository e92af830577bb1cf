from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI

from voice_agent.oms.embedded import create_oms_app
from voice_agent.oms.serve import ServerThread

TODAY = date(2026, 11, 20)


@pytest.fixture
def oms_app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_oms_app(tmp_path / "oms.sqlite3", today=TODAY)
    yield app
    app.state.close()


@pytest.fixture
def oms_server(oms_app: FastAPI) -> Iterator[ServerThread]:
    """The embedded OMS served by uvicorn on a loopback port."""
    with ServerThread(oms_app) as server:
        yield server
