"""Which sentences of a paused prompt the caller has not heard whole, the word it goes on from,
and the clock behind it."""

from __future__ import annotations

from pipecat.frames.frames import OutputAudioRawFrame, TTSAudioRawFrame
from pipecat.tests.utils import run_test

from voice_agent.pipeline.prompt_playback import (
    HEARD_SLACK_S,
    RESUME_BACK_S,
    PlaybackClock,
    PromptProgress,
    unheard,
)
from voice_agent.pipeline.tts import split_sentences

LENGTHS = {"Thanks for calling.": 1.2, "I can help with returns.": 1.8, "What can I do?": 1.0}
SENTENCES = list(LENGTHS)


def test_nothing_heard_is_the_whole_prompt():
    assert unheard(SENTENCES, 0.0, LENGTHS.get) == (SENTENCES, 0.0)


def test_the_sentence_being_heard_is_the_first_unheard_with_how_much_of_it_was_heard():
    rest, into_s = unheard(SENTENCES, 1.5, LENGTHS.get)
    assert rest == SENTENCES[1:] and abs(into_s - 0.3) < 1e-9
    rest, into_s = unheard(SENTENCES, 2.5, LENGTHS.get)
    assert rest == SENTENCES[1:] and abs(into_s - 1.3) < 1e-9


def test_a_sentence_heard_to_its_last_tenth_of_a_second_counts_as_heard():
    assert unheard(SENTENCES, 1.15, LENGTHS.get)[0] == SENTENCES[1:]
    assert unheard(SENTENCES, 2.95, LENGTHS.get)[0] == SENTENCES[2:]


def test_all_heard_leaves_nothing():
    assert unheard(SENTENCES, 4.0, LENGTHS.get) == ([], 0.0)


def test_a_sentence_not_yet_synthesized_and_all_after_it_are_unheard():
    lengths = {"Thanks for calling.": 1.2}
    rest, into_s = unheard(SENTENCES, 1.5, lengths.get)
    assert rest == SENTENCES[1:] and abs(into_s - 0.3) < 1e-9


def frames(seconds: float, cls: type = TTSAudioRawFrame) -> list:
    chunk = b"\x00\x00" * 320  # 40 ms at 8 kHz
    return [
        cls(audio=chunk, sample_rate=8000, num_channels=1) for _ in range(round(seconds / 0.04))
    ]


async def test_the_clock_counts_agent_speech_passed_on_by_the_output_transport():
    clock = PlaybackClock()
    await run_test(clock, frames_to_send=frames(1.2) + frames(0.4, OutputAudioRawFrame))
    assert abs(clock.sent_s - 1.2) < 1e-9  # plain output audio (e.g. hold music) is not speech


def test_progress_of_a_prompt_made_of_several_says_from_where_its_audio_began():
    clock = PlaybackClock()
    clock.sent_s = 10.0  # earlier prompts
    progress = PromptProgress(clock, split_sentences, LENGTHS.get)
    progress.said("Thanks for calling. I can help with returns.", new=True)
    progress.said("What can I do?", new=False)
    clock.sent_s = 10.0 + 3.5
    assert progress.unheard() == "What can I do?"
    clock.sent_s = 10.0 + 1.0
    assert progress.unheard() == " ".join(SENTENCES)
    progress.said("What can I do?", new=True)  # a new prompt starts from the clock's position
    assert progress.unheard() == "What can I do?"
    clock.sent_s += 1.0
    assert progress.unheard() == ""


def test_a_prompt_goes_on_from_the_word_the_caller_began_to_talk_over():
    asked: list[tuple[str, float]] = []

    def from_word(sentence: str, at_s: float) -> str | None:
        asked.append((sentence, at_s))
        return "help with returns." if sentence == "I can help with returns." else None

    clock = PlaybackClock()
    progress = PromptProgress(clock, split_sentences, LENGTHS.get, from_word)
    progress.said(" ".join(SENTENCES), new=True)
    clock.sent_s = 1.2 + 1.0  # 1.0 s into the second sentence
    assert progress.unheard() == "help with returns. What can I do?"
    assert asked[0][0] == "I can help with returns."
    assert abs(asked[0][1] - (1.0 - RESUME_BACK_S)) < 1e-9
    clock.sent_s = 3.0 + RESUME_BACK_S + 0.2  # the third: no word to go on from but its first
    assert progress.unheard() == "What can I do?"
    clock.sent_s = 3.0 + RESUME_BACK_S / 2  # too early in it to ask
    assert progress.unheard() == "What can I do?"
    assert [sentence for sentence, _ in asked] == [SENTENCES[1], SENTENCES[2]]


def test_what_was_played_of_a_prompt_ends_at_the_words_begun_of_the_sentence_playing():
    asked: list[tuple[str, float]] = []

    def words_begun(sentence: str, at_s: float) -> int | None:
        asked.append((sentence, at_s))
        return 3 if sentence == "I can help with returns." else None

    clock = PlaybackClock()
    progress = PromptProgress(clock, split_sentences, LENGTHS.get, words_begun=words_begun)
    progress.said(" ".join(SENTENCES), new=True)
    clock.sent_s = 1.2 + 0.5
    assert progress.heard() == "Thanks for calling. I can help"
    assert asked == [("I can help with returns.", 0.5 + HEARD_SLACK_S)]
    clock.sent_s = 3.2  # the third sentence's words are not known: all of it may have been
    assert progress.heard() == " ".join(SENTENCES)
    clock.sent_s = 4.0
    assert progress.heard() == " ".join(SENTENCES)


def test_a_prompt_has_asked_once_its_question_has_begun():
    clock = PlaybackClock()
    progress = PromptProgress(clock, split_sentences, LENGTHS.get)
    assert not progress.asked()  # nothing said yet
    progress.said(" ".join(SENTENCES), new=True)
    # The question begins 3.0 s in; the sentence before counts as heard whole 0.1 s earlier.
    for at_s, asked in ((0.0, False), (2.85, False), (2.95, True), (4.5, True)):
        clock.sent_s = at_s
        assert progress.asked() is asked, at_s
    progress.said("Thanks for calling.", new=True)  # a new prompt asks nothing yet
    assert not progress.asked()
