"""The queue of Piper runs no caller waits for yet: one at a time, the most urgent first.

Real worker threads, held on a ``threading.Event`` so that the test decides when a run ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from voice_agent.pipeline.tts import SynthesisQueue


def held(gate: threading.Event, ran: list[str], name: str) -> Callable[[], str]:
    def run() -> str:
        ran.append(name)
        assert gate.wait(5)
        return name

    return run


def quick(ran: list[str], name: str) -> Callable[[], str]:
    def run() -> str:
        ran.append(name)
        return name

    return run


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


async def test_a_run_without_a_deadline_does_not_wait_for_the_slot() -> None:
    queue, gate, ran = SynthesisQueue(), threading.Event(), []
    busy = asyncio.ensure_future(queue.run(held(gate, ran, "later sentence"), deadline=1.0))
    await until(lambda: ran == ["later sentence"])
    assert await asyncio.wait_for(queue.run(quick(ran, "first sentence")), 5) == "first sentence"
    gate.set()
    assert await busy == "later sentence"


async def test_waiting_runs_go_by_deadline_not_by_arrival() -> None:
    queue, gate, ran = SynthesisQueue(), threading.Event(), []
    busy = asyncio.ensure_future(queue.run(held(gate, ran, "running"), deadline=0.0))
    await until(lambda: ran == ["running"])
    waiting = [
        asyncio.ensure_future(queue.run(quick(ran, f"due {due}"), deadline=due))
        for due in (3, 1, 2)
    ]
    await asyncio.sleep(0.05)
    assert ran == ["running"]  # one at a time
    gate.set()
    await asyncio.gather(busy, *waiting)
    assert ran == ["running", "due 1", "due 2", "due 3"]


async def test_a_run_cancelled_while_it_waits_leaves_the_slot_to_the_next() -> None:
    queue, gate, ran = SynthesisQueue(), threading.Event(), []
    busy = asyncio.ensure_future(queue.run(held(gate, ran, "running"), deadline=0.0))
    await until(lambda: ran == ["running"])
    dropped = asyncio.ensure_future(queue.run(quick(ran, "dropped"), deadline=1.0))
    kept = asyncio.ensure_future(queue.run(quick(ran, "kept"), deadline=2.0))
    await asyncio.sleep(0.05)
    dropped.cancel()
    gate.set()
    assert await busy == "running" and await kept == "kept"
    assert ran == ["running", "kept"]
    # and the slot came back: a later run is not stuck behind the cancelled one
    assert await asyncio.wait_for(queue.run(quick(ran, "after"), deadline=3.0), 5) == "after"


async def test_a_run_cancelled_while_its_thread_works_holds_the_slot_until_the_thread_ends() -> (
    None
):
    queue, gate, ran = SynthesisQueue(), threading.Event(), []
    cut_short = asyncio.ensure_future(queue.run(held(gate, ran, "cut short"), deadline=0.0))
    await until(lambda: ran == ["cut short"])
    cut_short.cancel()  # a prompt the caller barged in on: its sentence is still being made
    nxt = asyncio.ensure_future(queue.run(quick(ran, "next"), deadline=1.0))
    await asyncio.sleep(0.05)
    assert ran == ["cut short"]  # the thread still runs: the two would run side by side
    gate.set()
    assert await asyncio.wait_for(nxt, 5) == "next"
