from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.common import wer
from voice_agent.audio import telephone_band
from voice_agent.speech.asr import BACKCHANNEL_AND_LOGPROB, AsrOptions, transcribe


@pytest.mark.models
@pytest.mark.speech
def test_telephone_band_utterance_is_transcribed(
    tiny_model, speech_dir: Path, references: dict[str, str], load_16k
) -> None:
    name = "en/librivox-0870.wav"
    audio = telephone_band(load_16k(speech_dir / name), 16000)
    text = transcribe(tiny_model, audio, AsrOptions())  # the default 20 s encoder window
    assert wer(references[name], text) <= 0.15, text


@pytest.mark.models
@pytest.mark.speech
def test_digits_come_back_as_digits_or_words(
    tiny_model, speech_dir: Path, references: dict[str, str], load_16k
) -> None:
    text = transcribe(tiny_model, load_16k(speech_dir / "en/one-two-three.wav"))
    assert wer(references["en/one-two-three.wav"], text) == 0.0, text


@pytest.mark.models
@pytest.mark.speech
def test_thirty_second_window_decodes_exactly_as_faster_whisper(
    tiny_model, speech_dir: Path, load_16k
) -> None:
    # The windowed decoder re-implements faster-whisper's single-window greedy decode; at
    # Whisper's own 30 s window the two must agree word for word.
    for name in ("en/librivox-0870.wav", "en/cards-005.wav", "en/jfk.flac"):
        audio = telephone_band(load_16k(speech_dir / name), 16000)
        stock = transcribe(tiny_model, audio, AsrOptions(window_s=None))
        assert transcribe(tiny_model, audio, AsrOptions(window_s=30.0)) == stock


@pytest.mark.models
@pytest.mark.speech
def test_a_batch_decodes_as_each_utterance_alone(tiny_model, speech_dir: Path, load_16k) -> None:
    from voice_agent.speech.asr import ORDER_NUMBER_PROMPT
    from voice_agent.speech.window import decode_windows

    names = ("en/librivox-0870.wav", "en/one-two-three.wav", "en/goforward.wav")
    audio = [telephone_band(load_16k(speech_dir / n), 16000) for n in names]
    opts = [AsrOptions(), AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT), AsrOptions()]
    alone = [transcribe(tiny_model, a, o) for a, o in zip(audio, opts, strict=True)]
    batch = decode_windows(tiny_model, list(zip(audio, opts, strict=True)))
    assert [heard.text for heard in batch] == alone
    assert all(alone)


@pytest.mark.models
def test_silence_and_too_short_audio_give_empty_text(tiny_model) -> None:
    rng = np.random.default_rng(1)
    assert transcribe(tiny_model, np.zeros(16000, dtype=np.float32)) == ""
    assert transcribe(tiny_model, (rng.standard_normal(16000) * 1e-4).astype(np.float32)) == ""
    assert transcribe(tiny_model, np.full(800, 0.1, dtype=np.float32)) == ""


def test_default_options_per_model() -> None:
    from voice_agent.speech.asr import DOMAIN_PROMPT, default_asr_options

    assert default_asr_options("tiny.en").initial_prompt == DOMAIN_PROMPT
    assert default_asr_options("base").initial_prompt is None
    assert default_asr_options("base", beam_size=2).beam_size == 2
    assert default_asr_options("tiny.en").beam_size == 1


def test_segment_filter() -> None:
    from faster_whisper.transcribe import Segment

    from voice_agent.speech.asr import join_segments

    def seg(text: str, no_speech: float, logprob: float, ratio: float = 1.2) -> Segment:
        return Segment(0, 0, 0.0, 1.0, text, [], logprob, ratio, no_speech, None, 0.0)

    opts = AsrOptions()
    assert join_segments([seg(" My order", 0.1, -0.3), seg(" is 4 8 1.", 0.2, -0.4)], opts) == (
        "My order is 4 8 1."
    )
    assert join_segments([seg(" Thank you.", 0.9, -1.2)], opts) == ""  # noise hallucination
    assert join_segments([seg(" Yes.", 0.9, -0.2)], opts) == "Yes."  # confident despite no_speech
    assert join_segments([seg(" one one one one one one one one", 0.1, -0.2, 3.0)], opts) == ""
    assert join_segments([seg(" You", 0.3, -0.5)], opts) == ""
    for stock in (" Thanks for watching.", " Thanks for watching!", " Thank you for watching."):
        assert join_segments([seg(stock, 0.3, -0.5)], opts) == "", stock
    assert join_segments([seg(" Thanks for waiting.", 0.3, -0.5)], opts) == "Thanks for waiting."
    # The prompt copied on noise: doubted as speech, its words unsure (see doubt_no_speech_prob)
    assert join_segments([seg(" I'd like to return an item.", 0.47, -1.08)], opts) == ""
    assert join_segments([seg(" Okay.", 0.42, -1.47)], opts) == ""
    # A short answer Whisper is doubtful of but reads well enough is kept
    assert join_segments([seg(" Yeah.", 0.4, -0.87)], opts) == "Yeah."
    assert join_segments([seg(" 2", 0.44, -1.14)], opts) == "2"
    assert join_segments([seg(" I'd like to return", 0.44, -1.14)], opts) == ""
    # Over a prompt, an "mm-hmm" over its echo that Whisper went on from its prompt's
    # "Mm-hmm. Uh-huh." with, and a caller's "And ..." (as live calls read them)
    over = replace(opts, drop_and_logprob=BACKCHANNEL_AND_LOGPROB)
    for made_up, logprob in (("And then, love.", -0.85), ("And I'm not.", -0.52)):
        assert join_segments([seg(f" {made_up}", 0.04, logprob)], opts) == made_up
        assert join_segments([seg(f" {made_up}", 0.04, logprob)], over) == "", made_up
    for said, logprob in (("And then what?", -0.14), ("And I want to refer.", -0.45)):
        assert join_segments([seg(f" {said}", 0.03, logprob)], over) == said
    for said, logprob in (("Refund.", -0.95), ("Andrew.", -0.9)):  # no "And" to go on with
        assert join_segments([seg(f" {said}", 0.05, logprob)], over) == said


@pytest.mark.models
def test_warm_up_also_primes_the_order_number_turn() -> None:
    from voice_agent.speech.asr import warm_up
    from voice_agent.speech.models import load_whisper, whisper_model_path
    from voice_agent.speech.window import _DIGIT_VOCAB

    model = load_whisper(whisper_model_path("tiny.en"), cpu_threads=1)
    assert model not in _DIGIT_VOCAB
    warm_up(model)
    # The digits-only decode ran: its vocabulary is built before the first caller needs it.
    assert model in _DIGIT_VOCAB


def test_slow_down_lengthens_the_turn_and_lowers_its_pitch() -> None:
    from voice_agent.speech.asr import SAMPLE_RATE, slow_down

    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    slowed = slow_down(tone, 0.9)
    assert slowed.dtype == np.float32
    assert abs(len(slowed) - SAMPLE_RATE / 0.9) <= 2
    spectrum = np.abs(np.fft.rfft(slowed))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(slowed)
    assert abs(peak_hz - 440 * 0.9) < 2


@pytest.mark.models
def test_a_decode_that_ran_out_of_tokens_keeps_its_loop_once(tiny_model) -> None:
    from types import SimpleNamespace

    from voice_agent.speech.window import _Item, _texts, _tokenizer

    opts = AsrOptions()
    tokenizer = _tokenizer(tiny_model, opts)
    looped = tokenizer.encode(" Eight oh, whoa. Eight oh, two eight oh, two eight oh, two eight oh")
    result = SimpleNamespace(sequences_ids=[looped], scores=[-0.3], no_speech_prob=0.01)

    def text(budget: int) -> str:
        item = _Item(0, np.zeros(1, np.float32), opts, [], budget)
        return _texts(tokenizer, [item], [result])[0][0]

    assert text(len(looped)) == "Eight oh, whoa. Eight oh, two"  # no end within the budget
    assert text(len(looped) + 1).endswith("two eight oh")  # it ended: kept as decoded
