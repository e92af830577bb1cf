"""Where the words of a synthesized sentence start, and a sentence cut at one of them: a prompt
an "uh-huh" paused goes on from the word the caller talked over, not from its sentence's start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from voice_agent.pipeline.tts import (
    FADE_IN_S,
    SentenceAudioCache,
    SharedPiperTTSService,
    first_spoken,
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


def phonemes(said: dict[str, str]) -> Callable[[str], list[list[str]]]:
    """A stand-in for the voice's ``phonemize``: each text Piper is asked for, as it says it."""
    return lambda text: [list(said[text])]


def test_words_are_unknown_without_alignments_or_where_piper_joins_or_splits_them() -> None:
    assert word_starts("Hi there.", [Chunk(None, bytes(200))]) is None
    joined = chunk(("^", 10), ("f", 20), ("ð", 20), (" ", 5), ("ɹ", 30), ("$", 10))  # "fɚðə"
    assert word_starts("for the return.", [joined]) is None  # no phonemizer to match them


def test_a_word_piper_says_within_the_one_before_has_no_start_of_its_own() -> None:
    joined = chunk(("^", 10), ("f", 20), ("ð", 20), (" ", 5), ("ɹ", 30), ("$", 10))
    said = {"for": "fɔɹ", "for the": "fɚðə", "for the return.": "fɚðə ɹᵻtɜn."}
    assert first_spoken(["for", "the", "return."], phonemes(said)) == ([0, None, 1], 2)
    assert word_starts("for the return.", [joined], phonemes(said)) == (0, None, 50)


def test_a_word_piper_says_as_several_starts_at_the_first() -> None:
    price = chunk(("^", 10), ("t", 20), (" ", 5), ("f", 20), (" ", 5), ("d", 30), ("$", 10))
    said = {"24": "twɛnti fɔɹ", "24 dollars.": "twɛnti fɔɹ dɑlɚz."}
    assert word_starts("24 dollars.", [price], phonemes(said)) == (0, 55)


def test_words_stay_unknown_where_piper_is_not_matched_by_its_phonemes() -> None:
    joined = chunk(("^", 10), ("f", 20), ("ð", 20), (" ", 5), ("ɹ", 30), ("$", 10))
    more = {"for": "fɔɹ", "for the": "fɔɹ ðə", "for the return.": "fɔɹ ðə ɹᵻtɜn."}
    assert word_starts("for the return.", [joined], phonemes(more)) is None  # 3 words, not 2
    fewer = {"for": "fɔɹ", "for the": "", "for the return.": "fɚðə ɹᵻtɜn."}
    assert first_spoken(["for", "the", "return."], phonemes(fewer)) is None


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


def test_a_sentence_is_not_cut_inside_a_word_piper_joined() -> None:
    cache = SentenceAudioCache()
    audio = np.full(1000, 1000, "<i2").tobytes()
    cache.put("the reason for the return", audio, (0, 150, 500, None, 800))
    assert cache.from_word("the reason for the return", 0.7, 1000) == "for the return"
    assert cache.from_word("for the return", 0.2, 1000) is None  # "the" has no start: "for"
    assert cache.from_word("for the return", 0.35, 1000) == "return"


def test_the_words_begun_by_then_count_a_joined_word_with_the_one_before() -> None:
    cache = SentenceAudioCache()
    audio = np.zeros(1000, "<i2").tobytes()
    cache.put("the reason for the return", audio, (10, 150, 500, None, 800))
    begun = [cache.words_begun("the reason for the return", s, 1000) for s in (0, 0.2, 0.5, 0.9)]
    assert begun == [0, 2, 4, 5]  # "the" joined with "for" has begun with it
    cache.put("no words known", b"\x00\x00")
    assert cache.words_begun("no words known", 0.5, 1000) is None
    assert cache.words_begun("never said", 0.5, 1000) is None


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


@pytest.mark.models
def test_a_sentence_piper_joins_or_splits_words_of_is_cut_at_the_texts_words() -> None:
    """espeak-ng says "for the" as one word and "169" as three: the cuts are at the text's
    words all the same, and never inside one.
    """
    from voice_agent.registry import load_piper_voice

    voice = load_piper_voice()
    rate = voice.config.sample_rate
    cache = SentenceAudioCache()
    for sentence, rests in [
        ("What's the reason for the return?", ["the", "reason", "for", "return?"]),
        (
            "It now costs 169 dollars, you paid 199 dollars.",
            ["now", "costs", "169", "dollars,", "you", "paid", "199", "dollars."],
        ),
    ]:
        synthesize_into(voice, cache, sentence)
        seconds = cache.seconds(sentence, rate) or 0.0
        cuts = {cache.from_word(sentence, k / 50, rate) for k in range(round(seconds * 50))}
        starts = sorted(cut.split()[0] for cut in cuts if cut)
        assert starts == sorted(rests), cuts
        assert all(cut is None or sentence.endswith(" " + cut) for cut in cuts)
