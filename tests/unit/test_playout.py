"""What the caller hears of the agent's media: the longest silence inside an answer."""

from __future__ import annotations

import pytest

from voice_agent.testing.playout import longest_silence
from voice_agent.testing.twilio_caller import Received

WORDS = b"\x10" * 800  # 100 ms of mu-law sound
QUIET = b"\xff" * 320  # 40 ms of digital silence


def media(*items: tuple[float, bytes]) -> list[Received]:
    return [Received(at, "media", payload) for at, payload in items]


def test_audio_sent_ahead_of_its_playing_time_plays_without_a_gap() -> None:
    # sent at twice the pace it plays, as the agent's transport does
    sent = media(*((k * 0.05, WORDS) for k in range(10)))
    assert longest_silence(sent) == 0.0


def test_a_late_chunk_leaves_the_caller_in_silence_until_it_arrives() -> None:
    # 0.2 s of words, then the next sentence arrives at 0.9 s: 0.7 s with nothing to play
    sent = media((0.0, WORDS), (0.0, WORDS), (0.9, WORDS))
    assert longest_silence(sent) == pytest.approx(0.7)


def test_digital_silence_sent_while_a_sentence_is_made_counts_as_silence() -> None:
    sent = media((0.0, WORDS), *((0.1 + k * 0.04, QUIET) for k in range(10)), (0.5, WORDS))
    assert longest_silence(sent) == pytest.approx(0.4)


def test_the_silence_after_the_last_words_and_before_the_first_is_not_inside_the_answer() -> None:
    sent = media((0.0, QUIET), (1.0, WORDS), (1.1, WORDS), (3.0, QUIET))
    assert longest_silence(sent) == 0.0
    assert longest_silence(media((0.0, QUIET))) == 0.0
