"""Text to the caller's speech, on the process-wide Piper voice, sentence by sentence.

pipecat's ``PiperTTSService`` loads (or downloads) a voice per instance. This subclass takes the
shared, already loaded voice and caches the audio of sentences it has spoken, since a hotline says
the same prompts all day.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from functools import partial
from typing import Any, TypeVar

import numpy as np
from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.piper.tts import PiperTTSService, PiperTTSSettings
from pipecat.services.tts_service import TTSService
from piper import AudioChunk, PiperVoice

STOP_FRAME_TIMEOUT_S = 15.0
#: Piper ends every sentence on ~0.1-0.25 s of silence. After the last word of what the agent
#: says only this much is kept: an answer queued behind "Okay." starts when that audio ends.
TAIL_KEEP_S = 0.08
_SILENT = 328  # -40 dBFS in 16-bit PCM
#: Audio cut at a word (:meth:`SentenceAudioCache.from_word`) fades in over this long: in
#: connected speech the word may start loud, and a hard start clicks.
FADE_IN_S = 0.01
#: While a later sentence of what the agent says is still being synthesized (a busy box), a
#: little silence goes out this often: pipecat's output transport takes 3 s without audio for
#: the end of the agent's speech, and the dialog would take the prompt for played midway.
KEEP_TALKING_S = 1.0
# One chunk of the output transport's (4 x 10 ms by default): each goes out on its own.
_KEEP_TALKING_CHUNK_S = 0.04
# A colon ends a chunk too: "To confirm:" is the same on every call (cached, heard at once)
# while the rest, "you're returning the lamp from order...", is synthesized.
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")
# A sentence is also spoken in clauses, split before ", because", ", so", ", but" and ", and"
# once the clause before has CLAUSE_MIN_WORDS words: Piper makes a sentence whole before any
# of it plays (~40 ms a second of speech alone, several times that with other calls'
# sentences on the cores), and the caller waits for the first clause only. A list with a
# comma before its "and" would be split too; the dialog's lists end in "or".
_CLAUSE_END = re.compile(r"(?<=,)\s+(?=(?:because|so|but|and)\s)")
#: Words a clause has at the least before a conjunction starts another.
CLAUSE_MIN_WORDS = 4
_T = TypeVar("_T")


def split_sentences(text: str) -> list[str]:
    """Sentences as the TTS speaks and caches them ("Done. Your number is W, 1." → two), long
    ones in clauses ("you're returning the lamp from order 4, 8, 1," and "because it broke.").
    """
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        clauses: list[str] = []
        for clause in _CLAUSE_END.split(sentence):
            if clauses and len(clauses[-1].split()) < CLAUSE_MIN_WORDS:
                clauses[-1] += " " + clause
            else:
                clauses.append(clause)
        pieces += [c for c in clauses if c]
    return pieces


def trim_tail(pcm: bytes, sample_rate: int, keep_s: float = TAIL_KEEP_S) -> bytes:
    """16-bit PCM ``pcm`` with its trailing silence cut to ``keep_s`` (all of it if silent)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int32)
    loud = np.flatnonzero(np.abs(samples) > _SILENT)
    if not len(loud):
        return pcm
    end = min(len(samples), int(loud[-1]) + 1 + round(keep_s * sample_rate))
    return pcm[: end * 2]


#: Where each word of a sentence starts in its audio (samples); None for a word Piper says
#: within the word before it.
WordStarts = tuple[int | None, ...]


def word_starts(
    sentence: str,
    chunks: Iterable[AudioChunk],
    phonemize: Callable[[str], list[list[str]]] | None = None,
) -> WordStarts | None:
    """Where each word of ``sentence`` starts in the chunks' audio (samples; at the gap before
    it), from Piper's phoneme alignments: a word is a run of phonemes between spaces.

    Where Piper's words are not the text's (espeak-ng says "for the" as one word, "fɚðə", and
    "169" as three), ``phonemize`` (the voice's) tells which of its words each word of the text
    begins (:func:`first_spoken`); a word said within the one before it has no start. None
    without alignments, or where the words can't be matched.
    """
    spoken: list[int] = []
    at = 0
    for chunk in chunks:
        if chunk.phoneme_alignments is None:
            return None
        spoken.append(at)
        place, gap = at, None
        for aligned in chunk.phoneme_alignments:
            if aligned.phoneme == " ":
                gap = place if gap is None else gap
            elif gap is not None and aligned.phoneme.isalpha():  # not a space before a ":"
                spoken.append(gap)
                gap = None
            place += aligned.num_samples
        at += len(chunk.audio_int16_bytes) // 2
    words = sentence.split()
    if len(spoken) == len(words):
        return tuple(spoken)
    matched = first_spoken(words, phonemize) if phonemize is not None else None
    if matched is None:
        return None
    firsts, said = matched
    return tuple(None if k is None else spoken[k] for k in firsts) if said == len(spoken) else None


def first_spoken(
    words: list[str], phonemize: Callable[[str], list[list[str]]]
) -> tuple[list[int | None], int] | None:
    """For each of ``words``, the index of the first of Piper's words it is said in (None: said
    within the word before it), and how many Piper says in all; from the words it makes of
    each beginning of the text, so a word joined to the one before adds none. None where a
    word takes some away.
    """
    firsts: list[int | None] = []
    before = 0
    for k in range(1, len(words) + 1):
        now = sum(_spoken_words(phonemes) for phonemes in phonemize(" ".join(words[:k])))
        if now < before:
            return None
        firsts.append(before if now > before else None)
        before = now
    return firsts, before


def _spoken_words(phonemes: list[str]) -> int:
    """Piper's words in one sentence's phonemes, as :func:`word_starts` counts them."""
    count, new = 0, True
    for phoneme in phonemes:
        if phoneme == " ":
            new = True
        elif new and phoneme.isalpha():
            count, new = count + 1, False
    return count


class SentenceAudioCache:
    """Thread-safe LRU of synthesized sentences (16-bit PCM at the voice's rate), with where
    their words start when Piper told (:func:`word_starts`).
    """

    def __init__(self, max_items: int = 1024) -> None:
        self._items: OrderedDict[str, tuple[bytes, WordStarts | None]] = OrderedDict()
        self._max = max_items
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, sentence: str) -> bytes | None:
        with self._lock:
            item = self._items.get(sentence)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(sentence)
            self.hits += 1
            return item[0]

    def seconds(self, sentence: str, sample_rate: int) -> float | None:
        """Length of a cached sentence's audio (None if not cached); not counted as a use."""
        with self._lock:
            item = self._items.get(sentence)
        return None if item is None else len(item[0]) / (2 * sample_rate)

    def put(self, sentence: str, audio: bytes, words: WordStarts | None = None) -> None:
        with self._lock:
            self._items[sentence] = (audio, words)
            self._items.move_to_end(sentence)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def put_synthesized(
        self,
        sentence: str,
        chunks: list[AudioChunk],
        phonemize: Callable[[str], list[list[str]]] | None = None,
    ) -> None:
        """Cache ``sentence`` as Piper synthesized it, with where its words start."""
        audio = b"".join(c.audio_int16_bytes for c in chunks)
        self.put(sentence, audio, word_starts(sentence, chunks, phonemize))

    def words_begun(self, sentence: str, at_s: float, sample_rate: int) -> int | None:
        """How many of ``sentence``'s words have begun by ``at_s`` seconds into its audio (a
        word said within the one before it, as Piper joins them, with that one); None where
        its words are not known.
        """
        with self._lock:
            _, words = self._items.get(sentence, (b"", None))
        if words is None:
            return None
        later = (i for i, s in enumerate(words) if s is not None and s > at_s * sample_rate)
        return next(later, len(words))

    def from_word(self, sentence: str, at_s: float, sample_rate: int) -> str | None:
        """The rest of ``sentence`` from its last word that starts by ``at_s`` seconds into its
        audio, cached as a sentence of its own with the audio from there, so that the TTS says
        it at once; None if that is the first word, or where the words are not known.
        """
        with self._lock:
            audio, words = self._items.get(sentence, (b"", None))
        if words is None:
            return None
        k, start = max(
            ((i, s) for i, s in enumerate(words) if s is not None and s <= at_s * sample_rate),
            default=(0, 0),
        )
        if k == 0:
            return None
        rest = " ".join(sentence.split()[k:])
        cut = np.frombuffer(audio, "<i2")[start:].astype(np.float32)
        fade = min(len(cut), round(FADE_IN_S * sample_rate))
        cut[:fade] *= np.linspace(0.0, 1.0, fade, endpoint=False)
        starts = tuple(None if s is None else s - start for s in words[k:])
        self.put(rest, cut.astype("<i2").tobytes(), starts)
        return rest

    def __contains__(self, sentence: str) -> bool:
        with self._lock:
            return sentence in self._items


class SynthesisQueue:
    """The process's Piper runs that no caller is waiting for yet: one at a time across calls,
    the one whose call runs out of audio first going first.

    A call's first sentence runs at once: its caller waits for it. The sentences after it only
    have to be ready before the audio ahead of them has played. Each run takes ~0.09 CPU-s per
    second of speech on two threads, so four calls whose answers came at once, synthesizing
    their later sentences side by side, took the cores from the other calls' decodes and first
    audio: 4 calls in unison with their own return reasons, p95 1145 and 1168 ms against 809
    and 899 ms one at a time (``bench/README.md``, "Later sentences one at a time").
    """

    def __init__(self, slots: int = 1) -> None:
        self._free = slots
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # equal deadlines: first come, first served

    async def run(self, fn: Callable[[], _T], deadline: float | None = None) -> _T:
        """``fn()`` in a worker thread: at once without a ``deadline`` (``time.monotonic()``
        seconds), else once a slot is free and no waiting run has an earlier deadline. A run
        cancelled while its thread works holds its slot until the thread is done.
        """
        if deadline is None:
            return await asyncio.to_thread(fn)
        await self._take_slot(deadline)
        work = asyncio.ensure_future(asyncio.to_thread(fn))
        work.add_done_callback(self._thread_done)
        return await asyncio.shield(work)

    async def _take_slot(self, deadline: float) -> None:
        if self._free and not self._waiting:
            self._free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (deadline, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed the slot as it was cancelled
                self._give_slot()
            raise

    def _thread_done(self, work: asyncio.Future[Any]) -> None:
        if not work.cancelled():
            work.exception()  # retrieved: a cancelled run's error has nobody to go to
        self._give_slot()

    def _give_slot(self) -> None:
        while self._waiting:
            turn = heapq.heappop(self._waiting)[2]
            if not turn.done():  # not cancelled while it waited
                turn.set_result(None)
                return
        self._free += 1


def synthesize_into(voice: PiperVoice, cache: SentenceAudioCache, text: str) -> None:
    """Synthesize every sentence of ``text`` not yet cached (blocking; for warm-up)."""
    for sentence in split_sentences(text):
        if sentence not in cache:
            chunks = list(voice.synthesize(sentence, include_alignments=True))
            cache.put_synthesized(sentence, chunks, voice.phonemize)


class SharedPiperTTSService(PiperTTSService):
    """Piper TTS over a shared, already loaded ``PiperVoice``, sentence by sentence, cached."""

    def __init__(
        self,
        voice: PiperVoice,
        cache: SentenceAudioCache | None = None,
        voice_name: str = "en_US-joe-medium",
        keep_talking_s: float = KEEP_TALKING_S,
        synthesis: SynthesisQueue | None = None,
        **kwargs: Any,
    ) -> None:
        # Skip PiperTTSService.__init__, which would download/load a voice of its own.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            # Piper always produces audio; under load its first sentence can take seconds, and
            # pipecat's 3 s default would end the context and drop the prompt.
            stop_frame_timeout_s=STOP_FRAME_TIMEOUT_S,
            settings=PiperTTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = voice
        self._cache = cache or SentenceAudioCache()
        self._keep_talking_s = keep_talking_s
        self._synthesis = synthesis or SynthesisQueue()

    async def _sentence_audio(self, text: str) -> AsyncIterator[bytes | None]:
        """The audio of ``text``'s sentences, the last one's trailing silence trimmed (the
        cache keeps it whole: the same sentence may be followed by another elsewhere). After
        the first sentence, ``None`` every ``keep_talking_s`` while a sentence is synthesized.
        Once there is audio, the rest is synthesized through the :class:`SynthesisQueue`, due
        when the audio before it will have played.
        """
        sentences = split_sentences(text)
        rate = self._voice.config.sample_rate
        due: float | None = None  # when the audio gone out will have played; None: none yet
        for i, sentence in enumerate(sentences):
            last = i == len(sentences) - 1
            cached = self._cache.get(sentence)
            if cached is not None:
                due = (due or time.monotonic()) + len(cached) / (2 * rate)
                yield trim_tail(cached, rate) if last else cached
                continue
            chunks = iter(self._voice.synthesize(sentence, include_alignments=True))
            made: list[AudioChunk] = []
            while True:
                step = asyncio.ensure_future(self._synthesis.run(partial(next, chunks, None), due))
                wait = self._keep_talking_s if i else None  # nothing before the first audio
                try:
                    while not (await asyncio.wait({step}, timeout=wait))[0]:
                        yield None
                finally:
                    step.cancel()  # a prompt cut short: nobody reads the sentence's audio
                if (chunk := await step) is None:
                    break
                made.append(chunk)
                due = (due or time.monotonic()) + len(chunk.audio_int16_bytes) / (2 * rate)
                if not last:
                    yield chunk.audio_int16_bytes
                elif len(made) > 1:  # one chunk behind, so that the final one can be trimmed
                    yield made[-2].audio_int16_bytes
            if last and made:
                yield trim_tail(made[-1].audio_int16_bytes, rate)
            # Off the event loop: where Piper's words are not the text's, matching them asks
            # espeak-ng for the sentence's phonemes again (up to ~13 ms for a prompt's longest).
            await asyncio.to_thread(
                self._cache.put_synthesized, sentence, made, self._voice.phonemize
            )

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        rate = self._voice.config.sample_rate
        # at the output's rate, past the resampler: it holds back chunks this short
        keep_talking = bytes(2 * round(_KEEP_TALKING_CHUNK_S * self.sample_rate))
        try:
            await self.start_tts_usage_metrics(text)
            async for audio in self._sentence_audio(text):
                if audio is None:
                    yield TTSAudioRawFrame(keep_talking, self.sample_rate, 1, context_id=context_id)
                elif resampled := await self._resampler.resample(audio, rate, self.sample_rate):
                    await self.stop_ttfb_metrics()
                    yield TTSAudioRawFrame(resampled, self.sample_rate, 1, context_id=context_id)
        except Exception as exc:
            logger.error(f"{self} synthesis failed: {exc}")
            yield ErrorFrame(error=f"TTS failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()
