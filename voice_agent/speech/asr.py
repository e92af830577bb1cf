"""One caller utterance in, its text out: faster-whisper tuned for short 8 kHz phone turns.

The pipeline's VAD has already cut the turn, so Whisper's own VAD stays off and the whole
utterance is decoded greedily (beam 1, temperature 0, no fallback): on phone audio beam search
costs latency without a measurable gain, and tiny.en with beam 5 can loop on trailing silence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from loguru import logger

from voice_agent.audio import resample
from voice_agent.dialog.codes import admits_letters
from voice_agent.speech.entities import SIX_DIGITS, pick_reading, readings_split, words_alone

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment

SAMPLE_RATE = 16000
#: The pace at which the first model hears an order-number turn a second time when neither it
#: nor its digits-only decode was sure (see :func:`transcribe`).
SLOWED_SPEED = 0.9

#: Domain vocabulary for returns-and-refunds calls, usable as ``initial_prompt``.
DOMAIN_PROMPT = (
    "Returns and refunds hotline. My order number is 4 8 2 0 1 5. "
    "I'd like to return an item, get a refund or an exchange. Receipt, store credit, label."
)
#: For the turn that answers "what is your order number?": shows Whisper the digit format and
#: the "oh"/"double" readings. Better order-number capture than :data:`DOMAIN_PROMPT` in the
#: benchmark, but worse WER on general noisy speech, so use it for that turn only.
ORDER_NUMBER_PROMPT = (
    "Returns and refunds hotline. What is your order number? "
    "It's 4 8 0 0 1 5, four eight oh, double oh one five."
)
#: The same turn when the dialog's order numbers hold letters: shows Whisper letters said
#: on their own and with a word. Against :data:`ORDER_NUMBER_PROMPT` on 3 sets of 96 of
#: ``bench.letter_codes``' readings: clean 193 of 288 either way, at 10 dB 194 against 186
#: (letters "as in" a word 64 against 55 of 96); on 2 sets of 96 with the digits read one by
#: one, 120 against 111 clean and 103 against 94 at 10 dB.
ORDER_CODE_PROMPT = (
    "Returns and refunds hotline. What is your order number? "
    "It's R T 4 8 0 0 1 5, R as in Robert, T as in Tom, four eight oh, double oh one five."
)
#: Appended to the prompt of a short turn the caller began over the agent's prompt, where an
#: acknowledgement is likely: without it tiny.en writes a phone-line "mm-hmm" as words ("And a
#: month.", "Mm-m.", "M H N."), which the dialog then takes for an answer. Bench voices, their
#: "mm-hmm", "uh-huh" and "mhm" at three levels: 15 of 36 read as backchannels, 33 with it;
#: their 120 short answers as well read or better (27 misread, against 30); 55 short phrases
#: WER 6.5% against 9.3%, but espeak-ng's "Stop." is read "Uh-huh.". Not on every turn:
#: there it raised the WER of real speech (4.0 -> 4.6% telephone band, 9.3 -> 11.9% at 5 dB)
#: and noise alone came out as "Mm-hmm." in 12 of 12 clips.
BACKCHANNEL_WORDS = "Mm-hmm. Uh-huh."
#: With :data:`BACKCHANNEL_WORDS` last in its prompt, Whisper goes on from them with "And ..."
#: when it hears an "mm-hmm" over the prompt's echo ("And number.", "And I'm not."). In live
#: calls 7 of 9 such readings were below -0.5, and 1 of 24 phrases that begin with "And" (a
#: misreading, "And the check is 2."); offline 13 of 16, and 3 of 72 phrases, two misread
#: (``AsrOptions.drop_and_logprob``; ``bench/README.md``, "An "mm-hmm" read as "And ..."").
BACKCHANNEL_AND_LOGPROB = -0.5
#: The same vocabulary as faster-whisper ``hotwords``.
DOMAIN_HOTWORDS = "order number, return, refund, exchange, receipt, store credit, shipping label"


@dataclass
class AsrOptions:
    """ASR decoding options.

    Attributes:
      beam_size: Beam width; 1 is greedy decoding (fastest; what phone turns use).
      temperature: Sampling temperature; a single value disables temperature fallback, which
        would re-decode a hard utterance up to five more times and blow the latency budget.
      language: Spoken language code; fixed so base never spends time on language detection
        (ignored by English-only models).
      initial_prompt: Text fed to the decoder as previous context, to bias vocabulary and style.
        Defaults to :data:`DOMAIN_PROMPT`, tuned for tiny.en (the default model): in
        ``bench.asr_accuracy`` it raised order-number capture and left WER as it was. Use
        :func:`default_asr_options` to get the right setting per model.
      hotwords: Extra words/phrases to bias towards (faster-whisper prefixes them as a prompt);
        off by default because the benchmark showed no gain.
      without_timestamps: Decode text tokens only; timestamps are not needed and cost tokens.
      condition_on_previous_text: Feed each 30 s window's text to the next one; off because a
        phone turn is one window and a bad window would poison the next.
      no_speech_threshold: Whisper's own skip rule: a window whose no-speech probability is above
        this AND whose average log-probability is below ``log_prob_threshold`` is dropped.
      log_prob_threshold: See ``no_speech_threshold``.
      compression_ratio_threshold: A segment whose text compresses better than this (gzip ratio)
        is a repetition loop and is dropped.
      drop_no_speech_prob: Extra filter on returned segments: drop a segment whose no-speech
        probability is at least this and whose average log-probability is below
        ``drop_logprob`` (Whisper's "Thank you." / "you" hallucinations on noise).
      drop_logprob: See ``drop_no_speech_prob``.
      doubt_no_speech_prob: A second corner of that filter: a segment whose no-speech
        probability is at least this and whose average log-probability is below
        ``doubt_logprob`` (``doubt_logprob_short`` for one or two words) is dropped too. On
        noise alone tiny.en copies its prompt ("I'd like to return an item.") at no-speech
        0.45-0.6 and log-probability -0.97 to -1.6, or makes up a word ("Okay.", "$") below
        -1.4; that reached callers whose line echoes, where the agent's voice left under a
        noise starts a turn. A short answer can be as doubtful: espeak-ng's "Two." is "2" at
        0.44 / -1.14. The benches' speech stays clear of it (``bench/README.md``, "Noise
        taken for words").
      doubt_logprob: See ``doubt_no_speech_prob``.
      doubt_logprob_short: See ``doubt_no_speech_prob``.
      drop_and_logprob: A segment that begins with "And" and whose average log-probability is
        below this is dropped (None: kept): Whisper going on from its prompt rather than words
        (see :data:`BACKCHANNEL_AND_LOGPROB`).
      max_tokens_per_second: Cap on decoded tokens per second of audio (plus 16), so a
        degenerate decode stops early instead of running to 224 tokens; None disables.
      min_duration_s: Shorter audio is not decoded at all (returns "").
      window_s: Encoder window in seconds instead of Whisper's fixed 30 s (None: 30 s, through
        faster-whisper). The encoder is ~70% of a phone turn's decode and its attention grows
        with the square of the window: 20 s costs ~40% of 30 s. Windows hugging the utterance
        (+1-2 s) wreck tiny.en's accuracy; 20 s kept it (``bench.asr_accuracy``). An utterance
        longer than the window minus 1 s gets a window 1 s longer than itself (30 s at most).
      expect_code: The turn should hold a code matching this pattern, the dialog's order-number
        pattern (the answer to "what is your order number?"). The same encoder output is
        decoded a second time with the vocabulary cut to digits, number words ("oh",
        "double", "forty"), punctuation and, if the pattern admits them, letters; that
        text is used if the free decode holds no number, and the number is *sure* if both
        read the same one (see :class:`Heard`). Costs a second decoder pass (not a second
        encoder pass) on those turns only, and none when the free decode alone reads the
        number surely (``voice_agent.speech.window.SURE_LOGPROB``); needs ``window_s``.

    """

    beam_size: int = 1
    temperature: float = 0.0
    language: str | None = "en"
    initial_prompt: str | None = DOMAIN_PROMPT
    hotwords: str | None = None
    without_timestamps: bool = True
    condition_on_previous_text: bool = False
    no_speech_threshold: float | None = 0.6
    log_prob_threshold: float | None = -1.0
    compression_ratio_threshold: float | None = 2.4
    drop_no_speech_prob: float = 0.6
    drop_logprob: float = -0.7
    doubt_no_speech_prob: float = 0.4
    doubt_logprob: float = -0.9
    doubt_logprob_short: float = -1.2
    drop_and_logprob: float | None = None
    max_tokens_per_second: float | None = 8.0
    min_duration_s: float = 0.1
    window_s: float | None = 20.0
    expect_code: str | None = None


@dataclass(frozen=True)
class Heard:
    """A transcript, and whether its number is sure.

    Attributes:
      text: The transcript ("" for silence or noise).
      number_sure: With ``AsrOptions.expect_code``: the free decode read a number with a
        high average log-probability, or the free decode and the digits-only decode read the
        same number. On the order-number turn an unsure reading is wrong far more often than a
        sure one, which is when :func:`transcribe` asks a second model.

    """

    text: str
    number_sure: bool = False


# Whisper's stock output for a non-speech turn, whatever its punctuation ("Thanks for
# watching." for noise over a greeting, bench.barge_in); no caller answers a prompt with this.
_LONE_HALLUCINATIONS = {"you", "bye", "thanks for watching", "thank you for watching"}
_PUNCTUATION = re.compile(r"[.,!?]")
_AND = re.compile(r"\s*and\b", re.IGNORECASE)


def order_number_prompt(pattern: str | None) -> str:
    """The prompt for the turn that answers "what is your order number?", by the code's
    pattern: :data:`ORDER_CODE_PROMPT` if it admits letters, else :data:`ORDER_NUMBER_PROMPT`.
    """
    return ORDER_CODE_PROMPT if pattern and admits_letters(pattern) else ORDER_NUMBER_PROMPT


def default_asr_options(model_name: str, **overrides: Any) -> AsrOptions:
    """The benchmark-chosen options for a model, with ``overrides`` applied.

    The domain prompt stays on for tiny.en and is off for base: with base it neither raised
    order-number capture nor lowered WER, and it made base hallucinate domain phrases ("I'll
    give you a refund.") on 2 of 12 noise-only turns.
    """
    fields: dict[str, Any] = {} if model_name == "tiny.en" else {"initial_prompt": None}
    fields.update(overrides)
    return AsrOptions(**fields)


def keep_segment(segment: Segment, opts: AsrOptions) -> bool:
    """Whether a decoded segment is speech worth returning (pure; see :class:`AsrOptions`)."""
    if not segment.text.strip():
        return False
    if (
        opts.compression_ratio_threshold is not None
        and segment.compression_ratio > opts.compression_ratio_threshold
    ):
        return False
    if (
        opts.drop_and_logprob is not None
        and segment.avg_logprob < opts.drop_and_logprob
        and _AND.match(segment.text)
    ):
        return False
    short = len(segment.text.split()) <= 2
    corners = (
        (opts.drop_no_speech_prob, opts.drop_logprob),
        (opts.doubt_no_speech_prob, opts.doubt_logprob_short if short else opts.doubt_logprob),
    )
    return not any(
        segment.no_speech_prob >= no_speech and segment.avg_logprob < logprob
        for no_speech, logprob in corners
    )


def join_segments(segments: Iterable[Segment], opts: AsrOptions) -> str:
    """Consume the segment generator and join the kept segments' text."""
    text = " ".join(s.text.strip() for s in segments if keep_segment(s, opts)).strip()
    return "" if _PUNCTUATION.sub("", text.lower()) in _LONE_HALLUCINATIONS else text


def transcribe(
    model: WhisperModel,
    audio: np.ndarray,
    opts: AsrOptions | None = None,
    second_opinion: tuple[WhisperModel, AsrOptions] | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_check: Callable[[], None] | None = None,
) -> str:
    """Transcribe one utterance.

    Args:
        model: A model from :func:`voice_agent.speech.models.load_whisper`.
        audio: Float32 mono samples at 16 kHz in [-1, 1].
        opts: Decoding options (defaults: :class:`AsrOptions`).
        second_opinion: A second model and its options, asked when ``opts.expect_code`` is
            set and ``model``'s reading of the number is not sure (:class:`Heard`), unless that
            reading is words without a digit (:func:`~voice_agent.speech.entities.
            words_alone`): the caller answered in words. If the two readings split
            (:func:`~voice_agent.speech.entities.readings_split`), ``model`` then reads the
            turn again slowed to :data:`SLOWED_SPEED`; of the readings the number most hold is
            kept, and on a tie the second model's if it has one
            (:func:`~voice_agent.speech.entities.pick_reading`). On the bench's order numbers
            tiny.en with base as second opinion beat either model alone, and the slowed
            reading added 2 points clean on 240 readings (``bench.asr_accuracy``); it was
            needed on 60 of 194 checked readings, and run only then it gives the same texts.
        cancelled: Asked before each model runs; once it says True the text is no longer
            wanted (a speculative decode the caller spoke over) and "" is returned.
        on_check: Called (from this thread) just before the second model is asked: the text
            will take ~1 s longer, which the caller can be told.

    Returns:
        The text, stripped; "" for silence, noise or too-short audio.

    """
    opts = opts or AsrOptions()
    spoken_over = cancelled or (lambda: False)
    if spoken_over():
        return ""
    heard = hear(model, audio, opts)
    if second_opinion is None or not opts.expect_code or heard.number_sure:
        return heard.text
    if words_alone(heard.text, opts.expect_code):
        return heard.text  # an answer in words: the check would cost ~1 s for no number
    if spoken_over():
        return ""  # the second model costs several times the first: not for a discarded text
    other_model, other_opts = second_opinion
    logger.debug("order number not sure: asking the number check")
    if on_check is not None:
        on_check()
    try:
        other = hear(other_model, audio, replace(other_opts, expect_code=opts.expect_code)).text
    except Exception as exc:  # a second opinion must not cost the caller their turn
        logger.warning(f"order-number check failed, keeping the first reading: {exc!r}")
        return heard.text
    more: list[str] = []
    # Only a split vote needs the third reading. Run beside the check, as before, it took the
    # cores the check needed: one unsure turn took ~0.2 s longer, four at once ~0.7 s.
    if readings_split(heard.text, other, opts.expect_code):
        if spoken_over():
            return ""
        try:
            more.append(hear(model, slow_down(audio), opts).text)
        except Exception as exc:
            logger.warning(f"slowed order-number reading failed: {exc!r}")
    return pick_reading(heard.text, other, more, opts.expect_code)


def slow_down(audio: np.ndarray, speed: float = SLOWED_SPEED) -> np.ndarray:
    """``audio`` (16 kHz) played at ``speed`` of its pace, pitch lowered with it."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    return resample(samples, round(SAMPLE_RATE * speed), SAMPLE_RATE, quality="HQ")


def hear(model: WhisperModel, audio: np.ndarray, opts: AsrOptions) -> Heard:
    """Transcribe one utterance with one model (see :func:`transcribe`)."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    duration = len(samples) / SAMPLE_RATE
    if duration < opts.min_duration_s or not np.any(samples):
        return Heard("")
    if opts.window_s is not None and duration <= 29.0:
        from voice_agent.speech.window import decode_windows  # it builds on this module

        return decode_windows(model, [(samples, opts)])[0]
    max_new_tokens = None
    if opts.max_tokens_per_second is not None:
        max_new_tokens = min(int(duration * opts.max_tokens_per_second) + 16, 224)
    segments, _info = model.transcribe(
        samples,
        language=opts.language if model.model.is_multilingual else None,
        beam_size=opts.beam_size,
        best_of=1,
        temperature=opts.temperature,
        initial_prompt=opts.initial_prompt,
        hotwords=opts.hotwords,
        without_timestamps=opts.without_timestamps,
        condition_on_previous_text=opts.condition_on_previous_text,
        no_speech_threshold=opts.no_speech_threshold,
        log_prob_threshold=opts.log_prob_threshold,
        compression_ratio_threshold=opts.compression_ratio_threshold,
        vad_filter=False,
        max_new_tokens=max_new_tokens,
    )
    return Heard(join_segments(segments, opts))


def warm_up(model: WhisperModel) -> None:
    """Decode a second of faint noise as a plain turn and as an order-number turn, so the first
    callers don't pay for lazy initialisation: without it the digits-only decode's vocabulary
    and beam search made the first 4 order-number turns at once 0.2-0.3 s slower (offline).
    """
    noise = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 1e-3).astype(np.float32)
    transcribe(model, noise)
    number = AsrOptions(initial_prompt=ORDER_NUMBER_PROMPT, expect_code=SIX_DIGITS)
    transcribe(model, noise, number)
