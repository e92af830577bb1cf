"""Whisper decoding on a short encoder window, for one utterance or a batch of them.

faster-whisper always pads the features to 30 s, so a 3 s phone turn pays for encoding 27 s of
padding, and the encoder is ~70% of a turn's decode. This runs faster-whisper's single-window
greedy decode step for step (features, prompt, one ``generate``, the same skip rules) on a window
of ``AsrOptions.window_s``; at 30 s its output is faster-whisper's word for word (tested).

Several utterances can be decoded as one batch (one encoder and one decoder call) with the same
texts as one by one. On this 2-core box a batch of 4 took as long as 4 single decodes (int8
CTranslate2 already keeps both cores busy), so the live pipeline decodes each turn on its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

from voice_agent.speech.asr import SAMPLE_RATE, AsrOptions, Heard, join_segments
from voice_agent.speech.entities import order_number

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: Beam width of the digits-only pass: it is short and cheap, and beam 3 found one more number
#: in 48 than greedy decoding (bench). Taking the first of 3 hypotheses with the right digit
#: count gained nothing more and accepted "0 0 0 0 0 0" for speech that held no number.
DIGITS_BEAM = 3
#: Words a caller reads a number with; with digits and punctuation, the vocabulary of the
#: digits-only decode.
_NUMBER_WORDS = (
    "zero oh o one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred double triple and it's its is my the order number"
)
_DIGIT_VOCAB: weakref.WeakKeyDictionary[Any, tuple[int, ...]] = weakref.WeakKeyDictionary()


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


def decode_windows(
    model: WhisperModel, requests: Sequence[tuple[np.ndarray, AsrOptions]]
) -> list[Heard]:
    """Transcribe each (16 kHz float32 samples, options) pair; one text per request.

    Requests must have ``window_s`` set and hold audio shorter than it (the caller,
    :func:`voice_agent.speech.asr.transcribe`, routes the others to faster-whisper). Requests
    whose windows and prompts have the same lengths share one encoder and decoder call; options that
    ``generate`` takes per batch (beam width, suppressed tokens) come from the first request.
    """
    texts = [Heard("")] * len(requests)
    groups: dict[tuple[int, int], list[tuple[_Item, np.ndarray]]] = {}
    for index, (samples, opts) in enumerate(requests):
        tokenizer = _tokenizer(model, opts)
        prompt_text = opts.initial_prompt.strip() if opts.initial_prompt else ""
        previous = tokenizer.encode(" " + prompt_text) if prompt_text else []
        prompt = model.get_prompt(
            tokenizer, previous, without_timestamps=True, hotwords=opts.hotwords
        )
        new_tokens = 224
        if opts.max_tokens_per_second is not None:
            duration = len(samples) / SAMPLE_RATE
            new_tokens = min(int(duration * opts.max_tokens_per_second) + 16, 224)
        window = _window(model, samples, opts.window_s or 30.0)
        item = _Item(index, samples, opts, prompt, new_tokens)
        # CTranslate2 batches only equal window lengths and prompts of equal length.
        groups.setdefault((window.shape[-1], len(prompt)), []).append((item, window))
    for group in groups.values():
        items = [item for item, _ in group]
        encoded = model.encode(np.stack([window for _, window in group]))
        tokenizer = _tokenizer(model, items[0].opts)
        checked = [k for k, item in enumerate(items) if item.opts.expect_digits]
        pending = None
        if checked:
            # The same encoder output, decoded again with digits and number words only: a
            # number both decodes read alike is taken as sure (see ``Heard``). Started first,
            # asynchronously: with two ASR workers both decodes run at once.
            subset = np.asarray(encoded)[checked] if len(checked) < len(items) else None
            again = ctranslate2.StorageView.from_array(subset) if subset is not None else encoded
            pending = _start(
                model,
                again,
                [items[k] for k in checked],
                _non_digit_tokens(model, tokenizer),
                beam_size=DIGITS_BEAM,
                asynchronous=True,
            )
        free_results = _start(model, encoded, items, get_suppressed_tokens(tokenizer, [-1]))
        found = _texts(tokenizer, items, free_results)
        agreed = [False] * len(items)
        if pending is not None:
            digits = _texts(tokenizer, [items[k] for k in checked], [r.result() for r in pending])
            for k, text in zip(checked, digits, strict=True):
                length = items[k].opts.expect_digits or 0
                free, constrained = order_number(found[k], length), order_number(text, length)
                agreed[k] = free is not None and free == constrained
                if free is None and constrained is not None:
                    found[k] = text
        for item, text, sure in zip(items, found, agreed, strict=True):
            texts[item.index] = Heard(text, sure)
    return texts


def _start(
    model: WhisperModel,
    encoded: ctranslate2.StorageView,
    items: list[_Item],
    suppress: Sequence[int],
    beam_size: int | None = None,
    asynchronous: bool = False,
) -> list[Any]:
    """One ``generate`` call for ``items``: its results, or futures of them if asynchronous."""
    return model.model.generate(  # type: ignore[no-any-return]
        encoded,
        [item.prompt for item in items],
        asynchronous=asynchronous,
        beam_size=beam_size or items[0].opts.beam_size,
        max_length=min(max(len(i.prompt) + i.new_tokens for i in items), model.max_length),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=list(suppress),
    )


def _texts(tokenizer: Tokenizer, items: list[_Item], results: Sequence[Any]) -> list[str]:
    """Each item's text from its ``generate`` result, after faster-whisper's skip rules."""
    texts = []
    for item, result in zip(items, results, strict=True):
        opts = item.opts
        tokens = result.sequences_ids[0][: item.new_tokens]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        text = tokenizer.decode(tokens).strip()
        if (
            opts.no_speech_threshold is not None
            and opts.log_prob_threshold is not None
            and result.no_speech_prob > opts.no_speech_threshold
            and avg_logprob < opts.log_prob_threshold
        ):
            texts.append("")
            continue
        decoded = _Decoded(text, get_compression_ratio(text), result.no_speech_prob, avg_logprob)
        texts.append(join_segments([decoded], opts))  # type: ignore[list-item]
    return texts


def _non_digit_tokens(model: WhisperModel, tokenizer: Tokenizer) -> tuple[int, ...]:
    """Token ids to suppress for a digits-only decode (cached per model)."""
    cached = _DIGIT_VOCAB.get(model)
    if cached is not None:
        return cached
    keep: set[int] = set()
    for word in _NUMBER_WORDS.split():
        for form in (word, word.capitalize(), word.upper()):
            keep.update(tokenizer.encode(form))
            keep.update(tokenizer.encode(" " + form))
    for token_id in range(tokenizer.eot):
        piece = tokenizer.decode([token_id]).strip()
        if piece and all(ch.isdigit() or ch in ",.-" for ch in piece):
            keep.add(token_id)
    suppress = {t for t in range(tokenizer.eot) if t not in keep}
    suppress.update(get_suppressed_tokens(tokenizer, [-1]))
    _DIGIT_VOCAB[model] = result = tuple(sorted(suppress))
    return result
