"""How much of the agent's prompt the caller has heard, to go on with it after a false barge-in.

A barge-in pauses the prompt before it can tell an answer from an "uh-huh"
(:mod:`voice_agent.pipeline.barge_in`); when it was an "uh-huh", the prompt goes on from the
word the caller began to talk over, where Piper told where the words of that sentence start
(else from the sentence's start). Telephony output sends audio in real time (pipecat's websocket
output paces it like a sound card; the SIP transport sends RTP at 20 ms), so the seconds of agent
audio sent are the seconds the caller has heard, give or take one 40 ms chunk.

:class:`PlaybackClock` counts them after the output transport; :class:`PromptProgress` keeps the
sentences of the prompt now playing and finds the ones not yet heard whole, from each sentence's
synthesized length (:func:`unheard`).
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

#: A sentence the caller heard all but this much of counts as heard.
HEARD_SLACK_S = 0.1
#: How far before the pause the prompt goes on from (then back to a word's start), so that
#: the word the caller began to talk over is said again: on the agent's clock their speech
#: began ``barge_in_pause_s`` (0.15 s) and a Silero window before the pause, and on a real
#: line the round trip earlier still (the caller hears the agent late, and is heard late).
RESUME_BACK_S = 0.6


class PlaybackClock(FrameProcessor):
    """Seconds of agent speech sent to the caller so far (place it after the output transport,
    which passes each audio chunk on once it has been written).
    """

    def __init__(self) -> None:
        super().__init__(name="PlaybackClock")
        self.sent_s = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            self.sent_s += len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
        await self.push_frame(frame, direction)


def unheard(
    sentences: list[str], heard_s: float, seconds_of: Callable[[str], float | None]
) -> tuple[list[str], float]:
    """The sentences from the first one not heard whole, after ``heard_s`` of their audio, and
    how many seconds of that first one were heard.

    ``seconds_of`` gives a sentence's audio length, or None if it has not been synthesized (so
    it can't have been heard whole either).
    """
    end = 0.0
    for k, sentence in enumerate(sentences):
        seconds = seconds_of(sentence)
        if seconds is None or end + seconds - HEARD_SLACK_S > heard_s:
            return sentences[k:], max(0.0, heard_s - end)
        end += seconds
    return [], 0.0


class PromptProgress:
    """The sentences of the prompt now playing, and where its audio began on the clock.

    A prompt is everything said from the moment the agent starts talking after being quiet
    (several ``Say`` actions in a row play as one); :meth:`said` with ``new=True`` starts one.
    """

    def __init__(
        self,
        clock: PlaybackClock,
        split: Callable[[str], list[str]],
        seconds_of: Callable[[str], float | None],
        from_word: Callable[[str, float], str | None] = lambda sentence, at_s: None,
        words_begun: Callable[[str, float], int | None] = lambda sentence, at_s: None,
    ) -> None:
        """``from_word(sentence, at_s)`` gives the rest of ``sentence`` from the word that
        starts by ``at_s`` seconds into its audio, ready to be said at once (None: from its
        start; :meth:`~voice_agent.pipeline.tts.SentenceAudioCache.from_word`);
        ``words_begun(sentence, at_s)`` how many of its words have begun by then (None: not
        known; :meth:`~voice_agent.pipeline.tts.SentenceAudioCache.words_begun`).
        """
        self._clock = clock
        self._split = split
        self._seconds_of = seconds_of
        self._from_word = from_word
        self._words_begun = words_begun
        self._sentences: list[str] = []
        self._start_s = 0.0

    def said(self, text: str, *, new: bool) -> None:
        if new:
            self._sentences = []
            self._start_s = self._clock.sent_s
        self._sentences += self._split(text)

    def heard(self) -> str:
        """What of the prompt has been played: its sentences heard whole, and the words of the
        next that have begun (within :data:`HEARD_SLACK_S`; all of it where they are not
        known). Its echo, however late, holds no other words.
        """
        rest, into_s = self._playing()
        said = self._sentences[: len(self._sentences) - len(rest)]
        if rest:
            begun = self._words_begun(rest[0], into_s + HEARD_SLACK_S)
            said.append(rest[0] if begun is None else " ".join(rest[0].split()[:begun]))
        return " ".join(said)

    def asked(self) -> bool:
        """Whether the prompt has asked anything by now: a question among the sentences heard
        whole and the one playing (a caller may answer it before its end).
        """
        rest, _ = self._playing()
        begun = self._sentences[: len(self._sentences) - len(rest) + 1]
        return any(sentence.rstrip().endswith("?") for sentence in begun)

    def unheard(self) -> str:
        """The rest of the prompt, from the word the caller began to talk over ("" if all
        heard).
        """
        rest, into_s = self._playing()
        if rest and into_s > RESUME_BACK_S:
            rest[0] = self._from_word(rest[0], into_s - RESUME_BACK_S) or rest[0]
        return " ".join(rest)

    def _playing(self) -> tuple[list[str], float]:
        """The sentences not yet heard whole, and how far into the first the caller is."""
        return unheard(self._sentences, self._clock.sent_s - self._start_s, self._seconds_of)
