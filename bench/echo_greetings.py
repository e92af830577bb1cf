"""How often a fresh agent takes its greeting's echo for the caller.

A fresh agent's first calls run on a busy event loop, where played audio used to reach the
echo canceller late and put its reference behind the echo (``voice_agent/speech/echo.py``,
:class:`~voice_agent.speech.echo.EchoReference`). Each of ``--agents`` agents is started
afresh and takes ``--calls`` calls one after the other; the caller says nothing while the
greeting comes back to the agent over an echoing line. A call whose greeting the agent
stopped (a Twilio ``clear``) or answered (a caller turn) counts as taken for the caller.
``--parallel`` runs that many such agents side by side, to load the box as CI does.

``--stall-ms`` stops the agent's process (SIGSTOP) for that long, ``--stall-at-ms`` after the
greeting's first audio came, in every call: a box so busy that the agent gets no CPU for a
moment, the way CI's echo test failed now and then, made to happen on every call.

    python -m bench.echo_greetings --echo-db 15 --agents 6 --calls 3 --parallel 2
    python -m bench.echo_greetings --echo-db 15 --agents 1 --calls 15 --parallel 1 \
        --stall-ms 120 --stall-at-ms 0,30,50,80,120
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import add_echo_arguments, echo_of, format_table, write_results
from voice_agent.pipeline.recording import caller_words
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import Echo, place_call


@dataclass(frozen=True)
class Stall:
    """Stop the agent's process for ``seconds``, ``after_s`` after the greeting's first audio."""

    seconds: float
    after_s: float


async def greeting(agent: AgentProcess, echo: Echo, stall: Stall | None) -> dict[str, Any]:
    caller = await place_call(agent.base_url)
    caller.echo = echo
    async with caller:
        if stall is not None:
            first = await caller.first_media_at()
            await asyncio.sleep(max(0.0, first + stall.after_s - time.monotonic()))
            # In a thread: the caller's own event loop goes on sending its audio meanwhile.
            await asyncio.to_thread(stop_for, agent, stall.seconds)
        await caller.wait_for_prompt(caller.started_at, quiet_s=1.5)
        await caller.stop()
    clears = [r.at - caller.started_at for r in caller.received if r.event == "clear"]
    heard = caller_words(await agent.call_events(caller.call_sid) or [])
    return {"clear_s": clears[0] if clears else None, "heard": heard}


def stop_for(agent: AgentProcess, seconds: float) -> None:
    assert agent.proc is not None
    os.kill(agent.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(agent.proc.pid, signal.SIGCONT)


async def fresh_agents(
    n_agents: int, n_calls: int, echo: Echo, stalls: list[Stall | None]
) -> list[list[dict[str, Any]]]:
    out = []
    for _ in range(n_agents):
        with tempfile.TemporaryDirectory() as scratch:
            agent = AgentProcess(Path(scratch))
            await asyncio.to_thread(agent.__enter__)  # its start-up must not stall the others
            try:
                calls = []
                for c in range(n_calls):
                    stall = stalls[c % len(stalls)]
                    calls.append(await greeting(agent, echo, stall))
                    calls[-1]["stall"] = None if stall is None else asdict(stall)
                out.append(calls)
            finally:
                await asyncio.to_thread(agent.__exit__, None, None, None)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    echo = echo_of(args)
    if echo is None:
        raise SystemExit("--echo-db is needed: the greeting must come back")
    stalls: list[Stall | None] = [None]
    if args.stall_ms:
        at_ms = [float(at) for at in args.stall_at_ms.split(",")]
        stalls = [Stall(args.stall_ms / 1000, at / 1000) for at in at_ms]
    runs = await asyncio.gather(
        *(fresh_agents(args.agents, args.calls, echo, stalls) for _ in range(args.parallel))
    )
    agents = [calls for run in runs for calls in run]
    taken = [
        {"agent": a, "call": c, **call}
        for a, calls in enumerate(agents)
        for c, call in enumerate(calls)
        if call["clear_s"] is not None or call["heard"]
    ]
    return {
        "agents": len(agents),
        "calls": sum(len(calls) for calls in agents),
        "taken_for_the_caller": len(taken),
        "taken": taken,
        "echo": asdict(echo),
        "parallel": args.parallel,
        "stall_ms": args.stall_ms,
        "stall_at_ms": args.stall_at_ms if args.stall_ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_echo_arguments(parser)
    parser.add_argument("--agents", type=int, default=6, help="fresh agents, one after another")
    parser.add_argument("--calls", type=int, default=3, help="calls each agent takes")
    parser.add_argument("--parallel", type=int, default=2, help="agents running side by side")
    parser.add_argument("--stall-ms", type=float, default=0.0, help="stop the agent this long")
    parser.add_argument(
        "--stall-at-ms", default="50", help="after the greeting's first audio; calls take turns"
    )
    parser.add_argument("--name", default="echo_greetings")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(
        format_table(
            ["agents", "calls", "greetings taken for the caller"],
            [[results["agents"], results["calls"], results["taken_for_the_caller"]]],
        )
    )
    for t in results["taken"]:
        stall = f" (stall {t['stall']})" if t["stall"] else ""
        print(
            f"  agent {t['agent']} call {t['call']}{stall}: clear at {t['clear_s']}, "
            f"heard {t['heard']}"
        )
    print(f"wrote {write_results(args.name, results)}")


if __name__ == "__main__":
    main()
