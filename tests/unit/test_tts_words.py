"""Where the words of a synthesized sentence start, and a sentence cut at one of them: a prompt
an "uh-huh" paused goes on from the word the caller talked over, not from its sentence's start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from voice_agent.pipeline.tts import (
    FADE_IN_S,
    SentenceAudioCache,
    SharedPiperTTSService,
    split_sentences,
    synthesize_into,
    word_starts,
)

RATE = 22050


@dataclass
class Aligned:
    phoneme: str
    num_samples: int


@dataclass
class Chunk:
    """What :func:`word_starts` reads of piper's ``AudioChunk``."""

    phoneme_alignments: list[Aligned] | None
    audio_int16_bytes: bytes


def chunk(*phonemes: tuple[str, int]) -> Chunk:
    aligned = [Aligned(p, n) for p, n in phonemes]
    return Chunk(aligned, bytes(2 * sum(a.num_samples for a in aligned)))


def test_words_start_at_the_gap_before_them_across_chunks() -> None:
    hi = chunk(("^", 100), ("h", 50), ("i", 50), (",", 80), (" ", 20), ("θ", 40), ("$", 10))
    two = chunk(("^", 30), ("t", 40), (" ", 15), ("ˈ", 5), ("u", 60), (".", 20), ("$", 10))
    assert word_starts("Hi, thanks. To you.", [hi, two]) == (0, 280, 350, 420)


def test_a_space_before_a_colon_starts_no_word() -> None:
    confirm = chunk(("^", 10), ("t", 20), (" ", 5), ("k", 30), (":", 10), (" ", 5), ("$", 10))
    assert word_starts("To confirm:", [confirm]) == (0, 30)


def test_words_are_unknown_without_alignments_or_where_piper_joins_or_splits_them() -> None:
    assert word_starts("Hi there.", [Chunk(None, bytes(200))]) is None
    joined = chunk(("^", 10), ("f", 20), ("ð", 20), (" ", 5), ("ɹ", 30), ("$", 10))  # "fɚðə"
    assert word_starts("for the return.", [joined]) is None


def test_a_sentence_is_cut_at_the_last_word_started_by_then_and_cached_as_its_own() -> None:
    cache = SentenceAudioCache()
    audio = (np.arange(1000) % 200 + 1000).astype("<i2").tobytes()
    cache.put("one two three four", audio, (0, 250, 500, 750))
    assert cache.from_word("one two three four", 0.01, 1000) is None  # still the first word
    rest = cache.from_word("one two three four", 0.6, 1000)
    assert rest == "three four"
    cut = np.frombuffer(cache.get(rest) or b"", "<i2")
    whole = np.frombuffer(audio, "<i2")
    fade = round(FADE_IN_S * 1000)
    assert len(cut) == 500 and np.array_equal(cut[fade:], whole[500 + fade :])
    assert abs(int(cut[0])) < abs(int(whole[500]))  # faded in: a hard start clicks
    assert cache.from_word(rest, 0.3, 1000) == "four"  # the cut knows its words too
    cache.put("no words known", audio)
    assert cache.from_word("no words known", 0.6, 1000) is None
    assert cache.from_word("never said", 0.6, 1000) is None


@pytest.mark.models
async def test_piper_tells_where_the_greetings_words_start_and_the_cut_plays_from_there() -> None:
    from voice_agent.registry import load_piper_voice

    voice = load_piper_voice()
    rate = voice.config.sample_rate
    cache = SentenceAudioCache()
    greeting = "Hi, thanks for calling the returns and refunds line."
    synthesize_into(voice, cache, greeting)
    tts = SharedPiperTTSService(voice, cache)
    [said] = split_sentences("How can I help you today?")
    fresh = b"".join([a async for a in tts._sentence_audio(said)])  # synthesized as it plays
    assert fresh and cache.from_word(said, 0.6, rate) is not None
    audio = np.frombuffer(cache.get(greeting) or b"", "<i2").astype(float)
    rest = cache.from_word(greeting, 1.4, rate)
    assert rest is not None and greeting.endswith(" " + rest), rest
    # The cut before "thanks" is in the pause after "Hi,", which it keeps: silence before it,
    # the word within 0.3 s after it.
    cuts = (cache.from_word(greeting, k / 20, rate) for k in range(1, 30))
    thanks = next(cut for cut in cuts if cut and cut.startswith("thanks"))
    start = len(audio) - len(cache.get(thanks) or b"") // 2
    before = audio[start - round(0.05 * rate) : start]
    after = audio[start + round(0.15 * rate) : start + round(0.3 * rate)]
    assert np.sqrt(np.mean(before**2)) < 100 < np.sqrt(np.mean(after**2))  # -50 dBFS
