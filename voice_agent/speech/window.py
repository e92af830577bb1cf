"""Whisper decoding on a short encoder window, for one utterance or a batch of them.

faster-whisper always pads the features to 30 s, so a 3 s phone turn pays for encoding 27 s of
padding, and the encoder is ~70% of a turn's decode. This runs faster-whisper's single-window
greedy decode step for step (features, prompt, one ``generate``, the same skip rules) on a window
of ``AsrOptions.window_s``; at 30 s its output is faster-whisper's word for word (tested).

Several utterances can be decoded as one batch (one encoder and one decoder call) with the same
texts as one by one. On this 2-core box a batch of 4 took as long as 4 single decodes (int8
CTranslate2 already keeps both cores busy), so the live pipeline decodes each turn on its own.

A turn that expects a number (``AsrOptions.expect_code``) is decoded twice from one encoding:
freely and with the vocabulary cut to digits and number words (and letters, for codes that hold
them); see :func:`decode_windows` for when the second decode runs and
:class:`voice_agent.speech.asr.Heard` for what it decides.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from string import ascii_uppercase
from typing import TYPE_CHECKING, Any

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

from voice_agent.dialog.code_words import NATO_ALPHABET
from voice_agent.dialog.codes import admits_letters
from voice_agent.speech.asr import SAMPLE_RATE, AsrOptions, Heard, join_segments
from voice_agent.speech.entities import SIX_DIGITS, order_number
from voice_agent.speech.loops import cut_loop
from voice_agent.speech.models import model_busy

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: Beam width of the digits-only pass: it is short and cheap, and beam 3 found one more number
#: in 48 than greedy decoding (bench). Taking the first of 3 hypotheses with the right digit
#: count gained nothing more and accepted "0 0 0 0 0 0" for speech that held no number.
DIGITS_BEAM = 3
#: A free decode that reads a number with an average log-probability above this is sure of it
#: without the digits-only decode. In ``bench.asr_accuracy``'s order numbers (bench and
#: held-out sets, clean and 10 dB: 192 readings) no wrong number was read above -0.45; 35% of
#: the readings were read above -0.4 (the Piper voices' 45%, espeak-ng's 6%).
SURE_LOGPROB = -0.4
#: Words a caller reads a number with; with digits and punctuation, the vocabulary of the
#: digits-only decode.
_NUMBER_WORDS = (
    "zero oh o one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred double triple and it's its is my the order number"
)
#: And, for a code with letters, the words a caller spells a letter with: the letters
#: themselves, "as in", and the NATO alphabet.
_LETTER_WORDS = " ".join(
    [*ascii_uppercase, "as", "in", "for", "like", *(w.lower() for w in NATO_ALPHABET.values())]
)
_DIGIT_VOCAB: weakref.WeakKeyDictionary[Any, dict[bool, tuple[int, ...]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class _Decoded:
    """The fields of a faster-whisper ``Segment`` that ``keep_segment`` reads."""

    text: str
    compression_ratio: float
    no_speech_prob: float
    avg_logprob: float


@dataclass
class _Item:
    index: int
    samples: np.ndarray
    opts: AsrOptions
    prompt: list[int]
    new_tokens: int


def _window(model: WhisperModel, samples: np.ndarray, window_s: float) -> np.ndarray:
    extractor = model.feature_extractor
    features = extractor(samples)[:, :-1]  # as faster-whisper: the last frame is padding
    per_s = extractor.sampling_rate // extractor.hop_length
    frames = min(extractor.nb_max_frames, max(int(window_s * per_s), features.shape[-1] + per_s))
    frames += frames % 2  # the encoder's stride-2 convolution halves it
    window = np.zeros((features.shape[0], frames), dtype=np.float32)
    window[:, : min(frames, features.shape[-1])] = features[:, :frames]
    return window


def _tokenizer(model: WhisperModel, opts: AsrOptions) -> Tokenizer:
    multilingual = model.model.is_multilingual
    language = (opts.language or "en") if multilingual else None
    return Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language)


def _request(
    model: WhisperModel, index: int, samples: np.ndarray, opts: AsrOptions
) -> tuple[_Item, np.ndarray]:
    """One request's decoder prompt and token budget, and its encoder window's features."""
    tokenizer = _tokenizer(model, opts)
    prompt_text = opts.initial_prompt.strip() if opts.initial_prompt else ""
    previous = tokenizer.encode(" " + prompt_text) if prompt_text else []
    prompt = model.get_prompt(tokenizer, previous, without_timestamps=True, hotwords=opts.hotwords)
    new_tokens = 224
    if opts.max_tokens_per_second is not None:
        duration = len(samples) / SAMPLE_RATE
        new_tokens = min(int(duration * opts.max_tokens_per_second) + 16, 224)
    window = _window(model, samples, opts.window_s or 30.0)
    return _Item(index, samples, opts, prompt, new_tokens), window


def decode_windows(
    model: WhisperModel,
    requests: Sequence[tuple[np.ndarray, AsrOptions]],
    digits_alongside: bool | None = None,
) -> list[Heard]:
    """Transcribe each (16 kHz float32 samples, options) pair; one text per request.

    Requests must have ``window_s`` set and hold audio shorter than it (the caller,
    :func:`voice_agent.speech.asr.transcribe`, routes the others to faster-whisper). Requests
    whose windows and prompts have the same lengths share one encoder and decoder call; options that
    ``generate`` takes per batch (beam width, suppressed tokens) come from the first request.

    ``digits_alongside`` says when the digits-only decode of a request with ``expect_code``
    runs: True, beside the free decode (two ASR workers run both at once); False, after it and
    only if the free decode's number is not sure. None (the default) picks True when the model
    has no other decode in hand and False while other calls' decodes are running or queued, so
    that work that may be thrown away does not delay them. The texts are the same either way.
    """
    texts = [Heard("")] * len(requests)
    groups: dict[tuple[int, int], list[tuple[_Item, np.ndarray]]] = {}
    for index, (samples, opts) in enumerate(requests):
        item, window = _request(model, index, samples, opts)
        # CTranslate2 batches only equal window lengths and prompts of equal length.
        groups.setdefault((window.shape[-1], len(item.prompt)), []).append((item, window))
    for group in groups.values():
        items = [item for item, _ in group]
        alongside = digits_alongside
        if alongside is None:
            # Read before this group's own encoder call: CTranslate2 still counts a finished
            # call for a moment after its result is back (3 times in 4, right after it).
            alongside = not model_busy(model)
        encoded = model.encode(np.stack([window for _, window in group]))
        tokenizer = _tokenizer(model, items[0].opts)
        checked = [k for k, item in enumerate(items) if item.opts.expect_code]
        pending = digits_input = None
        if checked and alongside:
            digits_input = _rows(encoded, checked, len(items))  # alive until its results are in
            pending = _digits(model, digits_input, [items[k] for k in checked], tokenizer, True)
        free_suppressed = get_suppressed_tokens(tokenizer, [-1])
        free = _texts(tokenizer, items, _start(model, encoded, items, free_suppressed))
        found = [text for text, _ in free]
        numbers = {k: order_number(found[k], _code(items[k])) for k in checked}
        unsure = [k for k in checked if numbers[k] is None or free[k][1] <= SURE_LOGPROB]
        sure = [k in numbers and k not in unsure for k in range(len(items))]
        if pending is not None:
            done = [future.result() for future in pending]  # all of them: they use ``encoded``
            results = [done[checked.index(k)] for k in unsure]
        elif unsure:
            rows = _rows(encoded, unsure, len(items))
            results = _digits(model, rows, [items[k] for k in unsure], tokenizer, False)
        else:
            results = []
        digits = _texts(tokenizer, [items[k] for k in unsure], results)
        for k, (text, _) in zip(unsure, digits, strict=True):
            constrained = order_number(text, _code(items[k]))
            sure[k] = numbers[k] is not None and numbers[k] == constrained
            if numbers[k] is None and constrained is not None:
                found[k] = text
        for item, text, number_sure in zip(items, found, sure, strict=True):
            texts[item.index] = Heard(text, number_sure)
    return texts


def _code(item: _Item) -> str:
    """The code pattern an order-number request expects."""
    return item.opts.expect_code or SIX_DIGITS


def _rows(
    encoded: ctranslate2.StorageView, indices: list[int], total: int
) -> ctranslate2.StorageView:
    """The encoder output of the batch's rows ``indices`` (``encoded`` itself if that is all)."""
    if len(indices) == total:
        return encoded
    return ctranslate2.StorageView.from_array(np.asarray(encoded)[indices])


def _digits(
    model: WhisperModel,
    encoded: ctranslate2.StorageView,
    items: list[_Item],
    tokenizer: Tokenizer,
    asynchronous: bool,
) -> list[Any]:
    """The digits-only decode of ``items`` (one row of ``encoded`` each), with letters for
    codes that admit them.
    """
    letters = any(admits_letters(_code(item)) for item in items)
    return _start(
        model,
        encoded,
        items,
        _non_digit_tokens(model, tokenizer, letters),
        beam_size=DIGITS_BEAM,
        asynchronous=asynchronous,
    )


def _start(
    model: WhisperModel,
    encoded: ctranslate2.StorageView,
    items: list[_Item],
    suppress: Sequence[int],
    beam_size: int | None = None,
    asynchronous: bool = False,
    hypotheses: int = 1,
) -> list[Any]:
    """One ``generate`` call for ``items``: its results, or futures of them if asynchronous."""
    return model.model.generate(  # type: ignore[no-any-return]
        encoded,
        [item.prompt for item in items],
        asynchronous=asynchronous,
        beam_size=beam_size or items[0].opts.beam_size,
        num_hypotheses=hypotheses,
        max_length=min(max(len(i.prompt) + i.new_tokens for i in items), model.max_length),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=list(suppress),
    )


def _texts(
    tokenizer: Tokenizer, items: list[_Item], results: Sequence[Any]
) -> list[tuple[str, float]]:
    """Each item's text, after faster-whisper's skip rules, and average log-probability."""
    texts: list[tuple[str, float]] = []
    for item, result in zip(items, results, strict=True):
        opts = item.opts
        tokens = result.sequences_ids[0][: item.new_tokens]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        text = tokenizer.decode(tokens).strip()
        if len(tokens) >= item.new_tokens:  # no end before the budget ran out: a loop
            text = cut_loop(text)
        if (
            opts.no_speech_threshold is not None
            and opts.log_prob_threshold is not None
            and result.no_speech_prob > opts.no_speech_threshold
            and avg_logprob < opts.log_prob_threshold
        ):
            texts.append(("", avg_logprob))
            continue
        decoded = _Decoded(text, get_compression_ratio(text), result.no_speech_prob, avg_logprob)
        texts.append((join_segments([decoded], opts), avg_logprob))  # type: ignore[list-item]
    return texts


def _non_digit_tokens(
    model: WhisperModel, tokenizer: Tokenizer, letters: bool = False
) -> tuple[int, ...]:
    """Token ids to suppress for a digits-only decode (cached per model)."""
    cached = _DIGIT_VOCAB.setdefault(model, {})
    if letters in cached:
        return cached[letters]
    keep: set[int] = set()
    for word in (_NUMBER_WORDS + (" " + _LETTER_WORDS if letters else "")).split():
        for form in (word, word.capitalize(), word.upper()):
            keep.update(tokenizer.encode(form))
            keep.update(tokenizer.encode(" " + form))
    for token_id in range(tokenizer.eot):
        piece = tokenizer.decode([token_id]).strip()
        if piece and all(ch.isdigit() or ch in ",.-" for ch in piece):
            keep.add(token_id)
    suppress = {t for t in range(tokenizer.eot) if t not in keep}
    suppress.update(get_suppressed_tokens(tokenizer, [-1]))
    cached[letters] = result = tuple(sorted(suppress))
    return result
