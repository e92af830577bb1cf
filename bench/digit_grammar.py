"""Readings of an order-number turn held to a grammar: exactly ``digits`` digits, then the end.

The pipeline's digits-only decode cuts the vocabulary to digits and number words but lets the
model stop, or go on, at any length: espeak-ng's "oh nine, nineteen, ninety one." comes back
"Oh, nine, nine, nine, nine, nine, one." This beam search, run step by step over CTranslate2's
``generate`` with ``return_logits_vocab``, only lets a hypothesis end once it holds the code's
digit count and never past it; digits are written as digits, with punctuation and a few filler
words ("yes, my order number is") between them.

It is a bench tool, not a pipeline decode: ``bench.number_ceiling`` asks whether such readings
hold numbers no other reading does. Not kept in the pipeline because (``bench/README.md``):

- no pick among its readings and the pipeline's was found that gains more than 5 of 240 clean
  readings without as many more wrong numbers;
- one search costs ~0.7 s on tiny.en and ~1.2 s on base here (a ``generate`` call per token,
  each decoding the prompt again); the whole order-number decode of a turn takes 0.28 s median;
- it reads a number into anything: a caller who gives half the number ("Four eight one.") and
  the rest in the next turn is read "4 8 1 4 8 1".
"""

from __future__ import annotations

import weakref
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer

from voice_agent.speech import window
from voice_agent.speech.asr import AsrOptions

#: Words allowed between the digits: what callers say around an order number.
FILLER_WORDS = ("yes", "yeah", "my", "order", "number", "is", "it's", "it", "the")
#: Tokens a hypothesis may run to; 6 digits said with fillers take ~14.
MAX_STEPS = 24

_VOCAB: weakref.WeakKeyDictionary[Any, tuple[np.ndarray, np.ndarray]] = weakref.WeakKeyDictionary()


def _vocab(model: Any, tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Per token id: how many digits it writes (0 for none), and whether it is a filler."""
    cached = _VOCAB.get(model)
    if cached is not None:
        return cached
    size = tokenizer.eot + 1
    digit_count = np.zeros(size, np.int64)
    filler = np.zeros(size, bool)
    for token in range(tokenizer.eot):
        piece = tokenizer.decode([token])
        bare = piece.strip()
        if bare.isascii() and bare.isdigit() and piece in (bare, " " + bare):
            digit_count[token] = len(bare)
        elif bare in (",", ".", "-") and len(piece) <= 2:
            filler[token] = True
    for word in FILLER_WORDS:
        for form in (word, word.capitalize(), " " + word, " " + word.capitalize()):
            ids = tokenizer.encode(form)
            if len(ids) == 1:
                filler[ids[0]] = True
    _VOCAB[model] = digit_count, filler
    return digit_count, filler


def turn_input(model: Any, audio: np.ndarray, opts: AsrOptions) -> tuple[Any, Tokenizer, Any]:
    """What the pipeline decodes a turn from (:mod:`voice_agent.speech.window`'s own steps): the
    request with its prompt, the tokenizer, and the encoder's output."""
    item, features = window._request(model, 0, np.asarray(audio, dtype=np.float32), opts)
    return item, window._tokenizer(model, opts), model.encode(features[None])


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())  # type: ignore[no-any-return]


def grammar_readings(
    model: Any,
    audio: np.ndarray,
    opts: AsrOptions,
    digits: int = 6,
    beam: int = 4,
    hypotheses: int = 3,
) -> list[str]:
    """Up to ``hypotheses`` texts of ``audio`` that hold exactly ``digits`` digits, best first.

    Decoded as the pipeline decodes an order-number turn (:mod:`voice_agent.speech.window`'s
    window and prompt), ranked by average log-probability per token.
    """
    item, tokenizer, encoded_view = turn_input(model, audio, opts)
    encoded = np.asarray(encoded_view)
    digit_count, filler = _vocab(model, tokenizer)
    # allowed[k]: the tokens a hypothesis with k digits still to say may take next; with
    # none left it can only end, which is scored on its own.
    allowed = [filler | ((digit_count > 0) & (digit_count <= k)) for k in range(digits + 1)]
    allowed[0] = np.zeros_like(filler)
    beams: list[tuple[list[int], float, int]] = [([], 0.0, digits)]
    ended: list[tuple[list[int], float]] = []
    for _ in range(MAX_STEPS):
        prompts = [item.prompt + tokens for tokens, _, _ in beams]
        rows = ctranslate2.StorageView.from_array(np.repeat(encoded, len(beams), axis=0))
        # max_length = the prompt's length gives one new token (checked for both models); the
        # result's tokens and logits also cover the hypothesis' own, so its step is at len(tokens).
        results = model.model.generate(
            rows,
            prompts,
            beam_size=1,
            max_length=len(prompts[0]),
            return_logits_vocab=True,
            suppress_blank=False,
            suppress_tokens=[],
        )
        scores = []
        for (tokens, logprob, left), result in zip(beams, results, strict=True):
            step = np.asarray(result.logits[0][len(tokens)], dtype=np.float32).reshape(-1)
            step = _log_softmax(step[: len(filler)])
            if left == 0:
                ended.append((tokens, logprob + float(step[tokenizer.eot])))
            scores.append(np.where(allowed[left], step + logprob, -np.inf))
        table = np.stack(scores)
        grown: list[tuple[list[int], float, int]] = []
        for flat in np.argsort(-table, axis=None)[:beam]:
            row, token = divmod(int(flat), table.shape[1])
            score = float(table[row, token])
            if not np.isfinite(score):
                break
            tokens, _, left = beams[row]
            grown.append(([*tokens, token], score, left - int(digit_count[token])))
        beams = grown
        # Log-probabilities only fall: a beam below an ended hypothesis cannot overtake it.
        if not beams or (ended and beams[0][1] < max(score for _, score in ended)):
            break
    ended.sort(key=lambda hyp: -hyp[1] / (len(hyp[0]) + 1))
    return [tokenizer.decode(tokens).strip() for tokens, _ in ended[:hypotheses]]
