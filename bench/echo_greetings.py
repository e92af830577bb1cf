"""How often a fresh agent takes its greeting's echo for the caller.

A fresh agent's first calls run on a busy event loop, where played audio used to reach the
echo canceller late and put its reference behind the echo (``voice_agent/speech/echo.py``,
:class:`~voice_agent.speech.echo.EchoReference`). Each of ``--agents`` agents is started
afresh and takes ``--calls`` calls one after the other; the caller says nothing while the
greeting comes back to the agent over an echoing line. A call whose greeting the agent
stopped (a Twilio ``clear``) or answered (a caller turn) counts as taken for the caller.
``--parallel`` runs that many such agents side by side, to load the box as CI does.

    python -m bench.echo_greetings --echo-db 15 --agents 6 --calls 3 --parallel 2
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import add_echo_arguments, echo_of, format_table, write_results
from voice_agent.pipeline.recording import caller_words
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import Echo, place_call


async def greeting(agent: AgentProcess, echo: Echo) -> dict[str, Any]:
    caller = await place_call(agent.base_url)
    caller.echo = echo
    async with caller:
        await caller.wait_for_prompt(caller.started_at, quiet_s=1.5)
        await caller.stop()
    clears = [r.at - caller.started_at for r in caller.received if r.event == "clear"]
    heard = caller_words(await agent.call_events(caller.call_sid) or [])
    return {"clear_s": clears[0] if clears else None, "heard": heard}


async def fresh_agents(n_agents: int, n_calls: int, echo: Echo) -> list[list[dict[str, Any]]]:
    out = []
    for _ in range(n_agents):
        with tempfile.TemporaryDirectory() as scratch:
            agent = AgentProcess(Path(scratch))
            await asyncio.to_thread(agent.__enter__)  # its start-up must not stall the others
            try:
                out.append([await greeting(agent, echo) for _ in range(n_calls)])
            finally:
                await asyncio.to_thread(agent.__exit__, None, None, None)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    echo = echo_of(args)
    if echo is None:
        raise SystemExit("--echo-db is needed: the greeting must come back")
    runs = await asyncio.gather(
        *(fresh_agents(args.agents, args.calls, echo) for _ in range(args.parallel))
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_echo_arguments(parser)
    parser.add_argument("--agents", type=int, default=6, help="fresh agents, one after another")
    parser.add_argument("--calls", type=int, default=3, help="calls each agent takes")
    parser.add_argument("--parallel", type=int, default=2, help="agents running side by side")
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
        print(f"  agent {t['agent']} call {t['call']}: clear at {t['clear_s']}, heard {t['heard']}")
    print(f"wrote {write_results(args.name, results)}")


if __name__ == "__main__":
    main()
