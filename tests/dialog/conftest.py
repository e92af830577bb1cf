"""Fixtures for the dialog tests: the real dialog file, the seeded demo orders on a fixed day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from voice_agent.dialog.engine import DialogEngine
from voice_agent.dialog.script import MemoryOms, Transcript, parse_turn, run_script
from voice_agent.dialog.spec import DialogSpec, load_dialog
from voice_agent.dialog.types import Event
from voice_agent.oms.models import Order
from voice_agent.oms.seed import load_seed

ROOT = Path(__file__).resolve().parents[2]
DIALOG = ROOT / "dialogs" / "returns.yaml"
TODAY = date(2026, 11, 22)  # a Sunday; seed dates are relative to it


@pytest.fixture(scope="session")
def spec() -> DialogSpec:
    return load_dialog(DIALOG)


@pytest.fixture(scope="session")
def engine(spec: DialogSpec) -> DialogEngine:
    return DialogEngine(spec)


@pytest.fixture(scope="session")
def orders() -> list[Order]:
    return load_seed(TODAY)


def to_event(turn: str) -> list[Event]:
    """Caller turn shorthand: "#481526#" keys, "/silence", else speech."""
    return parse_turn(turn) or []


Run = Callable[..., tuple[Transcript, MemoryOms]]


@pytest.fixture
def run(engine: DialogEngine, orders: list[Order]) -> Run:
    def _run(
        *turns: str, down: bool = False, fail_work_orders: bool = False
    ) -> tuple[Transcript, MemoryOms]:
        events = [e for t in turns for e in to_event(t)]
        return run_script(
            engine, orders, events, TODAY, down=down, fail_work_orders=fail_work_orders
        )

    return _run
